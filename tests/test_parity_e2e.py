"""End to end: a deliberately wrong runtime fails its parity check and is never timed; the rest run."""

from __future__ import annotations

import json

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.results import load_run

# A test double registered like any runtime: eager's forward, then every logit moved by 0.25.
PERTURBED_RUNTIME = '''
from perfsuite.registry import RUNTIMES
from perfsuite.runtimes.eager import EagerRuntime


class PerturbedRuntime(EagerRuntime):
    def __call__(self, inputs):
        out = super().__call__(inputs)
        out["logits"] = out["logits"] + 0.25
        return out


RUNTIMES.add("perturbed", PerturbedRuntime)
'''

SUITE = """
name: parity
description: eager, a wrong runtime, bf16 autocast, and CUDA graphs (left out on a CPU)
models: [gpt2.tiny]
datasets: [pydoc]
runtimes: [pytorch, perturbed, pytorch_bf16_autocast, cuda_graphs]
batch_sizes: [2]
overrides: [infer.max_new_tokens=0, infer.num_batches=1]
"""


def test_a_wrong_runtime_fails_parity_untimed_and_the_rest_pass(pytester: pytest.Pytester, conf_dir, tmp_path):
    pytester.makepyfile(perturbed_runtime=PERTURBED_RUNTIME)  # imported with -p: registered before the plan is built
    conf = conf_dir({"suite/parity.yaml": SUITE, "inference_runtime/perturbed.yaml": "name: perturbed\nbackend: perturbed\n"})
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        str(REPO / "benches"), "-p", "perturbed_runtime", "-p", "no:cacheprovider",
        "--perf-conf-dir", str(conf), "--perf-suite", "parity", "--perf-out-dir", str(out), *as_overrides(FAST_POLICY),
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "gpt2.tiny-pydoc-perturbed-bs2-cpu: outputs differ from the eager fp32 reference (parity check before timing): "
        "output 'logits': max abs error 0.25*tolerance atol 0.001, rtol 0.001 (fp32)*The runtime was not timed*",
        "*gpt2.tiny x pydoc x cuda_graphs: CUDA graphs capture CUDA kernels: they need --device cuda (this run is on cpu)*",
    ])
    (run_dir,) = (out / "runs").iterdir()
    run = load_run(run_dir)
    by = {r.case.runtime: r for r in run.cases}
    wrong, eager, autocast = by["perturbed"], by["eager"], by["eager_bf16_autocast"]
    assert wrong.outcome == "failed" and "max abs error 0.25" in wrong.reason
    assert wrong.measurement is None and wrong.throughput is None  # never timed
    assert wrong.parity.checked and not wrong.parity.passed and wrong.parity.output == "logits"
    assert wrong.parity.max_abs == pytest.approx(0.25, abs=1e-5) and (wrong.parity.atol, wrong.parity.rtol) == (0.001, 0.001)
    assert eager.outcome == "passed" and not eager.parity.checked and "reference itself" in eager.parity.reason
    assert autocast.outcome == "passed" and autocast.parity.checked and autocast.parity.passed
    assert autocast.parity.precision == "bf16" and 0 < autocast.parity.max_abs < autocast.parity.atol
    assert autocast.case.precision == "bf16" and autocast.case.precision_mode == "autocast"
    assert autocast.details["runtime"]["autocast"] == {"device_type": "cpu", "dtype": "bfloat16"}
    timed = json.loads((run_dir / "benchmark.json").read_text())["benchmarks"]
    assert sorted(b["param"] for b in timed) == ["gpt2.tiny-pydoc-eager-bs2-cpu", "gpt2.tiny-pydoc-eager_bf16_autocast-bs2-cpu"]
    assert timed[0]["extra_info"]["parity"]["reference"] == "eager fp32"
