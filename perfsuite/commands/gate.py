"""`perfsuite gate calibrate`: A/A and slowed trials through the gate users run; what it catches on this runner.

    perfsuite gate calibrate [--slowdowns 0,0.05,0.1,0.25,1.0] [--trials N] [--baseline-runs K]
                             [--ab-rounds N] [--busy N] [--json PATH] [--html PATH] -- PYTEST ARGS
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from pathlib import Path
from typing import Any

from perfsuite.commands.args import int_in

DEFAULT_SLOWDOWNS = "0,0.05,0.1,0.25,1.0"
MAX_TRIALS = 1000
MAX_AB_ROUNDS = 1000
MAX_SLOWDOWN = 10.0  # the range inference_runtime.slowdown accepts


def slowdowns(text: str) -> tuple[float, ...]:
    """``0,0.05,1.0`` -> the injected slowdowns, each a ratio 0 to 10, none twice."""
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a number; give ratios separated by commas, e.g. 0,0.05,1.0 "
                                             f"(0.05 = every call 5% slower)") from None
        if not 0 <= value <= MAX_SLOWDOWN:
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: a slowdown is a ratio 0 to {MAX_SLOWDOWN:g} (0.05 = 5% slower, 1.0 = 2x)")
        if value in out:
            raise argparse.ArgumentTypeError(f"{value:g} is given twice")
        out.append(value)
    return tuple(sorted(out))


def run(args: argparse.Namespace) -> int:
    from perfsuite.calibrate.summary import calibrate, document
    from perfsuite.calibrate.trials import TrialPlan, TrialRunner, config_change, slowdown_change
    from perfsuite.report.calibration import html, terminal_lines
    from perfsuite.results.layout import RUN_TS_FORMAT, atomic_write_text

    changes = [slowdown_change(s) for s in args.slowdowns]
    if args.model_change:
        changes.append(config_change(args.model_change, args.changed))
    plan = TrialPlan(args.benches, tuple(a for a in args.pytest_args if a != "--"), tuple(changes), args.trials, None, args.baseline_runs,
                     args.reuse_baseline, args.ab_rounds, args.busy, not args.ab_only)
    work = Path(args.out).resolve() / "calibrate" / _dt.datetime.now().strftime(RUN_TS_FORMAT)
    work.mkdir(parents=True, exist_ok=False)
    json_path = Path(args.json) if args.json else work / "calibration.json"
    html_path = Path(args.html) if args.html else work / "calibration.html"

    def save(done: list[Any]) -> None:
        atomic_write_text(json_path, json.dumps(document(plan, done), indent=1))

    if 0 not in args.slowdowns:
        print("perfsuite gate calibrate: note: no slowdown 0 among --slowdowns, so no false-alarm rate is measured")
    trials = TrialRunner(plan, work).run(on_trial=save)
    save(trials)
    cal = calibrate(trials, plan.changes, plan.ab_rounds)
    for line in terminal_lines(cal, plan.changes):
        print(line)
    atomic_write_text(html_path, html(cal, plan.changes, plan.to_dict()))
    print(f"calibration: {json_path}, report: {html_path}")
    return 0


def register(sub: Any) -> None:
    from perfsuite.calibrate.busy import MAX_BUSY
    from perfsuite.results.baselines import MAX_KEEP

    gate = sub.add_parser("gate", help="the regression gate itself: calibrate it on this runner")
    what = gate.add_subparsers(dest="gate_command", required=True)
    p = what.add_parser("calibrate", help="run the suite as A/A and with injected slowdowns through the gate; print what it catches, per case",
                        description="Each trial is a fresh baseline (`pytest --perf-baseline-save`) and a fresh gate run "
                                    "(`pytest --perf-compare --perf-gate`) with the slowdown injected, each a fresh process. Prints per case "
                                    "the detection rate per slowdown, the false-alarm rate (slowdown 0) and the smallest slowdown caught "
                                    "in >= 90% of trials, with a recommended threshold / A/B rounds; writes a JSON and an HTML page with the plot.")
    p.add_argument("--slowdowns", type=slowdowns, default=slowdowns(DEFAULT_SLOWDOWNS), metavar="LIST",
                   help=f"injected slowdowns, ratios separated by commas; 0 is the A/A trial (default: {DEFAULT_SLOWDOWNS})")
    p.add_argument("--trials", type=int_in(1, MAX_TRIALS, "trials per slowdown"), default=10, metavar="N", help="trials per slowdown (default: 10)")
    p.add_argument("--baseline-runs", type=int_in(1, MAX_KEEP, "runs of each baseline"), default=1, metavar="K",
                   help="runs saved into each baseline: 1, or a replicate baseline of K runs (default: 1)")
    p.add_argument("--reuse-baseline", action="store_true",
                   help="one baseline for every trial: cheaper, but the trials share its luck and are not independent (default: a fresh one per trial)")
    p.add_argument("--ab-rounds", type=int_in(0, MAX_AB_ROUNDS, "rounds of each A/B trial; 0: none"), default=0, metavar="N",
                   help="also run each trial as `perfsuite ab --rounds N` (3 or more) with the slowdown on side B (default: 0, none)")
    p.add_argument("--ab-only", action="store_true", help="with --ab-rounds: only the A/B trials, no separate runs (default: both)")
    p.add_argument("--busy", type=int_in(0, MAX_BUSY, "busy processes beside each trial"), default=0, metavar="N",
                   help="N busy processes (`python -c 'while True: pass'`) for the duration of each trial: a busy runner (default: 0)")
    p.add_argument("--model-change", default=None, metavar="KEY=VALUE",
                   help="also try a config change as the head's --perf-override, e.g. model.config.n_layer=3 (default: none)")
    p.add_argument("--changed", default="*", metavar="GLOB", help="the case ids --model-change reaches, e.g. 'gpt2*' (default: *)")
    p.add_argument("--benches", default="benches", help="the benchmark folder (default: benches)")
    p.add_argument("--out", default="out", help="the out/ folder; trials go to OUT/calibrate/<time>/ (default: out)")
    p.add_argument("--json", default=None, metavar="PATH", help="the calibration JSON, rewritten after every trial (default: in the trials' folder)")
    p.add_argument("--html", default=None, metavar="PATH", help="the HTML page with the plot (default: in the trials' folder)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: arguments for every pytest run (suite, -k, overrides)")
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    """Option combinations argparse cannot check alone, then the run."""
    from perfsuite.compare.paired import MIN_PAIRS
    from perfsuite.errors import PerfDataError

    if args.ab_only and not args.ab_rounds:
        raise PerfDataError("--ab-only needs --ab-rounds N (the A/B trials to run instead of separate runs)")
    if 0 < args.ab_rounds < MIN_PAIRS:
        raise PerfDataError(f"--ab-rounds {args.ab_rounds} cannot give a paired verdict (it needs {MIN_PAIRS} pairs or more); "
                            f"use 0 (no A/B trials) or {MIN_PAIRS} or more")
    if args.reuse_baseline and args.ab_only:
        raise PerfDataError("--reuse-baseline applies to separate-run trials; --ab-only runs none")
    return run(args)
