"""The build's stages, each a declared `Stage` record. A stage's `run(config, out_root,
index)` writes its outputs and returns stats; `complete` then writes its stats file and,
last, its completion marker (runner tasks and inline builds call it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from irdata.stages import dedupe, degrade, fetch, manifest, patch
from irdata.storage import Output, deferred_uploads


@dataclass(frozen=True)
class Stage:
    """One stage of the build, declared."""

    name: str
    does: str  # one line; the name alone does not say all of it
    reads: tuple[str, ...]  # output folders (or plan/) it reads
    writes: str  # the folder of its outputs
    outputs: Callable[[int], dict[str, str]]  # relative paths, `stats` and `done` included
    run: Callable[..., dict]
    scope: str = "partition"  # "global": one task over the whole build (index 0, partitions=)
    always: bool = False  # rerun at the end of every build
    enabled: Callable[[dict], bool] | None = None  # None: always configured

    @property
    def is_global(self) -> bool:
        return self.scope == "global"


STAGES = {stage.name: stage for stage in (
    Stage("fetch", "download or read every item, inspect it (one full decode, source "
          "gates) and cut usable images into grid cells", ("plan",), fetch.FOLDER,
          fetch.outputs, fetch.run_partition),
    Stage("dedupe", "find near-duplicate clusters from the hashes and choose each "
          "cluster's keeper", (fetch.FOLDER,), dedupe.FOLDER, dedupe.outputs,
          dedupe.run_partition, scope="global"),
    Stage("patch", "keep the cells of unique images: move or copy the fetch stage's cells, "
          "or cut the raw images again where those are missing", (fetch.FOLDER, fetch.CELLS,
          dedupe.FOLDER), patch.FOLDER, patch.outputs, patch.run_partition),
    Stage("degrade", "write K degraded variants beside each selected clean patch",
          (patch.FOLDER,), degrade.FOLDER, degrade.outputs, degrade.run_partition,
          enabled=degrade.enabled),
    Stage("manifest", "consolidate the tables of every stage into manifest/",
          (fetch.FOLDER, dedupe.FOLDER, patch.FOLDER, degrade.FOLDER), manifest.FOLDER,
          manifest.outputs, manifest.run_partition, scope="global", always=True),
)}
ORDER = list(STAGES)


def is_enabled(name: str, config: dict) -> bool:
    """False for optional stages the pipeline does not ask for."""
    check = STAGES[name].enabled
    return check is None or check(config)


def complete(name: str, config: dict, out_root: str, index: int, **extra) -> dict:
    """Run one partition, write its stats (with `seconds`), then its marker {partition,
    shard} (the shard record the manifest lists, or None). Returns the stats."""
    stage = STAGES[name]
    started = time.time()
    with deferred_uploads():  # on object stores, the outputs go up in parallel
        stats = stage.run(config, out_root, index, **extra)
    stats = {**stats, "seconds": round(time.time() - started, 3)}
    out, paths = Output(out_root, config["storage_options"]), stage.outputs(index)
    out.write_json(paths["stats"], stats)
    out.write_json(paths["done"], {"partition": index, "shard": stats.get("shard")})
    return stats


def describe() -> str:
    """The stages as the Markdown table in pipelines/README.md."""
    rows = ["| stage | tasks | reads | writes | what it does |", "| --- | --- | --- | --- | --- |"]
    for stage in STAGES.values():
        tasks = "one for the build" if stage.is_global else "one per partition"
        optional = " (optional)" if stage.enabled else ""
        reads = ", ".join(f"`{folder}/`" for folder in stage.reads)
        folders = dict.fromkeys(path.split("/")[0] for path in stage.outputs(0).values())
        writes = ", ".join(f"`{folder}/`" for folder in folders)
        rows.append(f"| `{stage.name}`{optional} | {tasks} | {reads} | {writes} | {stage.does} |")
    return "\n".join(rows)
