"""`output.tracking` and `output.trackers`: which experiment trackers get a copy of the run, and how.

conf/output/tracking/default.yaml sets them (docs/tracking.md). Defaults live here, in the
dataclasses; the reader takes a missing key's default from them. Tracking is run-wide: one
tracked run per perfsuite run, so every case of a plan must agree (`run_settings.run_spec`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from perfsuite.config.fields import Fields

TRACKERS = ("mlflow", "tensorboard", "wandb")
# Metric groups a tracker can log; perfsuite.tracking.metrics puts every table metric in one.
METRIC_GROUPS = ("latency", "throughput", "memory", "generation", "compute", "verdicts")
WANDB_MODES = ("online", "offline")


@dataclass(frozen=True)
class MlflowSettings:
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else a sqlite store under <out>/tracking
    experiment: str = "perfsuite"
    timeout_s: float = 5.0
    artifacts: bool = True
    metrics: tuple[str, ...] = METRIC_GROUPS


@dataclass(frozen=True)
class TensorBoardSettings:
    log_dir: str | None = None  # None: <run folder>/tensorboard
    traces: bool = True
    metrics: tuple[str, ...] = METRIC_GROUPS


@dataclass(frozen=True)
class WandbSettings:
    project: str = "perfsuite"
    entity: str | None = None
    mode: str | None = None  # None: offline unless WANDB_MODE or an API key says otherwise
    timeout_s: float = 30.0
    artifacts: bool = True
    metrics: tuple[str, ...] = METRIC_GROUPS


@dataclass(frozen=True)
class TrackingSpec:
    trackers: tuple[str, ...] = ()  # output.tracking, in the order given, without repeats
    mlflow: MlflowSettings = MlflowSettings()
    tensorboard: TensorBoardSettings = TensorBoardSettings()
    wandb: WandbSettings = WandbSettings()

    def settings(self, tracker: str) -> Any:
        return getattr(self, tracker)


def _default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _metrics(f: Fields) -> tuple[str, ...]:
    m = f.sub("metrics")
    on = tuple(g for g in METRIC_GROUPS if m.boolean(g, default=True))
    m.done()
    return on


def _timeout(f: Fields, cls: type) -> float:
    value = f._get("timeout_s", _default(cls, "timeout_s"))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 600:
        f.error("timeout_s", "must be a number of seconds > 0 and <= 600", value=value, hint="e.g. 5")
    return float(value)


def tracking_spec(out: Fields) -> TrackingSpec:
    """Read `tracking` and `trackers` from the `output` section (the caller calls `out.done()`)."""
    names = out.str_list("tracking", default=[])
    for i, name in enumerate(names):
        if name not in TRACKERS:
            out.error(f"tracking[{i}]", "unknown experiment tracker", value=name, allowed=TRACKERS, hint="see docs/tracking.md")
    t = out.sub("trackers")
    m = t.sub("mlflow")
    mlflow = MlflowSettings(
        tracking_uri=m.string("tracking_uri", default=None),
        experiment=m.string("experiment", default=_default(MlflowSettings, "experiment")),
        timeout_s=_timeout(m, MlflowSettings),
        artifacts=m.boolean("artifacts", default=True),
        metrics=_metrics(m),
    )
    if not mlflow.experiment.strip():
        m.error("experiment", "must not be empty", value=mlflow.experiment)
    m.done()
    b = t.sub("tensorboard")
    tensorboard = TensorBoardSettings(log_dir=b.string("log_dir", default=None), traces=b.boolean("traces", default=True), metrics=_metrics(b))
    b.done()
    w = t.sub("wandb")
    wandb = WandbSettings(
        project=w.string("project", default=_default(WandbSettings, "project")),
        entity=w.string("entity", default=None),
        mode=w.string("mode", choices=WANDB_MODES, default=None),
        timeout_s=_timeout(w, WandbSettings),
        artifacts=w.boolean("artifacts", default=True),
        metrics=_metrics(w),
    )
    w.done()
    t.done()
    return TrackingSpec(trackers=tuple(dict.fromkeys(names)), mlflow=mlflow, tensorboard=tensorboard, wandb=wandb)


def tracking_from_composed(composed: Any, *, file: str) -> TrackingSpec:
    """The tracking settings of a stored composed config (run_config.yaml), for `perfsuite track`.

    A run made before perfsuite had trackers has no `output.tracking`: the defaults.
    """
    output = composed.get("output") if isinstance(composed, dict) else None
    if not isinstance(output, dict) or ("tracking" not in output and "trackers" not in output):
        return TrackingSpec()
    f = Fields({k: output[k] for k in ("tracking", "trackers") if k in output}, section="output", file=file)
    spec = tracking_spec(f)
    f.done()
    return spec
