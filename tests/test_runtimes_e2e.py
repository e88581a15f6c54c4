"""The compiled and exported runtimes the way a user runs them: `pytest benches` in a subprocess.

One suite, tiny BERT at batch size 1: eager, torch.compile (dynamo's `eager` backend, so no C++
build), ONNX Runtime, and an ONNX preset whose model file does not exist. The broken case fails
(an error: its runtime fixture failed) with its reason; the others pass the parity check against
eager fp32 (made on the prepared runtime) and are timed; the summary puts them side by side with
speed-ups vs eager.
"""

from __future__ import annotations

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.results import load_run

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'perfsuite[onnx]'")

SUITE = """
name: rt
description: eager vs compiled vs exported
models: [bert.tiny]
datasets: [pydoc]
runtimes: [pytorch, compile_fast, onnxruntime, onnx_broken]
batch_sizes: [1]
overrides: [infer.seq_len=32, infer.num_batches=2]
"""
COMPILE_FAST = "name: compile_fast\nbackend: compile\ncompile:\n  backend: eager\n  cold_start: false\n"
ONNX_BROKEN = "name: onnx_broken\nbackend: onnxruntime\nonnxruntime:\n  model_file: /nowhere/model.onnx\n"


def test_runtimes_side_by_side_and_a_broken_one_fails_alone(pytester: pytest.Pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/rt.yaml": SUITE, "inference_runtime/compile_fast.yaml": COMPILE_FAST, "inference_runtime/onnx_broken.yaml": ONNX_BROKEN})
    out = tmp_path / "out"
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out), "--perf-suite", "rt"]
    result = pytester.runpytest_subprocess(*argv, *as_overrides(FAST_POLICY))
    result.assert_outcomes(passed=3, errors=1)  # a fixture that fails: pytest reports an error
    result.stdout.fnmatch_lines(["*bert.tiny-pydoc-onnx_broken-bs1-cpu: onnxruntime.model_file /nowhere/model.onnx does not exist*"])
    result.stdout.fnmatch_lines(
        [
            "runtimes vs eager: speed-up = eager p50 / this p50*",
            "model-dataset-bs * runtime * precision * p50 * vs eager * prep cold * prep warm * cache * parity * notes",
            "bert.tiny-pydoc-bs1 * eager * fp32 * 1.00x (ref) * - * - * - * reference",
            "bert.tiny-pydoc-bs1 * compile_fast * fp32 * *x * *s * - * cold * ok, max abs * 1 graph(s), 0 break(s), 0 recompile(s)",
            "bert.tiny-pydoc-bs1 * onnxruntime * fp32 * *x * *s * *s * cold * ok, max abs * dynamo export, CPUExecutionProvider",
        ],
        consecutive=False,
    )
    (run_dir,) = (out / "runs").iterdir()
    by_runtime = {r.case.runtime: r for r in load_run(run_dir).cases}
    assert by_runtime["eager"].runtime_setup is None
    compiled, onnx = by_runtime["compile_fast"].runtime_setup, by_runtime["onnxruntime"].runtime_setup
    assert compiled.backend == "compile" and compiled.cache == "cold" and compiled.cold_s > 0 and compiled.warm_s is None and compiled.graph_breaks == 0
    assert onnx.exporter == "dynamo" and onnx.cold_s > 0 and onnx.artifact_dir.startswith(str(out / "cache" / "onnxruntime"))
    assert by_runtime["onnx_broken"].outcome == "error" and "does not exist" in by_runtime["onnx_broken"].reason
    assert by_runtime["compile_fast"].details["runtime"]["recompiles_after_prepare"] == 0
    # the parity check ran on the compiled / exported runtime, against eager fp32, before timing
    for name in ("compile_fast", "onnxruntime"):
        parity = by_runtime[name].parity
        assert parity.checked and parity.passed and parity.precision == "fp32" and parity.compared, (name, parity)
    assert not by_runtime["eager"].parity.checked and by_runtime["eager"].parity.passed
