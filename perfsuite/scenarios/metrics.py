"""Metrics of one load run: pure functions of a `LoadResult`.

Latency is split in two: ``queueing = start - sent`` (queue and batch forming) and
``service = end - start`` (the ``serve`` call); ``latency = end - sent``. Requests never served
(cut by the drain limit) have unbounded latency and queueing delay: they stay in the sample as
``inf``, so a percentile that lands on them reads as unbounded, never as a smaller number.

Each percentile (p50, p90, p99) is *established* only when the run holds enough requests to
bound it at ``confidence`` (99%; 64 requests for p90, 662 for p99: see
`perfsuite.scenarios.bounds`). Otherwise value and bound are None with the reason. An
established percentile carries both the interpolated value and LoadGen's early-stopping bound
(an order statistic the true percentile stays below with that confidence).

Rates: ``offered`` = requests / last scheduled offset (what the schedule asked for; None for a
schedule all at t = 0), ``achieved`` = completed / (last end - first send), ``goodput`` =
requests meeting the SLO / the same window.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from perfsuite.measure.stats import DEFAULT_TAIL_SAMPLES, json_float, min_samples_for_percentile, percentile
from perfsuite.scenarios.bounds import early_stopping_bound
from perfsuite.scenarios.records import LoadResult
from perfsuite.scenarios.saturation import Oversaturation, detect_oversaturation
from perfsuite.scenarios.slo import DEFAULT_ATTAINMENT_CONFIDENCE, Attainment, Slo, slo_attainment

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
DEFAULT_CONFIDENCE = 0.99


@dataclass(frozen=True)
class PercentileEstimate:
    """One percentile: value and early-stopping bound when established, else None and why."""

    name: str
    q: float
    n: int
    needed: int
    confidence: float
    value_s: float | None
    bound_s: float | None

    @property
    def established(self) -> bool:
        return self.value_s is not None

    @property
    def not_established(self) -> str | None:
        if self.established:
            return None
        return f"needs >= {self.needed} requests at {self.confidence:.0%} confidence, have {self.n}"

    def to_dict(self) -> dict[str, object]:
        return {
            "q": self.q,
            "value_s": json_float(self.value_s),
            "bound_s": json_float(self.bound_s),
            "unbounded": self.bound_s == math.inf,
            "needed": self.needed,
            "not_established": self.not_established,
        }


@dataclass(frozen=True)
class Distribution:
    """Percentiles of one per-request quantity (seconds); ``unbounded`` values are requests never served."""

    n: int
    unbounded: int
    mean_s: float | None  # of the bounded values
    max_s: float | None
    percentiles: tuple[PercentileEstimate, ...]

    def __getitem__(self, name: str) -> PercentileEstimate:
        for p in self.percentiles:
            if p.name == name:
                return p
        raise KeyError(f"{name!r}: this distribution has {', '.join(p.name for p in self.percentiles)}")

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "unbounded": self.unbounded,
            "mean_s": json_float(self.mean_s),
            "max_s": json_float(self.max_s),
            **{p.name: p.to_dict() for p in self.percentiles},
        }


def distribution(
    values: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE, tail_samples: int = DEFAULT_TAIL_SAMPLES
) -> Distribution:
    """Mean, max and the establish-or-not percentiles of ``values`` (``inf`` allowed)."""
    xs = sorted(values)
    finite = [x for x in xs if x != math.inf]
    out = []
    for name, q in PERCENTILES:
        needed = min_samples_for_percentile(q, confidence, tail_samples)
        ok = len(xs) >= needed
        out.append(PercentileEstimate(
            name, q, len(xs), needed, confidence,
            percentile(xs, q) if ok else None,
            early_stopping_bound(xs, q, confidence) if ok else None,
        ))
    return Distribution(
        n=len(xs), unbounded=len(xs) - len(finite),
        mean_s=math.fsum(finite) / len(finite) if finite else None,
        max_s=xs[-1] if xs else None, percentiles=tuple(out),
    )


@dataclass(frozen=True)
class LoadMetrics:
    """Everything `load_metrics` derives from one run."""

    sent: int
    completed: int
    unserved: int
    window_s: float | None  # first send to last end
    offered_rate_per_s: float | None
    achieved_rate_per_s: float | None
    latency: Distribution
    queueing: Distribution
    service: Distribution
    ttft: Distribution | None
    tpot: Distribution | None
    send_error: Distribution | None  # None: inline sender (sends exact by construction)
    batch_sizes: tuple[tuple[int, int], ...]  # (size, batches of that size), by size
    slo: Slo | None
    attainment: Attainment | None
    goodput_per_s: float | None
    oversaturation: Oversaturation

    @property
    def mean_batch_size(self) -> float | None:
        batches = sum(c for _, c in self.batch_sizes)
        return sum(s * c for s, c in self.batch_sizes) / batches if batches else None

    def to_dict(self) -> dict[str, object]:
        def opt(d: Distribution | None) -> object:
            return None if d is None else d.to_dict()

        return {
            "sent": self.sent,
            "completed": self.completed,
            "unserved": self.unserved,
            "window_s": json_float(self.window_s),
            "offered_rate_per_s": json_float(self.offered_rate_per_s),
            "achieved_rate_per_s": json_float(self.achieved_rate_per_s),
            "latency": self.latency.to_dict(),
            "queueing": self.queueing.to_dict(),
            "service": self.service.to_dict(),
            "ttft": opt(self.ttft),
            "tpot": opt(self.tpot),
            "send_error": opt(self.send_error),
            "batch_sizes": {str(s): c for s, c in self.batch_sizes},
            "mean_batch_size": json_float(self.mean_batch_size),
            "slo": None if self.slo is None else self.slo.to_dict(),
            "attainment": None if self.attainment is None else self.attainment.to_dict(),
            "goodput_per_s": json_float(self.goodput_per_s),
            "oversaturation": self.oversaturation.to_dict(),
        }


def load_metrics(
    result: LoadResult,
    *,
    slo: Slo | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    attainment_confidence: float = DEFAULT_ATTAINMENT_CONFIDENCE,
) -> LoadMetrics:
    """Latency split, rates, SLO attainment and goodput, batch sizes, send error and over-saturation."""
    reqs = result.requests
    done = result.completed
    inf = math.inf
    window = max(r.end_s for r in done if r.end_s is not None) - reqs[0].sent_s if done else None
    last_scheduled = max((r.scheduled_s for r in reqs), default=0.0)

    def rate(count: int) -> float | None:
        return count / window if window else None

    def dist(values: Sequence[float]) -> Distribution:
        return distribution(values, confidence=confidence)

    streaming = result.streaming
    attainment = None if slo is None else slo_attainment(result, slo, attainment_confidence)
    return LoadMetrics(
        sent=len(reqs),
        completed=len(done),
        unserved=len(reqs) - len(done),
        window_s=window,
        offered_rate_per_s=len(reqs) / last_scheduled if last_scheduled > 0 else None,
        achieved_rate_per_s=rate(len(done)),
        latency=dist([inf if (v := r.latency_s) is None else v for r in reqs]),
        queueing=dist([inf if (v := r.queueing_s) is None else v for r in reqs]),
        service=dist([v for r in done if (v := r.service_s) is not None]),
        ttft=dist([inf if (v := r.ttft_s) is None else v for r in reqs if r.token_times_s or not r.completed])
        if streaming else None,
        tpot=dist([v for r in reqs if (v := r.tpot_s) is not None]) if streaming else None,
        send_error=dist([r.send_error_s for r in reqs]) if result.settings.sender == "thread" else None,
        batch_sizes=tuple(sorted(Counter(b.size for b in result.batches).items())),
        slo=slo,
        attainment=attainment,
        goodput_per_s=None if attainment is None else rate(attainment.met),
        oversaturation=detect_oversaturation(result),
    )

