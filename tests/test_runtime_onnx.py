"""The onnxruntime runtime: a real export of tiny BERT (dynamic batch), compared with eager output
by output; the export cache; a shipped .onnx file; exporter failure and the TorchScript fallback;
a missing onnxruntime package."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pytest

from perfsuite.config import build_plan
from perfsuite.config.schema import OnnxOptions, RuntimeSpec
from perfsuite.runtimes import onnxrt
from perfsuite.runtimes.base import RuntimeContext, RuntimePrepError, RuntimeUnavailable
from perfsuite.runtimes.onnx_export import LOG_FILE, MODEL_FILE

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'perfsuite[onnx]'")


def spec(**options: Any) -> RuntimeSpec:
    return RuntimeSpec(name="onnxruntime", backend="onnxruntime", onnxruntime=OnnxOptions(**options))


@pytest.fixture(scope="module")
def bert():
    """tiny BERT's case (batch size 1), its model and two prepared batches of the pydoc text."""
    from perfsuite.data.base import load_samples, make_batches
    from perfsuite.models.base import build_model

    case = build_plan(overrides=["model=bert.tiny", "infer.batch_sizes=[1]", "infer.seq_len=32", "infer.num_batches=2"]).cases[0]
    model = build_model(case.model, precision="fp32", device="cpu", seed=0)
    samples = load_samples(case.dataset, case.model, case.config.infer).samples
    inputs = [model.prepare_input(b, seq_len=32) for b in make_batches(samples, 1, 2, case.dataset.sampling)]
    return case, model, inputs


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


def context(case, out_dir) -> RuntimeContext:
    return RuntimeContext(case=case, out_dir=out_dir, log_dir=out_dir / "run" / "logs")


def assert_same_as_eager(rt, model, inputs, atol=1e-4):
    out = rt(inputs)
    with torch.inference_mode():
        ref = model.forward(inputs)
    assert type(out) is type(ref) and list(out.keys()) == list(ref.keys())
    for key in ref.keys():
        assert out[key].shape == ref[key].shape and torch.allclose(out[key], ref[key], atol=atol), key


@pytest.fixture(scope="module")
def exported(bert, out_dir):
    case, model, inputs = bert
    rt = onnxrt.OnnxRuntime(spec(), model)
    return rt, rt.prepare(inputs, context(case, out_dir))


def test_export_matches_eager_at_every_batch_size(bert, exported):
    case, model, inputs = bert
    rt, setup = exported
    assert (setup.backend, setup.cache, setup.exporter, setup.fallback_reason) == ("onnxruntime", "cold", "dynamo", None)
    assert setup.providers == ("CPUExecutionProvider",) and setup.cold_s > 0 and setup.warm_s > 0
    assert inputs[0]["input_ids"].shape[0] == 1  # exported from a batch of 2, run at 1 ...
    assert_same_as_eager(rt, model, inputs[0])
    three = {k: torch.cat([v, v, v]) for k, v in inputs[1].items()}  # ... and at 3: the batch dimension is dynamic
    assert_same_as_eager(rt, model, three)
    assert rt._session.get_session_options().intra_op_num_threads == case.config.hardware.threads
    assert rt.describe()["session_providers"] == ["CPUExecutionProvider"]


def test_second_case_reuses_the_cached_export(bert, exported, out_dir, monkeypatch):
    case, model, inputs = bert
    _, first = exported
    monkeypatch.setattr(onnxrt, "export_model", lambda *a, **k: pytest.fail("exported again despite the cache"))
    rt = onnxrt.OnnxRuntime(spec(graph_optimization_level="basic"), model)  # a session option: same file
    setup = rt.prepare(inputs, context(case, out_dir))
    assert setup.cache == "warm" and setup.artifact_dir == first.artifact_dir and setup.cold_s == first.cold_s
    assert "out/cache" in setup.notes[0]
    assert_same_as_eager(rt, model, inputs[1])


def test_a_shipped_onnx_file_runs_as_is(bert, exported, out_dir):
    case, model, inputs = bert
    _, first = exported
    path = f"{first.artifact_dir}/{MODEL_FILE}"
    rt = onnxrt.OnnxRuntime(spec(model_file=path), model)
    setup = rt.prepare(inputs, context(case, out_dir))
    assert setup.exporter == "file" and setup.cold_s is None and setup.artifact_dir is None and path in setup.notes[0]
    assert_same_as_eager(rt, model, inputs[0])


def test_a_missing_model_file_fails_the_case(bert, out_dir):
    case, model, inputs = bert
    with pytest.raises(RuntimePrepError, match="nowhere.onnx does not exist"):
        onnxrt.OnnxRuntime(spec(model_file="/nowhere.onnx"), model).prepare(inputs, context(case, out_dir))


@dataclass
class Branchy:
    """A model the dynamo exporter cannot export: Python control flow on a tensor's value."""

    spec: str = "branchy"
    dtype: Any = torch.float32
    device: str = "cpu"

    def __post_init__(self) -> None:
        torch.manual_seed(0)
        self.module = torch.nn.Linear(4, 4).eval()

    def forward(self, inputs: dict[str, Any]) -> Any:
        y = self.module(inputs["x"])
        return y if y.sum() > 0 else -y


def test_exporter_failure_fails_the_case_with_its_error_and_log(bert, out_dir):
    case = bert[0]
    ctx = context(case, out_dir)
    with pytest.raises(RuntimePrepError) as err:
        onnxrt.OnnxRuntime(spec(exporter="dynamo"), Branchy()).prepare([{"x": torch.ones(1, 4)}], ctx)
    msg = str(err.value)
    log = ctx.log_dir / f"{case.id}.onnx-export.log"
    assert msg.startswith("ONNX export (dynamo exporter) failed:") and f"full log: {log}" in msg and len(msg) < 700
    assert "dynamo exporter" in log.read_text()


def test_auto_falls_back_to_torchscript_and_records_why(bert, out_dir):
    case = bert[0]
    model = Branchy()
    rt = onnxrt.OnnxRuntime(spec(exporter="auto"), model)
    x = {"x": torch.ones(1, 4)}
    setup = rt.prepare([x], context(case, out_dir))
    assert setup.exporter == "torchscript" and setup.fallback_reason.startswith("dynamo exporter failed:")
    assert torch.allclose(rt(x), model.forward(x), atol=1e-5)
    assert "--- dynamo exporter" in (out_dir / "cache" / "onnxruntime").joinpath(setup.artifact_dir, LOG_FILE).read_text()


def test_without_onnxruntime_the_case_is_skipped_naming_the_extra(bert, out_dir, monkeypatch):
    case, model, inputs = bert
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(RuntimeUnavailable, match=r"onnx extra: pip install 'perfsuite\[onnx\]'"):
        onnxrt.OnnxRuntime(spec(), model).prepare(inputs, context(case, out_dir))


def test_a_provider_this_build_lacks_is_dropped_with_a_warning(bert, exported, out_dir):
    import onnxruntime

    if "TensorrtExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime build has the TensorRT provider")
    case, model, inputs = bert
    rt = onnxrt.OnnxRuntime(spec(providers=("TensorrtExecutionProvider", "CPUExecutionProvider")), model)
    with pytest.warns(UserWarning, match="TensorrtExecutionProvider is not available.*onnxruntime-gpu"):
        setup = rt.prepare(inputs, context(case, out_dir))
    assert setup.providers == ("CPUExecutionProvider",) and "TensorrtExecutionProvider" in setup.notes[-1]
