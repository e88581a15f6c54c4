"""`perfsuite track [RUN_DIR] --to mlflow|tensorboard|wandb`: push an existing run folder to trackers.

The same export the session makes at its end (`output.tracking`), for a run made without it,
one whose tracker was down at the time, or an imported one. The tracker settings are the run's
own (its run_config.yaml), with the options below on top. Exporting a run to MLflow twice logs
it once. Exit status 0 when every tracker took the run, 1 when one did not.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from perfsuite.commands.args import number_in
from perfsuite.config.tracking import TRACKERS, WANDB_MODES, TrackingSpec
from perfsuite.errors import PerfDataError


def _trackers(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in TRACKERS:
            raise argparse.ArgumentTypeError(f"unknown tracker {name!r}; choose from {', '.join(TRACKERS)}")
    return names


def _run_dir(args: argparse.Namespace) -> Path:
    from perfsuite.results.run import RESULTS_FILE, latest_run

    if not args.run_dir:
        return latest_run(Path(args.out))
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise PerfDataError(f"{run_dir} is not a folder; pass a run folder (out/runs/<run>, with a {RESULTS_FILE}), or leave RUN_DIR out for the newest run")
    return run_dir


def _spec(run_dir: Path, args: argparse.Namespace) -> TrackingSpec:
    import yaml

    from perfsuite.config.tracking import tracking_from_composed

    spec = TrackingSpec()
    path = run_dir / "run_config.yaml"
    try:
        header = yaml.safe_load(path.read_text(encoding="utf-8"))
        composed = header.get("composed") if isinstance(header, dict) else None
        if isinstance(composed, dict) and composed:
            spec = tracking_from_composed(next(iter(composed.values())), file=str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        pass  # no readable config: the defaults (and the options below)
    mlflow, tb, wandb = spec.mlflow, spec.tensorboard, spec.wandb
    if args.mlflow_uri:
        mlflow = dataclasses.replace(mlflow, tracking_uri=args.mlflow_uri)
    if args.experiment:
        mlflow = dataclasses.replace(mlflow, experiment=args.experiment)
    if args.timeout_s is not None:
        mlflow = dataclasses.replace(mlflow, timeout_s=args.timeout_s)
    if args.tb_log_dir:
        tb = dataclasses.replace(tb, log_dir=args.tb_log_dir)
    if args.wandb_mode:
        wandb = dataclasses.replace(wandb, mode=args.wandb_mode)
    if args.wandb_project:
        wandb = dataclasses.replace(wandb, project=args.wandb_project)
    names = tuple(dict.fromkeys(n for group in (args.to or []) for n in group)) or spec.trackers
    return TrackingSpec(trackers=names, mlflow=mlflow, tensorboard=tb, wandb=wandb)


def run(args: argparse.Namespace) -> int:
    from perfsuite.results.layout import OutLayout
    from perfsuite.tracking.export import export_all
    from perfsuite.tracking.tracked import load_tracked

    run_dir = _run_dir(args)
    spec = _spec(run_dir, args)
    if not spec.trackers:
        raise PerfDataError(f"no tracker to export {run_dir.name} to: pass --to {'|'.join(TRACKERS)} (the run's output.tracking is empty)")
    if args.timeout_s is not None and not 0 < args.timeout_s <= 600:
        raise PerfDataError(f"--timeout-s must be > 0 and <= 600 seconds, got {args.timeout_s:g}")
    tracked = load_tracked(run_dir)
    for note in tracked.notes:
        print(f"perfsuite: note: {note}", file=sys.stderr)
    # The default MLflow store of a run under OUT/runs/ is OUT/tracking, wherever the command runs.
    out = run_dir.resolve().parent.parent if run_dir.resolve().parent.name == "runs" else Path(args.out)
    outcomes = export_all(tracked, spec, spec.trackers, store=OutLayout(out).tracking, base=Path.cwd())
    for outcome in outcomes:
        print(outcome.line(), file=sys.stdout if outcome.ok else sys.stderr)
    return 0 if all(o.ok for o in outcomes) else 1


def register(sub: Any) -> None:
    p = sub.add_parser("track", help="export a run folder to MLflow, TensorBoard or W&B (docs/tracking.md)")
    p.add_argument("run_dir", nargs="?", help="a run folder (default: the newest under OUT/runs)")
    p.add_argument("--to", action="append", type=_trackers, metavar="TRACKER[,TRACKER]",
                   help=f"tracker(s): {', '.join(TRACKERS)}; repeatable (default: the run's output.tracking)")
    p.add_argument("--mlflow-uri", metavar="URI", help="MLflow tracking URI (default: the run's setting, $MLFLOW_TRACKING_URI, else sqlite:///OUT/tracking/mlflow.db)")
    p.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default: the run's setting, perfsuite)")
    p.add_argument("--timeout-s", type=number_in(0, 600, "seconds to wait for an MLflow server", open_low=True), metavar="S", help="give up on an MLflow server that does not answer within S seconds (default: the run's setting, 5)")
    p.add_argument("--tb-log-dir", metavar="DIR", help="TensorBoard log folder; the run goes to DIR/<run name> (default: RUN_DIR/tensorboard)")
    p.add_argument("--wandb-mode", choices=WANDB_MODES, help="W&B mode (default: offline unless W&B is configured)")
    p.add_argument("--wandb-project", metavar="NAME", help="W&B project (default: the run's setting, perfsuite)")
    p.add_argument("--out", default="out", help="the out/ folder to look in (default: out)")
    p.set_defaults(func=run)
