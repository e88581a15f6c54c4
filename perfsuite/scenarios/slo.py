"""Service-level objectives, whether each request met them, and the attainment verdict.

An `Slo` holds per-request thresholds (end-to-end latency; TTFT and TPOT for decoders, as
vLLM's ``--goodput ttft:ms tpot:ms e2el:ms``) and the share of requests that must meet all of
them: ``slo.p99_ms: 50`` is ``Slo(latency_ms=50, attainment=0.99)``. A request sent but never
served (cut by the drain limit) misses every SLO.

The attainment verdict follows from its Wilson interval, not from the point estimate::

    pass          the interval's lower bound >= target   (confidently meets the SLO)
    fail          the interval's upper bound <  target   (confidently misses it)
    inconclusive  otherwise: the target lies inside the interval; measure more requests
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.scenarios.bounds import wilson_interval
from perfsuite.scenarios.records import LoadResult, RequestRecord

Verdict = Literal["pass", "fail", "inconclusive"]
DEFAULT_ATTAINMENT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Slo:
    """Per-request thresholds in milliseconds (None: not part of the SLO) and the attainment target."""

    latency_ms: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    attainment: float = 0.99

    def __post_init__(self) -> None:
        limits = {"slo.latency_ms": self.latency_ms, "slo.ttft_ms": self.ttft_ms, "slo.tpot_ms": self.tpot_ms}
        if all(v is None for v in limits.values()):
            raise PerfConfigError(
                "an SLO needs at least one threshold", key="slo",
                hint="e.g. Slo(latency_ms=50) for slo.p99_ms: 50, or ttft_ms / tpot_ms for decoders",
            )
        for key, value in limits.items():
            if value is not None and not 0.0 < value < float("inf"):
                raise PerfConfigError("an SLO threshold must be a positive number of milliseconds", key=key, value=value)
        if not 0.0 < self.attainment < 1.0:
            raise PerfConfigError(
                "the attainment target is the share of requests that must meet the SLO, strictly between 0 and 1",
                key="slo.attainment", value=self.attainment, hint="0.99 for a p99 SLO, 0.9 for p90",
            )

    @classmethod
    def percentile(cls, q: float, latency_ms: float) -> Slo:
        """``slo.p<100 q>_ms``: the ``q`` quantile of latency at most ``latency_ms``."""
        return cls(latency_ms=latency_ms, attainment=q)

    @property
    def needs_tokens(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None

    def met_by(self, request: RequestRecord) -> bool:
        """Whether one request met every threshold (an unserved request meets none)."""
        latency = request.latency_s
        if latency is None:
            return False
        if self.latency_ms is not None and latency * 1e3 > self.latency_ms:
            return False
        if self.needs_tokens and not request.token_times_s:
            return False
        ttft, tpot = request.ttft_s, request.tpot_s
        if self.ttft_ms is not None and ttft is not None and ttft * 1e3 > self.ttft_ms:
            return False
        # one output token has no time per output token: nothing to miss (vLLM counts it as met)
        return not (self.tpot_ms is not None and tpot is not None and tpot * 1e3 > self.tpot_ms)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "tpot_ms": self.tpot_ms,
            "attainment": self.attainment,
        }


@dataclass(frozen=True)
class Attainment:
    """Requests meeting the SLO out of all sent, with its Wilson interval and verdict."""

    met: int
    total: int
    target: float
    confidence: float
    interval: tuple[float, float]

    @property
    def fraction(self) -> float | None:
        return self.met / self.total if self.total else None

    @property
    def verdict(self) -> Verdict:
        lo, hi = self.interval
        if lo >= self.target:
            return "pass"
        if hi < self.target:
            return "fail"
        return "inconclusive"

    def to_dict(self) -> dict[str, object]:
        return {
            "met": self.met,
            "total": self.total,
            "fraction": self.fraction,
            "target": self.target,
            "confidence": self.confidence,
            "interval": list(self.interval),
            "verdict": self.verdict,
        }


def judge_attainment(
    met: int, total: int, target: float, confidence: float = DEFAULT_ATTAINMENT_CONFIDENCE
) -> Attainment:
    """The `Attainment` of ``met`` out of ``total`` against ``target`` (see the module docstring)."""
    return Attainment(met, total, target, confidence, wilson_interval(met, total, confidence))


def slo_attainment(
    result: LoadResult, slo: Slo, confidence: float = DEFAULT_ATTAINMENT_CONFIDENCE
) -> Attainment:
    """Attainment of ``slo`` over every request sent in ``result`` (unserved ones count as misses)."""
    if slo.needs_tokens and result.completed and not result.streaming:
        raise PerfUsageError(
            "the SLO names ttft_ms/tpot_ms but serve never stamped a token: "
            "call batch.token(i) (or batch.token() for the whole batch) at each generated token"
        )
    met = sum(1 for r in result.requests if slo.met_by(r))
    return judge_attainment(met, len(result.requests), slo.attainment, confidence)
