"""`irdata exclusions build` and `irdata check-overlap`: parsers and handlers."""

from __future__ import annotations

import os
import sys

from irdata.errors import UsageError


def add_commands(commands) -> None:
    """Register exclusions and check-overlap on the `irdata` subparsers."""
    group = commands.add_parser("exclusions", help="evaluation sets kept out of a corpus",
                                allow_abbrev=False)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="an evaluation set's images -> a hash list "
                               "(Parquet), shareable without the images", allow_abbrev=False)
    build.add_argument("source", help="folder or archive (.zip, .tar, .tar.gz, .tgz) of images")
    build.add_argument("--name", required=True, help="the set's name (drop reason excluded:NAME)")
    build.add_argument("--out", required=True, help="the hash list to write (.parquet)")
    build.add_argument("--no-thumbnails", action="store_true",
                       help="leave out the 160 px thumbnails that reports show")
    build.set_defaults(handler=_cmd_build)
    overlap = commands.add_parser("check-overlap", help="which images of an evaluation set "
                                  "an existing corpus contains (exit 1 if any)",
                                  allow_abbrev=False)
    overlap.add_argument("output", help="a build's output folder")
    overlap.add_argument("--against", required=True,
                         help="evaluation set: folder, archive or hash list (.parquet, .csv)")
    overlap.add_argument("--name", help="the set's name (default: from the path)")
    overlap.set_defaults(handler=_cmd_overlap)


def _spec(path: str, name: str | None) -> dict:
    from irdata.config import NAME_RE

    if not os.path.exists(path):
        raise UsageError(f"evaluation set not found: {path}")
    kind = "dir" if os.path.isdir(path) else (
        "hashes" if path.lower().endswith((".parquet", ".pq", ".csv")) else "archive")
    name = name or os.path.basename(os.path.normpath(path)).split(".")[0]
    if not NAME_RE.match(name):
        raise UsageError(f"--name must be 1-64 letters, digits, '_', '-' or '.', got {name!r}")
    return {"name": name, "kind": kind, "path": os.path.abspath(path)}


def _cmd_build(args) -> int:
    import pyarrow as pa

    from irdata.exclude import sets

    spec = _spec(args.source, args.name)
    if spec["kind"] == "hashes":
        raise UsageError(f"{args.source} is already a hash list")
    table = sets.build_table(spec)
    if args.no_thumbnails:
        column = table.schema.get_field_index("thumbnail")
        table = table.set_column(column, "thumbnail", pa.nulls(len(table), pa.binary()))
    sets.write_table(table, args.out)
    print(f"irdata: {len(table)} images of {spec['name']} -> {args.out}", file=sys.stderr)
    return 0


def _cmd_overlap(args) -> int:
    from irdata.exclude.overlap import check_overlap

    found = check_overlap(args.output, _spec(args.against, args.name))
    for line in found["lines"]:
        print(line)
    print(f"irdata: {found['images']} source images checked against {found['excluded']} "
          f"images of {found['set']}: {found['overlaps']} overlap(s)", file=sys.stderr)
    return 1 if found["overlaps"] else 0
