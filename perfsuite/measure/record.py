"""`Measurement`: the frozen record of one timed case — raw samples, statistics, and how.

``to_extra_info()`` turns it into the JSON-safe dict stored in pytest-benchmark's
``extra_info`` (schema documented in docs/measurement.md, versioned by
``SCHEMA_VERSION``); ``Measurement.from_extra_info`` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from perfsuite.measure.policy import StopPolicy, WarmupPlan, WarmupPolicy
from perfsuite.measure.stats import SampleStats, json_float, summarize

SCHEMA_VERSION = 1

#: Stop reasons: "converged" met every target; the others are caps (and flag noise).
#: "hard_budget" is the one cap that can leave the median (or a percentile in
#: ``stop.establish``) unestablished.
STOP_REASONS = ("converged", "max_time", "max_rounds", "hard_budget")


@dataclass(frozen=True)
class NoiseFlag:
    """A reason not to trust a measurement fully: a short code and a sentence."""

    code: str  # "high_iqr", "max_time", "hard_budget", "max_rounds", "warmup_not_settled", "throttled", ...
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class Measurement:
    """Raw samples (seconds per call) plus derived statistics plus how they were made."""

    samples_s: tuple[float, ...]
    stats: SampleStats
    clock: str
    sync_mode: str
    device: str
    threads: int | None
    calls_per_sample: int
    warmup_calls: int
    warmup_settled: bool
    warmup_time_s: float
    first_call_s: float
    total_time_s: float
    stop_reason: str
    warmup_policy: WarmupPolicy
    stop_policy: StopPolicy
    host_samples_s: tuple[float, ...] | None = None
    host_stats: SampleStats | None = None
    noise: tuple[NoiseFlag, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    warmup_plan: WarmupPlan | None = None  # the warm-up applied (policy scaled down for slow calls?)
    gc_disabled: bool = False  # garbage collection was off during the timed rounds

    @property
    def rounds(self) -> int:
        """Number of samples in the timed phase."""
        return len(self.samples_s)

    @property
    def calls(self) -> int:
        """Calls of the function in the timed phase."""
        return len(self.samples_s) * self.calls_per_sample

    @property
    def median_s(self) -> float | None:
        return self.stats.p50_s

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    def with_noise(self, code: str, reason: str) -> Measurement:
        """A copy with one more noise flag (e.g. ``throttled`` from NVML device state)."""
        return replace(self, noise=(*self.noise, NoiseFlag(code, reason)))

    def with_extra(self, **items: Any) -> Measurement:
        """A copy with more JSON-safe entries under ``extra`` (memory, energy, throughput...)."""
        return replace(self, extra={**self.extra, **items})

    def to_extra_info(self, *, include_samples: bool = True) -> dict[str, Any]:
        """JSON-safe dict for pytest-benchmark ``extra_info`` (schema_version 1)."""
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "unit": "s",
            "clock": self.clock,
            "sync_mode": self.sync_mode,
            "device": self.device,
            "threads": self.threads,
            "rounds": self.rounds,
            "calls_per_sample": self.calls_per_sample,
            "warmup": {
                "calls": self.warmup_calls,
                "settled": self.warmup_settled,
                "time_s": json_float(self.warmup_time_s),
                "policy": self.warmup_policy.to_dict(),
                "plan": None if self.warmup_plan is None else self.warmup_plan.to_dict(),
            },
            "gc_disabled": self.gc_disabled,
            "first_call_s": json_float(self.first_call_s),
            "total_time_s": json_float(self.total_time_s),
            "stop": {"reason": self.stop_reason, "policy": self.stop_policy.to_dict()},
            "stats": self.stats.to_dict(),
            "host_stats": None if self.host_stats is None else self.host_stats.to_dict(),
            "noisy": self.noisy,
            "noise": [flag.to_dict() for flag in self.noise],
            "extra": dict(self.extra),
        }
        if include_samples:
            out["samples_s"] = [json_float(v) for v in self.samples_s]
            out["host_samples_s"] = (
                None if self.host_samples_s is None else [json_float(v) for v in self.host_samples_s]
            )
        return out

    @classmethod
    def from_extra_info(cls, info: Mapping[str, Any]) -> Measurement:
        """Rebuild a Measurement from ``to_extra_info()`` output (samples included).

        Statistics are recomputed from the raw samples, so they cannot disagree with them.
        """
        version = info.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"measurement schema_version {version!r} is not supported (this perfsuite reads {SCHEMA_VERSION}); "
                "re-run the benchmark or migrate the stored results"
            )
        if info.get("samples_s") is None:
            raise ValueError("this extra_info was written without raw samples (include_samples=False)")
        stop_policy = StopPolicy(**{**info["stop"]["policy"], "establish": tuple(info["stop"]["policy"]["establish"])})
        warmup_policy = WarmupPolicy(**info["warmup"]["policy"])
        plan = info["warmup"].get("plan")  # absent in records written before warm-up plans
        samples = tuple(float(v) for v in info["samples_s"])
        host = info.get("host_samples_s")
        host_samples = None if host is None else tuple(float(v) for v in host)
        return cls(
            samples_s=samples,
            stats=_summarize_for(samples, stop_policy),
            clock=info["clock"],
            sync_mode=info["sync_mode"],
            device=info["device"],
            threads=info["threads"],
            calls_per_sample=info["calls_per_sample"],
            warmup_calls=info["warmup"]["calls"],
            warmup_settled=info["warmup"]["settled"],
            warmup_time_s=info["warmup"]["time_s"],
            first_call_s=info["first_call_s"],
            total_time_s=info["total_time_s"],
            stop_reason=info["stop"]["reason"],
            warmup_policy=warmup_policy,
            stop_policy=stop_policy,
            host_samples_s=host_samples,
            host_stats=None if not host_samples else _summarize_for(host_samples, stop_policy),
            noise=tuple(NoiseFlag(f["code"], f["reason"]) for f in info["noise"]),
            extra=dict(info.get("extra", {})),
            warmup_plan=None if plan is None else WarmupPlan(**plan),
            gc_disabled=bool(info.get("gc_disabled", False)),
        )


def _summarize_for(samples: Sequence[float], stop: StopPolicy) -> SampleStats:
    return summarize(
        samples,
        ci_confidence=stop.ci_confidence,
        percentile_confidence=stop.percentile_confidence,
        tail_samples=stop.tail_samples,
    )
