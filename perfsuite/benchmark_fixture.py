"""Hand a perfsuite `Measurement` to pytest-benchmark's `benchmark` fixture.

perfsuite measures (warm-up until stable, adaptive stopping, device clocks); pytest-benchmark
keeps doing what users rely on it for: its stats, table, JSON, --benchmark-autosave and
--benchmark-compare. Each perfsuite sample becomes one pytest-benchmark round, so both report
the same samples. `benchmark._make_stats` is pytest-benchmark's own constructor for a run's
stats (used by its `benchmark()` and `pedantic()`); tests/test_benchmark_fixture.py pins it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfsuite.measure.record import Measurement


def benchmark_enabled(benchmark: Any) -> bool:
    """False under --benchmark-disable (or xdist): then a case runs once, untimed, as a smoke test."""
    return bool(getattr(benchmark, "enabled", True))


def record_samples(benchmark: Any, samples_s: Sequence[float], options: dict[str, Any], *, iterations: int = 1) -> None:
    """Make `samples_s` (seconds per call) pytest-benchmark's rounds for this test."""
    if getattr(benchmark, "_mode", None):
        raise RuntimeError("the benchmark fixture was already used in this test")
    benchmark._mode = "perfsuite.measure(...)"
    stats = benchmark._make_stats(iterations)
    stats.options = {"disable_gc": False, "precision": None, **options}
    for sample in samples_s:
        # pytest-benchmark stores per-round totals and divides by iterations itself.
        stats.update(sample * iterations)


def record_measurement(benchmark: Any, m: Measurement) -> None:
    options = {
        "timer": m.clock,
        "sync_mode": m.sync_mode,
        "min_rounds": m.stop_policy.min_rounds,
        "min_time": m.stop_policy.min_time_s,
        "max_time": m.stop_policy.max_time_s,
        "warmup": m.warmup_calls,
        "confidence": m.stop_policy.ci_confidence,
    }
    record_samples(benchmark, m.samples_s, options, iterations=m.calls_per_sample)
