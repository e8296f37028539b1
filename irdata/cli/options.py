"""Shared by the command groups: the parser class, argparse value types, cluster options."""

from __future__ import annotations

import argparse

from irdata.errors import UsageError


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (UsageError) instead of usage + message."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def positive_int(text: str) -> int:
    """An integer >= 1, or an argparse error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """--workers, --scheduler and --quiet, for the commands that run on a Dask cluster."""
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="LocalCluster task slots (default: CPU count)")
    parser.add_argument("--scheduler", default=None,
                        help="existing Dask scheduler: tcp://host:8786 or a scheduler file")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")
