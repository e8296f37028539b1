"""`irdata pairs`: a pairs folder -> paired shards, a folder of clean images -> clean
shards (parser and handler)."""

from __future__ import annotations

import sys

from irdata.cli.options import positive_int

SHOWN = 5  # unmatched or unreadable names printed


def add_commands(commands) -> None:
    """Register pairs on the `irdata` subparsers."""
    pairs = commands.add_parser("pairs", help="a pairs folder -> paired shards (a folder of "
                                "clean images -> clean shards)", allow_abbrev=False)
    pairs.add_argument("folder", help="a pairs folder (rainy/ + norain/, hazy/ + clear/, "
                       "RESIDE OTS synthetic/ + original/, ...) or a folder of clean images "
                       "(BSD400, WED, Train/Denoise/)")
    pairs.add_argument("--out", required=True, help="output folder for paired/ (or patches/) "
                       "and manifest/")
    pairs.add_argument("--task", help="task name stored with each sample (default: from the "
                       "layout, e.g. derain; denoise for clean images)")
    pairs.add_argument("--per-shard", type=positive_int, default=1000,
                       help="samples per shard (default 1000)")
    pairs.set_defaults(handler=_cmd_pairs)


def _cmd_pairs(args) -> int:
    from irdata.pairs.write import write_folder_shards

    summary = write_folder_shards(args.folder, args.out, args.task, args.per_shard)
    where = f"{summary['shards']} shard(s) -> {args.out}/{summary['folder']}/"
    if "images" in summary:
        print(f"irdata: {summary['layout']} layout: {summary['images']} {summary['task']} "
              f"images (smallest side {summary['smallest_side']} px) in {where}",
              file=sys.stderr)
        skipped = [f"{name} ({reason})" for name, reason in summary["unreadable"]]
        _skipped(skipped, "unreadable image(s)")
    else:
        print(f"irdata: {summary['layout']} layout: {summary['pairs']} {summary['task']} "
              f"pairs in {where}", file=sys.stderr)
        _skipped(summary["unmatched"], "input(s) without a target")
    return 0


def _skipped(names: list[str], what: str) -> None:
    if names:
        more = f" (+{len(names) - SHOWN} more)" if len(names) > SHOWN else ""
        print(f"irdata: {len(names)} {what} skipped: {', '.join(names[:SHOWN])}{more}",
              file=sys.stderr)
