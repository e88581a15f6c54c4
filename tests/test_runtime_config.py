"""Runtime presets: precision, precision_mode, channels_last, parity tolerances, and what the matrix leaves out."""

from __future__ import annotations

import pytest

from perfsuite.config import build_plan
from perfsuite.config.matrix import CHANNELS_LAST_TEXT, FP16_ON_CPU
from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError
from perfsuite.runtimes.reference import reference_case

TEXT_AND_IMAGE = ["model=[gpt2.tiny,resnet50.tiny]", "dataset=synthetic", "infer.batch_sizes=[1]"]  # synthetic: any modality


def error_of(*overrides: str, device: str = "cpu", conf_dirs=()) -> str:
    with pytest.raises(PerfConfigError) as info:
        build_plan(device=device, overrides=["model=gpt2.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", *overrides], conf_dirs=conf_dirs)
    return str(info.value)


def test_every_shipped_preset_validates_and_cpu_leaves_out_what_it_cannot_run():
    presets = ConfSources.create().options("inference_runtime")
    assert {"pytorch", "pytorch_bf16_cast", "pytorch_bf16_autocast", "pytorch_fp16_cast", "cuda_graphs", "tensorrt"} <= set(presets)
    assert "parity" not in presets  # the tolerances' subfolder is not a runtime
    plan = build_plan(overrides=[*TEXT_AND_IMAGE, f"inference_runtime=[{','.join(presets)}]"])
    ran = {(c.model.id, c.runtime.name) for c in plan.cases}
    left = {(e.model, e.runtime): e.reason for e in plan.exclusions if e.runtime is not None}
    assert ("gpt2.tiny", "eager_bf16_autocast") in ran and ("resnet50.tiny", "eager_channels_last") in ran
    assert left[("gpt2.tiny", "eager_fp16_cast")] == FP16_ON_CPU and left[("resnet50.tiny", "eager_fp16_autocast")] == FP16_ON_CPU
    assert left[("gpt2.tiny", "eager_channels_last")] == CHANNELS_LAST_TEXT
    assert "--device cuda" in left[("resnet50.tiny", "cuda_graphs")] and "this run is on cpu" in left[("resnet50.tiny", "cuda_graphs")]
    assert "--device cuda" in left[("gpt2.tiny", "tensorrt")]
    assert not ran & set(left)  # what is left out is never also a case


def test_cuda_keeps_cuda_graphs_and_fp16_and_tensorrt_names_what_to_install():
    plan = build_plan(device="cuda", overrides=["model=gpt2.tiny", "dataset=pydoc", "inference_runtime=[cuda_graphs,pytorch_fp16_autocast,tensorrt]"])
    assert {c.runtime.name for c in plan.cases} == {"cuda_graphs", "eager_fp16_autocast"}
    (trt,) = plan.exclusions  # torch-tensorrt is not installed here
    assert trt.runtime == "tensorrt" and "pip install torch-tensorrt" in trt.reason


def test_precision_decides_the_model_built_and_the_case_record():
    plan = build_plan(overrides=[*TEXT_AND_IMAGE, "inference_runtime=[pytorch,pytorch_bf16_cast,pytorch_bf16_autocast,pytorch_channels_last]"])
    by = {(c.model.id, c.runtime.name): c for c in plan.cases}
    cast, auto, eager = (by[("gpt2.tiny", n)] for n in ("eager_bf16_cast", "eager_bf16_autocast", "eager"))
    assert (cast.precision, cast.weights_precision) == ("bf16", "bf16")
    assert (auto.precision, auto.weights_precision) == ("bf16", "fp32")
    assert auto.model_key == eager.model_key != cast.model_key  # autocast shares eager's fp32 model
    assert by[("resnet50.tiny", "eager_channels_last")].model_key != by[("resnet50.tiny", "eager")].model_key
    assert cast.describe()["precision_mode"] == "cast" and auto.describe()["precision_mode"] == "autocast"
    assert eager.describe()["precision"] == "fp32" and eager.describe()["precision_mode"] is None
    # the parity reference: eager fp32 on the same model, data and batch size; eager fp32 is its own
    ref = reference_case(cast)
    assert ref is not None and ref.model_key == eager.model_key and ref.batch_size == cast.batch_size
    assert ref.runtime.parity == cast.runtime.parity and reference_case(eager) is None
    assert reference_case(by[("resnet50.tiny", "eager_channels_last")]).model_key == by[("resnet50.tiny", "eager")].model_key


def test_tolerances_come_from_yaml_and_a_run_overrides_them():
    plan = build_plan(overrides=["model=gpt2.tiny", "dataset=pydoc", "inference_runtime=pytorch_bf16_cast", "inference_runtime.parity.tolerances.bf16.atol=0.5"])
    parity = plan.cases[0].runtime.parity
    assert parity.enabled and parity.tolerance("bf16").atol == 0.5 and parity.tolerance("bf16").rtol == 0.05
    assert parity.tolerance("fp32").atol == 0.001


def test_a_preset_parity_block_overrides_the_shared_defaults(conf_dir):
    conf = conf_dir({"inference_runtime/loose.yaml": "name: loose\nbackend: pytorch\nparity:\n  tolerances:\n    fp32: {atol: 0.25, rtol: 0}\n"})
    plan = build_plan(conf_dirs=[conf], overrides=["model=gpt2.tiny", "dataset=pydoc", "inference_runtime=loose"])
    parity = plan.cases[0].runtime.parity
    assert parity.tolerance("fp32").atol == 0.25 and parity.tolerance("fp32").rtol == 0.0
    assert parity.tolerance("bf16").atol == 0.25  # the rest from inference_runtime/parity/default.yaml


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["inference_runtime.precision=int8"], ["inference_runtime.precision", "'int8'", "fp32, bf16, fp16", "--perf-override"]),
        (["inference_runtime.precision_mode=amp"], ["inference_runtime.precision_mode", "cast, autocast"]),
        (["inference_runtime.precision_mode=autocast"], ["autocast to fp32 changes nothing", "inference_runtime.precision_mode"]),
        (["inference_runtime.channels_last=yes"], ["inference_runtime.channels_last", "true, false"]),
        (["inference_runtime.parity.tolerances.bf16.atol=-0.1"], ["inference_runtime.parity.tolerances.bf16.atol", "finite number >= 0", "-0.1"]),
        (["inference_runtime.parity.tolerances.fp32.rtol=loose"], ["inference_runtime.parity.tolerances.fp32.rtol", "'loose'"]),
        (["+inference_runtime.parity.tolerances.int8={atol: 1, rtol: 1}"], ["unknown precision", "'int8'", "fp32, bf16, fp16"]),
        (["~inference_runtime.parity.tolerances.fp16"], ["no tolerance for fp16", "inference_runtime.parity.tolerances.fp16"]),
        (["+inference_runtime.parity.tolerances.bf16.ulp=2"], ["unknown key", "inference_runtime.parity.tolerances.bf16.ulp", "atol, rtol"]),
        (["~inference_runtime.parity"], ["inference_runtime.parity", "is missing"]),
    ],
)
def test_bad_runtime_values_name_the_key_and_the_allowed_values(overrides, expected):
    msg = error_of(*overrides)
    assert all(part in msg for part in expected), msg


def test_a_bad_shared_tolerance_names_the_parity_file(conf_dir):
    conf = conf_dir({"inference_runtime/parity/default.yaml": "enabled: true\ntolerances:\n  fp32: {atol: 0.001, rtol: 0.001}\n  bf16: {atol: .nan, rtol: 0.05}\n  fp16: {atol: 0.02, rtol: 0.01}\n"})
    msg = error_of(conf_dirs=[conf])
    assert "inference_runtime/parity/default.yaml" in msg and "tolerances.bf16.atol" in msg


def test_precision_set_twice_is_refused():
    msg = error_of("infer.precision=bf16", "inference_runtime=pytorch_bf16_autocast")
    assert "autocast needs fp32 weights" in msg and "infer.precision" in msg
    msg = error_of("infer.precision=fp16", "inference_runtime=pytorch_bf16_cast", device="cuda")
    assert "contradicts infer.precision fp16" in msg and "Allowed: fp32, fp16" in msg
    # the same cast in both places is one cast
    plan = build_plan(overrides=["model=gpt2.tiny", "dataset=pydoc", "infer.precision=bf16", "inference_runtime=pytorch_bf16_cast"])
    assert plan.cases[0].weights_precision == "bf16"


def test_nothing_left_to_run_says_why_per_runtime():
    msg = error_of("inference_runtime=cuda_graphs")
    assert "expands to no benchmark case" in msg and "gpt2.tiny x pydoc x cuda_graphs: CUDA graphs" in msg and "perfsuite list runtimes" in msg


def test_mps_is_a_device_with_its_own_hardware_preset():
    plan = build_plan(device="mps", overrides=["model=gpt2.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", "inference_runtime=[pytorch,pytorch_fp16_cast,cuda_graphs]"])
    assert plan.run.hardware.device == "mps" and not plan.run.hardware.pin
    assert [c.id for c in plan.cases] == ["gpt2.tiny-pydoc-eager-bs1-mps", "gpt2.tiny-pydoc-eager_fp16_cast-bs1-mps"]
    assert [e.runtime for e in plan.exclusions] == ["cuda_graphs"]
