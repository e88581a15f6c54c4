"""How long to warm up and when to stop: two frozen, validated policy records.

`WarmupPolicy` — call the function at least ``min_calls`` times and until the
median of the last ``window`` samples is within ``rel_tol`` of the median of the
``window`` before it ("the rolling median settled"), capped by ``max_calls`` and
``max_time_s``, and by ``budget_fraction`` of the case's soft budget
(``StopPolicy.max_time_s``). When calls are so slow that the policy's samples do not
fit in that allowance, `plan_warmup` scales ``min_calls`` and ``window`` down (never
below the cold call plus 2) and says so in its `WarmupPlan`. Hitting a cap before
settling is recorded as a noise flag.

`StopPolicy` — keep sampling until ``min_time_s`` has passed AND ``min_rounds``
samples exist AND the distribution-free CI of the median is narrower than
``target_rel_ci`` (half-width / median) AND every percentile in ``establish`` has
enough samples; stop earlier at ``max_time_s`` (soft) or ``max_rounds``, and then the
measurement is flagged noisy with the reason. The soft cap never stops a case before
p50 and every percentile in ``establish`` are established (``min_samples``): only
``hard_max_time_s`` does, and then the case is flagged ``hard_budget``.

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
    min_samples_for_percentile,
)

_PERCENTILE_NAMES = tuple(name for name, _ in REPORTED_PERCENTILES)
_QUANTILE_OF = dict(REPORTED_PERCENTILES)
#: Warm samples (after the cold first call) every warm-up makes, however slow the calls.
MIN_WARM_SAMPLES = 2


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


def _fraction(owner: str, key: str, value: object) -> None:
    _positive_float(owner, key, value)
    if not value <= 1:  # type: ignore[operator]
        raise PerfConfigError(
            "must be greater than 0 and at most 1",
            key=f"{owner}.{key}",
            value=value,
            allowed="0 < x <= 1",
            hint="write a fraction of the case budget, e.g. 0.25",
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
    budget_fraction: float = 0.25  # of the case's soft budget (stop.max_time_s), at most

    def __post_init__(self) -> None:
        owner = "warmup"
        _positive_int(owner, "min_calls", self.min_calls)
        _positive_int(owner, "window", self.window)
        _open_unit(owner, "rel_tol", self.rel_tol)
        _positive_int(owner, "max_calls", self.max_calls)
        _positive_float(owner, "max_time_s", self.max_time_s)
        _fraction(owner, "budget_fraction", self.budget_fraction)
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
    hard_max_time_s: float = 120.0
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
        _positive_float(owner, "hard_max_time_s", self.hard_max_time_s)
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
        if self.hard_max_time_s < self.max_time_s:
            raise PerfConfigError(
                "hard_max_time_s is below max_time_s",
                key="stop.hard_max_time_s",
                value=self.hard_max_time_s,
                allowed=f"numbers >= max_time_s ({self.max_time_s})",
                hint="hard_max_time_s bounds a case that needs more than max_time_s to establish its median; raise it with max_time_s",
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
        if self.max_rounds < self.min_samples:
            raise PerfConfigError(
                "max_rounds is below the samples needed to establish "
                + ", ".join(dict.fromkeys(("p50", *self.establish))),
                key="stop.max_rounds",
                value=self.max_rounds,
                allowed=f"integers >= {self.min_samples}",
                hint="the median (and every percentile in stop.establish) must be establishable within max_rounds",
            )

    @property
    def min_samples(self) -> int:
        """Samples that establish p50 and every percentile in ``establish``: the soft cap waits for them."""
        names = ("p50", *self.establish)
        return max(
            min_samples_for_percentile(_QUANTILE_OF[name], self.percentile_confidence, self.tail_samples)
            for name in names
        )

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["establish"] = list(self.establish)
        return out


@dataclass(frozen=True)
class WarmupPlan:
    """The warm-up actually applied: the policy, or the policy scaled down for slow calls."""

    min_calls: int
    window: int
    time_cap_s: float
    scaled: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def plan_warmup(
    policy: WarmupPolicy,
    *,
    budget_s: float | None,
    spent_s: float,
    samples_taken: int,
    per_sample_s: float,
    calls_per_sample: int = 1,
) -> WarmupPlan:
    """Fit the warm-up into ``policy.budget_fraction`` of the case budget ``budget_s``.

    Called once the cold call and `MIN_WARM_SAMPLES` warm samples are made (``spent_s``
    seconds, ``samples_taken`` samples of ``per_sample_s`` each). The time cap is
    ``min(max_time_s, budget_fraction * budget_s)``. If the samples the policy needs
    (``2 * window`` to compare two windows, and ``min_calls``) do not fit in what is left of
    that cap at ``per_sample_s``, ``window`` becomes half the samples that fit (at least 1) and
    ``min_calls`` the calls that fit (at least the cold call plus 2 samples). ``budget_s=None``
    applies the policy unchanged, capped at ``max_time_s``.
    """
    if budget_s is None:
        return WarmupPlan(policy.min_calls, policy.window, policy.max_time_s)
    cap = min(policy.max_time_s, policy.budget_fraction * budget_s)
    cps = calls_per_sample
    need = max(2 * policy.window, math.ceil((policy.min_calls - 1) / cps))
    per = max(per_sample_s, 1e-12)
    fit = samples_taken + max(0, math.floor((cap - spent_s) / per))
    if fit >= need:
        return WarmupPlan(policy.min_calls, policy.window, cap)
    window = max(1, min(policy.window, fit // 2))
    min_calls = min(policy.min_calls, 1 + cps * max(MIN_WARM_SAMPLES, fit))
    reason = (
        f"a warm sample takes {per_sample_s:.3g} s: the {need} samples the policy needs would take "
        f"{need * per_sample_s:.3g} s, more than {policy.budget_fraction:.0%} of the case budget "
        f"({cap:.3g} s of {budget_s:g} s); min_calls {policy.min_calls} -> {min_calls}, "
        f"window {policy.window} -> {window}"
    )
    return WarmupPlan(min_calls, window, cap, scaled=True, reason=reason)
