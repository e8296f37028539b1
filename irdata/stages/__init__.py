"""Stages. Each module has run_partition(config, out_root, index) -> stats,
outputs(index) -> paths (with the `done` marker written last), and FOLDER.
GLOBAL stages run as one task over the whole build (index 0, `partitions=`);
ALWAYS stages rerun at the end of every build; a stage with `enabled(config)`
runs only when that says so (degrade needs a `degrade:` block)."""

from irdata.stages import dedupe, degrade, fetch, manifest, patch

STAGES = {"fetch": fetch, "dedupe": dedupe, "patch": patch, "degrade": degrade,
          "manifest": manifest}
ORDER = ["fetch", "dedupe", "patch", "degrade", "manifest"]


def is_enabled(name: str, config: dict) -> bool:
    """False for optional stages the pipeline does not ask for."""
    check = getattr(STAGES[name], "enabled", None)
    return check is None or check(config)
