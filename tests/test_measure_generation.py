"""Generation metrics: a scripted fake model (exact numbers) and a tiny random GPT-2 (real generate)."""

from __future__ import annotations

import json

import pytest

from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.measure import measure_generation, time_generation
from perfsuite.measure.fakes import FakeTimer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


class ScriptedGenerator:
    """Calls the streamer like transformers does: prompt first, then one put per step."""

    def __init__(self, timer, prefill_s, step_s, stop_after=None):
        self.timer, self.prefill_s, self.step_s, self.stop_after = timer, prefill_s, step_s, stop_after
        self.generation_config = transformers.GenerationConfig(eos_token_id=7)
        self.kwargs = None

    def generate(self, *, input_ids, streamer, max_new_tokens, **kwargs):
        self.kwargs = {"max_new_tokens": max_new_tokens, **kwargs}
        streamer.put(input_ids)
        steps = max_new_tokens if self.stop_after is None else self.stop_after
        for i in range(steps):
            self.timer.advance(self.prefill_s if i == 0 else self.step_s)
            streamer.put(torch.zeros(input_ids.shape[0], dtype=torch.long))
        self.timer.advance(0.001)
        streamer.end()


def test_metrics_from_scripted_token_times():
    timer = FakeTimer()
    model = ScriptedGenerator(timer, prefill_s=0.050, step_s=0.010)
    ids = torch.zeros((2, 12), dtype=torch.long)
    syncs = []
    t = time_generation(model, {"input_ids": ids}, max_new_tokens=5, sync=lambda: syncs.append(1), timer=timer)
    assert t.ttft_s == pytest.approx(0.050)
    assert t.token_times_s == pytest.approx((0.05, 0.06, 0.07, 0.08, 0.09))
    assert t.inter_token_s == pytest.approx((0.01,) * 4)
    assert t.tpot_s == pytest.approx(0.010)
    assert t.decode_tokens_per_s == pytest.approx(2 * 4 / 0.04)
    assert t.e2e_s == pytest.approx(0.091)
    assert (t.batch_size, t.prompt_tokens, t.new_tokens) == (2, 12, 5)
    assert len(syncs) == 1 + 1 + 5 + 1  # before, prompt put, each token, after
    assert model.kwargs["do_sample"] is False and model.kwargs["num_beams"] == 1
    assert model.kwargs["min_new_tokens"] == model.kwargs["max_new_tokens"] == 5
    assert model.kwargs["pad_token_id"] == 7  # falls back to eos


def test_early_stop_is_an_error_not_a_short_measurement():
    timer = FakeTimer()
    model = ScriptedGenerator(timer, 0.05, 0.01, stop_after=3)
    with pytest.raises(PerfDataError, match="produced 3 decoding steps, expected max_new_tokens=5"):
        time_generation(model, {"input_ids": torch.zeros((1, 4), dtype=torch.long)}, max_new_tokens=5, timer=timer)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_max_new_tokens_is_validated(bad):
    with pytest.raises(PerfConfigError, match="max_new_tokens"):
        time_generation(object(), {"input_ids": None}, max_new_tokens=bad)


def test_single_token_has_ttft_but_no_tpot():
    timer = FakeTimer()
    t = time_generation(ScriptedGenerator(timer, 0.05, 0.01), {"input_ids": torch.zeros((1, 4), dtype=torch.long)},
                        max_new_tokens=1, timer=timer)
    assert t.ttft_s == pytest.approx(0.05) and t.tpot_s is None and t.decode_tokens_per_s is None


@pytest.fixture(scope="module")
def tiny_gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=64, n_positions=128, vocab_size=1000, bos_token_id=999, eos_token_id=999
    )
    return transformers.GPT2LMHeadModel(cfg).eval()


def test_tiny_gpt2_generation_timing(tiny_gpt2):
    ids = torch.randint(0, 999, (2, 16))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    t = time_generation(tiny_gpt2, inputs, max_new_tokens=8)
    assert t.ttft_s > 0
    assert len(t.token_times_s) == 8 == t.new_tokens
    assert all(b >= a for a, b in zip(t.token_times_s, t.token_times_s[1:]))
    assert t.e2e_s >= t.token_times_s[-1]
    assert len(t.inter_token_s) == 7 and t.tpot_s > 0 and t.decode_tokens_per_s > 0
    assert (t.batch_size, t.prompt_tokens) == (2, 16)


def test_tiny_gpt2_measure_generation_summarises_runs(tiny_gpt2):
    ids = torch.randint(0, 999, (1, 8))
    g = measure_generation(tiny_gpt2, {"input_ids": ids}, max_new_tokens=6, runs=11, warmup_runs=1)
    assert len(g.runs) == 11 and g.ttft.n == 11 and g.inter_token.n == 11 * 5
    assert g.ttft.p50_s is not None and g.ttft.p50_s > 0  # 11 runs establish the median
    assert g.e2e.min_s >= g.ttft.min_s
    info = g.to_extra_info()
    assert json.loads(json.dumps(info)) == info
    assert info["new_tokens"] == 6 and len(info["runs"]) == 11


def test_measure_generation_validates_runs(tiny_gpt2):
    with pytest.raises(PerfConfigError, match="generation.runs"):
        measure_generation(tiny_gpt2, {"input_ids": torch.zeros((1, 4), dtype=torch.long)}, max_new_tokens=2, runs=0)
