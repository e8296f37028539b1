"""Handlers of `irdata verify`, `irdata report` and `irdata show` (parsers in cli.py).
Imports are deferred so that building the parser stays cheap."""

from __future__ import annotations


def verify(args) -> int:
    """Exit 0 with a summary line (none with --quiet) when every check holds, else 1
    and the list of discrepancies, then the summary."""
    from irdata.audit.verify import report_lines, summary, verify
    from irdata.runner import map_tasks

    def run_tasks(function, calls):
        return map_tasks(function, calls, args.workers, args.scheduler, name="verify")

    result = verify(args.out, run_tasks)
    if result["problems"]:
        print("\n".join(report_lines(result["problems"])))
    if result["problems"] or not args.quiet:
        print(summary(result))
    return 1 if result["problems"] else 0


def report(args) -> int:
    from irdata.audit.report import write_report

    where = write_report(args.out, args.html)
    print(f"irdata: wrote {where}")
    return 0


def show(args) -> int:
    from irdata.audit.lineage import show

    print(show(args.out, args.key, args.png))
    return 0
