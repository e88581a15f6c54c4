"""`perfsuite history`: each metric of each case over the stored runs, with change points flagged.

`--add RUN_DIR...` adds run folders to the store (a run whose append failed, or a rebuild after a
corrupt database was moved aside); adding a run twice changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError


def _store(args: argparse.Namespace) -> Any:
    from perfsuite.results.history import HistoryStore, default_location

    return HistoryStore(args.db if args.db else default_location(Path(args.out)))


def add_runs(store: Any, run_dirs: list[str]) -> int:
    from perfsuite.results.history import read_env
    from perfsuite.results.run import load_run

    added = 0
    for run_dir in run_dirs:
        run = load_run(Path(run_dir))
        if store.append(run, read_env(Path(run_dir))):
            added += 1
            print(f"added {run_dir}")
        else:
            print(f"already in the history: {run_dir}")
    return added


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.trend import fmt, trends
    from perfsuite.report.units import change

    store = _store(args)
    if args.add:
        add_runs(store, args.add)
        return 0
    points = store.points(case=args.case, metric=args.metric, machine_id=args.machine)
    if not points:
        raise PerfDataError(f"no stored points in {store.where}" + (f" for --case {args.case!r}" if args.case else "")
                            + (f" and --metric {args.metric}" if args.metric else ""))
    found = trends(points, alpha=args.alpha, permutations=args.permutations)
    flagged = 0
    for t in found:
        print(f"{t.key}  {t.metric}  machine {t.machine_id}  ({len(t.points)} runs)")
        marks = {cp.index: cp for cp in t.changes}
        for i, p in enumerate(t.points):
            commit = (p.git_commit or "-")[:12]
            line = f"  {Path(p.run_dir).name:<40} {commit:<12} {fmt(p.value, t.unit):>12}"
            if p.noisy:
                line += "  noisy"
            if i in marks:
                cp = marks[i]
                line += f"  <- change point: {change(1.0 + cp.magnitude)} ({fmt(cp.before, t.unit)} -> {fmt(cp.after, t.unit)}, p={cp.p_value:.3f}), first commit after it {commit}"
            print(line)
        flagged += len(t.changes)
    print(f"{len(found)} series, {flagged} change point(s) (E-divisive, permutation test, alpha {args.alpha})")
    return 1 if flagged and args.fail_on_change else 0


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="each metric of each case over the stored runs, with change points")
    p.add_argument("--out", default="out", help="the out/ folder whose history/history.sqlite to read (default: out)")
    p.add_argument("--db", metavar="URL", help="an SQLite file or SQLAlchemy URL instead (as given to --perf-history)")
    p.add_argument("--case", metavar="TEXT", help="only cases whose test::case id contains TEXT")
    p.add_argument("--metric", default="latency_p50_s", help="the metric to show (default: latency_p50_s; 'all' for every metric)")
    p.add_argument("--machine", metavar="ID", help="only this machine id (default: every machine, each its own series)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance of a change point (default: 0.05)")
    p.add_argument("--permutations", type=int, default=199, help="shuffles of the permutation test (default: 199)")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when any change point is found (for a nightly CI job)")
    p.add_argument("--add", nargs="+", metavar="RUN_DIR", help="add these run folders to the history instead of showing it")
    p.set_defaults(func=_normalise)


def _normalise(args: argparse.Namespace) -> int:
    if args.metric == "all":
        args.metric = None
    return run(args)
