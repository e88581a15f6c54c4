"""CUDA graphs, TensorRT and the MPS device, exercised through fakes (there is no GPU here)."""

from __future__ import annotations

import contextlib
import inspect
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from perfsuite.config.schema import RuntimeSpec, Tolerance
from perfsuite.errors import PerfDeviceError
from perfsuite.measure import StopPolicy, WarmupPolicy, measure
from perfsuite.measure.clocks import clock_for
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.measure.fakes_mps import FakeMps
from perfsuite.measure.mps import MpsClock, MpsMemory, MpsPeakMemory
from perfsuite.results.case import MemoryResult
from perfsuite.results.reading import Doc
from perfsuite.runtimes.cuda_graphs import WARMUP_CALLS, CudaGraphsRuntime
from perfsuite.runtimes.parity import compare_outputs
from perfsuite.runtimes.tensorrt import TensorRTRuntime


# -- CUDA graphs -----------------------------------------------------------------------------------
class FakeStream:
    def __init__(self, cuda: FakeGraphCuda, name: str) -> None:
        self.cuda, self.name = cuda, name

    def wait_stream(self, other: FakeStream) -> None:
        self.cuda.log.append(f"{self.name} waits for {other.name}")


class FakeGraph:
    """Replays what was recorded during its capture; refuses to replay before one."""

    def __init__(self) -> None:
        self.kernels: list[Any] = []
        self.captured = False
        self.pool_arg: Any = None

    def record(self, kernel: Any) -> None:
        self.kernels.append(kernel)

    def pool(self) -> tuple[str, int]:
        return ("pool", id(self))

    def replay(self) -> None:
        if not self.captured:
            raise RuntimeError("replay of a graph that was never captured")
        with torch.inference_mode():
            for kernel in self.kernels:
                kernel()


class FakeGraphCuda:
    """The torch.cuda slice CUDA graphs use. Refuses a capture before any warm-up on a side stream
    (on a GPU, cuBLAS and lazy module state would initialise inside the capture and fail it)."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.default = FakeStream(self, "default")
        self._stream = self.default
        self.capturing: FakeGraph | None = None
        self.side_calls = 0
        self.devices: list[int] = []

    def current_device(self) -> int:
        return 0

    @contextlib.contextmanager
    def device(self, index: int) -> Any:
        self.devices.append(index)
        yield

    def Stream(self) -> FakeStream:  # noqa: N802
        return FakeStream(self, "side")

    def current_stream(self) -> FakeStream:
        return self._stream

    @contextlib.contextmanager
    def stream(self, stream: FakeStream) -> Any:
        previous, self._stream = self._stream, stream
        try:
            yield
        finally:
            self._stream = previous

    def CUDAGraph(self) -> FakeGraph:  # noqa: N802
        return FakeGraph()

    @contextlib.contextmanager
    def graph(self, graph: FakeGraph, pool: Any = None) -> Any:
        if self.side_calls == 0:
            raise RuntimeError("operation not permitted when stream is capturing: warm up on a side stream first")
        graph.pool_arg = pool
        self.capturing = graph
        try:
            yield
        finally:
            self.capturing = None
            graph.captured = True

    def synchronize(self, device: Any = None) -> None:
        self.log.append("synchronize")


class AffineModel:
    """A model adapter computing y = 2x + 1 that, like a GPU kernel, can be recorded into a graph."""

    device = "cuda:1"
    dtype = torch.float32

    def __init__(self, cuda: FakeGraphCuda) -> None:
        self.cuda = cuda
        self.eager_calls = 0

    def forward(self, inputs: dict[str, Any]) -> Any:
        x = inputs["x"]
        out = {"y": x * 2 + 1}
        if self.cuda.capturing is not None:
            self.cuda.capturing.record(lambda: out["y"].copy_(x * 2 + 1))
        else:
            self.eager_calls += 1
            self.cuda.side_calls += self.cuda.current_stream().name == "side"
        return out


def graphs_runtime() -> tuple[CudaGraphsRuntime, FakeGraphCuda, AffineModel]:
    cuda = FakeGraphCuda()
    model = AffineModel(cuda)
    return CudaGraphsRuntime(RuntimeSpec("cuda_graphs", "cuda_graphs"), model, cuda=cuda), cuda, model  # type: ignore[arg-type]


def test_cuda_graphs_warm_up_on_a_side_stream_capture_once_and_replay_new_inputs():
    runtime, cuda, model = graphs_runtime()
    first = torch.arange(6.0).reshape(2, 3)
    out = runtime({"x": first})
    assert model.eager_calls == WARMUP_CALLS == cuda.side_calls  # warm-up only on the side stream
    assert cuda.log[:2] == ["side waits for default", "default waits for side"] and cuda.devices == [1]
    assert torch.equal(out["y"], first * 2 + 1)
    second = torch.full((2, 3), 5.0)
    again = runtime({"x": second})
    assert again["y"] is out["y"]  # the static output, overwritten by the replay
    assert torch.equal(again["y"], second * 2 + 1) and model.eager_calls == WARMUP_CALLS  # copied in, replayed: no eager call
    assert compare_outputs(again, {"y": second * 2 + 1}, Tolerance(0.0, 0.0)).passed
    described = runtime.describe()
    assert described["graphs"] == 1 and described["warmup_calls"] == WARMUP_CALLS and list(described["capture_s"]) == ["x (2, 3)"]


def test_cuda_graphs_capture_each_new_shape_into_the_shared_pool():
    runtime, cuda, model = graphs_runtime()
    runtime({"x": torch.ones(2, 3)})
    small = torch.ones(1, 3) * 4
    assert torch.equal(runtime({"x": small})["y"], small * 2 + 1)
    (first, _, _), (second, _, _) = runtime._graphs.values()
    assert first.pool_arg is None and second.pool_arg == first.pool()
    assert runtime.describe()["graphs"] == 2


def test_cuda_graphs_refuse_other_devices():
    model = SimpleNamespace(device="cpu", dtype=torch.float32)
    with pytest.raises(PerfDeviceError, match="need --device cuda"):
        CudaGraphsRuntime(RuntimeSpec("cuda_graphs", "cuda_graphs"), model)  # type: ignore[arg-type]
    assert CudaGraphsRuntime.unsupported(None, "cuda:0") is None  # type: ignore[arg-type]
    assert "this run is on mps" in CudaGraphsRuntime.unsupported(None, "mps")  # type: ignore[arg-type]


# -- TensorRT --------------------------------------------------------------------------------------
class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, scale: float = 1.0) -> dict[str, torch.Tensor]:
        hidden = torch.relu(self.proj(features)) * mask.unsqueeze(-1) * scale
        return {"last_hidden_state": hidden, "pooler_output": hidden.mean(1)}


class EncoderAdapter:
    """A model adapter as perfsuite builds one: fixed keyword arguments applied inside forward."""

    device = "cuda:0"
    dtype = torch.float32

    def __init__(self) -> None:
        self.module = Encoder().eval()

    def forward(self, inputs: dict[str, Any]) -> Any:
        return self.module(**inputs, scale=2.0)


def fake_trt(explicit_typing: bool) -> SimpleNamespace:
    """torch_tensorrt's dynamo.compile, returning the exported program's module (runs on the CPU)."""
    calls: list[dict[str, Any]] = []

    def compile_new(exported, *, arg_inputs=None, device=None, use_explicit_typing=False):  # noqa: ANN001, ANN202
        calls.append({"inputs": arg_inputs, "device": device, "use_explicit_typing": use_explicit_typing})
        return exported.module()

    def compile_old(exported, *, arg_inputs=None, device=None, enabled_precisions=frozenset()):  # noqa: ANN001, ANN202
        calls.append({"inputs": arg_inputs, "device": device, "enabled_precisions": enabled_precisions})
        return exported.module()

    compile_fn = compile_new if explicit_typing else compile_old
    assert ("use_explicit_typing" in inspect.signature(compile_fn).parameters) == explicit_typing
    return SimpleNamespace(dynamo=SimpleNamespace(compile=compile_fn), __version__="fake", calls=calls)


@pytest.mark.parametrize("explicit_typing", [True, False])
def test_tensorrt_exports_named_inputs_builds_per_shape_and_matches_eager(monkeypatch, explicit_typing):
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    trt = fake_trt(explicit_typing)
    model = EncoderAdapter()
    runtime = TensorRTRuntime(RuntimeSpec("tensorrt", "tensorrt", precision="fp32"), model, trt=trt)  # type: ignore[arg-type]
    inputs = {"mask": torch.ones(2, 5), "features": torch.randn(2, 5, 4)}
    out = runtime(inputs)
    with torch.inference_mode():
        reference = model.forward(inputs)
    result = compare_outputs(out, reference, Tolerance(1e-6, 1e-6))
    assert result.passed and result.compared == ("last_hidden_state", "pooler_output")
    runtime({"mask": torch.zeros(2, 5), "features": torch.randn(2, 5, 4)})
    assert len(trt.calls) == 1  # one engine per input shape
    runtime({"mask": torch.ones(1, 5), "features": torch.randn(1, 5, 4)})
    assert len(trt.calls) == 2 and runtime.describe()["engines"] == 2
    settings = trt.calls[0]
    assert settings["device"] == torch.device("cuda:0") and [tuple(t.shape) for t in settings["inputs"]] == [(2, 5, 4), (2, 5)]  # sorted names
    assert settings.get("use_explicit_typing") is True if explicit_typing else settings["enabled_precisions"] == {torch.float32}
    assert list(runtime.describe()["build_s"]) == ["features (2, 5, 4), mask (2, 5)", "features (1, 5, 4), mask (1, 5)"]


def test_tensorrt_without_gpu_or_package_is_left_out_naming_what_to_install(monkeypatch):
    cfg = SimpleNamespace(runtime=RuntimeSpec("tensorrt", "tensorrt"))
    assert "--device cuda" in TensorRTRuntime.unsupported(cfg, "cpu")  # type: ignore[arg-type]
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert "pip install torch-tensorrt" in TensorRTRuntime.unsupported(cfg, "cuda")  # type: ignore[arg-type]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert TensorRTRuntime.unsupported(cfg, "cuda") is None  # type: ignore[arg-type]
    autocast = SimpleNamespace(runtime=RuntimeSpec("tensorrt", "tensorrt", precision="fp16", precision_mode="autocast"))
    assert "precision_mode: cast" in TensorRTRuntime.unsupported(autocast, "cuda")  # type: ignore[arg-type]


# -- MPS -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "syncs_per_sample"), [("isolated", 2), ("pipelined", 1)])
def test_mps_clock_times_device_work_with_events_and_synchronizes(mode, syncs_per_sample):
    timer, mps = FakeTimer(), FakeMps()

    def call(gpu_s: float) -> None:  # the host returns after 0.5 ms; the GPU takes 2 or 4 ms
        mps.launch(gpu_s)
        timer.advance(0.0005)

    clock = MpsClock(mode, block=2, mps=mps, timer=timer)
    warmup = WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=10)
    m = measure(ScriptedWork(call, [0.002, 0.004]), clock=clock, warmup=warmup, stop=StopPolicy(min_time_s=0.05, min_rounds=10, max_time_s=5))
    expected = {0.002, 0.004} if mode == "isolated" else {0.003}
    assert {round(s, 9) for s in m.samples_s} == expected
    assert m.clock == "mps_event" and m.sync_mode == mode and m.device == "mps"
    assert m.host_stats is not None and m.host_stats.p50_s == pytest.approx(0.0005)
    assert mps.calls.count("synchronize") >= m.rounds * syncs_per_sample


def test_fake_mps_refuses_reading_an_event_before_synchronize():
    mps = FakeMps()
    start, end = mps.event.Event(enable_timing=True), mps.event.Event(enable_timing=True)
    start.record(), mps.launch(0.001), end.record()
    with pytest.raises(RuntimeError, match="synchronize before elapsed_time"):
        start.elapsed_time(end)
    mps.synchronize()
    assert start.elapsed_time(end) == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="enable_timing"):
        mps.event.Event().elapsed_time(end)


def test_mps_memory_peaks_are_sampled_and_stored():
    mps = FakeMps(allocated=100, driver=1000)
    with MpsPeakMemory(mps=mps, period_s=10.0) as peak:  # a long period: the start and end readings only
        mps.allocated, mps.driver = 300, 1500
    assert peak.result == MpsMemory(allocated_peak_bytes=300, driver_peak_bytes=1500, allocated_end_bytes=300, samples=2)
    assert mps.calls[0] == "synchronize" and mps.calls[-1] == "synchronize"
    memory = MemoryResult(weights_bytes=8, mps=peak.result)
    assert MemoryResult.from_doc(Doc.root(memory.to_dict(), "results.json")) == memory
    assert "mps" not in MemoryResult(weights_bytes=8).to_dict()  # other devices keep their shape


def test_mps_device_is_accepted_only_when_available(monkeypatch):
    from perfsuite.options import check_device

    assert isinstance(clock_for("mps"), MpsClock)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    message = check_device("mps", flag="--device")
    assert message is not None and "--device mps was requested, but this torch build has no MPS support" in message
    assert "--perf-on-missing-device=skip" in message
    assert "Skipped as asked" in check_device("mps", on_missing="skip")
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    assert "no MPS device is available" in check_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert check_device("mps") is None
