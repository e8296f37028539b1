"""`irdata` command line. Bad input: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import argparse
import sys

from irdata import __version__
from irdata.argtypes import positive_int as _positive_int
from irdata.errors import UsageError
from irdata.train.commands import add_commands as add_train_commands


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


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


def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="LocalCluster task slots (default: CPU count)")
    parser.add_argument("--scheduler", default=None,
                        help="existing Dask scheduler: tcp://host:8786 or a scheduler file")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")


def build_parser() -> argparse.ArgumentParser:
    from irdata.stages import ORDER

    parser = _Parser(prog="irdata", description="Build Million-IRD-style corpora.",
                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"irdata {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    build = commands.add_parser("build", help="run a pipeline YAML", allow_abbrev=False)
    build.add_argument("pipeline", help="pipeline YAML file")
    build.add_argument("--out", help="output folder or fsspec URL (overrides `output`)")
    build.add_argument("--stages", type=_stage_list, default=list(ORDER),
                       help=f"comma-separated subset of {','.join(ORDER)}")
    _add_cluster_options(build)
    build.add_argument("--worker-shape", choices=("processes", "threads"), default="processes",
                       help="LocalCluster: --workers single-thread processes (default) or "
                            "one process with --workers threads")
    build.set_defaults(handler=_cmd_build)
    demo = commands.add_parser("demo", help="build a small corpus from generated images",
                                allow_abbrev=False)
    demo.add_argument("--source", help="folder of your own photos instead of generated ones")
    demo.add_argument("--out", help="output folder (default: a new ./irdata-demo-* folder)")
    _add_cluster_options(demo)
    demo.set_defaults(handler=_cmd_demo)
    for add in COMMAND_GROUPS:
        add(commands)
    return parser


def _add_degrade(commands) -> None:
    degrade = commands.add_parser("degrade", help="look at the degradations",
                                  allow_abbrev=False)
    actions = degrade.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    preview = actions.add_parser("preview", allow_abbrev=False,
                                 help="contact sheet of every kind at low/mid/high strength")
    preview.add_argument("image", help="an image file (any format irdata reads)")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--tile", type=_positive_int, default=384,
                         help="side of each tile in pixels")
    degrade.set_defaults(handler=_cmd_degrade)


def _cmd_degrade(args) -> int:
    from irdata.degrade_preview import write_preview

    if args.action != "preview":
        raise UsageError("irdata degrade: an action is required: preview")
    write_preview(args.image, args.out, args.seed, args.tile)
    print(f"irdata: wrote {args.out}")
    return 0


def _cmd_build(args) -> int:
    from irdata import config as config_mod
    from irdata.runner import BuildFailed, run_build

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
    from irdata.demo import run_demo

    return run_demo(args.source, args.out, args.workers, args.scheduler, args.quiet)


def _command_names() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def _add_audit(commands) -> None:
    from irdata.audit import commands as audit

    verify = commands.add_parser("verify", allow_abbrev=False,
                                 help="check every shard against the manifests")
    verify.add_argument("out", metavar="OUT", help="output folder of a build")
    _add_cluster_options(verify)
    verify.set_defaults(handler=audit.verify)
    report = commands.add_parser("report", allow_abbrev=False,
                                 help="one self-contained HTML page about a build")
    report.add_argument("out", metavar="OUT", help="output folder of a build")
    report.add_argument("--html", metavar="FILE", help="page to write (default OUT/report.html)")
    report.set_defaults(handler=audit.report)
    show = commands.add_parser("show", allow_abbrev=False, help="lineage of one patch")
    show.add_argument("out", metavar="OUT", help="output folder of a build")
    show.add_argument("key", metavar="KEY", help="patch key {image_id}_{y:05d}_{x:05d}")
    show.add_argument("--png", metavar="FILE", help="also write the patch's pixels as PNG")
    show.set_defaults(handler=audit.show)


# Each adds its subcommands to the `commands` subparsers and sets `handler` on them.
COMMAND_GROUPS = [_add_degrade, _add_audit, add_train_commands]


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            names = ", ".join(_command_names())
            raise UsageError(f"irdata: a command is required: {names} (see 'irdata --help')")
        return args.handler(args)
    except UsageError as err:
        text = str(err)
        print(text if text.startswith("irdata") else f"irdata: error: {text}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("irdata: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
