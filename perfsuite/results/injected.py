"""Which runs had a slowdown injected on purpose (`inference_runtime.slowdown`), for the history store.

The gate is measured by running the suite with every call made slower on purpose (docs/gating.md):
such a run is an experiment on the gate, not a measurement of the code, so the history marks it and
leaves it out of trends and change points. Two records of a run folder say it: each case's runtime
description in results.json (`details.runtime.injected_slowdown`: what the runtime did) and each
case's composed config in run_config.yaml (`inference_runtime.slowdown`: what was asked, which a
bench that records no runtime description still has). The largest value found is the run's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.case import CaseResult
from perfsuite.results.run import RunResult, load_run

RUN_CONFIG_FILE = "run_config.yaml"


def injected_slowdown(run: RunResult) -> float:
    """The largest slowdown injected into any case of `run` (0.0: none), from its results and run_config.yaml."""
    return max([*(_configured(run.run_dir) or []), *_described(run.cases)], default=0.0)


def injected_slowdown_of_folder(run_dir: Path) -> float | None:
    """The same for a run folder on disk; None when neither results.json nor run_config.yaml can be read."""
    configured = _configured(run_dir)
    try:
        described = _described(load_run(run_dir).cases)
    except PerfDataError:
        if configured is None:
            return None
        described = []
    return max([*(configured or []), *described], default=0.0)


def _described(cases: Iterable[CaseResult]) -> list[float]:
    out = []
    for case in cases:
        runtime = case.details.get("runtime")
        if isinstance(runtime, Mapping) and _is_number(runtime.get("injected_slowdown")):
            out.append(float(runtime["injected_slowdown"]))
    return out


def _configured(run_dir: Path) -> list[float] | None:
    """`inference_runtime.slowdown` of each composed case config; None without a readable run_config.yaml.

    A value left as an unresolved interpolation (`${oc.env:...}`) is not a number and says nothing:
    the runtime's own description in results.json has the resolved value.
    """
    import yaml

    try:
        data = yaml.safe_load((Path(run_dir) / RUN_CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    composed = data.get("composed") if isinstance(data, Mapping) else None
    out = []
    for config in (composed.values() if isinstance(composed, Mapping) else ()):
        runtime = config.get("inference_runtime") if isinstance(config, Mapping) else None
        if isinstance(runtime, Mapping) and _is_number(runtime.get("slowdown")):
            out.append(float(runtime["slowdown"]))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
