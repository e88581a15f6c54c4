"""measure_latency end to end on fakes: the CUDA path (events, peaks, NVML) and OOM, with no GPU."""

from __future__ import annotations

import functools

import pytest

from perfsuite import runner
from perfsuite.config import build_plan
from perfsuite.measure import CudaClock, CudaPeakMemory, NvmlMonitor
from perfsuite.measure.fakes import FakeCuda, FakeNvml, FakeOutOfMemoryError, FakeTimer
from perfsuite.session import PreparedBatches

from conftest import QUICK_POLICY  # noqa: E402

torch = pytest.importorskip("torch")

QUICK = QUICK_POLICY


def case_on(device: str, *extra: str):
    return build_plan(device=device, overrides=["model=bert.tiny", "infer.batch_sizes=[2]", *QUICK, *extra]).cases[0]


BATCHES = PreparedBatches(inputs=({"x": 1}, {"x": 2}), batch_size=2, real_tokens=(10, 12), truncated_samples=0, origin="test")
MODULE = torch.nn.Linear(4, 4)


@pytest.fixture
def fake_gpu(monkeypatch):
    cuda, timer = FakeCuda(), FakeTimer()
    nvml = FakeNvml(throttle=(0, 4))  # 4 = SW power cap: the case must be flagged as throttled
    monkeypatch.setattr(runner, "clock_for", lambda device, mode, block: CudaClock(mode, block=block, cuda=cuda, timer=timer, device=device))
    monkeypatch.setattr(runner, "CudaPeakMemory", functools.partial(CudaPeakMemory, cuda))
    monkeypatch.setattr(runner, "NvmlMonitor", functools.partial(NvmlMonitor, nvml=nvml, pid=nvml.pid))
    return cuda, timer, nvml


def test_cuda_path_through_fakes(fake_gpu):
    cuda, timer, nvml = fake_gpu
    seen = []

    def call(inputs):
        seen.append(inputs["x"])
        cuda.launch(0.004)
        cuda.alloc(10)
        cuda.free(10)
        timer.advance(0.0001)

    outcome = runner.measure_latency(case_on("cuda"), call, BATCHES, MODULE)
    m = outcome.measurement
    assert m.clock == "cuda_event" and m.sync_mode == "isolated"
    assert m.median_s == pytest.approx(0.004) and m.host_stats.p50_s == pytest.approx(0.0001)
    assert set(seen) == {1, 2}  # cycles through the prepared batches
    assert cuda.resets >= 1 and outcome.memory.cuda.max_allocated_bytes == 10
    assert outcome.throughput.samples_per_s == pytest.approx(2 / 0.004)
    assert outcome.throughput.tokens_per_s == pytest.approx(11 / 0.004)
    assert [f.code for f in m.noise] == ["throttled"]
    state = outcome.device_state(samples=(m.warmup_calls + m.calls) * 2)
    assert state["energy_j"] == pytest.approx(4.0) and state["energy_per_sample_j"] > 0
    assert outcome.memory.weights_bytes == sum(p.numel() * 4 for p in MODULE.parameters())


def test_pipelined_mode(fake_gpu):
    cuda, timer, _ = fake_gpu

    def call(inputs):
        cuda.launch(0.002)

    outcome = runner.measure_latency(case_on("cuda", "measure.cuda_timing=pipelined", "measure.cuda_block=4"), call, BATCHES, MODULE)
    assert outcome.measurement.sync_mode == "pipelined" and outcome.measurement.calls_per_sample == 4
    assert outcome.measurement.median_s == pytest.approx(0.002)


def test_nvml_missing_is_marked_unavailable_not_zero(fake_gpu, monkeypatch):
    cuda, _, _ = fake_gpu
    broken = FakeNvml(fail={"nvmlInit"})
    monkeypatch.setattr(runner, "NvmlMonitor", functools.partial(NvmlMonitor, nvml=broken))
    with pytest.warns(UserWarning, match="NVML"):
        outcome = runner.measure_latency(case_on("cuda"), lambda inputs: cuda.launch(0.001), BATCHES, MODULE)
    state = outcome.device_state(samples=10)
    assert state["energy_j"] is None and state["process_peak_bytes"] is None and state["unavailable"]
    assert outcome.measurement is not None


def test_oom_is_recorded_and_caches_freed(fake_gpu):
    cuda, _, _ = fake_gpu

    def call(inputs):
        raise FakeOutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    outcome = runner.measure_latency(case_on("cuda"), call, BATCHES, MODULE)
    assert outcome.measurement is None and outcome.oom is not None
    assert outcome.oom.batch_size == 2 and "out of memory" in outcome.oom.message


def test_cpu_path_reports_host_memory():
    outcome = runner.measure_latency(case_on("cpu"), lambda inputs: sum(range(200)), BATCHES, MODULE)
    assert outcome.measurement.clock == "perf_counter_ns" and outcome.nvml is None
    assert outcome.memory.host.rss_peak_bytes >= outcome.memory.host.rss_start_bytes > 0
    assert outcome.device_state() is None


def test_model_error_propagates():
    def call(inputs):
        raise ValueError("shape mismatch in layer 3")

    with pytest.raises(ValueError, match="layer 3"):
        runner.measure_latency(case_on("cpu"), call, BATCHES, MODULE)
