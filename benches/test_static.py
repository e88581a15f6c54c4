"""Static analysis stage: parameters, weight bytes and FLOPs per call of each case (nothing timed)."""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.profile.static import analyze
from perfsuite.results.case import CaseDraft, StaticSummary

pytestmark = pytest.mark.perf_stage("static_analysis")


def test_static(perf_case: Case, built_model: Any, batch: Any, perf_record: CaseDraft) -> None:
    """FLOPs are counted on the model's own forward, whatever the case's runtime: a compiled or
    exported runtime runs the same model, and ONNX Runtime runs no torch op a counter could see."""
    perf_record.kind = "static"
    inputs = batch.inputs[0]
    model = built_model.model
    result = analyze(model.module, lambda: model.forward(inputs))
    perf_record.static = StaticSummary.of(result)
    assert result["params"] == built_model.model.info().params
    assert result["flops_per_call"] > 0
