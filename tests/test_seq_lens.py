"""The prompt-length axis `infer.seq_lens` and the suite's per-model `datasets:` (issue 25)."""

from __future__ import annotations

from collections import Counter

import pytest

from perfsuite.config import build_plan
from perfsuite.errors import PerfConfigError
from perfsuite.results.case import CaseInfo

SUITE = """
name: lens
description: a prompt-length axis
models: [{model: llama.tiny, infer: llama.default}]
datasets: [pydoc]
runtimes: [pytorch]
"""


def _plan(conf_dir, *overrides: str, suite: str = SUITE):
    conf = conf_dir({"suite/lens.yaml": suite})
    return build_plan(suite="lens", conf_dirs=[conf], overrides=list(overrides))


def _error(conf_dir, *overrides: str, suite: str = SUITE) -> str:
    with pytest.raises(PerfConfigError) as info:
        _plan(conf_dir, *overrides, suite=suite)
    return str(info.value)


def test_each_length_is_a_case_with_its_own_id(conf_dir) -> None:
    plan = _plan(conf_dir, "+infer.seq_lens=[64,256]", "infer.batch_sizes=[1,4]")
    assert [c.id for c in plan.cases] == [
        "llama.tiny-pydoc-eager-bs1-s64-cpu", "llama.tiny-pydoc-eager-bs1-s256-cpu",
        "llama.tiny-pydoc-eager-bs4-s64-cpu", "llama.tiny-pydoc-eager-bs4-s256-cpu",
    ]
    assert [c.config.infer.seq_len for c in plan.cases] == [64, 256, 64, 256]


def test_without_the_axis_ids_carry_no_length(conf_dir) -> None:
    plan = _plan(conf_dir)
    assert plan.cases and all("-s" not in c.id.split("eager")[1] for c in plan.cases)


def test_repeated_lengths_count_once(conf_dir) -> None:
    plan = _plan(conf_dir, "+infer.seq_lens=[64,64,128]", "infer.batch_sizes=[1]")
    assert [c.id for c in plan.cases] == ["llama.tiny-pydoc-eager-bs1-s64-cpu", "llama.tiny-pydoc-eager-bs1-s128-cpu"]


def test_the_batch_sweep_groups_per_length(conf_dir) -> None:
    plan = _plan(conf_dir, "+infer.seq_lens=[64,256]", "infer.batch_sizes=[1,2,4]")
    groups = Counter(CaseInfo.of(c).group for c in plan.cases)
    assert groups == {"llama.tiny-pydoc-eager-s64-cpu": 3, "llama.tiny-pydoc-eager-s256-cpu": 3}
    plain = _plan(conf_dir, "infer.batch_sizes=[1,2]")
    assert {CaseInfo.of(c).group for c in plain.cases} == {"llama.tiny-pydoc-eager-cpu"}


def test_a_length_beyond_the_context_is_refused(conf_dir) -> None:
    err = _error(conf_dir, "+infer.seq_lens=[64,4096]")
    assert "infer.seq_lens" in err and "longer than model llama.tiny accepts (2048 positions)" in err and "4096" in err


def test_a_length_plus_the_new_tokens_beyond_the_context_is_refused(conf_dir) -> None:
    err = _error(conf_dir, "+infer.seq_lens=[64,2040]")
    assert "infer.max_new_tokens" in err and "seq_len 2040 + max_new_tokens 16" in err and "0..8" in err
    assert "lower infer.max_new_tokens or infer.seq_lens" in err
    err = _error(conf_dir, "infer.seq_len=2048")
    assert "seq_len 2048 + max_new_tokens 16" in err and "seq_len already fills every position" in err
    assert _plan(conf_dir, "+infer.seq_lens=[2032]").cases  # exactly full: fine


def test_an_image_model_has_no_length_axis(conf_dir) -> None:
    suite = SUITE.replace("{model: llama.tiny, infer: llama.default}", "resnet50.tiny").replace("[pydoc]", "[sample_images]")
    err = _error(conf_dir, "+infer.seq_lens=[64]", suite=suite)
    assert "infer.seq_lens" in err and "no sequence length axis" in err


PAIRED = """
name: lens
description: per-model datasets
models: [gpt2.tiny, {model: llama.tiny, datasets: [pydoc]}]
datasets: [pydoc, synthetic]
runtimes: [pytorch]
batch_sizes: [1]
"""


def test_a_suite_pairs_a_model_with_some_datasets(conf_dir) -> None:
    pairs = {(c.model.id, c.dataset.name) for c in _plan(conf_dir, suite=PAIRED).cases}
    assert pairs == {("gpt2.tiny", "pydoc"), ("gpt2.tiny", "synthetic"), ("llama.tiny", "pydoc")}
    # a dataset chosen on the command line lifts the pairing
    lifted = {(c.model.id, c.dataset.name) for c in _plan(conf_dir, "dataset=synthetic", suite=PAIRED).cases}
    assert lifted == {("gpt2.tiny", "synthetic"), ("llama.tiny", "synthetic")}


def test_a_paired_dataset_the_suite_does_not_run_is_an_error(conf_dir) -> None:
    err = _error(conf_dir, suite=PAIRED.replace("datasets: [pydoc]}", "datasets: [chat_prompts]}"))
    assert "suite.models[1]" in err and "model llama.tiny lists dataset 'chat_prompts', which the suite does not run" in err
    assert "pydoc" in err and "synthetic" in err  # the allowed names


def test_a_named_infer_preset_keeps_its_batch_sizes(conf_dir) -> None:
    suite = SUITE + "batch_sizes: [2]\n"
    assert {c.batch_size for c in _plan(conf_dir, suite=suite).cases} == {1, 4}  # llama.default's, not the suite's
    unnamed = suite.replace("{model: llama.tiny, infer: llama.default}", "llama.tiny")
    assert {c.batch_size for c in _plan(conf_dir, suite=unnamed).cases} == {2}
