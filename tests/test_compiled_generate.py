"""torch.compile of generate (issue 25): a compile runtime's generation cases run transformers' compiled
decoding step (static KV cache), compiled before timing with its cold and warm times recorded, and their
greedy tokens checked against eager fp32's. Dynamo's `eager` backend keeps these tests free of C++ builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.config import build_plan
from perfsuite.config.schema import CompileOptions
from perfsuite.results import load_run
from perfsuite.runtimes.base import RuntimeUnavailable
from perfsuite.runtimes.compiled import NO_COMPILE_CONFIG, generate_compile_kwargs

COMPILE_FAST = "name: compile_fast\nbackend: compile\ncompile:\n  backend: eager\n  cold_start: true\n"


def test_the_kwargs_compile_the_decoding_step_on_every_device() -> None:
    kwargs = generate_compile_kwargs(CompileOptions(backend="eager", mode="max-autotune", fullgraph=True))
    config = kwargs["compile_config"]
    assert kwargs["cache_implementation"] == "static"  # one graph for every decoding step
    assert config._compile_all_devices is True and config.backend == "eager" and config.fullgraph is True
    assert config.mode is None  # a mode is inductor's only
    assert generate_compile_kwargs(CompileOptions())["compile_config"].mode == "default"


def test_a_transformers_without_compiled_generate_skips_with_the_reason(monkeypatch) -> None:
    import transformers

    class Old:  # a CompileConfig from before compile on every device
        def __init__(self, **_: object) -> None:
            pass

    monkeypatch.setattr(transformers, "CompileConfig", Old)
    with pytest.raises(RuntimeUnavailable) as info:
        generate_compile_kwargs(None)
    assert str(info.value) == NO_COMPILE_CONFIG and "upgrade" in NO_COMPILE_CONFIG


def test_compile_cases_of_a_decoder_generate(conf_dir) -> None:
    plan = build_plan(overrides=["model=llama.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", "inference_runtime=[pytorch,compile]"],
                      conf_dirs=[conf_dir({})])
    assert {c.runtime.name for c in plan.cases if c.generates} == {"eager", "compile"}


def test_a_compiled_generation_run_as_a_user_types_it(pytester, conf_dir, tmp_path: Path) -> None:
    conf = conf_dir({"inference_runtime/compile_fast.yaml": COMPILE_FAST})
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(tmp_path / "out"),
            "-k", "generation"]
    result = pytester.runpytest_subprocess(*argv, *as_overrides([
        *FAST_POLICY, "measure.generation.runs=11", "model=llama.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", "infer.seq_len=16",
        "infer.max_new_tokens=6", "inference_runtime=[pytorch,compile_fast]"]))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "generation runtimes vs eager: speed-up = eager e2e p50 / this e2e p50 (whole generate calls)*",
        "llama.tiny-pydoc-bs1 * eager * fp32 * 1.00x (ref) * reference*",
        "llama.tiny-pydoc-bs1 * compile_fast * fp32 * *x * *s * *s * cold * 16/16 tokens * 1 graph(s), 0 break(s), 0 recompile(s)",
    ], consecutive=False)
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    by_runtime = {r.case.runtime: r for r in load_run(run_dir).cases}
    compiled = by_runtime["compile_fast"]
    setup = compiled.runtime_setup
    assert setup.backend == "compile" and setup.cache == "cold" and setup.cold_s > 0 and setup.warm_s > 0 and setup.graph_breaks == 0
    assert setup.artifact_dir.startswith(str(tmp_path / "out" / "cache" / "compile")) and "prefill eager" in setup.notes[0]
    assert compiled.details["token_parity"] == {"tokens": 16, "match": 16, "rows": [16], "exact_required": True, "reference": "eager fp32",
                                                "passed": True}
    assert compiled.generation.new_tokens == 6 and compiled.generation.e2e.p50_s > 0 and by_runtime["eager"].runtime_setup is None
