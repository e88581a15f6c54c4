"""The parity check: comparing nested outputs against the eager fp32 reference, and its typed record."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.config.schema import Tolerance
from perfsuite.errors import PerfDataError
from perfsuite.results.case import CaseResult
from perfsuite.results.reading import Doc
from perfsuite.runtimes.parity import ParityResult, compare_outputs, named_tensors, relative_floor, require_parity

TOL = Tolerance(atol=1e-3, rtol=1e-2)


def model_output(**tensors):
    """A transformers ModelOutput: an OrderedDict of its non-None fields (what HF models return)."""
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    return BaseModelOutputWithPooling(**tensors)


def test_nested_outputs_are_named_and_compared_by_name():
    ref = torch.randn(2, 4, 8)
    pooled = torch.randn(2, 8)
    out = model_output(last_hidden_state=ref.clone(), pooler_output=pooled + 0.5)  # the pooled output is wrong
    result = compare_outputs(out, {"last_hidden_state": ref, "pooler_output": pooled}, TOL, precision="fp32")
    assert not result.passed and result.checked
    assert result.output == "pooler_output" and result.compared == ("last_hidden_state", "pooler_output")
    assert result.max_abs == pytest.approx(0.5, abs=1e-6)
    assert named_tensors(({"a": ref}, [pooled, None])).keys() == {"0.a", "1.0"}


def test_unnamed_outputs_fall_back_to_the_primary_tensor():
    logits = torch.randn(3, 5)
    result = compare_outputs((logits + 1e-5, torch.zeros(1)), OrderedDict(logits=logits, hidden=torch.ones(2)), TOL)
    assert result.passed and result.output == "0 (vs reference logits)"
    numpy_out = compare_outputs([logits.numpy() * 2], {"logits": logits}, TOL)  # an ONNX Runtime session returns numpy arrays
    assert not numpy_out.passed and numpy_out.max_abs == pytest.approx(float(logits.abs().max()), rel=1e-5)


def test_structural_failures_say_what_is_wrong():
    ref = {"logits": torch.ones(2, 3)}
    shape = compare_outputs({"logits": torch.ones(3, 2)}, ref, TOL)
    assert not shape.passed and "shape (3, 2) but the reference has (2, 3)" in shape.reason and shape.max_abs is None
    nan = compare_outputs({"logits": torch.tensor([[1.0, float("nan"), 1.0], [1.0, 1.0, float("inf")]])}, ref, TOL)
    assert not nan.passed and "2 non-finite value(s)" in nan.reason
    empty = compare_outputs(None, ref, TOL)
    assert not empty.passed and empty.reason == "the runtime returned no tensor"


def test_positions_where_the_reference_is_not_finite_are_skipped():
    ref = torch.tensor([1.0, float("-inf"), 2.0])
    assert compare_outputs(torch.tensor([1.0, 0.0, 2.0]), ref, TOL).passed


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=1, max_size=24),
    noise=st.lists(st.floats(-0.5, 0.5, allow_nan=False, width=32), min_size=24, max_size=24),
    atol=st.sampled_from([0.0, 1e-3, 0.05]),
    rtol=st.sampled_from([0.0, 1e-3, 0.01]),
)
def test_the_verdict_is_torch_allclose(values, noise, atol, rtol):
    ref = torch.tensor(values, dtype=torch.float32)
    out = ref + torch.tensor(noise[: len(values)], dtype=torch.float32) * ref.abs().clamp(min=0.1) * 0.05
    result = compare_outputs(out, ref, Tolerance(atol, rtol))
    assert result.passed == torch.allclose(out, ref, atol=atol, rtol=rtol)
    assert result.max_abs == pytest.approx(float((out - ref).abs().max()), abs=1e-6)
    large = ref.abs() >= relative_floor(Tolerance(atol, rtol))
    if large.any():
        assert result.max_rel == pytest.approx(float(((out - ref).abs()[large] / ref.abs()[large]).max()), rel=1e-5)


def test_a_failure_message_names_output_errors_and_tolerance():
    result = compare_outputs({"logits": torch.tensor([1.0, 2.0])}, {"logits": torch.tensor([1.0, 2.5])}, Tolerance(0.1, 0.05), precision="bf16")
    text = result.message("gpt2.tiny-pydoc-x-bs1-cpu")
    for part in ("gpt2.tiny-pydoc-x-bs1-cpu", "eager fp32", "'logits'", "max abs error 0.5", "max rel error 0.2", "atol 0.1, rtol 0.05 (bf16)", "not timed", "tolerances.bf16"):
        assert part in text, text
    with pytest.raises(pytest.fail.Exception, match="max abs error 0.5"):
        require_parity(result, "case")
    require_parity(ParityResult(checked=False, passed=True, reason="reference"), "case")  # passes silently


def _result_doc(parity: dict | None) -> dict:
    from perfsuite.results.case import CaseInfo

    info = CaseInfo(id="c", model="m", model_family="f", modality="text", dataset="d", runtime="r", batch_size=1, device="cpu", precision="bf16", seed=0, precision_mode="autocast")
    doc = CaseResult(test="test_latency", kind="latency", case=info, outcome="failed", finished="2026-01-01T00:00:00").to_dict()
    doc["parity"] = parity
    return doc


def test_the_parity_section_round_trips_through_results_json_and_is_checked():
    parity = compare_outputs({"logits": torch.ones(2)}, {"logits": torch.zeros(2)}, TOL, precision="bf16")
    doc = json.loads(json.dumps(_result_doc(parity.to_dict())))
    back = CaseResult.from_doc(Doc.root(doc, "results.json"))
    assert back.parity == parity and back.case.precision_mode == "autocast"
    assert CaseResult.from_doc(Doc.root(_result_doc(None), "results.json")).parity is None
    bad = _result_doc({**parity.to_dict(), "max_abs": "big"})
    with pytest.raises(PerfDataError, match=r"parity\.max_abs"):
        CaseResult.from_doc(Doc.root(bad, "results.json"))
    missing = _result_doc({k: v for k, v in parity.to_dict().items() if k != "passed"})
    with pytest.raises(PerfDataError, match=r"parity\.passed"):
        CaseResult.from_doc(Doc.root(missing, "results.json"))
