"""`irdata verify` over a real corpus: clean, then damaged for real in each way an
auditor must catch; every damage is detected and named (shard, key, kind)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from irdata import cli
from irdata.audit.expect import same
from irdata.audit.verify import verify
from irdata.patching.figures import FIGURES


def inline(function, calls):
    """The per-shard checks in this process, in order (what the Dask tasks run)."""
    return [function(*args) for args in calls]


def _problems(out) -> set[tuple[str, str, str]]:
    return {(p.shard, p.key, p.kind) for p in verify(str(out), inline)["problems"]}


def _members(path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def _rewrite(out, rel: str, members: list[tuple[str, bytes]], samples: int | None = None):
    """Write `rel` with these members and make shards.parquet agree with the new file,
    so only the member-level checks can catch what changed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            tar.addfile(_info(name, len(data)), io.BytesIO(data))
    (out / rel).write_bytes(buffer.getvalue())
    _edit_shard_row(out, rel, sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
                    bytes=len(buffer.getvalue()), samples=samples)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info


def _edit_rows(out, table: str, match, **changes) -> None:
    path = out / "manifest" / f"{table}.parquet"
    original = pq.read_table(path)
    rows = original.to_pylist()
    for row in rows:
        if match(row):
            row.update({k: v for k, v in changes.items() if v is not None})
    pq.write_table(pa.Table.from_pylist(rows, schema=original.schema), path)


def _edit_shard_row(out, rel: str, **changes) -> None:
    _edit_rows(out, "shards", lambda row: row["path"] == rel, **changes)


def _kept(out, shard: str) -> list[dict]:
    table = pq.read_table(out / "manifest" / "patches.parquet")
    return table.filter(pc.equal(table["shard"], shard)).to_pylist()


def test_a_clean_corpus_verifies(audit_corpus):
    result = verify(str(audit_corpus["out"]), inline)
    assert result["problems"] == []
    stages = {s["stage"] for s in result["shards"]}
    assert stages == {"fetch", "patch", "degrade"}
    assert sum(s["samples"] for s in result["shards"] if s["stage"] == "patch") == 6


def test_a_flipped_byte_is_named_with_its_sample(corpus_copy):
    rel = "patches/00001.tar"
    key = _kept(corpus_copy, rel)[1]["key"]
    with tarfile.open(corpus_copy / rel) as tar:
        offset = tar.getmember(f"{key}.png").offset_data + 1000
    data = bytearray((corpus_copy / rel).read_bytes())
    data[offset] ^= 0x01
    (corpus_copy / rel).write_bytes(bytes(data))
    assert _problems(corpus_copy) == {(rel, key, "content_mismatch"), (rel, "", "sha256")}


def test_a_flipped_byte_in_a_source_is_named(corpus_copy):
    rel = "raw/00000.tar"
    data = bytearray((corpus_copy / rel).read_bytes())
    data[4096] ^= 0x80  # inside the first member's bytes
    (corpus_copy / rel).write_bytes(bytes(data))
    found = _problems(corpus_copy)
    assert (rel, "", "sha256") in found
    assert [kind for shard, key, kind in found if key] == ["content_mismatch"]


def test_a_truncated_shard(corpus_copy):
    rel = "paired/00000.tar"
    data = (corpus_copy / rel).read_bytes()
    (corpus_copy / rel).write_bytes(data[: len(data) // 3])
    kinds = {kind for shard, _, kind in _problems(corpus_copy) if shard == rel}
    assert {"unreadable", "size", "sha256", "samples", "missing_sample"} <= kinds


def test_a_missing_shard(corpus_copy):
    (corpus_copy / "patches" / "00002.tar").unlink()
    assert ("patches/00002.tar", "", "missing_shard") in _problems(corpus_copy)


def test_an_extra_member_and_a_stray_sample(corpus_copy):
    rel = "patches/00000.tar"
    members = _members(corpus_copy / rel)
    key = members[0][0].split(".")[0]
    members.insert(2, (f"{key}.txt", b"not listed"))
    members.append(("0000000000000000_00000_00000.png", b"stray"))
    _rewrite(corpus_copy, rel, members, samples=3)
    assert _problems(corpus_copy) == {
        (rel, key, "extra_member"), (rel, "0000000000000000_00000_00000", "not_in_manifest")}


def test_a_duplicated_key(corpus_copy):
    rel = "patches/00002.tar"
    members = _members(corpus_copy / rel)
    key = members[0][0].split(".")[0]
    _rewrite(corpus_copy, rel, members + members[:2])
    assert _problems(corpus_copy) == {(rel, key, "repeated_key")}


def test_a_key_in_two_shards(corpus_copy):
    moved = _members(corpus_copy / "patches/00000.tar")[:2]
    key = moved[0][0].split(".")[0]
    _rewrite(corpus_copy, "patches/00001.tar",
             _members(corpus_copy / "patches/00001.tar") + moved, samples=3)
    assert _problems(corpus_copy) == {("patches/00001.tar", key, "not_in_manifest")}


def test_an_edited_patch_row(corpus_copy):
    row = _kept(corpus_copy, "patches/00001.tar")[0]
    _edit_rows(corpus_copy, "patches", lambda r: r["key"] == row["key"],
               flat_fraction=row["flat_fraction"] + 0.25)
    result = verify(str(corpus_copy), inline)
    assert {(p.shard, p.key, p.kind) for p in result["problems"]} == {
        ("patches/00001.tar", row["key"], "json_mismatch")}
    assert "flat_fraction" in result["problems"][0].what


def _edit_json(out, rel: str, edits: dict[str, dict]) -> None:
    """Rewrite `rel` with the json of some keys changed ({key: {field: value}})."""
    members = []
    for name, data in _members(out / rel):
        key, _, ext = name.partition(".")
        if ext == "json" and key in edits:
            data = json.dumps(json.loads(data) | edits[key]).encode()
        members.append((name, data))
    _rewrite(out, rel, members)


def test_a_tampered_figure_in_a_patch_json(corpus_copy):
    """Every quality figure of the patch json is checked against patches.parquet: a value
    moved, or a measured figure made null, is named; float32 rounding is not."""
    rel = "patches/00001.tar"
    first, second = _kept(corpus_copy, rel)[:2]
    assert first["noise"] is not None and second["sharpness"] is not None
    _edit_json(corpus_copy, rel, {
        first["key"]: {"noise": first["noise"] + 0.5,
                       "blockiness": first["blockiness"] + 1e-6},  # within tolerance
        second["key"]: {"sharpness": None}})
    result = verify(str(corpus_copy), inline)
    assert {(p.shard, p.key, p.kind) for p in result["problems"]} == {
        (rel, first["key"], "json_mismatch"), (rel, second["key"], "json_mismatch")}
    what = {p.key: p.what for p in result["problems"]}
    assert what[first["key"]].startswith("json noise=") and "sharpness" in what[second["key"]]


@pytest.mark.parametrize("figure", FIGURES)
def test_each_figure_of_the_patch_json_is_checked(corpus_copy, figure):
    rel = "patches/00002.tar"
    row = _kept(corpus_copy, rel)[0]
    _edit_json(corpus_copy, rel, {row["key"]: {figure: (row[figure] or 0.0) + 0.25}})
    found = verify(str(corpus_copy), inline)["problems"]
    assert [(p.key, p.kind) for p in found] == [(row["key"], "json_mismatch")]
    assert found[0].what.startswith(f"json {figure}=")


def test_same_null_and_float_tolerance():
    assert same(None, None) and same(float("nan"), float("nan"))
    assert not same(None, 0.0) and not same(0.0, None) and not same(None, 0)
    assert same(-26.976, float(np.float32(-26.976))) and same(0.5762, 0.57620001)
    assert same(1, 1.0) and not same(1.0, 1.01) and not same(0.0, 0.001)
    assert same("a", "a") and not same("a", "b") and same(512, 512)


def test_an_edited_degradation_row(corpus_copy):
    rows = pq.read_table(corpus_copy / "manifest" / "degradations.parquet").to_pylist()
    target = rows[0]
    _edit_rows(corpus_copy, "degradations",
               lambda r: (r["key"], r["variant"]) == (target["key"], target["variant"]),
               kind="haze" if target["kind"] != "haze" else "blur")
    assert _problems(corpus_copy) == {(target["shard"], target["key"], "degradation_mismatch")}


def test_an_edited_shard_row_and_a_repeated_manifest_key(corpus_copy):
    _edit_shard_row(corpus_copy, "raw/00001.tar", sha256="0" * 64)
    patches = pq.read_table(corpus_copy / "manifest" / "patches.parquet")
    pq.write_table(pa.concat_tables([patches, patches.slice(0, 1)]),
                   corpus_copy / "manifest" / "patches.parquet")
    key = patches["key"][0].as_py()
    found = _problems(corpus_copy)
    assert ("raw/00001.tar", "", "sha256") in found
    assert ("manifest/patches.parquet", key, "repeated_key") in found


def test_an_unlisted_shard(corpus_copy):
    (corpus_copy / "patches" / "00009.tar").write_bytes(
        (corpus_copy / "patches" / "00000.tar").read_bytes())
    assert _problems(corpus_copy) == {("patches/00009.tar", "", "unlisted_shard")}


def test_a_shard_row_removed(corpus_copy):
    rel = "patches/00001.tar"
    path = corpus_copy / "manifest" / "shards.parquet"
    shards = pq.read_table(path)
    pq.write_table(shards.filter(pc.not_equal(shards["path"], rel)), path)
    keys = [r["key"] for r in _kept(corpus_copy, rel) if r["kept"]]
    assert len(keys) == 2
    assert _problems(corpus_copy) == {(rel, "", "unlisted_shard")} | {
        (rel, key, "unsharded") for key in keys}


@pytest.fixture(scope="module")
def scheduler():
    """A small in-process Dask cluster; the CLI reaches it with --scheduler."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_cli_exit_0_and_one_summary_line(audit_corpus, scheduler, capsys):
    assert cli.main(["verify", str(audit_corpus["out"]), "--scheduler", scheduler]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and printed[0].startswith("irdata verify: OK: 9 shards")
    assert cli.main(["verify", str(audit_corpus["out"]), "--scheduler", scheduler,
                     "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_exit_1_lists_each_discrepancy(corpus_copy, scheduler, capsys):
    (corpus_copy / "paired" / "00001.tar").unlink()
    rel = "patches/00000.tar"
    recorded = pq.read_table(corpus_copy / "manifest" / "shards.parquet").to_pylist()
    listed = next(r["sha256"] for r in recorded if r["path"] == rel)
    data = bytearray((corpus_copy / rel).read_bytes())
    data[-2000] ^= 0xFF  # in the tar's end padding: only the shard hash can catch it
    (corpus_copy / rel).write_bytes(bytes(data))
    assert cli.main(["verify", str(corpus_copy), "--scheduler", scheduler]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("irdata verify: 2 discrepancies: 9 shards")
    assert sorted(lines[:-1]) == [
        "  paired/00001.tar  -  missing_shard: listed in shards.parquet but the file is not there",
        f"  {rel}  -  sha256: file hashes to {hashlib.sha256(data).hexdigest()}, "
        f"shards.parquet says {listed}"]
