"""How long to warm up and when to stop: two frozen, validated policy records.

`WarmupPolicy` — call the function at least ``min_calls`` times and until the
median of the last ``window`` samples is within ``rel_tol`` of the median of the
``window`` before it ("the rolling median settled"), capped by ``max_calls`` and
``max_time_s``. Hitting a cap before settling is recorded as a noise flag.

`StopPolicy` — keep sampling until ``min_time_s`` has passed AND ``min_rounds``
samples exist AND the distribution-free CI of the median is narrower than
``target_rel_ci`` (half-width / median) AND every percentile in ``establish`` has
enough samples; stop earlier only at ``max_time_s`` or ``max_rounds``, and then the
measurement is flagged noisy with the reason.

Bad values (zero or negative times and counts, ratios outside (0, 1)) raise
`perfsuite.errors.PerfConfigError` from ``__post_init__``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from perfsuite.errors import PerfConfigError
from perfsuite.measure.stats import (
    DEFAULT_CI_CONFIDENCE,
    DEFAULT_NOISE_IQR_RATIO,
    DEFAULT_PERCENTILE_CONFIDENCE,
    DEFAULT_TAIL_SAMPLES,
    REPORTED_PERCENTILES,
)

_PERCENTILE_NAMES = tuple(name for name, _ in REPORTED_PERCENTILES)


def _positive_int(owner: str, key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PerfConfigError(
            "must be a whole number greater than zero",
            key=f"{owner}.{key}",
            value=value,
            allowed="integers >= 1",
        )


def _positive_float(owner: str, key: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PerfConfigError(
            "must be a finite number greater than zero",
            key=f"{owner}.{key}",
            value=value,
            allowed="numbers > 0",
            hint="times are in seconds, e.g. 0.5",
        )


def _open_unit(owner: str, key: str, value: object) -> None:
    _positive_float(owner, key, value)
    if not value < 1:  # type: ignore[operator]
        raise PerfConfigError(
            "must be strictly between 0 and 1",
            key=f"{owner}.{key}",
            value=value,
            allowed="0 < x < 1",
            hint="write a ratio, e.g. 0.02 for 2%",
        )


@dataclass(frozen=True)
class WarmupPolicy:
    """Warm-up: at least ``min_calls`` calls, then until the rolling median settles."""

    min_calls: int = 5
    window: int = 5
    rel_tol: float = 0.05
    max_calls: int = 1000
    max_time_s: float = 30.0

    def __post_init__(self) -> None:
        owner = "warmup"
        _positive_int(owner, "min_calls", self.min_calls)
        _positive_int(owner, "window", self.window)
        _open_unit(owner, "rel_tol", self.rel_tol)
        _positive_int(owner, "max_calls", self.max_calls)
        _positive_float(owner, "max_time_s", self.max_time_s)
        if self.max_calls < self.min_calls:
            raise PerfConfigError(
                "max_calls is below min_calls",
                key="warmup.max_calls",
                value=self.max_calls,
                allowed=f"integers >= min_calls ({self.min_calls})",
            )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StopPolicy:
    """Adaptive stopping of the timed rounds (see the module docstring)."""

    min_time_s: float = 0.5
    min_rounds: int = 20
    target_rel_ci: float = 0.01
    max_time_s: float = 10.0
    max_rounds: int = 100_000
    ci_confidence: float = DEFAULT_CI_CONFIDENCE
    percentile_confidence: float = DEFAULT_PERCENTILE_CONFIDENCE
    tail_samples: int = DEFAULT_TAIL_SAMPLES
    establish: tuple[str, ...] = ()
    noise_iqr_ratio: float = DEFAULT_NOISE_IQR_RATIO

    def __post_init__(self) -> None:
        owner = "stop"
        _positive_float(owner, "min_time_s", self.min_time_s)
        _positive_int(owner, "min_rounds", self.min_rounds)
        _open_unit(owner, "target_rel_ci", self.target_rel_ci)
        _positive_float(owner, "max_time_s", self.max_time_s)
        _positive_int(owner, "max_rounds", self.max_rounds)
        _open_unit(owner, "ci_confidence", self.ci_confidence)
        _open_unit(owner, "percentile_confidence", self.percentile_confidence)
        _positive_int(owner, "tail_samples", self.tail_samples)
        _positive_float(owner, "noise_iqr_ratio", self.noise_iqr_ratio)
        if self.max_time_s < self.min_time_s:
            raise PerfConfigError(
                "max_time_s is below min_time_s",
                key="stop.max_time_s",
                value=self.max_time_s,
                allowed=f"numbers >= min_time_s ({self.min_time_s})",
            )
        if self.max_rounds < self.min_rounds:
            raise PerfConfigError(
                "max_rounds is below min_rounds",
                key="stop.max_rounds",
                value=self.max_rounds,
                allowed=f"integers >= min_rounds ({self.min_rounds})",
            )
        if isinstance(self.establish, str) or not isinstance(self.establish, tuple):
            raise PerfConfigError(
                "must be a tuple of percentile names",
                key="stop.establish",
                value=self.establish,
                allowed=_PERCENTILE_NAMES,
            )
        for name in self.establish:
            if name not in _PERCENTILE_NAMES:
                raise PerfConfigError(
                    "unknown percentile", key="stop.establish", value=name, allowed=_PERCENTILE_NAMES
                )

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["establish"] = list(self.establish)
        return out
