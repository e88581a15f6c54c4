"""Push one tracked run to the chosen trackers; a tracker that fails is an outcome, never an exception.

Each tracker runs on its own: a missing package, an unreachable server or a tracker's own bug
costs that tracker's copy of the run and nothing else. What happened is returned (the session
prints one line per tracker) and recorded in the run folder's `tracking.json`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from pathlib import Path

from perfsuite.config.tracking import TrackingSpec
from perfsuite.tracking.outcome import TrackerFailed, TrackerOutcome
from perfsuite.tracking.tracked import TrackedRun

TRACKING_FILE = "tracking.json"


def export_one(tracked: TrackedRun, spec: TrackingSpec, name: str, *, store: Path, base: Path) -> TrackerOutcome:
    """One tracker's export; `store` is <out>/tracking (MLflow's default store), `base` resolves relative paths."""
    start = time.monotonic()
    outcome = _export(tracked, spec, name, store=store, base=base)
    return dataclasses.replace(outcome, seconds=round(time.monotonic() - start, 3))


def _export(tracked: TrackedRun, spec: TrackingSpec, name: str, *, store: Path, base: Path) -> TrackerOutcome:
    try:
        if name == "mlflow":
            from perfsuite.tracking import mlflow_tracker

            return mlflow_tracker.export(tracked, spec.mlflow, store=store)
        if name == "tensorboard":
            from perfsuite.tracking import tensorboard_tracker

            return tensorboard_tracker.export(tracked, spec.tensorboard, base=base)
        if name == "wandb":
            from perfsuite.tracking import wandb_tracker

            return wandb_tracker.export(tracked, spec.wandb)
        return TrackerOutcome(name, False, "unknown tracker (expected mlflow, tensorboard or wandb)")
    except TrackerFailed as exc:
        return TrackerOutcome(name, False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a tracker's failure must never fail the benchmark run
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return TrackerOutcome(name, False, f"{type(exc).__name__}: {first}")


def export_all(tracked: TrackedRun, spec: TrackingSpec, names: Iterable[str], *, store: Path, base: Path) -> list[TrackerOutcome]:
    outcomes = [export_one(tracked, spec, name, store=store, base=base) for name in dict.fromkeys(names)]
    record(tracked.run_dir, outcomes)
    return outcomes


def record(run_dir: Path, outcomes: Iterable[TrackerOutcome]) -> None:
    """Merge the outcomes into `run_dir/tracking.json` (one entry per tracker, the latest wins)."""
    from perfsuite.results.layout import atomic_write_text

    path = run_dir / TRACKING_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc = doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        doc = {}
    for outcome in outcomes:
        doc[outcome.tracker] = outcome.to_dict()
    try:
        atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True))
    except OSError:
        pass  # the outcomes are printed; a read-only run folder has been reported already
