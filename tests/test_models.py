"""Model adapters build from config (no download), feed fixed shapes, and describe themselves."""

from __future__ import annotations

import json

import pytest

from perfsuite.config import build_plan
from perfsuite.errors import PerfDataError
from perfsuite.models.base import build_model

torch = pytest.importorskip("torch")


def first_case(*overrides, **kw):
    return build_plan(overrides=list(overrides), **kw).cases[0]


@pytest.mark.parametrize("model_id", ["gpt2.tiny", "bert.tiny", "distilbert.tiny"])
def test_text_models_forward(model_id):
    case = first_case(f"model={model_id}", "infer.seq_len=16")
    m = build_model(case.model, precision="fp32", device="cpu", seed=0)
    inputs = m.prepare_input(["some english text " * 20, "short"], seq_len=16)
    assert inputs["input_ids"].shape == (2, 16) and m.last_truncated == 1
    with torch.inference_mode():
        out = m.forward(inputs)
    hidden = getattr(out, "logits", None)
    hidden = hidden if hidden is not None else out.last_hidden_state
    assert hidden.shape[:2] == (2, 16)
    info = m.info()
    assert info.params > 0 and info.dtype == "float32" and info.tokenizer == "hash" and not m.module.training


def test_random_init_is_seeded():
    case = first_case("model=bert.tiny")
    a = build_model(case.model, precision="fp32", device="cpu", seed=3)
    b = build_model(case.model, precision="fp32", device="cpu", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.module.parameters(), b.module.parameters()))


def test_resnet_forward_and_bf16():
    case = first_case("model=resnet50.tiny", "infer.precision=bf16")
    m = build_model(case.model, precision="bf16", device="cpu", seed=0)
    import numpy as np

    inputs = m.prepare_input([np.zeros((80, 90, 3), np.uint8)], seq_len=0)
    assert inputs["pixel_values"].shape == (1, 3, 64, 64) and inputs["pixel_values"].dtype == torch.bfloat16
    with torch.inference_mode():
        assert m.forward(inputs).logits.shape == (1, 1000)
    assert m.info().dtype == "bfloat16"


def test_minilm_real_weights_and_tokenizer():
    case = first_case("model=minilm", "infer.seq_len=8")
    m = build_model(case.model, precision="fp32", device="cpu", seed=0)
    assert m.info().tokenizer and m.info().tokenizer != "hash" and m.info().params > 20_000_000
    inputs = m.prepare_input(["The quick brown fox jumps over the lazy dog again and again"], seq_len=8)
    assert inputs["input_ids"][0, 0].item() == 101  # [CLS] from the real vocab
    with torch.inference_mode():
        assert m.forward(inputs).last_hidden_state.shape == (1, 8, 384)


def test_local_snapshot_roundtrip(tmp_path):
    from transformers import GPT2Config, GPT2Model

    snap = tmp_path / "models" / "g"
    GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64, vocab_size=100)).save_pretrained(snap)
    case = first_case("model=g", "infer.seq_len=10", models_dir=tmp_path / "models")
    m = build_model(case.model, precision="fp32", device="cpu", seed=0)
    assert m.info().weights == str(snap.resolve()) and m.info().tokenizer == "hash"
    with torch.inference_mode():
        out = m.forward(m.prepare_input(["hello there"], seq_len=10))
    assert out.last_hidden_state.shape == (1, 10, 32)


def test_a_snapshot_with_its_own_code_says_that_code_was_not_run_in_the_result_and_the_report(tmp_path):
    from transformers import GPT2Config, GPT2Model

    from perfsuite.report.charts import model_note
    from perfsuite.report.terminal import summary_lines
    from perfsuite.results import CaseInfo, CaseResult

    snap = tmp_path / "models" / "g"
    GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64, vocab_size=100)).save_pretrained(snap)
    config = json.loads((snap / "config.json").read_text())
    (snap / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling_fast.FastGPT2"}}))
    case = first_case("model=g", "infer.seq_len=10", models_dir=tmp_path / "models")
    note = build_model(case.model, precision="fp32", device="cpu", seed=0).info().note
    assert "own modelling code (auto_map: AutoModel -> modeling_fast.FastGPT2), which perfsuite never runs" in note
    assert "transformers' GPT2Model for model_type 'gpt2'" in note
    info = CaseInfo("g-pydoc-eager-bs1-cpu", "g", "local", "text", "pydoc", "eager", 1, "cpu", "fp32", 0)
    result = CaseResult("test_latency", "latency", info, "passed", "t", details={"model": {"note": note}})
    assert model_note(result) == f"model g: {note}"
    assert any(line.startswith("model g: the snapshot ships its own modelling code") for line in summary_lines([result]))
    plain = build_model(first_case("model=minilm", "infer.seq_len=8").model, precision="fp32", device="cpu", seed=0).info()
    assert plain.note is None  # a snapshot without auto_map: nothing to say


def test_local_snapshot_with_broken_weights(tmp_path):
    snap = tmp_path / "models" / "broken"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 10}))
    (snap / "model.safetensors").write_bytes(b"garbage")
    case = first_case("model=broken", "infer.seq_len=8", models_dir=tmp_path / "models")
    with pytest.raises(PerfDataError, match="cannot load the model snapshot"):
        build_model(case.model, precision="fp32", device="cpu", seed=0)
