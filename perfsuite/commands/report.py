"""`perfsuite report [RUN_DIR]`: print a run's summary table again, or (`--html`) write its HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.run import RESULTS_FILE, RunResult, load_run


def newest_readable(out: Path) -> tuple[RunResult, list[str]]:
    """The newest run under OUT/runs that loads; the newer ones that did not, with why."""
    runs_dir = out / "runs"
    candidates = sorted((p for p in runs_dir.iterdir() if (p / RESULTS_FILE).is_file()), reverse=True) if runs_dir.is_dir() else []
    if not candidates:
        raise PerfDataError(f"no run folder with a {RESULTS_FILE} under {runs_dir}; run `pytest benches` first or pass RUN_DIR")
    skipped = []
    for run_dir in candidates:
        try:
            return load_run(run_dir), skipped
        except PerfDataError as exc:
            skipped.append(str(exc))
    raise PerfDataError(f"no readable run under {runs_dir}: " + " | ".join(skipped))


def _newest(out: Path) -> RunResult:
    result, skipped = newest_readable(out)
    for why in skipped:
        print(f"perfsuite: skipping an unreadable run: {why}", file=sys.stderr)
    return result


def write_html(args: argparse.Namespace) -> int:
    """The HTML report of RUN_DIR (default: the newest readable run), optionally against a baseline."""
    from perfsuite.report.html import REPORT_FILE, compare_with, write_report

    run_dir = Path(args.run_dir) if args.run_dir else _newest(Path(args.out)).run_dir
    comparison = baseline = None
    if args.compare:
        baseline_dir = Path(args.baseline_dir) if args.baseline_dir else Path(args.out) / "baselines"
        comparison, baseline = compare_with(run_dir, args.compare, baseline_dir=baseline_dir, gate_config=args.gate_config,
                                            conf_dirs=tuple(args.conf_dir or ()))
    target = Path(args.output) if args.output else run_dir / REPORT_FILE
    target = target / REPORT_FILE if target.is_dir() else target
    run = None
    try:
        run = load_run(run_dir)  # read once: the report is drawn from it
    except PerfDataError as exc:
        if target.exists():  # a report without the case results must not replace one that has them
            raise PerfDataError(f"{exc}. {target} was left as it is: a report written now could show no case results; "
                                "pass -o NEW.html to write one anyway") from None
    target, problems = write_report(run_dir, target, run=run, comparison=comparison, baseline=baseline)
    for problem in problems:
        print(f"perfsuite: note: {problem}", file=sys.stderr)
    print(f"html report: {target}")
    return 0


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.terminal import summary_lines

    if args.html or args.output or args.compare:
        return write_html(args)
    result = load_run(Path(args.run_dir)) if args.run_dir else _newest(Path(args.out))
    status = result.status + (f" ({result.error})" if result.error else "")
    print(f"run {result.run_dir.name}: suite {result.suite}, device {result.device}, status {status}")
    for line in summary_lines(result.cases, result.sweeps):
        print(line)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="print a run's summary table from its results.json, or write its HTML report (--html)")
    p.add_argument("run_dir", nargs="?", help="a run folder (default: the newest readable one under OUT/runs)")
    p.add_argument("--out", default="out", help="the out/ folder to look in (default: out)")
    html = p.add_argument_group("HTML report")
    html.add_argument("--html", action="store_true", help="write the self-contained HTML report (default: RUN_DIR/report.html)")
    html.add_argument("-o", "--output", metavar="FILE", help="write the HTML report to FILE instead (implies --html)")
    html.add_argument("--compare", metavar="BASELINE", help="show verdicts against BASELINE: a baseline name or another run folder (implies --html)")
    html.add_argument("--baseline-dir", help="where baselines live (default: OUT/baselines)")
    html.add_argument("--gate-config", default="default", help="thresholds for --compare from conf/gate/NAME.yaml (default: default)")
    html.add_argument("--conf-dir", action="append", help="extra config tree searched first (repeatable)")
    p.set_defaults(func=run)
