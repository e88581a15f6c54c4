"""The int8 dynamic-quantization runtime (conf/inference_runtime/pytorch_int8_dynamic.yaml): what it
quantizes, how close it stays to fp32, where the matrix leaves it out, and a run through `pytest benches`."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.config import build_plan
from perfsuite.config.schema import RuntimeSpec, Tolerance
from perfsuite.errors import PerfDeviceError
from perfsuite.runtimes.base import RuntimeUnavailable
from perfsuite.runtimes.parity import compare_outputs, host_copy
from perfsuite.runtimes.quantized import BACKEND, Int8DynamicRuntime, conv1d_as_linear, quantize_linear_int8
from perfsuite.runtimes.reference import reference_case

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PRESET = "inference_runtime=pytorch_int8_dynamic"
SPEC = RuntimeSpec(name="eager_int8_dynamic", backend=BACKEND)


@dataclass
class TinyAdapter:
    """The part of a model adapter a runtime uses: spec, module, dtype, device, forward."""

    module: Any
    spec: str = "tiny"
    dtype: Any = torch.float32
    device: str = "cpu"

    def forward(self, inputs: dict[str, Any]) -> Any:
        return self.module(**inputs)


def plan_case(*overrides: str, device: str = "cpu"):
    return build_plan(device=device, overrides=["model=bert.tiny", "dataset=pydoc", "infer.batch_sizes=[2]", "infer.seq_len=16", *overrides])


@pytest.fixture(scope="module")
def tolerance() -> Tolerance:
    """The tolerance the preset declares for its parity check (a case computes in fp32)."""
    return plan_case(PRESET).cases[0].runtime.parity.tolerance("fp32")


def count(module: Any, kind: type) -> int:
    return sum(1 for m in module.modules() if type(m) is kind)


def tiny_llama() -> Any:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
    )
    return transformers.LlamaForCausalLM(config).eval()


def test_the_preset_composes_and_its_parity_is_checked_with_its_own_tolerance(tolerance):
    (case,) = plan_case(PRESET).cases
    assert case.runtime.name == "eager_int8_dynamic" and case.runtime.backend == BACKEND
    assert case.precision == "fp32" and case.weights_precision == "fp32"
    assert tolerance == Tolerance(atol=0.5, rtol=0.1) and case.runtime.parity.tolerance("bf16") == Tolerance(atol=0.25, rtol=0.05)
    ref = reference_case(case)  # checked against eager fp32 (not taken for the reference itself)
    assert ref is not None and ref.runtime.backend == "pytorch" and ref.model_key == case.model_key
    assert case.runtime.generates and case.runtime.parity.exact_tokens == ()  # generates with its copy; tokens reported, not required


def test_cuda_mps_and_a_bf16_cast_are_left_out_with_the_reason():
    cuda = plan_case(f"{PRESET.replace('=', '=[pytorch,')}]", device="cuda")
    assert [c.runtime.name for c in cuda.cases] == ["eager"]
    (left,) = cuda.exclusions
    assert left.runtime == "eager_int8_dynamic" and "CPU kernels only" in left.reason and "this run is on cuda" in left.reason
    assert "this run is on mps" in Int8DynamicRuntime.unsupported(plan_case(PRESET).cases[0].config, "mps")
    bf16 = plan_case("inference_runtime=[pytorch_bf16_cast,pytorch_int8_dynamic]", "infer.precision=bf16")
    assert [e.reason for e in bf16.exclusions if e.runtime == "eager_int8_dynamic"] == [
        "int8 dynamic quantization starts from fp32 weights, but this case is cast to bf16: "
        "set inference_runtime.precision and infer.precision to fp32 for it"
    ]
    with pytest.raises(PerfDeviceError, match="needs --device cpu"):
        Int8DynamicRuntime(SPEC, TinyAdapter(tiny_llama(), device="cuda:0"))


def test_bert_every_linear_quantized_outputs_within_tolerance_model_untouched(tolerance):
    from perfsuite.data.base import load_samples, make_batches
    from perfsuite.models.base import build_model

    case = plan_case(PRESET).cases[0]
    model = build_model(case.model, precision="fp32", device="cpu", seed=0)
    samples = load_samples(case.dataset, case.model, case.config.infer).samples
    inputs = model.prepare_input(next(iter(make_batches(samples, 2, 1, case.dataset.sampling))), seq_len=16)
    linears = count(model.module, torch.nn.Linear)
    before = {k: v.clone() for k, v in model.module.state_dict().items()}

    rt = Int8DynamicRuntime(SPEC, model)
    quantized = rt.describe()["quantization"]
    assert linears > 0 and quantized["linear_layers"] == linears and quantized["conv1d_as_linear"] == 0
    assert count(rt.quantized.module, torch.ao.nn.quantized.dynamic.Linear) == linears and count(rt.quantized.module, torch.nn.Linear) == 0
    assert 0 < quantized["quantized_share"] < 1 and quantized["engine"] == str(torch.backends.quantized.engine)
    # the session's shared model (eager fp32, the parity reference) is not changed
    assert count(model.module, torch.nn.Linear) == linears and all(torch.equal(before[k], v) for k, v in model.module.state_dict().items())

    with torch.inference_mode():
        ref = model.forward(inputs)
    out = rt(inputs)
    assert compare_outputs(out, host_copy(ref), tolerance).passed
    exact = compare_outputs(out, host_copy(ref), Tolerance(atol=1e-6, rtol=0))
    assert not exact.passed and exact.max_abs > 1e-4  # the int8 path really ran


def test_llama_quantized_logits_within_tolerance(tolerance):
    module = tiny_llama()
    inputs = {"input_ids": torch.randint(0, 256, (2, 12), generator=torch.Generator().manual_seed(1)), "use_cache": False}
    rt = Int8DynamicRuntime(SPEC, TinyAdapter(module))
    # 7 projections per decoder layer (q, k, v, o, gate, up, down) and the LM head
    assert rt.describe()["quantization"]["linear_layers"] == count(module, torch.nn.Linear) == 2 * 7 + 1
    with torch.inference_mode():
        ref = module(**inputs)
    result = compare_outputs(rt(inputs), host_copy(ref), tolerance, precision="fp32")
    assert result.passed and result.compared == ("logits",) and result.max_abs > 1e-4


def test_gpt2_conv1d_becomes_the_same_linear_then_is_quantized():
    from transformers.pytorch_utils import Conv1D

    torch.manual_seed(0)
    module = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=32, vocab_size=64)).eval()
    ids = torch.randint(0, 64, (2, 8), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref = module(input_ids=ids).logits
    converted = copy.deepcopy(module)
    assert conv1d_as_linear(converted) == count(module, Conv1D) == 2 * 4 and count(converted, Conv1D) == 0
    with torch.inference_mode():
        assert torch.allclose(converted(input_ids=ids).logits, ref, atol=1e-5, rtol=0)  # same math before quantizing

    q = quantize_linear_int8(module)
    assert (q.linear, q.conv1d) == (2 * 4 + 1, 2 * 4)  # every Conv1D and the LM head
    assert count(module, Conv1D) == 8  # the original keeps its Conv1D layers


def test_nothing_to_quantize_is_refused_with_the_reason():
    convs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(RuntimeUnavailable, match=r"no torch\.nn\.Linear .* in tiny: nothing would be quantized.*Conv2d, ReLU"):
        Int8DynamicRuntime(SPEC, TinyAdapter(convs))
    with pytest.raises(RuntimeUnavailable, match="cast to bfloat16"):
        Int8DynamicRuntime(SPEC, TinyAdapter(torch.nn.Linear(4, 4).to(torch.bfloat16), dtype=torch.bfloat16))


def test_quantize_dynamic_deprecations_are_recorded_not_repeated_other_warnings_pass(monkeypatch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        q = quantize_linear_int8(torch.nn.Sequential(torch.nn.Linear(4, 4)))
    assert not [w for w in caught if "quantiz" in str(w.message)], [str(w.message) for w in caught]
    real = torch.ao.quantization.quantize_dynamic
    assert bool(q.deprecated) == _deprecates(real)  # recorded where this torch deprecates it (2.13 does)

    def noisy(*args: Any, **kwargs: Any) -> Any:
        warnings.warn("something else went wrong", RuntimeWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", noisy)
    with pytest.warns(RuntimeWarning, match="something else went wrong"):
        quantize_linear_int8(torch.nn.Sequential(torch.nn.Linear(4, 4)))


def test_int8_beside_eager_through_pytest_benches(pytester: pytest.Pytester, conf_dir, tmp_path):
    from perfsuite.results import load_run

    suite = "name: q\ndescription: eager vs int8\nmodels: [bert.tiny]\ndatasets: [pydoc]\nruntimes: [pytorch, pytorch_int8_dynamic]\nbatch_sizes: [1]\noverrides: [infer.seq_len=32, infer.num_batches=2]\n"
    conf = conf_dir({"suite/q.yaml": suite})
    out = tmp_path / "out"
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out), "--perf-suite", "q"]
    result = pytester.runpytest_subprocess(*argv, *as_overrides(FAST_POLICY))
    result.assert_outcomes(passed=2)
    (run_dir,) = (out / "runs").iterdir()
    by_runtime = {r.case.runtime: r for r in load_run(run_dir).cases}
    int8 = by_runtime["eager_int8_dynamic"]
    assert int8.parity.checked and int8.parity.passed and (int8.parity.atol, int8.parity.rtol) == (0.5, 0.1)
    assert int8.details["runtime"]["backend"] == BACKEND and int8.details["runtime"]["quantization"]["linear_layers"] == 13


def _deprecates(fn: Any) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(torch.nn.Sequential(torch.nn.Linear(2, 2)), {torch.nn.Linear}, dtype=torch.qint8)
    return any(issubclass(w.category, DeprecationWarning) for w in caught)
