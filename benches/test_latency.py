"""Latency and throughput of one forward pass per case (direct-inference stage).

pytest-benchmark times exactly the model call: inputs are prepared and on the device before the
first round, the call ends with a device synchronize (a no-op on CPU), and warm-up rounds are not
timed. Stats stay pytest-benchmark's; perfsuite's metrics go into extra_info.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.pinning import threads_in_force

pytestmark = pytest.mark.perf_stage("direct_inference")

EXTRA_SCHEMA_VERSION = 1


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
    device_sync: Callable[[], None],
) -> None:
    measure = perf_case.config.measure
    inputs = itertools.cycle(batch.inputs)

    def next_batch() -> tuple[tuple[Any], dict[str, Any]]:
        return (next(inputs),), {}

    def call(x: dict[str, Any]) -> Any:
        out = runtime(x)
        device_sync()
        return out

    # The first call on fresh weights is recorded on its own: it is not a steady-state sample.
    start = time.perf_counter()
    first_output = call(batch.inputs[0])
    first_call_s = time.perf_counter() - start

    benchmark.pedantic(call, setup=next_batch, rounds=measure.rounds, warmup_rounds=measure.warmup_rounds, iterations=1)

    model_info = built_model.model.info()
    extra: dict[str, Any] = {
        "schema_version": EXTRA_SCHEMA_VERSION,
        "case": perf_case.describe(),
        "model": model_info.as_dict(),
        "runtime": runtime.describe(),
        "data": {"origin": batch.origin, "truncated_samples": batch.truncated_samples, "tokens_per_batch": batch.tokens_per_batch},
        "clock": "time.perf_counter + torch.cuda.synchronize" if perf_case.device.startswith("cuda") else "time.perf_counter (synchronous CPU)",
        "timing": {"rounds": measure.rounds, "warmup_rounds": measure.warmup_rounds, "iterations": 1, "prepared_batches": len(batch.inputs)},
        "threads": threads_in_force(),
        "load_s": built_model.load_s,
        "first_call_s": first_call_s,
    }
    if perf_case.config.raw.get("output", {}).get("direct", {}).get("record_output_shapes", True):
        extra["output_shapes"] = _shapes(first_output)
    stats = getattr(benchmark.stats, "stats", None)
    if stats is not None and stats.median > 0:
        extra["throughput"] = {
            "samples_per_s": batch.batch_size / stats.median,
            "tokens_per_s": batch.tokens_per_batch / stats.median if batch.tokens_per_batch else None,
            "basis": "median round",
        }
    benchmark.extra_info.update(extra)
    assert stats is None or stats.rounds == measure.rounds
