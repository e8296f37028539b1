"""Run a whole build in the test process, stage by stage, without Dask."""

from irdata.exclude.compiled import compile_sets
from irdata.sources.plan import make_plan
from irdata.stages import ORDER, STAGES, complete, is_enabled
from irdata.storage import Output


def build_inline(config: dict, out: str) -> int:
    """Every enabled stage in order, each partition in turn, completed as the runner's
    tasks complete them (stats and marker after the outputs); returns the partition
    count."""
    compile_sets(config, Output(out, config["storage_options"]))
    partitions = make_plan(config, Output(out, config["storage_options"])).partitions
    for name in [n for n in ORDER if is_enabled(n, config)]:
        if STAGES[name].is_global:
            complete(name, config, out, 0, partitions=partitions)
            continue
        for index in range(partitions):
            complete(name, config, out, index)
    return partitions
