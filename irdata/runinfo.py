"""run.json: the config, seed, package versions, host and stage times of a build."""

from __future__ import annotations

import platform
import socket
import time
from importlib import metadata

from irdata import __version__

PACKAGES = ("numpy", "opencv-python-headless", "pillow", "requests", "urllib3", "pyarrow",
            "webdataset", "dask", "distributed", "imagehash", "fsspec", "pyyaml", "torch")


def package_versions() -> dict[str, str | None]:
    """Installed versions of irdata's dependencies (None when absent); imports nothing."""
    versions = {"irdata": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run(config: dict, stages: list[str], argv: list[str]) -> dict:
    return {"config": config, "seed": config["seed"], "stages": stages, "argv": argv,
            "versions": package_versions(), "host": socket.gethostname(),
            "started": _now(), "finished": None, "stage_times": {}}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def stamp(run: dict, stage: str, key: str) -> None:
    run["stage_times"].setdefault(stage, {})[key] = _now()


def finish(run: dict, ok: bool) -> None:
    run["finished"] = _now()
    run["ok"] = ok
