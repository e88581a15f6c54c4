"""Greedy-token parity of decoders (perfsuite.runtimes.token_parity): the match length against eager fp32."""

from __future__ import annotations

import pytest

from perfsuite.runtimes.token_parity import common_prefix, compare_tokens, token_parity


def test_common_prefix_stops_at_the_first_difference() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([5], [6]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def test_the_match_is_the_shortest_row_and_exactness_decides_the_outcome() -> None:
    exact = compare_tokens([[1, 2, 3, 4], [1, 9, 9, 9]], [[1, 2, 3, 4], [1, 2, 3, 4]], tokens=4, exact_required=True)
    assert (exact.match, exact.rows, exact.passed) == (1, (4, 1), False)
    assert "after 1 of 4" in exact.message("case-x") and "exact_tokens" in exact.message("case-x")
    reported = compare_tokens([[1, 9]], [[1, 2]], tokens=2, exact_required=False)
    assert (reported.match, reported.passed) == (1, True)
    assert compare_tokens([[1, 2]], [[1, 2]], tokens=2, exact_required=True).passed
    with pytest.raises(ValueError, match="rows"):
        compare_tokens([[1]], [[1], [2]], tokens=1, exact_required=True)


def test_a_model_matches_itself_and_a_perturbed_copy_is_measured() -> None:
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                      vocab_size=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = LlamaForCausalLM(cfg).eval()
    inputs = {"input_ids": torch.randint(3, 64, (2, 5)), "attention_mask": torch.ones(2, 5, dtype=torch.long)}
    same = token_parity(model, model, inputs, tokens=6, exact_required=True)
    assert same.match == 6 and same.passed
    other = LlamaForCausalLM(cfg).eval()  # different random weights: its greedy tokens follow their own argmax
    differ = token_parity(other, model, inputs, tokens=6, exact_required=True)
    assert differ.match < 6 and not differ.passed and differ.to_dict()["rows"] == list(differ.rows)


def test_mixed_prompt_lengths_run_evenly_down_and_cut_rows_on_the_right() -> None:
    from perfsuite.models.base import row_lengths
    from perfsuite.models.tokenize import pad_batch

    assert row_lengths(4, 512, 0.0) == [512] * 4 and row_lengths(1, 512, 0.5) == [512]
    assert row_lengths(4, 512, 0.5) == [512, 427, 341, 256]
    batch = pad_batch([[5] * 10, [6] * 10, [7] * 3], 8, 0, lengths=[8, 4, 8])
    assert batch.input_ids == [[5] * 8, [6] * 4 + [0] * 4, [7] * 3 + [0] * 5]
    assert batch.attention_mask[1] == [1] * 4 + [0] * 4 and batch.real_tokens == 15 and batch.truncated == 2


def test_prompt_spread_is_an_id_suffix_and_validated() -> None:
    from perfsuite.config.plan import build_plan
    from perfsuite.errors import PerfConfigError

    plan = build_plan(suite="smoke", overrides=["model=llama.tiny", "dataset=pydoc", "infer.prompt_spread=0.5", "infer.batch_sizes=[4]"])
    assert [c.id for c in plan.cases] == ["llama.tiny-pydoc-eager-bs4-mix50-cpu"]
    with pytest.raises(PerfConfigError, match="prompt_spread"):
        build_plan(suite="smoke", overrides=["model=llama.tiny", "dataset=pydoc", "infer.prompt_spread=0.95"])


@pytest.mark.parametrize(("override", "key", "says"), [
    ("infer.kv_cache=paged", "infer.kv_cache", "unknown value"),
    ("inference_runtime.parity.tokens=-1", "inference_runtime.parity.tokens", ""),
    ("inference_runtime.parity.exact_tokens=[fp8]", "inference_runtime.parity.exact_tokens[0]", "unknown precision"),
    ("+model.hub_id=someone/model", "model.hub_id", "only a causal_lm model loads by hub id"),
])
def test_bad_decoder_options_are_one_clear_config_error(override: str, key: str, says: str) -> None:
    from perfsuite.config.plan import build_plan
    from perfsuite.errors import PerfConfigError

    with pytest.raises(PerfConfigError) as err:
        build_plan(suite="smoke", overrides=["model=bert.tiny" if "hub_id" in override else "model=llama.tiny", "dataset=pydoc", override])
    assert key in str(err.value) and says in str(err.value)
