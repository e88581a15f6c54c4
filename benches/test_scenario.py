"""A load scenario over each case's runtime (conf/scenario/; docs/scenarios.md): collected only when one is selected.

    pytest benches --perf-override scenario=server --perf-override scenario.rate=200

`perf.serve` warms up every batch size, measures the capacity (full batches back to back), then
runs the scenario: single_stream, offline, server (seeded arrivals, dynamic batcher up to the
case's batch size) or sweep (the highest rate meeting the SLO). Per-request latency split into
queueing and service, achieved vs offered rate, goodput and SLO attainment, batch sizes, the
over-saturation verdict; decoders also TTFT and TPOT. Case ids end in the scenario's name.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = [pytest.mark.perf_stage("direct_inference"), pytest.mark.perf_scenario]


def test_scenario(perf: Perf, model: Any, runtime: Any, batch: Any) -> None:
    s = perf.serve(runtime, batch, model=model)
    assert s is None or s.completed > 0 or s.sweep is not None
