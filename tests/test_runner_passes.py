"""measure_latency's two passes: nothing polls beside the timed rounds; memory is tracked after them.

Also the measure-section keys the runner passes on (disable_gc, hard_max_time_s, budget_fraction)
and the ambient progress callback.
"""

from __future__ import annotations

import functools
import gc
import threading

import pytest

from perfsuite import runner
from perfsuite.config import build_plan
from perfsuite.errors import PerfConfigError
from perfsuite.measure import CudaClock, CudaPeakMemory, NvmlMonitor
from perfsuite.measure.fakes import FakeCuda, FakeNvml, FakeTimer
from perfsuite.report.progress import current_progress
from perfsuite.session import PreparedBatches

from conftest import QUICK_POLICY  # noqa: E402

torch = pytest.importorskip("torch")

QUICK = QUICK_POLICY
BATCHES = PreparedBatches(inputs=({"x": 1},), batch_size=2, real_tokens=(10,), truncated_samples=0, origin="test")
MODULE = torch.nn.Linear(4, 4)


def case_on(device: str, *extra: str):
    return build_plan(device=device, overrides=["model=bert.tiny", "infer.batch_sizes=[2]", *QUICK, *extra]).cases[0]


def sampler_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name in ("perf-rss", "perf-nvml")}


def test_cpu_rss_sampler_runs_only_in_the_memory_pass():
    seen: list[set[str]] = []
    outcome = runner.measure_latency(case_on("cpu"), lambda inputs: seen.append(sampler_threads()), BATCHES, MODULE)
    m = outcome.measurement
    tracked = outcome.memory.tracked_calls
    timed = m.warmup_calls + m.calls
    assert len(seen) == timed + tracked and tracked >= runner.MEMORY_PASS_CALLS
    assert all(not s for s in seen[:timed])  # warm-up and timed rounds: no sampler thread alive
    assert all(s == {"perf-rss"} for s in seen[timed:])  # the memory pass: the RSS sampler
    assert outcome.memory.host.samples >= 2


@pytest.fixture
def fake_gpu(monkeypatch):
    cuda, timer = FakeCuda(), FakeTimer()
    polled = threading.Event()

    class PollingNvml(FakeNvml):
        def nvmlDeviceGetMemoryInfo(self, handle):  # noqa: N802
            polled.set()
            return super().nvmlDeviceGetMemoryInfo(handle)

    nvml = PollingNvml(process_bytes=(100, 100, 700), throttle=(0, 0))
    monkeypatch.setattr(runner, "clock_for", lambda device, mode, block: CudaClock(mode, block=block, cuda=cuda, timer=timer, device=device))
    monkeypatch.setattr(runner, "CudaPeakMemory", functools.partial(CudaPeakMemory, cuda))
    monkeypatch.setattr(runner, "NvmlMonitor", functools.partial(NvmlMonitor, nvml=nvml, pid=nvml.pid))
    return cuda, timer, nvml, polled


def test_cuda_nvml_is_not_polled_during_timed_rounds_and_memory_comes_from_the_pass(fake_gpu):
    cuda, timer, nvml, polled = fake_gpu
    state = {"timed": True, "polled_while_timed": False, "alloc_while_timed": 0}
    calls = []

    def call(inputs):
        calls.append(1)
        cuda.launch(0.002)
        if state["timed"] and len(calls) == 4:
            # a 10 ms poller would call NVML within this wait; the endpoint-only monitor does not
            polled.clear()
            state["polled_while_timed"] = polled.wait(timeout=0.1)
        if not state["timed"]:
            cuda.alloc(50)
            cuda.free(50)

    real_pass = runner._memory_pass

    def memory_pass(*args, **kwargs):
        state["timed"] = False
        return real_pass(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "_memory_pass", memory_pass)
        outcome = runner.measure_latency(case_on("cuda"), call, BATCHES, MODULE)
    assert not state["polled_while_timed"]
    assert outcome.memory.cuda.max_allocated_bytes == 50  # peaks are the memory pass's
    device = outcome.device_state(samples=10)
    assert device["process_peak_bytes"] == 700 and device["energy_j"] == pytest.approx(4.0)
    assert "process_peak_bytes" not in device["unavailable"]


def test_disable_gc_is_on_by_default_and_can_be_turned_off():
    seen = []

    def call(inputs):
        seen.append(gc.isenabled())

    m = runner.measure_latency(case_on("cpu"), call, BATCHES, MODULE).measurement
    assert m.gc_disabled and m.to_extra_info()["gc_disabled"] is True
    assert not all(seen) and gc.isenabled()
    seen.clear()
    m = runner.measure_latency(case_on("cpu", "measure.disable_gc=false"), call, BATCHES, MODULE).measurement
    assert not m.gc_disabled and all(seen)


def test_new_measure_keys_are_validated_with_their_names():
    with pytest.raises(PerfConfigError) as info:
        case_on("cpu", "measure.disable_gc=sometimes")
    assert "disable_gc" in str(info.value)
    with pytest.raises(PerfConfigError) as info:
        case_on("cpu", "measure.stop.hard_max_time_s=0.01")
    assert "hard_max_time_s" in str(info.value) and "max_time_s" in str(info.value)
    with pytest.raises(PerfConfigError) as info:
        case_on("cpu", "measure.warmup.budget_fraction=2")
    assert "budget_fraction" in str(info.value)


def test_ambient_progress_callback_hears_every_phase_in_order():
    events = []
    token = current_progress.set(events.append)
    try:
        runner.measure_latency(case_on("cpu"), lambda inputs: sum(range(100)), BATCHES, MODULE)
    finally:
        current_progress.reset(token)
    phases = list(dict.fromkeys(e.phase for e in events))
    assert phases == ["warmup", "sampling", "memory"]
    assert events[-1].phase == "memory" and events[-1].n >= runner.MEMORY_PASS_CALLS


class CountingGenerator:
    """Speaks transformers' streamer protocol; records whether the RSS sampler was alive per call."""

    def __init__(self) -> None:
        import transformers

        self.generation_config = transformers.GenerationConfig(eos_token_id=7)
        self.seen: list[set[str]] = []
        self.prefills: list[set[str]] = []  # forward calls: the prefill's own memory pass

    def parameters(self):
        return iter([torch.zeros(1)])

    def forward(self, *, input_ids, use_cache, **kwargs):
        self.prefills.append(sampler_threads())

    __call__ = forward

    def generate(self, *, input_ids, streamer, max_new_tokens, **kwargs):
        self.seen.append(sampler_threads())
        streamer.put(input_ids)
        for _ in range(max_new_tokens):
            streamer.put(torch.zeros(input_ids.shape[0], dtype=torch.long))
        streamer.end()


def test_generation_memory_is_tracked_in_one_more_call_after_the_timed_runs():
    case = build_plan(device="cpu", overrides=["model=gpt2.tiny", "infer.batch_sizes=[1]", "measure.generation.runs=11"]).cases[0]
    module = CountingGenerator()
    model = type("Model", (), {"module": module})()
    batches = PreparedBatches(inputs=({"input_ids": torch.zeros((1, 4), dtype=torch.long)},), batch_size=1,
                              real_tokens=(4,), truncated_samples=0, origin="test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "weights_bytes", lambda module: 0)
        result, outcome = runner.measure_generation_case(case, model, batches)
    timed = case.config.measure.generation_warmup_runs + 11
    assert result.ttft.n == 11 and len(module.seen) == timed + outcome.memory.tracked_calls
    assert all(not s for s in module.seen[:timed]) and all(s == {"perf-rss"} for s in module.seen[timed:])
    assert outcome.memory.host.rss_peak_bytes > 0
    # the prefill alone is tracked in a pass of its own (forward calls), before the whole calls' pass
    assert module.prefills and all(s == {"perf-rss"} for s in module.prefills)
    assert result.prefill_memory is not None and result.prefill_memory.tracked_calls == len(module.prefills)
