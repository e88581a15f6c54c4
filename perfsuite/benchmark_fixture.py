"""Hand a perfsuite `Measurement` to pytest-benchmark's `benchmark` fixture.

perfsuite measures (warm-up until stable, adaptive stopping, device clocks); pytest-benchmark
keeps doing what users rely on it for: its stats, table, JSON, --benchmark-autosave and
--benchmark-compare. Each perfsuite sample becomes one pytest-benchmark round, so both report
the same samples. `benchmark._make_stats` is pytest-benchmark's own constructor for a run's
stats (used by its `benchmark()` and `pedantic()`; pyproject pins pytest-benchmark <6 for it).

Under --benchmark-cprofile, `profile_call` (one call of the case, device-synchronized) runs a few
more times under cProfile after the timed samples, never inside them: the Python overhead of a
call, which pytest-benchmark prints in its cProfile table and keeps in its JSON.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfsuite.measure.record import Measurement


def benchmark_enabled(benchmark: Any) -> bool:
    """False under --benchmark-disable (or xdist): then a case runs once, untimed, as a smoke test."""
    return bool(getattr(benchmark, "enabled", True))


def record_samples(
    benchmark: Any,
    samples_s: Sequence[float],
    options: dict[str, Any],
    *,
    iterations: int = 1,
    profile_call: Callable[[], Any] | None = None,
) -> None:
    """Make `samples_s` (seconds per call) pytest-benchmark's rounds for this test."""
    if getattr(benchmark, "_mode", None):
        raise RuntimeError("the benchmark fixture was already used in this test")
    benchmark._mode = "perfsuite.measure(...)"
    stats = benchmark._make_stats(iterations)
    stats.options = {"disable_gc": False, "precision": None, **options}
    for sample in samples_s:
        # pytest-benchmark stores per-round totals and divides by iterations itself.
        stats.update(sample * iterations)
    if profile_call is not None and getattr(benchmark, "cprofile", None):
        stats.cprofile_stats = _cprofile(benchmark, profile_call, loops=getattr(benchmark, "cprofile_loops", None) or iterations)


def _cprofile(benchmark: Any, call: Callable[[], Any], *, loops: int) -> pstats.Stats:
    """`loops` calls under cProfile; stored where pytest-benchmark's own fixture stores them."""
    profile = cProfile.Profile()
    for _ in range(max(1, loops)):
        profile.runcall(call)
    profiled = pstats.Stats(profile)
    if getattr(benchmark, "cprofile_dump", None):  # --benchmark-cprofile-dump PREFIX, as pytest-benchmark names it
        from pytest_benchmark.utils import slugify

        out = Path(f"{benchmark.cprofile_dump}-{slugify(benchmark.name)}.prof")
        out.parent.mkdir(parents=True, exist_ok=True)
        profiled.dump_stats(out)
    return profiled


def record_measurement(benchmark: Any, m: Measurement, *, profile_call: Callable[[], Any] | None = None) -> None:
    options = {
        "timer": m.clock,
        "sync_mode": m.sync_mode,
        "min_rounds": m.stop_policy.min_rounds,
        "min_time": m.stop_policy.min_time_s,
        "max_time": m.stop_policy.max_time_s,
        "warmup": m.warmup_calls,
        "confidence": m.stop_policy.ci_confidence,
        # measure.disable_gc (the policy helper's Measurement.gc_disabled); False where it is not recorded.
        "disable_gc": bool(getattr(m, "gc_disabled", False)),
    }
    record_samples(benchmark, m.samples_s, options, iterations=m.calls_per_sample, profile_call=profile_call)
