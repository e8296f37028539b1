"""Auditor tools that read only a finished output folder (manifests, shards, run.json):
`verify`, `report` (one HTML page) and `lineage` (`irdata show`)."""
