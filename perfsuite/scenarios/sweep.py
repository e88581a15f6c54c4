"""The highest offered rate that meets an SLO: exponential probe, then bisection, then the knee.

`find_max_rate` is pure given its ``probe(rate_per_s, attempt) -> ProbeResult`` callable (a
load run at that rate, judged against the SLO; ``attempt`` counts re-measurements so the
caller can change the seed). Each rate is judged by its attainment's Wilson interval against
the target (`perfsuite.scenarios.slo`):

    pass          lower bound >= target          fail   upper bound < target, or over-saturated
    inconclusive  re-measure the same rate (``max_attempts`` in all); the attempts' counts are pooled

Search: from ``start_rate_per_s``, multiply by ``growth`` while rates pass (divide while they
fail) until one pass and one fail bracket the answer; then bisect the bracket (geometric
midpoint) until ``first_fail / last_pass - 1 <= rel_tol``. The answer is the last passing rate
and the interval ``(last pass, first fail)``: the true maximum lies inside it, as far as every
verdict is right. A rate still inconclusive after ``max_attempts`` is not guessed: the search
stops there with status ``inconclusive`` and the bracket it had (the SLO boundary is at or near
that rate). Pooling the attempts is a sequential test, so its error rate is a little above the
nominal one; ``max_attempts`` keeps that bounded.

**Knee**: the lowest probed rate whose latency (``knee_on``: p50 or p99) is at least
``knee_factor`` (2x) the low-load latency: the latency at the lowest probed rate, or
``knee_baseline_s`` when given (e.g. single-stream latency). Probes are spaced by the search,
so the knee is as coarse as the rates it probed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.scenarios.metrics import LoadMetrics
from perfsuite.scenarios.slo import DEFAULT_ATTAINMENT_CONFIDENCE, Attainment, Verdict, judge_attainment

SweepStatus = Literal["converged", "inconclusive", "no_passing_rate", "no_failing_rate", "budget"]
KneeOn = Literal["p50", "p99"]


@dataclass(frozen=True)
class ProbeResult:
    """One load run at ``rate_per_s``: requests meeting the SLO out of all sent, and its latencies."""

    rate_per_s: float
    met: int
    total: int
    oversaturated: bool | None = None
    achieved_rate_per_s: float | None = None
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None

    @classmethod
    def from_metrics(cls, rate_per_s: float, metrics: LoadMetrics) -> ProbeResult:
        if metrics.attainment is None:
            raise PerfUsageError("a sweep probe needs metrics computed with an SLO: load_metrics(result, slo=...)")
        return cls(
            rate_per_s=rate_per_s, met=metrics.attainment.met, total=metrics.attainment.total,
            oversaturated=metrics.oversaturation.flag, achieved_rate_per_s=metrics.achieved_rate_per_s,
            latency_p50_s=metrics.latency["p50"].value_s, latency_p99_s=metrics.latency["p99"].value_s,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "rate_per_s": self.rate_per_s, "met": self.met, "total": self.total,
            "oversaturated": self.oversaturated, "achieved_rate_per_s": self.achieved_rate_per_s,
            "latency_p50_s": self.latency_p50_s, "latency_p99_s": self.latency_p99_s,
        }


@dataclass(frozen=True)
class SweepPoint:
    """One judged rate: its attempts, their pooled attainment and the verdict."""

    rate_per_s: float
    phase: Literal["expand", "bisect"]
    attempts: tuple[ProbeResult, ...]
    attainment: Attainment
    verdict: Verdict

    def latency_s(self, on: KneeOn) -> float | None:
        """Mean over attempts of the p50 or p99 latency (None if no attempt established it)."""
        values = [v for a in self.attempts if (v := a.latency_p50_s if on == "p50" else a.latency_p99_s) is not None]
        return sum(values) / len(values) if values else None

    def to_dict(self) -> dict[str, object]:
        return {
            "rate_per_s": self.rate_per_s, "phase": self.phase, "verdict": self.verdict,
            "attainment": self.attainment.to_dict(), "attempts": [a.to_dict() for a in self.attempts],
        }


@dataclass(frozen=True)
class Knee:
    """Where latency starts rising steeply; ``rate_per_s`` None (with the reason) when not found."""

    rate_per_s: float | None
    latency_s: float | None
    baseline_latency_s: float | None
    factor: float
    on: KneeOn
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "rate_per_s": self.rate_per_s, "latency_s": self.latency_s, "baseline_latency_s": self.baseline_latency_s,
            "factor": self.factor, "on": self.on, "reason": self.reason,
        }


@dataclass(frozen=True)
class SweepResult:
    """The highest passing rate, its bracket, every judged rate in probe order, and the knee."""

    status: SweepStatus
    max_rate_per_s: float | None  # the last passing rate (None: none passed)
    interval: tuple[float | None, float | None]  # (last pass, first fail)
    points: tuple[SweepPoint, ...]
    knee: Knee
    target: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status, "max_rate_per_s": self.max_rate_per_s, "interval": list(self.interval),
            "target": self.target, "reason": self.reason, "knee": self.knee.to_dict(),
            "points": [p.to_dict() for p in self.points],
        }


def find_knee(
    points: tuple[SweepPoint, ...] | list[SweepPoint], *, factor: float = 2.0, on: KneeOn = "p99",
    baseline_s: float | None = None,
) -> Knee:
    """The lowest rate whose ``on`` latency is >= ``factor`` x the baseline (see the module docstring)."""
    curve = sorted((p.rate_per_s, lat) for p in points if (lat := p.latency_s(on)) is not None)
    if baseline_s is None:
        if not curve:
            return Knee(None, None, None, factor, on, f"no probe established its {on} latency")
        baseline_s = curve[0][1]
    for rate, latency in curve:
        if latency >= factor * baseline_s:
            return Knee(rate, latency, baseline_s, factor, on,
                        f"{on} latency {latency:.4g} s >= {factor:g} x {baseline_s:.4g} s from {rate:.4g} req/s")
    return Knee(None, None, baseline_s, factor, on, f"{on} latency stayed below {factor:g} x {baseline_s:.4g} s")


def _check(key: str, ok: bool, value: object, hint: str | None = None) -> None:
    if not ok:
        raise PerfConfigError("invalid sweep setting", key=key, value=value, hint=hint)


def find_max_rate(
    probe: Callable[[float, int], ProbeResult],
    *,
    start_rate_per_s: float,
    target: float = 0.99,
    confidence: float = DEFAULT_ATTAINMENT_CONFIDENCE,
    growth: float = 2.0,
    rel_tol: float = 0.05,
    max_attempts: int = 3,
    max_probes: int = 40,
    min_rate_per_s: float | None = None,
    max_rate_per_s: float | None = None,
    knee_factor: float = 2.0,
    knee_on: KneeOn = "p99",
    knee_baseline_s: float | None = None,
) -> SweepResult:
    """Search the highest rate whose attainment passes ``target`` (see the module docstring)."""
    _check("sweep.start_rate_per_s", 0 < start_rate_per_s < math.inf, start_rate_per_s)
    _check("sweep.target", 0 < target < 1, target, "the share of requests that must meet the SLO, e.g. 0.99")
    _check("sweep.growth", growth > 1, growth, "the factor between expanding probes, e.g. 2")
    _check("sweep.rel_tol", rel_tol > 0, rel_tol, "stop bisecting when first fail / last pass - 1 <= rel_tol")
    _check("sweep.max_attempts", max_attempts >= 1, max_attempts)
    _check("sweep.max_probes", max_probes >= 1, max_probes)
    min_rate = min_rate_per_s if min_rate_per_s is not None else start_rate_per_s / growth**10
    max_rate = max_rate_per_s if max_rate_per_s is not None else start_rate_per_s * growth**20
    points: list[SweepPoint] = []
    calls = 0

    def judge(rate: float, phase: Literal["expand", "bisect"]) -> Verdict | None:
        """The rate's verdict; None when the probe budget ran out before it was decided."""
        nonlocal calls
        attempts: list[ProbeResult] = []
        while len(attempts) < max_attempts and calls < max_probes:
            calls += 1
            attempts.append(probe(rate, len(attempts)))
            pooled = judge_attainment(sum(a.met for a in attempts), sum(a.total for a in attempts), target, confidence)
            verdict: Verdict = "fail" if attempts[-1].oversaturated else pooled.verdict
            if verdict != "inconclusive":
                break
        if not attempts:
            return None
        points.append(SweepPoint(rate, phase, tuple(attempts), pooled, verdict))
        return verdict if verdict != "inconclusive" or len(attempts) == max_attempts else None

    def done(status: SweepStatus, reason: str) -> SweepResult:
        knee = find_knee(points, factor=knee_factor, on=knee_on, baseline_s=knee_baseline_s)
        return SweepResult(status, lo, (lo, hi), tuple(points), knee, target, reason)

    lo: float | None = None
    hi: float | None = None
    rate = start_rate_per_s
    while lo is None or hi is None:  # expand: find a pass and a fail
        verdict = judge(rate, "expand")
        if verdict is None:
            return done("budget", f"max_probes ({max_probes}) reached at {rate:.4g} req/s")
        if verdict == "inconclusive":
            return done("inconclusive", _inconclusive(rate, max_attempts))
        if verdict == "pass":
            lo = rate
            if hi is None and rate >= max_rate:
                return done("no_failing_rate", f"every rate up to max_rate_per_s={max_rate:.4g} met the SLO")
            rate = min(rate * growth, max_rate)
        else:
            hi = rate
            if lo is None and rate <= min_rate:
                return done("no_passing_rate", f"no rate down to min_rate_per_s={min_rate:.4g} met the SLO")
            rate = max(rate / growth, min_rate)
    while hi / lo - 1 > rel_tol:  # bisect the bracket
        mid = math.sqrt(lo * hi)
        verdict = judge(mid, "bisect")
        if verdict is None:
            return done("budget", f"max_probes ({max_probes}) reached bisecting [{lo:.4g}, {hi:.4g}] req/s")
        if verdict == "inconclusive":
            return done("inconclusive", _inconclusive(mid, max_attempts))
        if verdict == "pass":
            lo = mid
        else:
            hi = mid
    return done("converged", f"max rate in [{lo:.4g}, {hi:.4g}] req/s (rel_tol {rel_tol:g})")


def _inconclusive(rate: float, attempts: int) -> str:
    return (f"attainment at {rate:.4g} req/s stayed inconclusive after {attempts} attempt(s): "
            "the SLO boundary is at or near this rate; raise the requests per probe to decide it")
