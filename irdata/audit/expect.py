"""What the manifests say one shard holds: one class per shard kind reads its rows, and
`check(key, members)` gives the (kind, what) pairs where a sample disagrees."""

from __future__ import annotations

import hashlib
import json
import math

from irdata.audit import tables
from irdata.imaging.sniff import extension
from irdata.patching.figures import FIGURES

FLOAT_TOLERANCE = 1e-4  # JSON holds rounded floats, Parquet float32


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same(stored, recorded) -> bool:
    """Equal within float tolerance; null equals only null (unmeasured is not 0), NaN equals NaN."""
    if stored is None or recorded is None:
        return stored is None and recorded is None
    if (isinstance(stored, float) or isinstance(recorded, float)) and \
            _number(stored) and _number(recorded):
        if math.isnan(stored) or math.isnan(recorded):
            return math.isnan(stored) and math.isnan(recorded)
        return math.isclose(stored, recorded, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return stored == recorded


def _json(members: dict, problems: list) -> dict | None:
    try:
        return json.loads(members["json"])
    except (KeyError, ValueError) as exc:
        problems.append(("bad_json", f"no readable json member ({type(exc).__name__})"))
        return None


def _compare(found: dict, recorded: dict, names, table: str, problems: list) -> None:
    for name in names:
        if not same(found.get(name), recorded.get(name)):
            problems.append(("json_mismatch", f"json {name}={found.get(name)!r} but "
                             f"{table} says {recorded.get(name)!r}"))


def _content(data: bytes | None, row: dict, what: str, problems: list) -> None:
    if data is None:
        problems.append(("missing_member", f"no {what} member"))
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != row["sha256"]:
        problems.append(("content_mismatch", f"sha256 of {what} is {digest[:16]}…, "
                         f"manifest says {str(row['sha256'])[:16]}…"))
    if row.get("bytes") is not None and len(data) != row["bytes"]:
        problems.append(("content_mismatch", f"{what} has {len(data)} bytes, "
                         f"manifest says {row['bytes']}"))


def _members(members: dict, wanted: set[str], problems: list) -> None:
    extra = sorted(set(members) - wanted)
    missing = sorted(wanted - set(members))
    if extra:
        problems.append(("extra_member", f"members not in the manifest: {', '.join(extra)}"))
    if missing:
        problems.append(("missing_member", f"members missing: {', '.join(missing)}"))


def _png_sample(members: dict, row: dict) -> tuple[dict | None, list]:
    """(its json, problems) of a `png` + `json` sample against its manifest row."""
    problems: list = []
    _members(members, {"png", "json"}, problems)
    _content(members.get("png"), row, "png", problems)
    return _json(members, problems), problems


class PatchShard:
    """patches/NNNNN.tar: `{key}.png` + `{key}.json` per kept patch, the json's lineage and
    quality figures (irdata.patching.figures.FIGURES) those of its patches.parquet row."""

    LINEAGE = ("image_id", "x", "y", "size", *FIGURES)
    SOURCE = ("locator", "source", "license")

    def __init__(self, out, path: str):
        self.rows = {r["key"]: r for r in tables.rows(tables.read(
            out, "patches", filters=[("shard", "==", path), ("kept", "==", True)]))}
        ids = sorted({r["image_id"] for r in self.rows.values()})
        found = tables.read(out, "images", columns=["image_id", *self.SOURCE],
                            filters=[("image_id", "in", ids)]) if ids else None
        self.images = {r["image_id"]: r for r in tables.rows(found)}

    def check(self, key: str, members: dict) -> list[tuple[str, str]]:
        row = self.rows[key]
        found, problems = _png_sample(members, row)
        if found is not None:
            _compare(found, row, self.LINEAGE, "patches.parquet", problems)
            _compare(found, self.images.get(row["image_id"], {}), self.SOURCE,
                     "images.parquet", problems)
        return problems


class RawShard:
    """raw/NNNNN.tar: the original bytes + `{image_id}.json` per usable image."""

    def __init__(self, out, path: str):
        self.rows = {r["image_id"]: r for r in tables.rows(tables.read(
            out, "images", filters=[("shard", "==", path), ("status", "==", "ok")]))}

    def check(self, key: str, members: dict) -> list[tuple[str, str]]:
        row, problems = self.rows[key], []
        ext = extension(row["format"]) if row.get("format") else "?"
        _members(members, {ext, "json"}, problems)
        _content(members.get(ext), row, f"{ext} (original bytes)", problems)
        found = _json(members, problems)
        if found is not None:
            recorded = dict(row, extra=json.loads(row.get("extra") or "{}"))
            _compare(found, recorded, sorted(found), "images.parquet", problems)
        return problems


class PairedShard:
    """paired/NNNNN.tar: `gt.png`, `lq.{n}.png` per variant and `json` per paired patch."""

    def __init__(self, out, path: str):
        self.rows: dict[str, list[dict]] = {}
        for row in tables.rows(tables.read(out, "degradations",
                                           filters=[("shard", "==", path)])):
            self.rows.setdefault(row["key"], []).append(row)
        keys = sorted(self.rows)
        found = tables.read(out, "patches", columns=["key", "sha256", "bytes"],
                            filters=[("key", "in", keys)]) if keys else None
        self.clean = {r["key"]: r for r in tables.rows(found)}

    def check(self, key: str, members: dict) -> list[tuple[str, str]]:
        variants, problems = sorted(self.rows[key], key=lambda r: r["variant"]), []
        wanted = {"gt.png", "json"} | {f"lq.{v['variant']}.png" for v in variants}
        _members(members, wanted, problems)
        clean = self.clean.get(key)
        if clean is None:
            problems.append(("not_in_manifest", "no patches.parquet row for this gt"))
        else:
            _content(members.get("gt.png"), clean, "gt.png", problems)
        found = _json(members, problems)
        if found is not None:
            stored = [(v.get("variant"), v.get("kind"), v.get("params"), v.get("seed"))
                      for v in found.get("variants", [])]
            recorded = [(v["variant"], v["kind"], json.loads(v["params"]), v["seed"])
                        for v in variants]
            if stored != recorded:
                problems.append(("degradation_mismatch", f"json variants {stored} but "
                                 f"degradations.parquet says {recorded}"))
        return problems


class PairsShard(PairedShard):
    """paired/NNNNN.tar written by `irdata pairs`: gt and lq against manifest/pairs.parquet."""

    def __init__(self, out, path: str):
        from irdata.pairs.write import PAIRS_TABLE

        super().__init__(out, path)
        listed = tables.rows(tables.read_rel(out, PAIRS_TABLE, filters=[("shard", "==", path)]))
        self.clean = {r["key"]: {"sha256": r["gt_sha256"]} for r in listed}
        self.inputs = {r["key"]: {"sha256": r["lq_sha256"]} for r in listed}

    def check(self, key: str, members: dict) -> list[tuple[str, str]]:
        problems = super().check(key, members)
        if key in self.inputs:
            _content(members.get("lq.0.png"), self.inputs[key], "lq.0.png", problems)
        return problems


class CleanShard:
    """patches/NNNNN.tar of clean images written by `irdata pairs` (a folder of clean
    images): `png` + `json` per image against manifest/images.parquet."""

    def __init__(self, out, path: str):
        listed = tables.rows(tables.read(out, "images", filters=[("shard", "==", path)]))
        self.rows = {r["image_id"]: r for r in listed}

    def check(self, key: str, members: dict) -> list[tuple[str, str]]:
        row = self.rows[key]
        found, problems = _png_sample(members, row)
        if found is not None:
            _compare(found, row, ("name", "width", "height", "sha256"), "images.parquet",
                     problems)
        return problems


BY_STAGE = {"fetch": RawShard, "patch": PatchShard, "degrade": PairedShard,
            "pairs": PairsShard, "clean": CleanShard}
