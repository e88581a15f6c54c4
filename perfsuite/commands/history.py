"""`perfsuite history`: each metric of each case over the stored runs, with change points flagged.

Runs are listed commit by commit; a change point can only lie between two commits, so the runs of
one commit are its noise. A run with an injected slowdown (a gate experiment) is listed, marked and
left out of the change points unless `--include-injected`.

`--add RUN_DIR...` adds run folders to the store (a run whose append failed, or a rebuild after a
corrupt database was moved aside); adding a run twice changes nothing.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from perfsuite.commands.args import int_in, number_in
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
    found = trends(points, alpha=args.alpha, permutations=args.permutations, include_injected=args.include_injected)
    for t in found:
        print(f"{t.key}  {t.metric}  machine {t.machine_id}  ({len(t.listed)} runs)")
        marks = {t.points[cp.index]: cp for cp in t.changes}
        for p in t.listed:
            commit = (p.git_commit or "-")[:12]
            line = f"  {Path(p.run_dir).name:<40} {commit:<12} {fmt(p.value, t.unit):>12}"
            if p.noisy:
                line += "  noisy"
            if p.injected:
                line += f"  injected slowdown {p.injected_slowdown:g}" + ("" if args.include_injected else " (left out)")
            if (cp := marks.get(p)) is not None:
                line += f"  <- change point: {change(1.0 + cp.magnitude)} ({fmt(cp.before, t.unit)} -> {fmt(cp.after, t.unit)}, p={cp.p_value:.3f}), first commit after it {commit}"
            print(line)
        for note in t.notes():
            print(f"  ({note})")
    flagged = sum(len(t.changes) for t in found)
    left_out = {p.run_uid for t in found for p in t.left_out}
    one_commit = sum(len(t.points) >= 2 and t.commits == 1 for t in found)
    print(f"{len(found)} series, {flagged} change point(s) (E-divisive between commits, permutation test over commits, alpha {args.alpha})"
          + (f"; {one_commit} series of one commit only" if one_commit else "")
          + (f"; {len(left_out)} run(s) with an injected slowdown left out (--include-injected)" if left_out else ""))
    return 1 if flagged and args.fail_on_change else 0


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="each metric of each case over the stored runs, with change points")
    p.add_argument("--out", default="out", help="the out/ folder whose history/history.sqlite to read (default: out)")
    p.add_argument("--db", metavar="URL", help="an SQLite file or SQLAlchemy URL instead (as given to --perf-history)")
    p.add_argument("--case", metavar="TEXT", help="only cases whose test::case id contains TEXT")
    p.add_argument("--metric", default="latency_p50_s", help="the metric to show (default: latency_p50_s; 'all' for every metric)")
    p.add_argument("--machine", metavar="ID", help="only this machine id (default: every machine, each its own series)")
    p.add_argument("--alpha", type=number_in(0, 1, "0.05: a 5% chance of flagging a history without a change", open_low=True, open_high=True),
                   default=0.05, help="significance of a change point (default: 0.05)")
    p.add_argument("--permutations", type=int_in(1, 100_000, "shuffles of the permutation test"), default=199,
                   help="shuffles of the permutation test (default: 199)")
    p.add_argument("--include-injected", action="store_true",
                   help="judge runs with an injected slowdown (inference_runtime.slowdown > 0) too, each slowdown of a commit "
                        "as a group of its own (default: listed, marked and left out)")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when any change point is found (for a nightly CI job)")
    p.add_argument("--add", nargs="+", metavar="RUN_DIR", help="add these run folders to the history instead of showing it")
    p.set_defaults(func=_normalise)


def _normalise(args: argparse.Namespace) -> int:
    if 1 / (1 + args.permutations) > args.alpha:  # p is at least 1 / (1 + shuffles): no change point could ever be found
        raise PerfDataError(f"--permutations {args.permutations} cannot give p <= --alpha {args.alpha:g}: "
                             f"use at least {math.ceil(1 / args.alpha - 1)} shuffles (199 by default)")
    if args.metric == "all":
        args.metric = None
    return run(args)
