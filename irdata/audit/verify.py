"""`irdata verify OUT`: the shards are exactly what the manifests say. `check_shard`
(one task per shard) and `check_tables` report each discrepancy as a `Problem`."""

from __future__ import annotations

import json
import posixpath
import time
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from irdata.audit import tables
from irdata.audit.expect import BY_STAGE
from irdata.audit.samples import HashingReader, samples
from irdata.pairs.write import PAIRS_TABLE
from irdata.patching.grid import cell_overlaps
from irdata.stages import STAGES, patch
from irdata.storage import Output

SHOWN_PER_KIND = 10  # lines shown per (shard, kind); the rest are counted


@dataclass(frozen=True)
class Problem:
    shard: str
    key: str
    kind: str
    what: str

    def line(self) -> str:
        return f"{self.shard or '-'}  {self.key or '-'}  {self.kind}: {self.what}"


def check_shard(out_root: str, shard: dict) -> dict:
    """Re-read one shard: sha256, size, sample count, and every sample against its rows."""
    out, path = Output(out_root), shard["path"]
    problems: list[Problem] = []

    def problem(key: str, kind: str, what: str) -> None:
        problems.append(Problem(path, key, kind, what))

    if not out.is_file(path):
        problem("", "missing_shard", "listed in shards.parquet but the file is not there")
        return {"path": path, "stage": shard["stage"], "problems": problems, "samples": 0,
                "bytes": 0}
    expected = BY_STAGE[shard["stage"]](out, path)
    seen: set[str] = set()
    with out.fs.open(out.path(path), "rb") as fh:
        reader = HashingReader(fh)
        for key, members in samples(reader, problem):
            seen.add(key)
            if key not in expected.rows:
                problem(key, "not_in_manifest", "sample in the shard but not listed for it "
                        f"in the manifest (members: {', '.join(sorted(members))})")
                continue
            for kind, what in expected.check(key, members):
                problem(key, kind, what)
    for key in sorted(set(expected.rows) - seen):
        problem(key, "missing_sample", "listed in the manifest but not in the shard")
    _shard_totals(shard, reader, len(seen), problem)
    return {"path": path, "stage": shard["stage"], "problems": problems, "samples": len(seen),
            "bytes": reader.size}


def _shard_totals(shard: dict, reader: HashingReader, count: int, problem) -> None:
    if reader.size != shard["bytes"]:
        problem("", "size", f"file has {reader.size} bytes, shards.parquet says {shard['bytes']}")
    if reader.hexdigest() != shard["sha256"]:
        problem("", "sha256", f"file hashes to {reader.hexdigest()}, shards.parquet says "
                f"{shard['sha256']}")
    if count != shard["samples"]:
        problem("", "samples", f"file has {count} samples, shards.parquet says "
                f"{shard['samples']}")


def _repeats(table: pa.Table | None, columns: list[str], where: str, what: str
             ) -> list[Problem]:
    """A problem for each value of `columns` found on more than one row."""
    if table is None or table.num_rows == 0:
        return []
    counted = table.group_by(columns).aggregate([([], "count_all")])
    repeated = counted.filter(pc.greater(counted["count_all"], 1)).to_pylist()
    return [Problem(where, "/".join(str(r[c]) for c in columns), "repeated_key",
                    f"{what} ({r['count_all']} rows)") for r in repeated]


def _unlisted(out: Output, listed: set[str]) -> list[Problem]:
    found = []
    for name, stage in STAGES.items():
        folder = stage.writes
        if "tar" not in stage.outputs(0) or not out.exists(folder):
            continue
        for path in sorted(out.fs.glob(out.path(folder, "*.tar"))):
            rel = posixpath.join(folder, posixpath.basename(path))
            if rel not in listed:
                found.append(Problem(rel, "", "unlisted_shard",
                                     f"{name} shard on disk but not in shards.parquet"))
    return found


def _astray(patches: pa.Table | None, variants: pa.Table | None, listed: list[str],
            pairs: pa.Table | None = None) -> list[Problem]:
    """Kept patches in unlisted shards; variants of keys neither kept nor `irdata pairs` pairs."""
    kept = patch.SCHEMA.empty_table() if patches is None else patches.filter(
        pc.fill_null(patches["kept"], False))
    in_listed = pc.fill_null(pc.is_in(kept["shard"], pa.array(listed, pa.string())), False)
    found = [Problem(r["shard"] or "", r["key"], "unsharded",
                     "kept patch whose shard is not in shards.parquet")
             for r in kept.filter(pc.invert(in_listed)).select(["key", "shard"]).to_pylist()]
    if variants is None or variants.num_rows == 0:
        return found
    known = kept["key"] if pairs is None else pa.concat_arrays(
        [kept["key"].combine_chunks(), pairs["key"].combine_chunks()])
    orphans = variants.filter(pc.invert(pc.is_in(variants["key"], known)))
    return found + [Problem("manifest/degradations.parquet", key, "not_in_manifest",
                            "degraded variants of a key that is not a kept patch")
                    for key in sorted(pc.unique(orphans["key"]).to_pylist())]


def check_tables(out: Output, shard_rows: list[dict]) -> list[Problem]:
    """Keys unique, every kept patch and paired key in a listed shard, no stray tars."""
    listed = sorted({r["path"] for r in shard_rows})
    shards = pa.table({"path": [r["path"] for r in shard_rows]})
    patches = tables.read(out, "patches", columns=["key", "kept", "shard"])
    images = tables.read(out, "images", columns=["image_id"])
    variants = tables.read(out, "degradations", columns=["key", "variant"])
    pairs = tables.read_rel(out, PAIRS_TABLE, columns=["key"])
    return (_repeats(shards, ["path"], "manifest/shards.parquet", "shard listed again")
            + _repeats(patches, ["key"], "manifest/patches.parquet", "patch key listed again")
            + _repeats(images, ["image_id"], "manifest/images.parquet",
                       "image id listed again")
            + _repeats(variants, ["key", "variant"], "manifest/degradations.parquet",
                       "variant listed again")
            + _astray(patches, variants, listed, pairs) + _unlisted(out, set(listed))
            + _contaminated(out))


def _contaminated(out: Output) -> list[Problem]:
    """A kept patch that carries an exclusion match, belongs to an image excluded as a
    whole, or overlaps an excluded region of its image (manifests of builds made before
    exclusion sets existed have nothing to check)."""
    images = tables.read(out, "images")
    patches = tables.read(out, "patches")
    if images is None or patches is None or "excluded_set" not in images.schema.names:
        return []
    excluded = {r["image_id"]: r for r in images.select(
        ["image_id", "reason", "excluded_set", "excluded_regions"]).to_pylist()
        if r["excluded_set"]}
    kept = patches.filter(pc.field("kept")).select(
        ["key", "image_id", "x", "y", "size", "excluded_set"]).to_pylist()
    problems = []
    for row in kept:
        image = excluded.get(row["image_id"])
        if row["excluded_set"] or (image and _in_excluded_region(row, image)):
            problems.append(Problem("manifest/patches.parquet", row["key"], "excluded_kept",
                                    f"kept patch overlaps evaluation set "
                                    f"{row['excluded_set'] or image['excluded_set']}"))
    return problems


def _in_excluded_region(patch: dict, image: dict) -> bool:
    if image["reason"] == "excluded":
        return True
    return any(cell_overlaps(r["box"], patch["x"], patch["y"], patch["size"])
               for r in json.loads(image["excluded_regions"] or "[]"))


def verify(root: str, run_tasks) -> dict:
    """All checks; `run_tasks(function, calls) -> results` runs the per-shard checks."""
    started = time.monotonic()
    out = tables.open_output(root)
    shard_rows = tables.rows(tables.read(out, "shards"))
    problems = check_tables(out, shard_rows)
    results = run_tasks(check_shard, [(out.root, row) for row in shard_rows])
    for result in results:
        problems += result["problems"]
    return {"root": out.root, "problems": problems, "shards": results,
            "seconds": time.monotonic() - started}


def summary(result: dict) -> str:
    """One line: what was checked, and whether it all holds."""
    shards = result["shards"]
    per_stage, samples = Counter(), Counter()
    for shard in shards:
        folder = posixpath.dirname(shard["path"])
        per_stage[folder] += 1
        samples[folder] += shard["samples"]
    megabytes = sum(s["bytes"] for s in shards) / 1e6
    parts = ", ".join(f"{per_stage[s]} {s} ({samples[s]} samples)" for s in sorted(per_stage))
    verdict = ("OK" if not result["problems"]
               else f"{len(result['problems'])} discrepancies")
    return (f"irdata verify: {verdict}: {len(shards)} shards [{parts or 'none'}], "
            f"{megabytes:.1f} MB checked in {result['seconds']:.1f} s, {result['root']}")


def report_lines(problems: list[Problem]) -> list[str]:
    """Readable list: each problem on a line, at most SHOWN_PER_KIND per shard and kind."""
    shown: Counter = Counter()
    lines = []
    for problem in problems:
        group = (problem.shard, problem.kind)
        shown[group] += 1
        if shown[group] <= SHOWN_PER_KIND:
            lines.append("  " + problem.line())
    for (shard, kind), count in sorted(shown.items()):
        if count > SHOWN_PER_KIND:
            lines.append(f"  {shard}  ... and {count - SHOWN_PER_KIND} more {kind}")
    return lines
