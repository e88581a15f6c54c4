"""CUDA paths through fakes: event timing in both modes, synchronize discipline, peak memory,
and every call bound to the case's device (cuda:1 while device 0 is current)."""

from __future__ import annotations

import functools
import sys
import types

import pytest

from perfsuite.errors import PerfConfigError
from perfsuite.measure import CudaClock, CudaPeakMemory, NvmlMonitor, StopPolicy, WarmupPolicy, catch_oom, clock_for, measure
from perfsuite.measure.clocks import cuda_device_index
from perfsuite.measure.fakes import FakeCuda, FakeDeviceProperties, FakeNvml, FakeOutOfMemoryError, FakeTimer

# Two GPUs, NVML order 3B then 3C; CUDA_VISIBLE_DEVICES=1,0 makes torch's cuda:0 the 3C one.
BUS_IDS = ("00000000:3B:00.0", "00000000:3C:00.0")
REMAPPED = [FakeDeviceProperties("GPU at 3C", 0, 0x3C, 0), FakeDeviceProperties("GPU at 3B", 0, 0x3B, 0)]

FAST_WARMUP = WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=10)


class GpuWork:
    """Each call enqueues the next device duration and spends `host_s` launching it."""

    def __init__(self, cuda, timer, device_s, host_s=0.0001, device=None):
        self.cuda, self.timer, self.device_s, self.host_s = cuda, timer, list(device_s), host_s
        self.device = device  # where the model lives: its kernels run there whatever the current device
        self.calls = 0

    def __call__(self):
        self.cuda.launch(self.device_s[self.calls % len(self.device_s)], self.device)
        self.timer.advance(self.host_s)
        self.calls += 1


def setup(device_s, host_s=0.0001, **kw):
    cuda, timer = FakeCuda(devices=2), FakeTimer()
    work = GpuWork(cuda, timer, device_s, host_s, device=kw.get("device"))
    return cuda, timer, work, CudaClock(cuda=cuda, timer=timer, **kw)


def test_isolated_mode_times_each_call_on_device_with_a_sync_around_it():
    cuda, timer, work, clock = setup([0.002, 0.004, 0.003])
    reading = clock.collect(work, 3)
    assert reading.samples_s == pytest.approx([0.002, 0.004, 0.003])
    assert reading.host_s == pytest.approx([0.0001] * 3)  # host launch time, next to device time
    assert cuda.syncs == 6 and cuda.records == 6
    assert clock.sync_mode == "isolated" and clock.calls_per_sample == 1


def test_pipelined_mode_times_blocks_with_one_sync_each():
    cuda, timer, work, clock = setup([0.001, 0.003], mode="pipelined", block=4)
    reading = clock.collect(work, 3)
    assert work.calls == 12
    assert reading.samples_s == pytest.approx([0.002] * 3)  # block of 4 calls = 8 ms -> 2 ms per call
    assert reading.host_s == pytest.approx([0.0001] * 3)
    assert cuda.syncs == 1 + 3  # one before the first block, then one per block
    assert clock.calls_per_sample == 4


def test_first_call_is_timed_in_isolation_in_pipelined_mode():
    cuda, timer, work, clock = setup([0.05, 0.001], mode="pipelined", block=8)
    assert clock.time_first_call(work) == pytest.approx(0.05)
    assert work.calls == 1


def test_fake_events_refuse_to_report_before_a_synchronize():
    cuda = FakeCuda()
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    start.record()
    cuda.launch(0.01)
    end.record()
    with pytest.raises(RuntimeError, match="synchronize"):
        start.elapsed_time(end)
    cuda.synchronize()
    assert start.elapsed_time(end) == pytest.approx(10.0)


def test_measure_with_cuda_clock_records_mode_and_host_stats():
    cuda, timer, work, clock = setup([0.002], host_s=0.0005, mode="pipelined", block=5, device="cuda:1")
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.05, min_rounds=10, max_time_s=5))
    assert m.clock == "cuda_event" and m.sync_mode == "pipelined" and m.device == "cuda:1"
    assert m.calls_per_sample == 5 and m.calls == 5 * m.rounds
    assert m.median_s == pytest.approx(0.002)
    assert m.host_stats is not None and m.host_stats.p50_s == pytest.approx(0.0005)
    info = m.to_extra_info()
    assert info["sync_mode"] == "pipelined" and len(info["host_samples_s"]) == m.rounds
    assert info["host_stats"]["p50_s"] == pytest.approx(0.0005)


def test_cuda_clock_validates_mode_and_block():
    with pytest.raises(PerfConfigError, match="isolated"):
        CudaClock("async", cuda=FakeCuda())
    with pytest.raises(PerfConfigError) as info:
        CudaClock("pipelined", block=0, cuda=FakeCuda())
    assert info.value.key == "clock.block"


def test_clock_for_knows_cpu_and_refuses_unknown_devices():
    assert clock_for("cpu").sync_mode == "none"
    with pytest.raises(PerfConfigError, match="no clock"):
        clock_for("tpu")


def test_peak_memory_resets_then_reads_allocated_and_reserved():
    cuda = FakeCuda()
    cuda.alloc(1000)
    cuda.alloc(5000)
    cuda.free(5000)  # an earlier peak of 6000 must not leak into the case
    with CudaPeakMemory(cuda) as peak:
        cuda.alloc(300)
        cuda.free(300)
    assert cuda.resets == 1
    assert peak.result.max_allocated_bytes == 1300
    assert peak.result.max_reserved_bytes == 6000  # reserved stays at the caching allocator's high-water mark
    assert peak.result.to_dict() == {"max_allocated_bytes": 1300, "max_reserved_bytes": 6000}
    assert cuda.syncs == 2


def test_first_timed_chunk_fits_the_budget_in_pipelined_mode():
    # a sample is a block of 10 calls of 0.1 s: 1 s per sample, so the 11 samples p50 needs take
    # 11 s (past max_time_s, within hard_max_time_s) -- 11 samples, not 110
    cuda, timer, work, clock = setup([0.1], host_s=0.1, mode="pipelined", block=10)
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=1, min_rounds=100, max_time_s=3))
    assert m.stop_reason == "max_time"
    assert m.rounds == 11


# -- bound to the case's device: cuda:1 with device 0 current ------------------------------------


@pytest.mark.parametrize("mode", ["isolated", "pipelined"])
def test_clock_on_cuda_1_syncs_and_records_on_device_1_only(mode):
    cuda, timer, work, clock = setup([0.002, 0.004], mode=mode, block=2, device="cuda:1")
    cuda.launch(5.0, 0)  # another case's work on device 0 must not leak into these samples
    assert cuda.current_device() == 0
    reading = clock.collect(work, 4)
    assert reading.samples_s == pytest.approx([0.003] * 4 if mode == "pipelined" else [0.002, 0.004] * 2)
    assert cuda.devices_hit("synchronize") == {1} and cuda.devices_hit("record") == {1}
    assert clock.time_first_call(work) > 0 and cuda.devices_hit("synchronize") == {1}


def test_fake_refuses_events_of_one_device_read_after_a_sync_of_another():
    cuda = FakeCuda(devices=2)
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    stream = cuda.current_stream(1)
    start.record(stream)
    cuda.launch(0.01, 1)
    end.record(stream)
    cuda.synchronize()  # the current device, 0: what an unbound clock would do
    with pytest.raises(RuntimeError, match="synchronize"):
        start.elapsed_time(end)
    cuda.synchronize(1)
    assert start.elapsed_time(end) == pytest.approx(10.0)
    other = cuda.Event(enable_timing=True)
    other.record()  # current device 0
    with pytest.raises(RuntimeError, match="different devices"):
        start.elapsed_time(other)


def test_fake_refuses_a_device_it_does_not_have():
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        FakeCuda(devices=2).synchronize("cuda:2")


def test_peak_memory_on_cuda_1_reads_device_1():
    cuda = FakeCuda(devices=2)
    cuda.alloc(9000, 0)  # device 0's peak is no concern of a cuda:1 case
    with CudaPeakMemory(cuda, device="cuda:1") as peak:
        cuda.alloc(300, 1)
        cuda.free(300, 1)
    assert peak.result.max_allocated_bytes == 300
    for name in ("synchronize", "reset_peak_memory_stats", "max_memory_allocated", "max_memory_reserved"):
        assert cuda.devices_hit(name) == {1}, name


def test_oom_on_cuda_1_empties_device_1s_cache_and_restores_the_current_device():
    cuda = FakeCuda(devices=2)
    cuda.alloc(500, 1)
    cuda.free(500, 1)
    with catch_oom(4, cuda=cuda, device="cuda:1") as oom:
        raise FakeOutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert oom.record is not None and oom.record.batch_size == 4
    assert cuda.devices_hit("empty_cache") == {1} and cuda.reserved_bytes[1] == 0
    assert cuda.current_device() == 0


def test_session_frees_the_plan_device_cache(monkeypatch):
    from perfsuite import session

    cuda = FakeCuda(devices=2)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    session._empty_device_cache("cuda:1")
    session._empty_device_cache("cpu")
    assert cuda.devices_hit("empty_cache") == {1} and cuda.empty_cache_calls == 1


@pytest.mark.parametrize("device", ["cuda:x", "cuda:-1", "cuda:", "cuda:1:2", "gpu:0", "cuda: 1"])
def test_bad_cuda_device_strings_are_config_errors(device):
    with pytest.raises(PerfConfigError, match="not a CUDA device") as info:
        cuda_device_index(device)
    assert info.value.key == "device" and "cuda:1" in str(info.value)
    if device.startswith("cuda"):
        with pytest.raises(PerfConfigError):
            clock_for(device)


def test_cuda_device_index():
    assert cuda_device_index("cuda") is None and cuda_device_index("cuda:0") == 0 and cuda_device_index("cuda:12") == 12


def test_plain_cuda_follows_the_current_device():
    cuda, timer = FakeCuda(devices=2), FakeTimer()
    cuda.set_device(1)
    clock = CudaClock(cuda=cuda, timer=timer, device="cuda")
    clock.collect(GpuWork(cuda, timer, [0.001]), 2)  # the model went to .to("cuda"): the current device
    assert cuda.devices_hit("synchronize") == {1}


def test_measure_latency_on_cuda_1_touches_only_device_1(monkeypatch):
    torch = pytest.importorskip("torch")
    from perfsuite import runner
    from perfsuite.config import build_plan
    from perfsuite.session import PreparedBatches

    cuda, timer = FakeCuda(devices=2, properties=REMAPPED), FakeTimer()
    nvml = FakeNvml(bus_ids=BUS_IDS)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    monkeypatch.setattr(runner, "clock_for", lambda device, mode, block: CudaClock(mode, block=block, cuda=cuda, timer=timer, device=device))
    monkeypatch.setattr(runner, "CudaPeakMemory", functools.partial(CudaPeakMemory, cuda))
    monkeypatch.setattr(runner, "NvmlMonitor", functools.partial(NvmlMonitor, nvml=nvml, pid=nvml.pid, cuda=cuda))
    monkeypatch.setattr(runner, "catch_oom", functools.partial(catch_oom, cuda=cuda))
    case = build_plan(
        device="cuda:1",
        overrides=["model=bert.tiny", "infer.batch_sizes=[2]", "measure.stop.min_time_s=0.001", "measure.stop.max_time_s=0.05",
                   "measure.stop.min_rounds=12", "measure.warmup.min_calls=2", "measure.warmup.window=1"],
    ).cases[0]
    batches = PreparedBatches(inputs=({"x": 1},), batch_size=2, real_tokens=(10,), truncated_samples=0, origin="test")

    def call(inputs):
        cuda.launch(0.004, 1)
        cuda.alloc(10, 1)
        cuda.free(10, 1)
        timer.advance(0.0001)

    outcome = runner.measure_latency(case, call, batches, torch.nn.Linear(2, 2))
    assert outcome.measurement.median_s == pytest.approx(0.004)
    assert outcome.memory.cuda.max_allocated_bytes == 10
    assert {d for _, d in cuda.calls} == {1}
    assert nvml.handles_used == {("gpu", 0)}  # torch's cuda:1 is NVML's GPU 0 under CUDA_VISIBLE_DEVICES=1,0
    assert outcome.device_state()["gpu"] == {"torch_index": 1, "pci_bus_id": BUS_IDS[0], "by": "pci_bus_id", "reason": None}

    def oom(inputs):
        cuda.alloc(100, 1)
        cuda.free(100, 1)
        raise FakeOutOfMemoryError("CUDA out of memory.")

    assert runner.measure_latency(case, oom, batches, torch.nn.Linear(2, 2)).oom is not None
    assert cuda.devices_hit("empty_cache") == {1}


def test_pipelined_warmup_plans_with_the_time_of_a_whole_block():
    # 0.1 s calls in blocks of 10: a warm sample takes 1 s. max_time_s=20 gives warm-up 5 s; after the
    # cold call and 2 samples (2.1 s) 2 more samples fit, 4 in all -> window 2. (Planning with 0.1 s
    # per sample would think 29 more fit and keep the policy's window of 5: 10 samples, 10 s.)
    cuda, timer, work, clock = setup([0.1], host_s=0.1, mode="pipelined", block=10)
    m = measure(work, clock=clock, warmup=WarmupPolicy(), stop=StopPolicy(min_time_s=1, max_time_s=20))
    assert m.warmup_plan.scaled and m.warmup_plan.window == 2
    assert m.warmup_time_s <= 5.1
