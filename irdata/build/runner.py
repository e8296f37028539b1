"""The only module that knows Dask: partition tasks, retries, progress, resume, run.json."""

from __future__ import annotations

import logging
import os
import posixpath
import sys
import time
import uuid
from contextlib import contextmanager

from irdata import tuning
from irdata.build import runinfo
from irdata.build.lock import build_lock
from irdata.build.progress import Progress, summary_table
from irdata.build.warm import warm_up
from irdata.errors import UsageError
from irdata.exclude.compiled import compile_sets
from irdata.sources.plan import make_plan
from irdata.stages import ORDER, STAGES, complete, is_enabled
from irdata.storage import Output

TASK_RETRIES = 2
# LocalCluster shapes for `--workers N`: N threads in one worker process, or N
# single-thread worker processes (measured in benchmarks/curation.py).
SHAPES = ("processes", "threads")
DEFAULT_SHAPE = "processes"


class BuildFailed(Exception):
    """Some partitions failed after their retries; the rest of the build is kept."""


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _local_cluster(workers: int | None, shape: str):
    from distributed import LocalCluster

    count = workers or default_workers()
    processes, threads = (1, count) if shape == "threads" else (count, 1)
    return LocalCluster(n_workers=processes, threads_per_worker=threads, processes=True,
                        dashboard_address=":0",  # a free port: no clash
                        silence_logs=logging.CRITICAL)


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None,
            shape: str = DEFAULT_SHAPE):
    """A Dask client on `scheduler` (address or file), else a LocalCluster (SHAPES)."""
    from distributed import Client

    if scheduler:
        kwargs = ({"scheduler_file": scheduler} if os.path.isfile(scheduler)
                  else {"address": scheduler})
        try:
            client = Client(timeout="10s", **kwargs)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with _local_cluster(workers, shape) as cluster, Client(cluster) as client:
        yield client


def map_tasks(function, calls: list[tuple], workers: int | None = None,
              scheduler: str | None = None, name: str = "task") -> list:
    """`function(*args)` for each of `calls`, one Dask task each; results in that order."""
    token = uuid.uuid4().hex[:8]
    with connect(workers, scheduler) as client:
        futures = [client.submit(function, *args, key=f"{name}-{i:05d}-{token}",
                                 retries=TASK_RETRIES, pure=False)
                   for i, args in enumerate(calls)]
        return client.gather(futures)


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, MiB (None where unknown)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def _measured(function, *args, **kwargs) -> dict:
    """A stage partition (`stages.complete`) on a tuned worker: its stats plus the worker's
    peak memory so far (`worker_peak_rss_mb`) and address (`worker`), returned, not
    stored in stats.json."""
    from distributed import get_worker

    tuning.tune()
    stats = function(*args, **kwargs)
    return {**stats, "worker_peak_rss_mb": peak_rss_mb(), "worker": get_worker().address}


def _done_stats(out: Output, stage, index: int, present: set[str]) -> dict | None:
    """The stats of a partition marked done (`present`: the files of its folder)."""
    paths = stage.outputs(index)
    if paths["done"] not in present:
        return None
    return out.read_json(paths["stats"])


def missing_prerequisites(out: Output, config: dict, stages: list[str], partitions: int) -> str:
    """'' when every stage before the first requested one is complete, else why not."""
    off = [s for s in stages if not is_enabled(s, config)]
    if off and len(off) == len(stages):
        return (f"stage '{off[0]}' is not configured in this pipeline "
                f"(see pipelines/README.md)")
    first = min(ORDER.index(s) for s in stages)
    for name in ORDER[:first]:
        stage = STAGES[name]
        if stage.always or not is_enabled(name, config):
            continue
        indices = [0] if stage.is_global else range(partitions)
        present = out.files(posixpath.dirname(stage.outputs(0)["done"]))
        missing = sum(1 for i in indices if stage.outputs(i)["done"] not in present)
        if missing:
            return (f"stage '{ORDER[first]}' needs '{name}' to be complete "
                    f"({missing} of {len(indices)} partitions missing): "
                    f"run it first, e.g. --stages {','.join(ORDER[:first + 1])}")
    return ""


def run_stage(client, name: str, config: dict, out: Output, partitions: int,
              quiet: bool = False) -> tuple[list[dict], list[str]]:
    """Run every partition of a stage not yet marked done; return (stats, errors)."""
    from distributed import as_completed

    stage = STAGES[name]
    is_global = stage.is_global
    if stage.always and out.is_file(stage.outputs(0)["done"]):
        out.fs.rm(out.path(stage.outputs(0)["done"]))
    extra = {"partitions": partitions} if is_global else {}
    finished, todo = [], []
    present = out.files(posixpath.dirname(stage.outputs(0)["done"]))
    for index in ([0] if is_global else range(partitions)):
        stats = _done_stats(out, stage, index, present)
        (todo.append(index) if stats is None else finished.append(stats))
    progress = Progress(name, len(finished) + len(todo), already=len(finished), quiet=quiet)
    for stats in finished:
        progress.add(stats, fresh=False)
    token = uuid.uuid4().hex[:8]
    futures = {client.submit(_measured, complete, name, config, out.root, index, **extra,
                             key=f"{name}-{index:05d}-{token}", retries=TASK_RETRIES,
                             pure=False): index for index in todo}
    errors = []
    for future in as_completed(futures):
        try:
            stats = future.result()
        except Exception as exc:
            errors.append(f"{name} partition {futures[future]:05d}: {type(exc).__name__}: {exc}")
            continue
        finished.append(stats)
        progress.add(stats)
    progress.finish()
    finished.sort(key=lambda s: s["partition"])
    return finished, errors


def _prepare(config: dict, out: Output, stages: list[str], argv, quiet: bool):
    """Clean leftovers, plan, check prerequisites, start run.json."""
    out.remove_temps("")  # leftovers of a killed run (the lock keeps other builds out)
    compile_sets(config, out)  # exclusion sets read (or reused) before any work
    plan = make_plan(config, out)  # before the cluster: bad sources fail fast
    problem = missing_prerequisites(out, config, stages, plan.partitions)
    if problem:
        raise UsageError(problem)
    run = runinfo.new_run(config, stages, list(argv or []))
    out.write_json("run.json", run)
    if not quiet:
        print(f"irdata: {plan.items} source items in {plan.partitions} partitions "
              f"-> {out.root}", file=sys.stderr)
    return plan, run


def _run_stages(client, config: dict, out: Output, stages: list[str], plan, run,
                quiet: bool) -> tuple[dict, list[str]]:
    results, errors = {}, []
    wanted = [s for s in ORDER if s in stages or STAGES[s].always]
    for name in [s for s in wanted if is_enabled(s, config)]:
        runinfo.stamp(run, name, "started")
        began = time.monotonic()
        stats, stage_errors = run_stage(client, name, config, out, plan.partitions, quiet)
        seconds = time.monotonic() - began
        runinfo.stamp(run, name, "finished", seconds)
        results[name] = {"stats": stats, "seconds": seconds}
        errors += stage_errors
        if stage_errors:
            break
    return results, errors


def run_build(config: dict, out_root: str, stages: list[str], workers: int | None = None,
              scheduler: str | None = None, quiet: bool = False, argv=None,
              shape: str = DEFAULT_SHAPE) -> dict:
    """Plan, then run each stage over all partitions. Returns stats per stage."""
    out = Output(out_root, config["storage_options"])
    out.check_writable()  # no bucket, no access, no endpoint: one line, nothing started
    with build_lock(out):
        plan, run = _prepare(config, out, stages, argv, quiet)
        with connect(workers, scheduler, shape) as client:
            client.run(warm_up)  # imports once per worker, not in the first tasks
            results, errors = _run_stages(client, config, out, stages, plan, run, quiet)
        # Temp files of workers killed mid-write: their tasks were rerun elsewhere.
        out.remove_temps("")
        runinfo.finish(run, ok=not errors)
        out.write_json("run.json", run)
    if not quiet:
        for name, result in results.items():
            print(summary_table(name, result["stats"], result["seconds"]), file=sys.stderr)
    if errors:
        raise BuildFailed("\n".join(errors))
    return results
