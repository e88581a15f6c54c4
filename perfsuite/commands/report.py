"""`perfsuite report [RUN_DIR]`: print a finished (or interrupted) run's summary table again."""

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


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.terminal import summary_lines

    if args.run_dir:
        result = load_run(Path(args.run_dir))
    else:
        result, skipped = newest_readable(Path(args.out))
        for why in skipped:
            print(f"perfsuite: skipping an unreadable run: {why}", file=sys.stderr)
    status = result.status + (f" ({result.error})" if result.error else "")
    print(f"run {result.run_dir.name}: suite {result.suite}, device {result.device}, status {status}")
    for line in summary_lines(result.cases, result.sweeps):
        print(line)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="print a run's summary table from its results.json")
    p.add_argument("run_dir", nargs="?", help="a run folder (default: the newest readable one under OUT/runs)")
    p.add_argument("--out", default="out", help="the out/ folder to look in (default: out)")
    p.set_defaults(func=run)
