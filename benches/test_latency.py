"""Latency, throughput and memory of one forward pass per case (direct-inference stage).

perfsuite's engine measures (warm-up until the median settles, adaptive stopping on the CI of
the median, device-synchronized clocks); each sample becomes a pytest-benchmark round, so its
table, JSON, autosave and compare work as usual. perfsuite's metrics go to extra_info and to the
run's results.json (raw samples there).
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.benchmark_fixture import benchmark_enabled, record_measurement
from perfsuite.config.schema import Case
from perfsuite.pinning import threads_in_force
from perfsuite.runner import measure_latency
from perfsuite.session import CaseRecord

pytestmark = pytest.mark.perf_stage("direct_inference")


def _shapes(output: Any) -> dict[str, list[int]]:
    found = {}
    for name in ("logits", "last_hidden_state", "pooler_output"):
        value = getattr(output, name, None)
        if value is not None and hasattr(value, "shape"):
            found[name] = list(value.shape)
    return found


def test_latency(
    benchmark: Any,
    perf_case: Case,
    built_model: Any,
    runtime: Any,
    batch: Any,
    device_sync: Any,
    perf_record: CaseRecord,
) -> None:
    if not benchmark_enabled(benchmark):  # --benchmark-disable: run once as a smoke test
        runtime(batch.inputs[0])
        device_sync()
        return

    outcome = measure_latency(perf_case, runtime, batch, built_model.model.module)
    info: dict[str, Any] = {
        "model": built_model.model.info().as_dict(),
        "runtime": runtime.describe(),
        "data": {"origin": batch.origin, "truncated_samples": batch.truncated_samples, "tokens_per_batch": batch.tokens_per_batch},
        "threads_in_force": threads_in_force(),
        "load_s": built_model.load_s,
        "memory": outcome.memory,
    }
    perf_record.data.update(info)
    if outcome.oom is not None:
        perf_record.data["oom"] = outcome.oom.to_dict()
        perf_record.sweep_point = outcome.oom
        pytest.skip(f"OOM at batch size {perf_case.batch_size}: {outcome.oom.message} (recorded as oom; caches freed)")

    m = outcome.measurement
    assert m is not None
    calls = (m.warmup_calls + m.calls) * perf_case.batch_size
    info.update(throughput=outcome.throughput, device_state=outcome.device_state(samples=calls))
    if perf_case.config.raw.get("output", {}).get("direct", {}).get("record_output_shapes", True):
        info["output_shapes"] = _shapes(runtime(batch.inputs[0]))
    save_samples = perf_case.config.raw.get("output", {}).get("direct", {}).get("save_raw_samples", True)
    perf_record.data.update(info, measurement=m.to_extra_info(include_samples=save_samples))
    perf_record.sweep_point = m

    # --benchmark-cprofile: a few more calls under cProfile, after the timed samples.
    record_measurement(benchmark, m, profile_call=lambda: (runtime(batch.inputs[0]), device_sync()))
    benchmark.extra_info.update(m.to_extra_info(include_samples=False))
    benchmark.extra_info.update(info, case=perf_case.describe())
    # A median that is not established (too few samples before max_time_s) is reported as n/e with
    # its reason in extra_info.stats.not_established and the case flagged, not failed.
    assert m.rounds >= 1 and min(m.samples_s) > 0
