"""Latency, throughput and memory of one forward pass per case (direct-inference stage).

perfsuite's engine measures (warm-up until the median settles, adaptive stopping on the CI of
the median, device-synchronized clocks); each sample becomes a pytest-benchmark round, so its
table, JSON, autosave and compare work as usual. What the test measured goes into its typed
`perf_record` (a CaseDraft); results.json and pytest-benchmark's extra_info both derive from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.benchmark_fixture import benchmark_enabled, record_measurement
from perfsuite.config.schema import Case
from perfsuite.pinning import threads_in_force
from perfsuite.runner import measure_latency
from perfsuite.results.case import CaseDraft
from perfsuite.runtimes.parity import require_parity

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
    built_runtime: Any,
    runtime: Any,
    parity: Any,
    batch: Any,
    device_sync: Any,
    perf_record: CaseDraft,
) -> None:
    perf_record.runtime_setup = built_runtime.setup  # compile / export before timing (None for eager)
    require_parity(parity, perf_case.id)  # the prepared runtime's outputs match eager fp32, or the case fails untimed
    if not benchmark_enabled(benchmark):  # --benchmark-disable: run once as a smoke test
        runtime(batch.inputs[0])
        device_sync()
        return

    outcome = measure_latency(perf_case, runtime, batch, built_model.model.module)
    perf_record.load_s = built_model.load_s
    perf_record.memory = outcome.memory
    perf_record.details.update(
        model=built_model.model.info().as_dict(),
        runtime=runtime.describe(),
        data={"origin": batch.origin, "truncated_samples": batch.truncated_samples, "tokens_per_batch": batch.tokens_per_batch},
        threads_in_force=threads_in_force(),
    )
    if outcome.oom is not None:
        perf_record.oom = outcome.oom
        pytest.skip(f"OOM at batch size {perf_case.batch_size}: {outcome.oom.message} (recorded as oom; caches freed)")

    m = outcome.measurement
    assert m is not None
    calls = (m.warmup_calls + m.calls) * perf_case.batch_size
    perf_record.measurement = m
    perf_record.throughput = outcome.throughput
    perf_record.device_state = outcome.device_state(samples=calls)
    if perf_case.config.output.direct.record_output_shapes:
        perf_record.details["output_shapes"] = _shapes(runtime(batch.inputs[0]))
    perf_record.keep_samples = perf_case.config.output.direct.save_raw_samples

    # --benchmark-cprofile: a few more calls under cProfile, after the timed samples.
    record_measurement(benchmark, m, profile_call=lambda: (runtime(batch.inputs[0]), device_sync()))
    benchmark.extra_info.update(perf_record.extra_info())
    # A median that is not established (too few samples before the time budget) is reported as n/e
    # with its reason in stats.not_established and the case flagged, not failed.
    assert m.rounds >= 1 and min(m.samples_s) > 0
