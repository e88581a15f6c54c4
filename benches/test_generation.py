"""Generation metrics of decoder models: TTFT (prefill), TPOT / inter-token latency, decode tokens/s.

Greedy `generate` with min_new_tokens == max_new_tokens, so every run decodes exactly
`infer.max_new_tokens` tokens (or, with `infer.output_lens`, one case per output length, ids ending in -o<n>). Each token is timestamped after a device synchronize. One
pytest-benchmark round = one end-to-end generate call.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = [pytest.mark.perf_stage("direct_inference"), pytest.mark.perf_generation]


def test_generation(perf: Perf, model: Any, batch: Any) -> None:
    g = perf.generate(model, batch)
    assert g is None or (g.n_runs == perf.case.config.measure.generation_runs and g.new_tokens == perf.case.max_new_tokens)
