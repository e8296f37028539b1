"""`irdata verify`, `report` and `show`: parsers and handlers (lazy imports, cheap parser)."""

from __future__ import annotations

from irdata.cli.options import add_cluster_options


def add_commands(commands) -> None:
    """Register verify, report and show on the `irdata` subparsers."""
    verify = commands.add_parser("verify", allow_abbrev=False,
                                 help="check every shard against the manifests")
    verify.add_argument("out", metavar="OUT", help="output folder of a build")
    add_cluster_options(verify)
    verify.set_defaults(handler=_cmd_verify)
    report = commands.add_parser("report", allow_abbrev=False,
                                 help="one self-contained HTML page about a build")
    report.add_argument("out", metavar="OUT", help="output folder of a build")
    report.add_argument("--html", metavar="FILE", help="page to write (default OUT/report.html)")
    report.set_defaults(handler=_cmd_report)
    show = commands.add_parser("show", allow_abbrev=False, help="lineage of one patch")
    show.add_argument("out", metavar="OUT", help="output folder of a build")
    show.add_argument("key", metavar="KEY", help="patch key {image_id}_{y:05d}_{x:05d}")
    show.add_argument("--png", metavar="FILE", help="also write the patch's pixels as PNG")
    show.set_defaults(handler=_cmd_show)


def _cmd_verify(args) -> int:
    """0 and a summary (none with --quiet) if every check holds, else 1, problems, summary."""
    from irdata.audit.verify import report_lines, summary, verify
    from irdata.build.runner import map_tasks

    def run_tasks(function, calls):
        return map_tasks(function, calls, args.workers, args.scheduler, name="verify")

    result = verify(args.out, run_tasks)
    if result["problems"]:
        print("\n".join(report_lines(result["problems"])))
    if result["problems"] or not args.quiet:
        print(summary(result))
    return 1 if result["problems"] else 0


def _cmd_report(args) -> int:
    from irdata.audit.report import write_report

    where = write_report(args.out, args.html)
    print(f"irdata: wrote {where}")
    return 0


def _cmd_show(args) -> int:
    from irdata.audit.lineage import show

    print(show(args.out, args.key, args.png))
    return 0
