"""Stages. Each module has run_partition(config, out_root, index) -> stats,
outputs(index) -> paths (including its `stats` and `done` files), and FOLDER.
A stage writes its outputs and returns stats; it never writes its stats file or
its completion marker: `complete` does, after the outputs are in place (the
runner's tasks and inline builds call it). GLOBAL stages run as one task over the
whole build (index 0, `partitions=`); ALWAYS stages rerun at the end of every
build; a stage with `enabled(config)` runs only when that says so (degrade needs a
`degrade:` block)."""

import time

from irdata.stages import dedupe, degrade, fetch, manifest, patch
from irdata.storage import Output

STAGES = {"fetch": fetch, "dedupe": dedupe, "patch": patch, "degrade": degrade,
          "manifest": manifest}
ORDER = ["fetch", "dedupe", "patch", "degrade", "manifest"]


def is_enabled(name: str, config: dict) -> bool:
    """False for optional stages the pipeline does not ask for."""
    check = getattr(STAGES[name], "enabled", None)
    return check is None or check(config)


def complete(name: str, config: dict, out_root: str, index: int, **extra) -> dict:
    """Run one partition of a stage, then write its stats (with the seconds it
    took) and, last, its completion marker ({partition, shard}: the shard record the
    manifest lists, None for stages without one). Returns the stats."""
    stage = STAGES[name]
    started = time.time()
    stats = stage.run_partition(config, out_root, index, **extra)
    stats = {**stats, "seconds": round(time.time() - started, 3)}
    out, paths = Output(out_root), stage.outputs(index)
    out.write_json(paths["stats"], stats)
    out.write_json(paths["done"], {"partition": index, "shard": stats.get("shard")})
    return stats
