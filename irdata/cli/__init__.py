"""`irdata` command line, one module per command group; bad input: one line, exit 2."""

from __future__ import annotations

import argparse
import sys

from irdata import __version__
from irdata.cli import audit, build, degrade, exclusions, pairs, train
from irdata.cli.options import Parser
from irdata.errors import UsageError

# Each adds its subcommands to the `commands` subparsers and sets `handler` on them;
# the order is the order of `irdata --help`.
COMMAND_GROUPS = [build.add_commands, degrade.add_commands, audit.add_commands,
                  train.add_commands, pairs.add_commands, exclusions.add_commands]


def build_parser() -> argparse.ArgumentParser:
    """The `irdata` parser with every command group registered."""
    parser = Parser(prog="irdata", description="Build Million-IRD-style corpora.",
                    allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"irdata {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in COMMAND_GROUPS:
        add(commands)
    return parser


def _command_names() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for bad input, 130 on Ctrl-C)."""
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
