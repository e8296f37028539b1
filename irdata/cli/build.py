"""`irdata build` and `irdata demo`: parsers and handlers."""

from __future__ import annotations

import argparse
import sys

from irdata.cli.options import add_cluster_options
from irdata.errors import UsageError


def _stage_list(text: str) -> list[str]:
    from irdata.stages import ORDER

    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in ORDER]
    if not names:
        raise argparse.ArgumentTypeError(f"no stage given (available: {', '.join(ORDER)})")
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage {unknown[0]!r} (available: {', '.join(ORDER)})")
    return names


def add_commands(commands) -> None:
    """Register build and demo on the `irdata` subparsers."""
    from irdata.stages import ORDER

    build = commands.add_parser("build", help="run a pipeline YAML", allow_abbrev=False)
    build.add_argument("pipeline", help="pipeline YAML file")
    build.add_argument("--out", help="output folder or fsspec URL (overrides `output`)")
    build.add_argument("--stages", type=_stage_list, default=list(ORDER),
                       help=f"comma-separated subset of {','.join(ORDER)}")
    add_cluster_options(build)
    build.add_argument("--worker-shape", choices=("processes", "threads"), default="processes",
                       help="LocalCluster: --workers single-thread processes (default) or "
                            "one process with --workers threads")
    build.set_defaults(handler=_cmd_build)
    demo = commands.add_parser("demo", help="build a small corpus from generated images",
                                allow_abbrev=False)
    demo.add_argument("--source", help="folder of your own photos instead of generated ones")
    demo.add_argument("--out", help="output folder (default: a new ./irdata-demo-* folder)")
    add_cluster_options(demo)
    demo.set_defaults(handler=_cmd_demo)


def _cmd_build(args) -> int:
    from irdata import config as config_mod
    from irdata.build.runner import BuildFailed, run_build

    config = config_mod.load(args.pipeline)
    out = args.out or config["output"]
    if not out:
        raise UsageError(f"{args.pipeline}: no output folder: set 'output' or pass --out")
    config["output"] = out
    try:
        run_build(config, out, args.stages, args.workers, args.scheduler, args.quiet,
                  argv=sys.argv, shape=args.worker_shape)
    except BuildFailed as failed:
        print(f"irdata: build incomplete; rerun the same command to retry:\n{failed}",
              file=sys.stderr)
        return 1
    except OSError as exc:  # the output folder cannot be written (full disk, permissions)
        print(f"irdata: build stopped: {exc}; fix it and rerun the same command to resume",
              file=sys.stderr)
        return 1
    return 0


def _cmd_demo(args) -> int:
    from irdata.demo.job import run_demo

    return run_demo(args.source, args.out, args.workers, args.scheduler, args.quiet)
