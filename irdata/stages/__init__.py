"""Stages. Each module has run_partition(config, out_root, index) -> stats,
outputs(index) -> paths (with the `done` marker written last), and FOLDER.
GLOBAL stages run as one task over the whole build (index 0, `partitions=`);
ALWAYS stages rerun at the end of every build."""

from irdata.stages import dedupe, fetch, manifest, patch

STAGES = {"fetch": fetch, "dedupe": dedupe, "patch": patch, "manifest": manifest}
ORDER = ["fetch", "dedupe", "patch", "manifest"]
