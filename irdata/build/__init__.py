"""Running a build: the runner (stages over a Dask cluster), its lock, progress
lines, run record and worker warm-up."""
