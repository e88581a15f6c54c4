"""The measuring loop: warm up until stable, then sample until the median is pinned down.

    from perfsuite.measure import measure, CpuClock, WarmupPolicy, StopPolicy

    m = measure(lambda: model(**inputs), clock=CpuClock(), warmup=WarmupPolicy(), stop=StopPolicy())
    m.median_s, m.stats.p99_s, m.noise, m.to_extra_info()

`fn` is a zero-argument callable running one inference call; the clock does any
device synchronization. The loop only asks the clock for samples in chunks and
checks the stopping rule between chunks (chunks grow by ~1/8 of the samples so far),
so its own cost per call is a list store and two timer reads.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perfsuite.measure.clocks import Clock, CpuClock
from perfsuite.measure.policy import StopPolicy, WarmupPolicy
from perfsuite.measure.record import Measurement, NoiseFlag, _summarize_for
from perfsuite.measure.stats import (
    REPORTED_PERCENTILES,
    median_ci_indices,
    min_samples_for_percentile,
    percentile,
)

_QUANTILE_OF = dict(REPORTED_PERCENTILES)


@dataclass(frozen=True)
class WarmupResult:
    """What warm-up did: calls made (first call included), whether it settled, the cold call."""

    calls: int
    settled: bool
    time_s: float
    first_call_s: float
    samples_s: tuple[float, ...]


def _settled(samples: Sequence[float], window: int, rel_tol: float) -> bool:
    if len(samples) < 2 * window:
        return False
    last = statistics.median(samples[-window:])
    prev = statistics.median(samples[-2 * window : -window])
    if prev <= 0:
        return last == prev
    return abs(last - prev) <= rel_tol * prev


def warm_up(fn: Callable[[], object], clock: Clock, policy: WarmupPolicy) -> WarmupResult:
    """Run ``fn`` until `WarmupPolicy` is satisfied or capped; the first call is timed alone."""
    t0 = clock.now_s()
    first = clock.time_first_call(fn)
    calls = 1
    samples: list[float] = []
    while True:
        if calls >= policy.min_calls and _settled(samples, policy.window, policy.rel_tol):
            return WarmupResult(calls, True, clock.now_s() - t0, first, tuple(samples))
        if calls >= policy.max_calls or clock.now_s() - t0 >= policy.max_time_s:
            return WarmupResult(calls, False, clock.now_s() - t0, first, tuple(samples))
        samples.extend(clock.collect(fn, 1).samples_s)
        calls += clock.calls_per_sample


def _established(n: int, stop: StopPolicy) -> bool:
    return all(
        n >= min_samples_for_percentile(_QUANTILE_OF[name], stop.percentile_confidence, stop.tail_samples)
        for name in stop.establish
    )


def _rel_ci_half_width(samples: Sequence[float], confidence: float) -> float | None:
    idx = median_ci_indices(len(samples), confidence)
    if idx is None:
        return None
    xs = sorted(samples)
    med = percentile(xs, 0.5)
    if med <= 0:
        return None
    return (xs[idx[1]] - xs[idx[0]]) / 2.0 / med


def _next_chunk(n: int, elapsed: float, stop: StopPolicy, per_estimate: float) -> int:
    """Samples to take before the next check: enough to reach the minimums, else ~n/8.

    Never more than fit in what is left of ``max_time_s`` at the current rate (before
    the first sample, the warm-up's median sample time is the rate).
    """
    per = max(elapsed / n if n else per_estimate, 1e-9)
    need = max(
        stop.min_rounds - n,
        math.ceil((stop.min_time_s - elapsed) / per),
        math.ceil(n / 8),
        1,
    )
    budget = max(1, math.floor((stop.max_time_s - elapsed) / per))
    return max(1, min(need, budget, stop.max_rounds - n))


def _default_threads() -> int | None:
    torch = sys.modules.get("torch")  # only if the caller already imported it
    return int(torch.get_num_threads()) if torch is not None else None


def measure(
    fn: Callable[[], object],
    *,
    clock: Clock | None = None,
    warmup: WarmupPolicy | None = None,
    stop: StopPolicy | None = None,
    threads: int | None = None,
) -> Measurement:
    """Warm up, then time ``fn`` until `StopPolicy` is met; return the `Measurement`.

    ``clock`` defaults to `CpuClock()`; ``threads`` defaults to ``torch.get_num_threads()``
    when torch is already imported. A run that hits ``max_time_s``/``max_rounds`` first, a
    warm-up that never settled, or IQR/median above ``stop.noise_iqr_ratio`` is returned
    with `Measurement.noise` flags (and still carries every sample).
    """
    clock = clock if clock is not None else CpuClock()
    warmup = warmup if warmup is not None else WarmupPolicy()
    stop = stop if stop is not None else StopPolicy()
    wu = warm_up(fn, clock, warmup)

    samples: list[float] = []
    host: list[float] | None = None
    # seconds per sample before any timed sample exists (a pipelined sample is `block` calls)
    per_estimate = (statistics.median(wu.samples_s) if wu.samples_s else wu.first_call_s) * clock.calls_per_sample
    start = clock.now_s()
    chunk = _next_chunk(0, 0.0, stop, per_estimate)
    while True:
        reading = clock.collect(fn, chunk)
        samples.extend(reading.samples_s)
        if reading.host_s is not None:
            if host is None:
                host = []
            host.extend(reading.host_s)
        elapsed = clock.now_s() - start
        n = len(samples)
        if n >= stop.min_rounds and elapsed >= stop.min_time_s and _established(n, stop):
            rel_ci = _rel_ci_half_width(samples, stop.ci_confidence)
            if rel_ci is not None and rel_ci <= stop.target_rel_ci:
                reason = "converged"
                break
        if elapsed >= stop.max_time_s:
            reason = "max_time"
            break
        if n >= stop.max_rounds:
            reason = "max_rounds"
            break
        chunk = _next_chunk(n, elapsed, stop, per_estimate)

    stats = _summarize_for(samples, stop)
    noise: list[NoiseFlag] = []
    if reason != "converged":
        rel_ci = _rel_ci_half_width(samples, stop.ci_confidence)
        noise.append(NoiseFlag(reason, _cap_reason(reason, n, elapsed, rel_ci, stop)))
    if not wu.settled:
        noise.append(
            NoiseFlag(
                "warmup_not_settled",
                f"rolling median of {warmup.window} samples did not settle within {warmup.rel_tol:.1%} "
                f"after {wu.calls} calls / {wu.time_s:.3g} s (caps: {warmup.max_calls} calls, {warmup.max_time_s} s)",
            )
        )
    ratio = stats.iqr_ratio
    if ratio is not None and ratio > stop.noise_iqr_ratio:
        noise.append(NoiseFlag("high_iqr", f"IQR/median is {ratio:.1%} (> {stop.noise_iqr_ratio:.0%})"))
    return Measurement(
        samples_s=tuple(samples),
        stats=stats,
        clock=clock.name,
        sync_mode=clock.sync_mode,
        device=clock.device,
        threads=threads if threads is not None else _default_threads(),
        calls_per_sample=clock.calls_per_sample,
        warmup_calls=wu.calls,
        warmup_settled=wu.settled,
        warmup_time_s=wu.time_s,
        first_call_s=wu.first_call_s,
        total_time_s=elapsed,
        stop_reason=reason,
        warmup_policy=warmup,
        stop_policy=stop,
        host_samples_s=None if host is None else tuple(host),
        host_stats=None if not host else _summarize_for(host, stop),
        noise=tuple(noise),
    )


def _cap_reason(reason: str, n: int, elapsed: float, rel_ci: float | None, stop: StopPolicy) -> str:
    cap = f"max_time_s={stop.max_time_s}" if reason == "max_time" else f"max_rounds={stop.max_rounds}"
    missing = []
    if n < stop.min_rounds:
        missing.append(f"only {n} of min_rounds={stop.min_rounds} samples")
    if elapsed < stop.min_time_s:
        missing.append(f"only {elapsed:.3g} s of min_time_s={stop.min_time_s}")
    if not _established(n, stop):
        missing.append(f"too few samples to establish {', '.join(stop.establish)}")
    if rel_ci is None:
        missing.append("median CI not established")
    elif rel_ci > stop.target_rel_ci:
        missing.append(f"median CI half-width {rel_ci:.2%} > target {stop.target_rel_ci:.2%}")
    return f"stopped at {cap} after {n} samples / {elapsed:.3g} s: " + "; ".join(missing or ["targets not met"])
