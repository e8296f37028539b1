"""Stages: each module has run_partition(config, out_root, index) -> stats,
outputs(index) -> paths (with the `done` marker), and FOLDER."""

from irdata.stages import fetch

STAGES = {"fetch": fetch}
ORDER = ["fetch"]
