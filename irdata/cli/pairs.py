"""`irdata pairs`: a folder of input/target pairs -> paired shards (parser and handler)."""

from __future__ import annotations

import sys

from irdata.cli.options import positive_int


def add_commands(commands) -> None:
    """Register pairs on the `irdata` subparsers."""
    pairs = commands.add_parser("pairs", help="a pairs folder -> paired shards",
                                allow_abbrev=False)
    pairs.add_argument("folder", help="a pairs folder (rainy/ + norain/, hazy/ + clear/, ...)")
    pairs.add_argument("--out", required=True, help="output folder for paired/ and manifest/")
    pairs.add_argument("--task", help="task name stored with each pair (default: from the "
                       "layout, e.g. derain)")
    pairs.add_argument("--per-shard", type=positive_int, default=1000,
                       help="pairs per shard (default 1000)")
    pairs.set_defaults(handler=_cmd_pairs)


def _cmd_pairs(args) -> int:
    from irdata.pairs.write import write_pair_shards

    summary = write_pair_shards(args.folder, args.out, args.task, args.per_shard)
    print(f"irdata: {summary['pairs']} {summary['task']} pairs in {summary['shards']} "
          f"shard(s) -> {args.out}/paired/", file=sys.stderr)
    if summary["unmatched"]:
        print(f"irdata: {len(summary['unmatched'])} input(s) without a target skipped: "
              f"{', '.join(summary['unmatched'][:5])}", file=sys.stderr)
    return 0
