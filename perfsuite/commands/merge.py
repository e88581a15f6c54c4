"""`perfsuite merge RUN_DIR...`: one run folder (results, benchmark.json, tables, report) from several.

For a CI matrix that ran the suite in shards (`--perf-shard K/N`) or on several machines: each
source keeps its machine id; a case measured on two machines is shown side by side, never averaged.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.html import write_report
    from perfsuite.results.merge import merge_runs, shard_notes
    from perfsuite.results.run import load_run

    for note in shard_notes([Path(d) for d in args.run_dirs]):
        print(f"perfsuite: warning: {note}")
    target = merge_runs([Path(d) for d in args.run_dirs], Path(args.out), slug=args.name)
    report, problems = write_report(target)
    for problem in problems:
        print(f"perfsuite: note: {problem}")
    merged = load_run(target)
    if merged.status != "finished":
        print(f"perfsuite: warning: the merged run is {merged.status}, not finished: {merged.error}")
    print(f"merged run folder: {target} (suite {merged.suite}, status {merged.status})")
    print(f"html report: {report}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("merge", help="combine run folders (shards, machines) into one run folder and report")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to merge (two or more)")
    p.add_argument("--out", default="out", help="the out/ folder to create the merged run in (default: out)")
    p.add_argument("--name", default="merged", help="the merged run folder's name after its time stamp (default: merged)")
    p.set_defaults(func=run)
