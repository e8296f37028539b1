"""Running a build: the Dask runner, its lock, progress lines, run record, warm-up."""
