"""Per-layer time (layer_timing stage): forward hooks on every module, in forwards of its own.

A separate test from the timed ones: the hooks never run inside timed rounds. Select it with
`--perf-override pipeline=deep_profile` (or a pipeline listing layer_timing). Writes
tables/<case>.layers.csv (module, type, depth, calls, time_s, share, params, flops); the top
`profiling.layers.top_n` modules and the hooks' overhead go into the case's result.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.errors import PerfProfileError
from perfsuite.profile.layers import time_layers
from perfsuite.profile.nvtx import phase_ranges
from perfsuite.results.case import CaseDraft
from perfsuite.results.deep import LayerSummary
from perfsuite.runtimes.parity import require_parity

pytestmark = pytest.mark.perf_stage("layer_timing")


def test_layers(
    perf_case: Case, perf_session_state: Any, built_model: Any, runtime: Any, parity: Any, batch: Any, device_sync: Any, perf_record: CaseDraft
) -> None:
    perf_record.kind = "profile"
    require_parity(parity, perf_case.id)
    spec = perf_case.config.profiling.layers
    if not spec.enabled:
        pytest.skip("profiling.layers.enabled is false")
    inputs = batch.inputs[0]
    model = built_model.model
    if perf_case.runtime.backend == "pytorch":
        call = lambda: runtime(inputs)  # noqa: E731 - the eager runtime calls the module: its hooks fire
    else:  # compiled / exported runtimes run no module forward a hook could see: time the eager model
        call = lambda: model.forward(inputs)  # noqa: E731
        perf_record.details["layers_of"] = f"the eager model (runtime {perf_case.runtime.name} runs no per-module forward)"
    try:
        with phase_ranges(perf_case.device)("layers"):
            timing = time_layers(
                model.module, call, out_dir=perf_session_state.run_dir, name=perf_case.id,
                passes=spec.passes, warmup=spec.warmup, sync=device_sync, count_flops=spec.count_flops,
            )
    except PerfProfileError as exc:
        pytest.fail(f"{perf_case.id}: layer pass failed: {exc}", pytrace=False)
    perf_record.layers = LayerSummary.of(timing, spec.top_n)
    assert timing.table_path.is_file() and timing.rows and timing.rows[0].module == ""
