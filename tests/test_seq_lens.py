"""The prompt-length axis `infer.seq_lens`, the output-length axis `infer.output_lens` and the suite's per-model
`datasets:` (issue 25)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.config import build_plan
from perfsuite.errors import PerfConfigError
from perfsuite.results import load_run
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


# -- the output-length axis (infer.output_lens) ----------------------------------------------------------


def test_each_output_length_is_a_generation_case_and_latency_cases_stay_one(conf_dir) -> None:
    plan = _plan(conf_dir, "+infer.output_lens=[8,32,8]", "infer.batch_sizes=[1]", "+infer.seq_lens=[64,128]")
    assert [c.id for c in plan.cases] == ["llama.tiny-pydoc-eager-bs1-s64-cpu", "llama.tiny-pydoc-eager-bs1-s128-cpu"]
    generation = [g for c in plan.cases if c.generates for g in c.with_output_lens()]
    assert [g.id for g in generation] == [
        "llama.tiny-pydoc-eager-bs1-s64-o8-cpu", "llama.tiny-pydoc-eager-bs1-s64-o32-cpu",
        "llama.tiny-pydoc-eager-bs1-s128-o8-cpu", "llama.tiny-pydoc-eager-bs1-s128-o32-cpu",
    ]
    assert [g.max_new_tokens for g in generation] == [8, 32, 8, 32]
    assert [CaseInfo.of(g).output_len for g in generation] == [8, 32, 8, 32] and CaseInfo.of(plan.cases[0]).output_len is None
    # without the axis a generation case is the suite case itself: infer.max_new_tokens, no -o in its id
    (plain,) = _plan(conf_dir, "infer.batch_sizes=[1]").cases
    assert plain.with_output_lens() == (plain,) and plain.max_new_tokens == 16 and "-o" not in plain.id


def test_the_batch_sweep_groups_per_output_length_and_kv_cache(conf_dir) -> None:
    plan = _plan(conf_dir, "+infer.output_lens=[4,8]", "infer.batch_sizes=[1,2]")
    groups = Counter(CaseInfo.of(g).group for c in plan.cases for g in c.with_output_lens())
    assert groups == {"llama.tiny-pydoc-eager-o4-cpu": 2, "llama.tiny-pydoc-eager-o8-cpu": 2}
    static = _plan(conf_dir, "infer.kv_cache=static", "infer.batch_sizes=[1,2]")
    assert {CaseInfo.of(c).group for c in static.cases} == {"llama.tiny-pydoc-eager-kvstatic-cpu"}


def test_an_output_length_beyond_the_context_is_refused(conf_dir) -> None:
    err = _error(conf_dir, "+infer.output_lens=[8,100]", "infer.seq_len=2000")
    assert "infer.output_lens" in err and "seq_len 2000 + output length 100 is longer than model llama.tiny accepts (2048 positions)" in err
    assert "1..48" in err and "lower infer.output_lens or infer.seq_len" in err
    assert _plan(conf_dir, "+infer.output_lens=[48]", "infer.seq_len=2000", "infer.max_new_tokens=0").cases  # exactly full: fine


@pytest.mark.parametrize(("value", "expect"), [
    ("[0,8]", "infer.output_lens[0]"),
    ("[]", "must not be empty"),
    ("[8,5000]", "infer.output_lens[1]"),
    ("sixteen", "infer.output_lens"),
], ids=["zero", "empty", "over-limit", "not-a-list"])
def test_bad_output_lengths_are_config_errors(conf_dir, value: str, expect: str) -> None:
    assert expect in _error(conf_dir, f"+infer.output_lens={value}")


def test_a_model_that_does_not_generate_has_no_output_axis(conf_dir) -> None:
    suite = SUITE.replace("{model: llama.tiny, infer: llama.default}", "bert.tiny")
    err = _error(conf_dir, "+infer.output_lens=[8]", suite=suite)
    assert "infer.output_lens" in err and "model bert.tiny does not generate" in err


def test_a_run_on_the_output_axis_as_a_user_types_it(pytester, conf_dir, tmp_path: Path) -> None:
    """One latency case, one generation case per output length, each decoding exactly its tokens, in results.json."""
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf_dir({})), "--perf-out-dir", str(tmp_path / "out"),
            "-k", "latency or generation"]
    result = pytester.runpytest_subprocess(*argv, *as_overrides([
        *FAST_POLICY, "measure.generation.runs=3", "model=llama.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", "infer.seq_len=16",
        "+infer.output_lens=[2,5]"]))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_latency?llama.tiny-pydoc-eager-bs1-cpu? *", "*test_generation?llama.tiny-pydoc-eager-bs1-o2-cpu? *",
                                 "*test_generation?llama.tiny-pydoc-eager-bs1-o5-cpu? *"], consecutive=False)
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    tokens = {r.case.id: r.generation.new_tokens for r in load_run(run_dir).cases if r.generation is not None}
    assert tokens == {"llama.tiny-pydoc-eager-bs1-o2-cpu": 2, "llama.tiny-pydoc-eager-bs1-o5-cpu": 5}
