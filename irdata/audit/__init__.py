"""Auditor tools over a finished output folder: `verify` (shards against the
manifests), `report` (one self-contained HTML page) and `lineage` (`irdata show`).
They read only the output folder (manifest tables, shards, run.json)."""
