"""Static analysis stage: parameters, weight bytes, FLOPs and bytes moved per call of each case, and
the device's roofs (datasheet peaks on a known GPU, measured ones on the CPU); nothing timed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.measure.roofs import device_peak
from perfsuite.profile.static import analyze
from perfsuite.results.case import CaseDraft, StaticSummary

pytestmark = pytest.mark.perf_stage("static_analysis")


def test_static(perf_case: Case, perf_session_state: Any, built_model: Any, batch: Any, perf_record: CaseDraft) -> None:
    """FLOPs are counted on the model's own forward, whatever the case's runtime: a compiled or
    exported runtime runs the same model, and ONNX Runtime runs no torch op a counter could see."""
    perf_record.kind = "static"
    inputs = batch.inputs[0]
    model = built_model.model
    result = analyze(model.module, lambda: model.forward(inputs))
    run_dir = perf_session_state.run_dir
    try:
        env = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        env = {}
    cpu = env.get("cpu") if isinstance(env.get("cpu"), dict) else {}
    peak = device_peak(perf_case.device, perf_case.precision, out_dir=perf_session_state.out_dir,
                       machine_id=env.get("machine_id"), cpu_name=str(cpu.get("model") or "cpu"))
    perf_record.static = StaticSummary.of({**result, "peak": peak.to_dict()})
    assert result["params"] == built_model.model.info().params
    assert result["flops_per_call"] > 0
