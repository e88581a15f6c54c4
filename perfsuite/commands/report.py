"""`perfsuite report [RUN_DIR]`: print a finished (or interrupted) run's summary table again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError


def latest_run(out: Path) -> Path:
    runs = sorted(p for p in (out / "runs").glob("*") if (p / "results.json").is_file()) if (out / "runs").is_dir() else []
    if not runs:
        raise PerfDataError(f"no run folder with a results.json under {out / 'runs'}; run `pytest benches` first or pass RUN_DIR")
    return runs[-1]


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.terminal import summary_lines

    run_dir = Path(args.run_dir) if args.run_dir else latest_run(Path(args.out))
    path = run_dir / "results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PerfDataError(f"{run_dir} has no results.json (is it a perfsuite run folder?)") from None
    except ValueError as exc:
        raise PerfDataError(f"{path} is not valid JSON ({exc}); the run may have been killed while writing") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise PerfDataError(f"{path} is not a perfsuite results file (no 'results' list)")
    print(f"run {run_dir.name}: suite {doc.get('suite')}, device {doc.get('device')}, status {doc.get('status')}")
    for line in summary_lines(doc["results"], doc.get("sweeps") or []):
        print(line)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="print a run's summary table from its results.json")
    p.add_argument("run_dir", nargs="?", help="a run folder (default: the newest under OUT/runs)")
    p.add_argument("--out", default="out", help="the out/ folder to look in (default: out)")
    p.set_defaults(func=run)
