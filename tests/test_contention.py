"""Contention monitor from scripted counters: no sleeps, no timing assertions."""

from __future__ import annotations

import json
import os

import pytest

from perfsuite.measure.contention import (
    CPU_SHARE_THRESHOLD,
    ContentionMonitor,
    Counters,
    compare,
    read_counters,
    sample_load,
)


def counters(wall, cpu, busy=None, *, total=None, switches=0, runnable=1, loadavg=(1.0, 1.0, 1.0), unavailable=None):
    busy = busy or {}
    return Counters(wall, cpu, switches, busy, total or {c: wall for c in busy}, runnable, loadavg, unavailable or {})


class Script:
    """``read(cores)`` returning the scripted readings in turn, recording the cores it was asked for."""

    def __init__(self, *readings):
        self.readings = list(readings)
        self.asked = []

    def __call__(self, cores):
        self.asked.append(tuple(cores))
        return self.readings.pop(0)


def monitored(start, end, **kw):
    read = Script(start, end)
    with ContentionMonitor(read=read, **kw) as mon:
        pass
    return mon.report, read


def test_single_thread_cpu_case_that_got_half_its_core_is_contended():
    report, read = monitored(
        counters(100.0, 10.0, {0: 50.0}, switches=5, runnable=2),
        counters(102.0, 11.04, {0: 52.0}, switches=900, runnable=3, loadavg=(3.1, 2.0, 1.0)),
        threads=1, cpu_bound=True, pinned=True, cores=[0],
    )
    assert read.asked == [(0,), (0,)]
    assert report.cpu_share == pytest.approx(0.52) and report.others_share == pytest.approx(0.48)
    flag = report.noise_flag()
    assert flag.code == "contended"
    assert flag.reason.startswith("this process got 52% of its pinned core 0 during sampling")
    assert "other processes used 48% of pinned core 0" in flag.reason
    assert "2 other processes were runnable" in flag.reason and "load average 3.10" in flag.reason
    assert "895 involuntary context switches" in flag.reason


def test_a_case_given_its_core_is_not_flagged():
    report, _ = monitored(
        counters(0.0, 0.0, {0: 10.0}), counters(2.0, 1.98, {0: 12.0}, runnable=1),
        threads=1, cpu_bound=True, pinned=True, cores=[0],
    )
    assert report.noise_flag() is None
    d = report.to_dict()
    assert d["contended"] is False and d["cpu_share"] == pytest.approx(0.99) and d["runnable_others"] == 0
    assert json.loads(json.dumps(d)) == d


def test_threshold_is_a_strict_lower_bound():
    just = compare(counters(0, 0), counters(1.0, CPU_SHARE_THRESHOLD), threads=1, cores=[0], cpu_bound=True, pinned=False)
    below = compare(counters(0, 0), counters(1.0, CPU_SHARE_THRESHOLD - 0.01), threads=1, cores=[0], cpu_bound=True, pinned=False)
    assert just.noise_flag() is None
    assert below.noise_flag() is not None and "of a core" in below.noise_flag().reason  # not pinned: no core named


def test_cuda_case_is_judged_by_others_on_its_core_not_by_its_own_cpu_share():
    # the host thread waits on the GPU: 20% CPU is normal on CUDA
    idle_gpu_wait = compare(counters(0, 0, {3: 0.0}), counters(2.0, 0.4, {3: 0.45}), threads=1, cores=[3], cpu_bound=False, pinned=True)
    assert idle_gpu_wait.noise_flag() is None
    crowded = compare(counters(0, 0, {3: 0.0}), counters(2.0, 0.4, {3: 1.9}), threads=1, cores=[3], cpu_bound=False, pinned=True)
    assert crowded.others_share == pytest.approx(0.75)
    assert crowded.noise_flag().reason.startswith("other processes used 75% of pinned core 3")


def test_multithreaded_cpu_case_is_not_flagged_for_an_idle_pool():
    # 4 threads, half of their time idle between small ops, nobody else on the cores
    report = compare(
        counters(0, 0, dict.fromkeys(range(4), 0.0)), counters(1.0, 2.0, dict.fromkeys(range(4), 0.5)),
        threads=4, cores=range(4), cpu_bound=True, pinned=True,
    )
    assert report.cpu_share == pytest.approx(0.5) and report.noise_flag() is None
    assert report.to_dict()["threads"] == 4


def test_short_blocks_are_not_judged():
    short = compare(counters(0, 0, {0: 0.0}), counters(0.05, 0.01, {0: 0.05}), threads=1, cores=[0], cpu_bound=True, pinned=True)
    assert short.noise_flag() is None
    # the per-core rule needs a second of /proc/stat ticks; the rusage rule does not
    tick_noise = compare(counters(0, 0, {0: 0.0}), counters(0.5, 0.49, {0: 0.6}), threads=1, cores=[0], cpu_bound=True, pinned=True)
    assert tick_noise.others_share > 0.2 and tick_noise.noise_flag() is None


def test_missing_core_times_leave_the_rusage_rule_and_say_why():
    report = compare(
        counters(0, 0, unavailable={"core_times": "FileNotFoundError: /proc/stat"}),
        counters(1.0, 0.5, runnable=None, loadavg=None),
        threads=1, cores=[0], cpu_bound=True, pinned=True,
    )
    assert report.others_core_s is None and "core_times" in report.unavailable
    assert report.noise_flag().reason == "this process got 50% of its pinned core 0 during sampling; 0 involuntary context switches"


def test_unpinned_process_is_not_judged_by_the_whole_machine(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr("perfsuite.measure.contention._affinity", lambda: (0, 1))
    report, read = monitored(
        counters(0, 0, {0: 0.0, 1: 0.0}), counters(2.0, 1.99, {0: 2.0, 1: 2.0}),
        threads=1, cpu_bound=True, pinned=True,  # the config asked to pin, but nothing narrowed the affinity
    )
    assert read.asked == [(0, 1), (0, 1)] and report.pinned is False and report.noise_flag() is None


def test_read_counters_reads_this_process_and_its_core():
    core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    c = read_counters([core])
    assert c.cpu_s > 0 and c.wall_s > 0 and c.involuntary_switches is not None
    if not c.unavailable:
        assert c.core_total_s[core] >= c.core_busy_s[core] >= 0 and c.runnable >= 1


def test_sample_load_from_injected_readers():
    load = sample_load(0.1, cpu_percent=lambda interval: [97.0, 12.5, 60.0], loadavg=lambda: (2.345, 1.0, 0.5), runnable=lambda: 4)
    assert load["busy_cores"] == 2 and load["per_core_busy_percent"] == [97.0, 12.5, 60.0]
    assert load["loadavg"] == [2.35, 1.0, 0.5] and load["runnable"] == 4 and load["unavailable"] == {}


def test_sample_load_marks_failed_readers_unavailable_not_zero():
    def broken(*_):
        raise OSError("no /proc here")

    load = sample_load(0.1, cpu_percent=broken, loadavg=broken, runnable=broken)
    assert load["busy_cores"] is None and load["loadavg"] is None and load["runnable"] is None
    assert set(load["unavailable"]) == {"per_core_busy_percent", "loadavg", "runnable"}


def test_measure_latency_adds_the_contended_flag_and_the_figures(monkeypatch):
    torch = pytest.importorskip("torch")
    from perfsuite import runner
    from perfsuite.config import build_plan
    from perfsuite.session import PreparedBatches

    quick = ["measure.stop.min_time_s=0.001", "measure.stop.max_time_s=0.05", "measure.stop.min_rounds=12"]
    case = build_plan(device="cpu", overrides=["model=bert.tiny", "infer.batch_sizes=[2]", *quick]).cases[0]
    batches = PreparedBatches(inputs=({"x": 1},), batch_size=2, real_tokens=(10,), truncated_samples=0, origin="test")
    script = Script(counters(0.0, 0.0, {0: 0.0}), counters(4.0, 2.0, {0: 4.0}, runnable=2))
    monkeypatch.setattr(runner, "ContentionMonitor", lambda **kw: ContentionMonitor(read=script, cores=[0], **kw))
    outcome = runner.measure_latency(case, lambda inputs: sum(range(50)), batches, torch.nn.Linear(2, 2))
    m = outcome.measurement
    contended = [f for f in m.noise if f.code == "contended"]
    assert len(contended) == 1 and "got 50% of its pinned core 0" in contended[0].reason
    assert "1 other process was runnable" in contended[0].reason
    assert m.extra["contention"]["cpu_share"] == pytest.approx(0.5) and m.extra["contention"]["contended"] is True
    assert m.to_extra_info()["extra"]["contention"]["threads"] == 1
