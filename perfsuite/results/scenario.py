"""`ScenarioSummary`: what a load scenario (perfsuite.scenarios) measured on one case, as results.json keeps it.

Built from a `perfsuite.scenarios.case.ScenarioOutcome` (`ScenarioSummary.of`), written with
`to_dict` and read back with `from_doc`. Per-request records are not kept: the percentiles,
rates, SLO attainment, batch sizes and over-saturation verdict are, and a sweep's every probe.
A percentile that is not established (too few requests, or it lands on requests never served)
is None with its reason in ``not_established``: reports show it as n/e.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfsuite.results.reading import Doc

PERCENTILE_NAMES = ("p50", "p90", "p99")


@dataclass(frozen=True)
class Percentiles:
    """p50 / p90 / p99 of one per-request quantity (seconds); None with the reason when not established."""

    n: int
    unbounded: int = 0  # requests never served: their latency has no bound
    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    not_established: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, d: Any) -> Percentiles | None:
        """From a `perfsuite.scenarios.metrics.Distribution` (None stays None)."""
        if d is None:
            return None
        values: dict[str, float | None] = {}
        missing: dict[str, str] = {}
        for name in PERCENTILE_NAMES:
            p = d[name]
            if p.value_s is None:
                missing[name] = p.not_established or "not established"
            elif not math.isfinite(p.value_s):
                missing[name] = f"unbounded: it lands on the {d.unbounded} request(s) never served"
            values[f"{name}_s"] = p.value_s if p.value_s is not None and math.isfinite(p.value_s) else None
        return cls(n=d.n, unbounded=d.unbounded, mean_s=d.mean_s, not_established=missing, **values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "unbounded": self.unbounded, "mean_s": self.mean_s, "p50_s": self.p50_s, "p90_s": self.p90_s,
                "p99_s": self.p99_s, "not_established": dict(self.not_established)}

    @classmethod
    def from_doc(cls, doc: Doc) -> Percentiles:
        missing = doc.mapping("not_established", {})
        if not all(isinstance(v, str) for v in missing.values()):
            raise doc.fail("not_established", "an object of reasons (strings)", missing)
        return cls(n=doc.integer("n"), unbounded=doc.integer("unbounded", 0), mean_s=doc.number("mean_s", None, low=0),
                   p50_s=doc.number("p50_s", None, low=0), p90_s=doc.number("p90_s", None, low=0),
                   p99_s=doc.number("p99_s", None, low=0), not_established=missing)


def _percentiles(doc: Doc, key: str) -> Percentiles | None:
    sub = doc.sub(key, None)
    return None if sub is None else Percentiles.from_doc(sub)


@dataclass(frozen=True)
class SweepPointSummary:
    """One judged rate of a sweep: its verdict, pooled attainment and the latency the probes measured."""

    rate_per_s: float
    verdict: str  # pass | fail | inconclusive
    met: int
    total: int
    attempts: int
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    achieved_rate_per_s: float | None = None
    oversaturated: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_doc(cls, doc: Doc) -> SweepPointSummary:
        return cls(rate_per_s=doc.number("rate_per_s", low=0, above=True), verdict=doc.string("verdict"), met=doc.integer("met"),
                   total=doc.integer("total"), attempts=doc.integer("attempts"), latency_p50_s=doc.number("latency_p50_s", None, low=0),
                   latency_p99_s=doc.number("latency_p99_s", None, low=0),
                   achieved_rate_per_s=doc.number("achieved_rate_per_s", None, low=0), oversaturated=doc.boolean("oversaturated", None))


@dataclass(frozen=True)
class SweepSummary:
    """The highest rate meeting the SLO, its bracket (last pass, first fail), the knee and every judged rate."""

    status: str  # converged | inconclusive | no_passing_rate | no_failing_rate | budget
    max_rate_per_s: float | None
    interval: tuple[float | None, float | None]
    target: float
    reason: str
    knee_rate_per_s: float | None
    knee_reason: str
    points: tuple[SweepPointSummary, ...] = ()
    # The capacity probe before the sweep, between its load probes and after the last: the speeds the machine had
    capacities_per_s: tuple[float, ...] = ()

    @property
    def drift(self) -> float | None:
        """How far the machine's capacity moved during the sweep: fastest / slowest probe, >= 1 (None: probed once)."""
        c = self.capacities_per_s
        return max(c) / min(c) if len(c) >= 2 and min(c) > 0 else None

    @property
    def drift_interval(self) -> tuple[float | None, float | None]:
        """The bracket widened by the drift: the probes' verdicts were made at speeds up to `drift` apart, so the
        rate the SLO allows at any speed the sweep saw lies in (last pass / drift, first fail x drift)."""
        lo, hi = self.interval
        f = self.drift or 1.0
        return (None if lo is None else lo / f, None if hi is None else hi * f)

    @classmethod
    def of(cls, sweep: Any, capacities_per_s: tuple[float, ...] = ()) -> SweepSummary:
        """From a `perfsuite.scenarios.sweep.SweepResult` (and the capacity probed before, during and after it)."""
        points = []
        for p in sweep.points:
            achieved = [a.achieved_rate_per_s for a in p.attempts if a.achieved_rate_per_s is not None]
            flags = [a.oversaturated for a in p.attempts if a.oversaturated is not None]
            points.append(SweepPointSummary(
                rate_per_s=p.rate_per_s, verdict=p.verdict, met=p.attainment.met, total=p.attainment.total, attempts=len(p.attempts),
                latency_p50_s=p.latency_s("p50"), latency_p99_s=p.latency_s("p99"),
                achieved_rate_per_s=sum(achieved) / len(achieved) if achieved else None, oversaturated=any(flags) if flags else None,
            ))
        return cls(status=sweep.status, max_rate_per_s=sweep.max_rate_per_s, interval=tuple(sweep.interval),  # type: ignore[arg-type]
                   target=sweep.target, reason=sweep.reason, knee_rate_per_s=sweep.knee.rate_per_s, knee_reason=sweep.knee.reason,
                   points=tuple(points), capacities_per_s=tuple(capacities_per_s))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "max_rate_per_s": self.max_rate_per_s, "interval": list(self.interval), "target": self.target,
                "reason": self.reason, "knee_rate_per_s": self.knee_rate_per_s, "knee_reason": self.knee_reason,
                "points": [p.to_dict() for p in self.points], "capacities_per_s": list(self.capacities_per_s), "drift": self.drift,
                "drift_interval": list(self.drift_interval)}

    @classmethod
    def from_doc(cls, doc: Doc) -> SweepSummary:
        interval = doc.data.get("interval")
        if not isinstance(interval, list) or len(interval) != 2 or not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                                                           for v in interval):
            raise doc.fail("interval", "[last pass, first fail] (numbers or null)", interval)
        return cls(status=doc.string("status"), max_rate_per_s=doc.number("max_rate_per_s", None, low=0, above=True),
                   interval=(interval[0], interval[1]), target=doc.number("target"), reason=doc.string("reason", ""),
                   knee_rate_per_s=doc.number("knee_rate_per_s", None, low=0, above=True), knee_reason=doc.string("knee_reason", ""),
                   points=tuple(SweepPointSummary.from_doc(p) for p in doc.items("points", [])),
                   capacities_per_s=tuple(doc.numbers("capacities_per_s", None, low=0, above=True) or ()))


@dataclass(frozen=True)
class ScenarioSummary:
    """A load scenario on one case: settings, capacity, latency split, rates, SLO attainment, goodput, batches, saturation."""

    name: str
    kind: str  # single_stream | offline | server | sweep
    max_batch: int
    settings: Mapping[str, Any]  # the scenario's config (conf/scenario/<name>.yaml with overrides)
    capacity_per_s: float  # full batches back to back before the load
    target_rate_per_s: float | None = None  # the rate asked for (server; a sweep's max rate)
    schedule_sha256: str | None = None  # the arrival schedule's fingerprint: the same seed gives the same one
    sent: int = 0
    completed: int = 0
    unserved: int = 0
    offered_rate_per_s: float | None = None  # requests / last scheduled arrival (None: all at t = 0)
    achieved_rate_per_s: float | None = None  # completed / (last end - first send)
    latency: Percentiles | None = None  # end - sent
    queueing: Percentiles | None = None  # start - sent
    service: Percentiles | None = None  # end - start
    ttft: Percentiles | None = None  # decoders
    tpot: Percentiles | None = None
    send_error: Percentiles | None = None  # the sender thread's lateness (None: an inline sender, exact)
    batch_sizes: Mapping[int, int] = field(default_factory=dict)  # size -> batches
    slo: Mapping[str, Any] | None = None
    attainment: Mapping[str, Any] | None = None  # met, total, fraction, target, confidence, interval, verdict
    goodput_per_s: float | None = None
    oversaturated: bool | None = None  # None: too few requests to judge
    oversaturation_reason: str = ""
    sender_cores: tuple[int, ...] | None = None
    sweep: SweepSummary | None = None

    @classmethod
    def of(cls, outcome: Any) -> ScenarioSummary:
        """From a `perfsuite.scenarios.case.ScenarioOutcome`."""
        m = outcome.metrics
        spec = outcome.spec
        settings = {k: v for k, v in spec.__dict__.items() if k not in ("slo", "sweep")}
        settings["slo"] = dict(spec.slo.__dict__)
        if spec.sweep is not None:
            settings["sweep"] = dict(spec.sweep.__dict__)
        base = cls(name=spec.name, kind=spec.kind, max_batch=outcome.max_batch, settings=settings, capacity_per_s=outcome.capacity.rate_per_s,
                   target_rate_per_s=outcome.offered_rate_per_s, schedule_sha256=outcome.schedule_sha256,
                   slo=None if outcome.slo is None else outcome.slo.to_dict(), sender_cores=outcome.sender_cores,
                   sweep=None if outcome.sweep is None else SweepSummary.of(
                       outcome.sweep, (outcome.capacity.rate_per_s, *(c.rate_per_s for c in outcome.capacities_during))))
        if m is None:
            return base
        from dataclasses import replace

        return replace(
            base, sent=m.sent, completed=m.completed, unserved=m.unserved, offered_rate_per_s=m.offered_rate_per_s,
            achieved_rate_per_s=m.achieved_rate_per_s, latency=Percentiles.of(m.latency), queueing=Percentiles.of(m.queueing),
            service=Percentiles.of(m.service), ttft=Percentiles.of(m.ttft), tpot=Percentiles.of(m.tpot),
            send_error=Percentiles.of(m.send_error), batch_sizes=dict(m.batch_sizes),
            attainment=None if m.attainment is None else m.attainment.to_dict(), goodput_per_s=m.goodput_per_s,
            oversaturated=m.oversaturation.flag, oversaturation_reason=m.oversaturation.reason,
        ) if spec.kind != "offline" else replace(
            base, sent=m.sent, completed=m.completed, unserved=m.unserved, achieved_rate_per_s=m.achieved_rate_per_s,
            latency=Percentiles.of(m.latency), queueing=Percentiles.of(m.queueing), service=Percentiles.of(m.service),
            ttft=Percentiles.of(m.ttft), tpot=Percentiles.of(m.tpot), batch_sizes=dict(m.batch_sizes),
            attainment=None if m.attainment is None else m.attainment.to_dict(), goodput_per_s=m.goodput_per_s,
            # every request is queued at t = 0: a backlog that only shrinks, no arrival process to outrun the server
            oversaturated=None, oversaturation_reason="offline: every request queued at t = 0 (no arrivals to judge)",
        )

    @property
    def attainment_fraction(self) -> float | None:
        value = (self.attainment or {}).get("fraction")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def attainment_verdict(self) -> str | None:
        value = (self.attainment or {}).get("verdict")
        return value if isinstance(value, str) else None

    @property
    def mean_batch_size(self) -> float | None:
        batches = sum(self.batch_sizes.values())
        return sum(k * n for k, n in self.batch_sizes.items()) / batches if batches else None

    def to_dict(self) -> dict[str, Any]:
        def opt(p: Percentiles | None) -> dict[str, Any] | None:
            return None if p is None else p.to_dict()

        return {
            "name": self.name, "kind": self.kind, "max_batch": self.max_batch, "settings": dict(self.settings),
            "capacity_per_s": self.capacity_per_s, "target_rate_per_s": self.target_rate_per_s, "schedule_sha256": self.schedule_sha256,
            "sent": self.sent, "completed": self.completed, "unserved": self.unserved,
            "offered_rate_per_s": self.offered_rate_per_s, "achieved_rate_per_s": self.achieved_rate_per_s,
            "latency": opt(self.latency), "queueing": opt(self.queueing), "service": opt(self.service),
            "ttft": opt(self.ttft), "tpot": opt(self.tpot), "send_error": opt(self.send_error),
            "batch_sizes": {str(k): n for k, n in sorted(self.batch_sizes.items())},
            "slo": None if self.slo is None else dict(self.slo),
            "attainment": None if self.attainment is None else dict(self.attainment),
            "goodput_per_s": self.goodput_per_s, "oversaturated": self.oversaturated, "oversaturation_reason": self.oversaturation_reason,
            "sender_cores": None if self.sender_cores is None else list(self.sender_cores),
            "sweep": None if self.sweep is None else self.sweep.to_dict(),
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> ScenarioSummary:
        sizes = doc.mapping("batch_sizes", {})
        if not all(k.isdigit() and isinstance(v, int) and not isinstance(v, bool) for k, v in sizes.items()):
            raise doc.fail("batch_sizes", "an object of batch size -> batches (whole numbers)", sizes)
        cores = doc.numbers("sender_cores", None, low=0)
        sweep = doc.sub("sweep", None)
        return cls(
            name=doc.string("name"), kind=doc.string("kind"), max_batch=doc.integer("max_batch"), settings=doc.mapping("settings", {}),
            capacity_per_s=doc.number("capacity_per_s", low=0, above=True),
            target_rate_per_s=doc.number("target_rate_per_s", None, low=0, above=True), schedule_sha256=doc.string("schedule_sha256", None),
            sent=doc.integer("sent", 0), completed=doc.integer("completed", 0), unserved=doc.integer("unserved", 0),
            offered_rate_per_s=doc.number("offered_rate_per_s", None, low=0), achieved_rate_per_s=doc.number("achieved_rate_per_s", None, low=0),
            latency=_percentiles(doc, "latency"), queueing=_percentiles(doc, "queueing"), service=_percentiles(doc, "service"),
            ttft=_percentiles(doc, "ttft"), tpot=_percentiles(doc, "tpot"), send_error=_percentiles(doc, "send_error"),
            batch_sizes={int(k): v for k, v in sizes.items()}, slo=doc.mapping("slo", None), attainment=doc.mapping("attainment", None),
            goodput_per_s=doc.number("goodput_per_s", None, low=0), oversaturated=doc.boolean("oversaturated", None),
            oversaturation_reason=doc.string("oversaturation_reason", ""),
            sender_cores=None if cores is None else tuple(int(c) for c in cores),
            sweep=None if sweep is None else SweepSummary.from_doc(sweep),
        )
