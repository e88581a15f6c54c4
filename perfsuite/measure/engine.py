"""The measuring loop: warm up until stable, then sample until the median is pinned down.

    from perfsuite.measure import measure, CpuClock, WarmupPolicy, StopPolicy

    m = measure(lambda: model(**inputs), clock=CpuClock(), warmup=WarmupPolicy(), stop=StopPolicy())
    m.median_s, m.stats.p99_s, m.noise, m.to_extra_info()

`fn` is a zero-argument callable running one inference call; the clock does any
device synchronization. The loop only asks the clock for samples in chunks and
checks the stopping rule between chunks (chunks grow by ~1/8 of the samples so far),
so its own cost per call is a list store and two timer reads. Garbage collection is
off during the timed rounds (``disable_gc``, as in timeit and torch.utils.benchmark),
and an optional ``progress`` callback hears about each chunk (never inside one).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import statistics
import sys
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ContextManager

from perfsuite.measure.clocks import Clock, CpuClock
from perfsuite.measure.policy import MIN_WARM_SAMPLES, StopPolicy, WarmupPlan, WarmupPolicy, plan_warmup
from perfsuite.measure.record import Measurement, NoiseFlag, _summarize_for
from perfsuite.measure.stats import median_ci_indices, percentile

#: With a progress callback, a chunk holds at most about this many seconds of calls.
PROGRESS_PERIOD_S = 1.0


@dataclass(frozen=True)
class Progress:
    """Where a measurement stands, handed to the ``progress`` callback between chunks.

    ``phase`` is ``"warmup"`` (``n`` calls so far) or ``"sampling"`` (``n`` samples so far);
    ``target_n`` estimates ``n`` at the end of the phase and ``budget_s`` its wall time
    (both move as the rate becomes known); ``elapsed_s`` is the phase's wall time so far;
    ``after_s`` estimates the later phases (during warm-up: the sampling). Callers add their
    own phases and estimates (the runner: ``"memory"``).
    """

    phase: str
    n: int
    target_n: int
    elapsed_s: float
    budget_s: float
    after_s: float = 0.0

    @property
    def left_s(self) -> float:
        """Estimated seconds until the measurement (as far as the sender knows it) is done."""
        return max(0.0, self.budget_s - self.elapsed_s) + self.after_s


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class WarmupResult:
    """What warm-up did: calls made (first call included), whether it settled, the cold call."""

    calls: int
    settled: bool
    time_s: float
    first_call_s: float
    samples_s: tuple[float, ...]
    plan: WarmupPlan | None = None


def _settled(samples: Sequence[float], window: int, rel_tol: float) -> bool:
    if len(samples) < 2 * window:
        return False
    last = statistics.median(samples[-window:])
    prev = statistics.median(samples[-2 * window : -window])
    if prev <= 0:
        return last == prev
    return abs(last - prev) <= rel_tol * prev


def warm_up(
    fn: Callable[[], object],
    clock: Clock,
    policy: WarmupPolicy,
    *,
    budget_s: float | None = None,
    progress: ProgressFn | None = None,
) -> WarmupResult:
    """Run ``fn`` until `WarmupPolicy` is satisfied or capped; the first call is timed alone.

    The cold call and `MIN_WARM_SAMPLES` samples are always made (``max_calls`` allowing);
    then `plan_warmup` fits the rest into ``policy.budget_fraction`` of ``budget_s`` (the
    case's soft budget), scaling ``min_calls``/``window`` down for slow calls.
    """
    cps = clock.calls_per_sample
    t0 = clock.now_s()
    first = clock.time_first_call(fn)
    calls = 1
    samples: list[float] = []
    mandatory = max(0, min(MIN_WARM_SAMPLES, (policy.max_calls - 1) // cps))
    plan: WarmupPlan | None = None
    # before the plan exists, progress reports the cap the plan will have
    cap = policy.max_time_s if budget_s is None else min(policy.max_time_s, policy.budget_fraction * budget_s)
    while True:
        spent = clock.now_s() - t0
        if plan is None and len(samples) >= mandatory:
            per = (statistics.median(samples) if samples else first) * cps  # samples are per call
            plan = plan_warmup(
                policy, budget_s=budget_s, spent_s=spent, samples_taken=len(samples), per_sample_s=per, calls_per_sample=cps
            )
        if plan is not None:
            if calls >= plan.min_calls and _settled(samples, plan.window, policy.rel_tol):
                return WarmupResult(calls, True, spent, first, tuple(samples), plan)
            if calls >= policy.max_calls or spent >= plan.time_cap_s:
                return WarmupResult(calls, False, spent, first, tuple(samples), plan)
        elif calls >= policy.max_calls:
            return WarmupResult(calls, False, spent, first, tuple(samples), plan)
        samples.extend(clock.collect(fn, 1).samples_s)
        calls += cps
        if progress is not None:
            target = plan.min_calls if plan is not None else policy.min_calls
            progress(Progress("warmup", calls, max(target, calls), clock.now_s() - t0, cap))


def _rel_ci_half_width(samples: Sequence[float], confidence: float) -> float | None:
    idx = median_ci_indices(len(samples), confidence)
    if idx is None:
        return None
    xs = sorted(samples)
    med = percentile(xs, 0.5)
    if med <= 0:
        return None
    return (xs[idx[1]] - xs[idx[0]]) / 2.0 / med


def _next_chunk(n: int, elapsed: float, stop: StopPolicy, per_estimate: float, *, max_chunk_s: float | None = None) -> int:
    """Samples to take before the next check: enough to reach the minimums, else ~n/8.

    Never more than fit in what is left of ``max_time_s`` at the current rate (before
    the first sample, the warm-up's median sample time is the rate) -- except that while
    fewer than ``stop.min_samples`` exist, the chunk may reach them within what is left of
    ``hard_max_time_s``. ``max_chunk_s`` bounds a chunk's duration (for progress reports).
    """
    per = max(elapsed / n if n else per_estimate, 1e-9)
    need = max(
        stop.min_rounds - n,
        math.ceil((stop.min_time_s - elapsed) / per),
        math.ceil(n / 8),
        1,
    )
    fit = math.floor((stop.max_time_s - elapsed) / per)
    if n < stop.min_samples:
        fit = max(fit, min(stop.min_samples - n, math.floor((stop.hard_max_time_s - elapsed) / per)))
    if max_chunk_s is not None:
        fit = min(fit, math.floor(max_chunk_s / per))
    return max(1, min(need, fit, stop.max_rounds - n))


def _target_samples(n: int, elapsed: float, stop: StopPolicy, per_estimate: float) -> tuple[int, float]:
    """Estimated samples and seconds the sampling phase ends at, if it runs to the soft cap.

    (``min_rounds`` only holds convergence back; it does not outlast the soft cap.)
    """
    per = max(elapsed / n if n else per_estimate, 1e-9)
    target = max(stop.min_samples, min(stop.max_rounds, math.ceil(stop.max_time_s / per)))
    return target, min(stop.hard_max_time_s, target * per)


def _with_sampling_ahead(progress: ProgressFn | None, stop: StopPolicy, clock: Clock) -> ProgressFn | None:
    """The warm-up's progress callback, with the sampling phase's estimate as ``after_s``."""
    if progress is None:
        return None

    def report(event: Progress) -> None:
        per_sample = event.elapsed_s / max(event.n, 1) * clock.calls_per_sample
        progress(dataclasses.replace(event, after_s=_target_samples(0, 0.0, stop, per_sample)[1]))

    return report


def _default_threads() -> int | None:
    torch = sys.modules.get("torch")  # only if the caller already imported it
    return int(torch.get_num_threads()) if torch is not None else None


def _no_phase(name: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def measure(
    fn: Callable[[], object],
    *,
    clock: Clock | None = None,
    warmup: WarmupPolicy | None = None,
    stop: StopPolicy | None = None,
    threads: int | None = None,
    disable_gc: bool = True,
    progress: ProgressFn | None = None,
    phase: Callable[[str], ContextManager[None]] | None = None,
) -> Measurement:
    """Warm up, then time ``fn`` until `StopPolicy` is met; return the `Measurement`.

    ``clock`` defaults to `CpuClock()`; ``threads`` defaults to ``torch.get_num_threads()``
    when torch is already imported. A run that hits ``max_time_s``/``max_rounds`` (or,
    before its median is established, ``hard_max_time_s``) first, a warm-up that never
    settled, or IQR/median above ``stop.noise_iqr_ratio`` is returned with
    `Measurement.noise` flags (and still carries every sample). ``disable_gc``: collect
    garbage before the timed rounds and keep the collector off during them (restored
    after, also on an exception). ``progress`` is called between chunks; ``None`` costs nothing.
    ``phase(name)`` is entered around the warm-up ("warm-up") and the timed rounds ("timed"): NVTX
    ranges on CUDA (`perfsuite.profile.nvtx`), entered once per phase, never per call.
    """
    clock = clock if clock is not None else CpuClock()
    warmup = warmup if warmup is not None else WarmupPolicy()
    stop = stop if stop is not None else StopPolicy()
    phase = phase if phase is not None else _no_phase
    with phase("warm-up"):
        wu = warm_up(fn, clock, warmup, budget_s=stop.max_time_s, progress=_with_sampling_ahead(progress, stop, clock))

    samples: list[float] = []
    host: list[float] | None = None
    # seconds per sample before any timed sample exists (a pipelined sample is `block` calls)
    per_estimate = (statistics.median(wu.samples_s) if wu.samples_s else wu.first_call_s) * clock.calls_per_sample
    floor_n = stop.min_samples
    max_chunk_s = PROGRESS_PERIOD_S if progress is not None else None
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.collect()
        gc.disable()
    try:
        with phase("timed"):
            start = clock.now_s()
            chunk = _next_chunk(0, 0.0, stop, per_estimate, max_chunk_s=max_chunk_s)
            while True:
                reading = clock.collect(fn, chunk)
                samples.extend(reading.samples_s)
                if reading.host_s is not None:
                    if host is None:
                        host = []
                    host.extend(reading.host_s)
                elapsed = clock.now_s() - start
                n = len(samples)
                established = n >= floor_n
                if n >= stop.min_rounds and elapsed >= stop.min_time_s and established:
                    rel_ci = _rel_ci_half_width(samples, stop.ci_confidence)
                    if rel_ci is not None and rel_ci <= stop.target_rel_ci:
                        reason = "converged"
                        break
                if elapsed >= stop.max_time_s and established:
                    reason = "max_time"
                    break
                if elapsed >= stop.hard_max_time_s:
                    reason = "hard_budget"
                    break
                if n >= stop.max_rounds:
                    reason = "max_rounds"
                    break
                if progress is not None:
                    target, budget = _target_samples(n, elapsed, stop, per_estimate)
                    progress(Progress("sampling", n, target, elapsed, budget))
                chunk = _next_chunk(n, elapsed, stop, per_estimate, max_chunk_s=max_chunk_s)
    finally:
        if disable_gc and gc_was_enabled:
            gc.enable()
    if progress is not None:
        progress(Progress("sampling", n, n, elapsed, elapsed))

    stats = _summarize_for(samples, stop)
    noise: list[NoiseFlag] = []
    if reason != "converged":
        rel_ci = _rel_ci_half_width(samples, stop.ci_confidence)
        noise.append(NoiseFlag(reason, _cap_reason(reason, n, elapsed, rel_ci, stop)))
    if not wu.settled:
        window = wu.plan.window if wu.plan is not None else warmup.window
        cap_s = wu.plan.time_cap_s if wu.plan is not None else warmup.max_time_s
        scaled = f"; {wu.plan.reason}" if wu.plan is not None and wu.plan.scaled else ""
        noise.append(
            NoiseFlag(
                "warmup_not_settled",
                f"rolling median of {window} samples did not settle within {warmup.rel_tol:.1%} "
                f"after {wu.calls} calls / {wu.time_s:.3g} s (caps: {warmup.max_calls} calls, {cap_s:.3g} s){scaled}",
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
        warmup_plan=wu.plan,
        gc_disabled=disable_gc,
        host_samples_s=None if host is None else tuple(host),
        host_stats=None if not host else _summarize_for(host, stop),
        noise=tuple(noise),
    )


_CAPS = {"max_time": "max_time_s", "hard_budget": "hard_max_time_s", "max_rounds": "max_rounds"}


def _cap_reason(reason: str, n: int, elapsed: float, rel_ci: float | None, stop: StopPolicy) -> str:
    key = _CAPS[reason]
    cap = f"{key}={getattr(stop, key)}"
    missing = []
    if n < stop.min_rounds:
        missing.append(f"only {n} of min_rounds={stop.min_rounds} samples")
    if elapsed < stop.min_time_s:
        missing.append(f"only {elapsed:.3g} s of min_time_s={stop.min_time_s}")
    if n < stop.min_samples:
        names = ", ".join(dict.fromkeys(("p50", *stop.establish)))
        missing.append(f"too few samples to establish {names} (needs {stop.min_samples}, have {n})")
    if rel_ci is None:
        missing.append("median CI not established")
    elif rel_ci > stop.target_rel_ci:
        missing.append(f"median CI half-width {rel_ci:.2%} > target {stop.target_rel_ci:.2%}")
    return f"stopped at {cap} after {n} samples / {elapsed:.3g} s: " + "; ".join(missing or ["targets not met"])
