"""A test's own figures (`perf.metric`): name, value, unit, direction and, optionally, a threshold.

They travel with the case's result (results.json ``metrics``), are compared by the gate like the
exact figures (a change beyond the threshold regresses; no interval, a figure is one number), and
are shown in the terminal summary and the HTML report next to the case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from perfsuite.results.reading import Doc

BETTER = ("lower", "higher")
#: What a metric name may be: it becomes a results.json key, a JUnit property and a table column.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,59}$")
#: Names the built-in metrics already use: a test's own figure must not shadow one of them.
RESERVED = frozenset({"latency", "throughput", "ttft", "tpot", "e2e", "host_rss_own", "cuda_max_allocated", "weights_bytes", "params", "flops_per_call"})


@dataclass(frozen=True)
class OwnMetric:
    """One figure a test reported about itself."""

    name: str
    value: float
    unit: str = ""
    better: str = "lower"  # one of BETTER
    threshold: float | None = None  # relative change that regresses; None: the gate's `own` threshold

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "better": self.better, "threshold": self.threshold}

    @classmethod
    def from_doc(cls, name: str, doc: Doc) -> OwnMetric:
        better = doc.string("better")
        if better not in BETTER:
            raise doc.fail("better", "'lower' or 'higher'", better)
        return cls(name=name, value=doc.number("value"), unit=doc.string("unit", ""), better=better, threshold=doc.number("threshold", None))


def own_metric(name: Any, value: Any, *, unit: Any = "", better: Any = "lower", threshold: Any = None) -> OwnMetric:
    """A checked `OwnMetric`; ValueError/TypeError with the reason for anything a results file could not hold."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"a metric name is 1-64 letters, digits, '_', '.', '-' starting with a letter or '_'; got {name!r}")
    if name in RESERVED:
        raise ValueError(f"{name!r} is a built-in metric of perfsuite; give your figure another name")
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"metric {name!r}: the value must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r}: the value must be finite, got {number}")
    if not isinstance(unit, str):
        raise TypeError(f"metric {name!r}: unit must be a string, got {type(unit).__name__}")
    if better not in BETTER:
        raise ValueError(f"metric {name!r}: better must be 'lower' or 'higher', got {better!r}")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 10:
            raise ValueError(f"metric {name!r}: threshold is a relative change from 0 to 10 (0.05: 5%), got {threshold!r}")
        threshold = float(threshold)
    return OwnMetric(name, number, unit, better, threshold)


def metrics_to_dict(metrics: tuple[OwnMetric, ...]) -> dict[str, Any]:
    return {m.name: m.to_dict() for m in metrics}


def metrics_from(doc: Doc) -> tuple[OwnMetric, ...]:
    found = doc.mapping("metrics", {})
    out = []
    for name in found:
        if not isinstance(name, str) or not NAME.match(name):
            raise doc.fail("metrics", "metric names of letters, digits, '_', '.', '-'", name)
        out.append(OwnMetric.from_doc(name, doc.sub("metrics").sub(name)))
    return tuple(out)
