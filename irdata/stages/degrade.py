"""Degrade stage (optional): patches/NNNNN.tar -> paired/NNNNN.{tar,parquet,stats.json}.

Per selected clean patch: `gt.png`, K degraded `lq.{n}.png` and `json` (each variant's
kind, params, seed). Every random choice comes from `rng_for(run seed, key, variant)`,
so output bytes do not depend on workers, order or interruptions."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irdata import degrade as lib
from irdata import shards
from irdata.imaging.decode import decode_png
from irdata.imaging.encode import encode_patch_png
from irdata.keys import partition_name
from irdata.stages import patch
from irdata.storage import Output

STAGE = "degrade"
FOLDER = "paired"
SELECT_VARIANT = -1  # rng_for(seed, key, -1) decides whether a patch is paired
UNCHANGED = "none"  # a policy variant that leaves the input clean
SCHEMA = pa.schema([("key", pa.string()), ("variant", pa.int32()), ("kind", pa.string()),
                    ("params", pa.string()), ("seed", pa.int64()), ("shard", pa.string())])


def enabled(config: dict) -> bool:
    """The stage runs only when the pipeline asks for degraded variants."""
    return config["degrade"]["variants"] > 0


def outputs(index: int) -> dict[str, str]:
    name = partition_name(index)
    return {"tar": f"{FOLDER}/{name}.tar", "parquet": f"{FOLDER}/{name}.parquet",
            "stats": f"{FOLDER}/{name}.stats.json", "done": f"{FOLDER}/{name}.done"}


def _clean_patches(out: Output, index: int):
    """(key, png bytes) of each stored patch, in shard order."""
    for key, sample in shards.samples(out, patch.outputs(index)["tar"]):
        if "png" in sample:
            yield key, sample["png"]


def _draw(settings: dict, rng) -> tuple[str, dict]:
    if settings.get("policy") is not None:  # e.g. dynet_pretrain: may leave it unchanged
        steps = lib.policy_sample(rng, settings["policy"])
        return steps[0] if steps else (UNCHANGED, {})
    kind = settings["kinds"][int(rng.integers(len(settings["kinds"])))]
    return kind, lib.sample(kind, rng, settings["params"].get(kind))


def plan_variants(settings: dict, seed: int, key: str) -> list[dict]:
    """The K variants of one patch: kind and params, drawn from rng_for(seed, key, n)."""
    variants = []
    for number in range(settings["variants"]):
        kind, params = _draw(settings, lib.rng_for(seed, key, number))
        variants.append({"variant": number, "kind": kind, "params": params, "seed": seed})
    return variants


def apply_variant(gt: np.ndarray, variant: dict) -> np.ndarray:
    """The stored input of one variant, from the float gt."""
    if variant["kind"] == UNCHANGED:
        return gt.copy()
    return lib.apply(variant["kind"], gt, variant["params"])


def selected(settings: dict, seed: int, key: str) -> bool:
    """Whether this patch gets pairs (`degrade.fraction` of patches, decided per key)."""
    if settings["fraction"] >= 1.0:
        return True
    return bool(lib.rng_for(seed, key, SELECT_VARIANT).random() < settings["fraction"])


def _degrade_one(key: str, png: bytes, settings: dict, patch_settings: dict, seed: int,
                 shard: str):
    gt = lib.to_float(decode_png(png))
    variants = plan_variants(settings, seed, key)
    members: dict[str, bytes | dict] = {"gt.png": png}
    for item in variants:
        lq = lib.to_uint8(apply_variant(gt, item))
        members[f"lq.{item['variant']}.png"] = encode_patch_png(lq, patch_settings)
    members["json"] = {"key": key, "variants": variants}
    rows = [{"key": key, "variant": v["variant"], "kind": v["kind"],
             "params": json.dumps(v["params"], sort_keys=True), "seed": seed, "shard": shard}
            for v in variants]
    return members, rows


def run_partition(config: dict, out_root: str, index: int) -> dict:
    """Write K degraded variants of each selected clean patch of one patch shard."""
    out = Output(out_root, config["storage_options"])
    paths = outputs(index)
    settings = config["degrade"]
    rows, kinds, skipped = [], Counter(), 0
    with shards.ShardFile(out, paths["tar"]) as writer:
        for key, png in _clean_patches(out, index):
            if not selected(settings, config["seed"], key):
                skipped += 1
                continue
            members, sample_rows = _degrade_one(key, png, settings, config["patch"],
                                                config["seed"], paths["tar"])
            writer.add(key, members)
            rows += sample_rows
            kinds.update(r["kind"] for r in sample_rows)
    with out.atomic(paths["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), fh)
    shard = writer.record
    stats = {"stage": STAGE, "partition": index, "items": writer.samples + skipped,
             "status": {"paired": writer.samples, "not_selected": skipped},
             "reasons": {f"variant:{k}": v for k, v in sorted(kinds.items())},
             "shard": shard, "samples": writer.samples}
    return stats
