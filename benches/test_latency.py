"""Latency, throughput and memory of one forward pass per case of the suite (direct-inference stage).

`perf.measure` times the prepared runtime with perfsuite's engine (warm-up until the median
settles, adaptive stopping on the CI of the median, device-synchronized clocks, a memory pass
after the timed rounds); each sample becomes a pytest-benchmark round. The parity check, compile
or export time and the model's load time come from the fixtures this test takes.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("direct_inference")


def test_latency(perf: Perf, runtime: Any, batch: Any) -> None:
    m = perf.measure(runtime, batch)
    # A median that is not established (too few samples before the time budget) is reported as n/e
    # with its reason in stats.not_established and the case flagged, not failed.
    assert m is None or (m.rounds >= 1 and min(m.samples_s) > 0)
