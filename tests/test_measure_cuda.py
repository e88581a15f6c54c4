"""CUDA paths through fakes: event timing in both modes, synchronize discipline, peak memory."""

from __future__ import annotations

import pytest

from perfsuite.errors import PerfConfigError
from perfsuite.measure import CudaClock, CudaPeakMemory, StopPolicy, WarmupPolicy, clock_for, measure
from perfsuite.measure.fakes import FakeCuda, FakeTimer

FAST_WARMUP = WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=10)


class GpuWork:
    """Each call enqueues the next device duration and spends `host_s` launching it."""

    def __init__(self, cuda, timer, device_s, host_s=0.0001):
        self.cuda, self.timer, self.device_s, self.host_s = cuda, timer, list(device_s), host_s
        self.calls = 0

    def __call__(self):
        self.cuda.launch(self.device_s[self.calls % len(self.device_s)])
        self.timer.advance(self.host_s)
        self.calls += 1


def setup(device_s, host_s=0.0001, **kw):
    cuda, timer = FakeCuda(), FakeTimer()
    return cuda, timer, GpuWork(cuda, timer, device_s, host_s), CudaClock(cuda=cuda, timer=timer, **kw)


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


def test_pipelined_warmup_plans_with_the_time_of_a_whole_block():
    # 0.1 s calls in blocks of 10: a warm sample takes 1 s. max_time_s=20 gives warm-up 5 s; after the
    # cold call and 2 samples (2.1 s) 2 more samples fit, 4 in all -> window 2. (Planning with 0.1 s
    # per sample would think 29 more fit and keep the policy's window of 5: 10 samples, 10 s.)
    cuda, timer, work, clock = setup([0.1], host_s=0.1, mode="pipelined", block=10)
    m = measure(work, clock=clock, warmup=WarmupPolicy(), stop=StopPolicy(min_time_s=1, max_time_s=20))
    assert m.warmup_plan.scaled and m.warmup_plan.window == 2
    assert m.warmup_time_s <= 5.1
