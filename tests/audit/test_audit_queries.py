"""The README's auditor section stays true: its three DuckDB queries run over a
real corpus and give what the tables say, and its column list matches the tables."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from irdata.patching.figures import CELL_REASONS

duckdb = pytest.importorskip("duckdb", reason="duckdb is in the dev extra: pip install duckdb")

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start)
    return text[start:end]


def _queries(out: Path, key: str = "") -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", _section("### DuckDB over the manifests"), re.S)
    return [b.replace("'OUT/", f"'{out}/").replace("'KEY'", f"'{key}'") for b in blocks]


def _rows(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / "manifest" / f"{table}.parquet").to_pylist()


def test_three_queries(audit_corpus):
    assert len(_queries(audit_corpus["out"])) == 3


def test_drops_by_reason(audit_corpus):
    out = audit_corpus["out"]
    found = duckdb.sql(_queries(out)[0]).fetchall()
    images, patches = _rows(out, "images"), _rows(out, "patches")
    expected = Counter({("source", f"{r['status']}:{r['reason']}"): 1
                        for r in images if r["status"] != "ok"})
    expected[("dedupe", "duplicate")] = sum(1 for r in images if r["dup_of"])
    cells = Counter(("patch", r["reason"]) for r in patches if not r["kept"])
    assert {(s, r): n for s, r, n in found} == dict(expected + cells)
    assert dict(expected) == {("source", "dropped:too_small"): 1, ("dedupe", "duplicate"): 1}
    assert sum(cells.values()) == 4 and {r for _, r in cells} <= set(CELL_REASONS)


def test_kept_patches_per_licence(audit_corpus):
    out = audit_corpus["out"]
    found = duckdb.sql(_queries(out)[1]).fetchall()
    licence = {r["image_id"]: r["license"] for r in _rows(out, "images")}
    kept = Counter(licence[p["image_id"]] for p in _rows(out, "patches") if p["kept"])
    assert {name: n for name, n, _ in found} == dict(kept)
    assert sorted(kept) == ["CC-BY-4.0", "CC0-1.0"]


def test_lineage_of_one_key(audit_corpus):
    out = audit_corpus["out"]
    variants = [r for r in _rows(out, "degradations")]
    key = variants[0]["key"]
    found = duckdb.sql(_queries(out, key)[2]).fetchall()
    patch = next(p for p in _rows(out, "patches") if p["key"] == key)
    image = next(i for i in _rows(out, "images") if i["image_id"] == patch["image_id"])
    mine = sorted((v["variant"], v["kind"], v["params"]) for v in variants if v["key"] == key)
    assert [(row[9], row[10], row[11]) for row in found] == mine
    assert {row[:4] for row in found} == {(key, image["locator"], image["source_name"],
                                           image["license"])}
    assert {row[8] for row in found} == {patch["shard"]}


def test_readme_lists_every_column_of_every_table(audit_corpus):
    text = _section("### Manifest tables")
    table_part, _, after = text.partition("`dedupe/clusters.parquet`")
    for name in ("images", "patches", "degradations", "shards"):
        block = table_part.split(f"| `{name}` |", 1)[1].split("\n| `", 1)[0]
        columns = pq.read_schema(audit_corpus["out"] / "manifest" / f"{name}.parquet").names
        assert [c for c in columns if f"`{c}`" not in block] == [], name
    clusters = pq.read_schema(audit_corpus["out"] / "dedupe" / "clusters.parquet").names
    assert [c for c in clusters if c not in after.split(";")[0]] == []
