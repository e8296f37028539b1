"""run.json: the config, seed, package versions, host and stage times of a build."""

from __future__ import annotations

import platform
import re
import socket
import time
from importlib import metadata

from irdata import __version__

PACKAGES = ("numpy", "opencv-python-headless", "pillow", "requests", "urllib3", "pyarrow",
            "webdataset", "dask", "distributed", "imagehash", "isal", "fsspec", "pyyaml", "torch")


def _requirements() -> list[str]:
    """Names of irdata's installed requirements (the `train` extra included, not `dev`)."""
    try:
        requires = metadata.requires("irdata") or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for requirement in requires:
        marker = requirement.partition(";")[2]
        if "extra" not in marker or "train" in marker:
            names.append(re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0])
    return names


def package_versions() -> dict[str, str | None]:
    """Installed versions of irdata's dependencies (None when absent); imports nothing."""
    versions = {"irdata": __version__, "python": platform.python_version()}
    for name in dict.fromkeys([*PACKAGES, *_requirements()]):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def new_run(config: dict, stages: list[str], argv: list[str]) -> dict:
    return {"config": recorded_config(config), "seed": config["seed"], "stages": stages,
            "argv": argv,
            "versions": package_versions(), "host": socket.gethostname(),
            "platform": platform.platform(),
            "started": _now(), "finished": None, "stage_times": {}}


REDACTED = "<not recorded>"


def recorded_config(config: dict) -> dict:
    """The config as run.json keeps it: storage options (endpoints, credentials) are
    named, never given."""
    options = config.get("storage_options") or {}
    return {**config, "storage_options": {key: REDACTED for key in sorted(options)}}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def stamp(run: dict, stage: str, key: str, seconds: float | None = None) -> None:
    """Record when a stage `started` or `finished` (and, when finished, its seconds)."""
    times = run["stage_times"].setdefault(stage, {})
    times[key] = _now()
    if seconds is not None:
        times["seconds"] = round(seconds, 3)


def finish(run: dict, ok: bool) -> None:
    run["finished"] = _now()
    run["ok"] = ok
