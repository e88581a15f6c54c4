"""The speed probe: a reference kernel around each CPU case flags a machine that ran slow as a whole."""

from __future__ import annotations

import pytest

from perfsuite.measure.speed_probe import HOST_SLOW_THRESHOLD, SpeedProbe, SpeedReport


class FakeKernel:
    """A kernel whose every call takes `cost` seconds on a fake clock (set `cost` to play a slow phase)."""

    def __init__(self, cost: float = 1e-5) -> None:
        self.now = 0.0
        self.cost = cost
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.now += self.cost

    def timer(self) -> float:
        return self.now


def test_the_reference_is_the_fastest_probe_and_both_sides_must_be_slow():
    k = FakeKernel()
    probe = SpeedProbe(k, timer=k.timer, reps=5)
    assert probe.report(1.0, 1.0) is None  # no reference yet
    fast = probe.measure()
    assert fast == pytest.approx(1e-5) and probe.reference_s == pytest.approx(1e-5)
    assert k.calls == 6  # one call to touch the operands, then the timed repetitions
    k.cost = 1.10e-5  # the whole machine 10% slower before and after the case
    before, after = probe.measure(), probe.measure()
    report = probe.report(before, after)
    assert report is not None and report.slowdown == pytest.approx(0.10)
    flag = report.noise_flag()
    assert flag is not None and flag.code == "host_slow" and "10.0% longer" in flag.reason
    assert report.to_dict()["host_slow"] is True and probe.reference_s == pytest.approx(1e-5)  # a slower probe never moves it
    k.cost = 1e-5  # slow before, fast after: the dip did not cover the whole measurement
    assert probe.report(before, probe.measure()).noise_flag() is None


def test_a_faster_probe_becomes_the_reference_and_small_drifts_are_not_flagged():
    k = FakeKernel(1e-5)
    probe = SpeedProbe(k, timer=k.timer, reps=3)
    probe.measure()
    k.cost = 0.9e-5
    assert probe.measure() == pytest.approx(0.9e-5) and probe.reference_s == pytest.approx(0.9e-5)
    assert SpeedReport(0.9e-5 * (1 + 0.99 * HOST_SLOW_THRESHOLD), 1.0, 0.9e-5).noise_flag() is None  # a drift below it
    assert SpeedReport(0.9e-5 * (1 + 1.01 * HOST_SLOW_THRESHOLD), 1.0, 0.9e-5).noise_flag() is not None


def test_bad_probe_settings_are_refused():
    with pytest.raises(ValueError, match="reps must be >= 1"):
        SpeedProbe(reps=0)
    with pytest.raises(ValueError, match="threshold must be in"):
        SpeedProbe(threshold=0)


def test_the_real_kernel_runs_and_sets_a_reference():
    pytest.importorskip("torch")
    probe = SpeedProbe(reps=3)
    seconds = probe.measure()
    assert 0 < seconds < 1 and probe.reference_s == seconds
    report = probe.report(seconds, probe.measure())
    assert report is not None and report.slowdown >= 0


def test_measure_latency_on_cpu_records_the_probe_and_flags_a_slow_machine(monkeypatch):
    torch = pytest.importorskip("torch")
    from perfsuite import runner
    from perfsuite.config import build_plan
    from perfsuite.session import PreparedBatches

    quick = ["measure.stop.min_time_s=0.001", "measure.stop.max_time_s=0.05", "measure.stop.min_rounds=12"]
    case = build_plan(device="cpu", overrides=["model=bert.tiny", "infer.batch_sizes=[2]", *quick]).cases[0]
    batches = PreparedBatches(inputs=({"x": 1},), batch_size=2, real_tokens=(10,), truncated_samples=0, origin="test")
    k = FakeKernel(1e-5)
    probe = SpeedProbe(k, timer=k.timer, reps=3)
    probe.measure()  # an earlier case set the reference
    monkeypatch.setattr(runner, "session_probe", lambda: probe)

    def call(inputs):
        k.cost = 1.2e-5  # the machine slows down during the case and stays slow after it
        return sum(range(50))

    k.cost = 1.2e-5
    m = runner.measure_latency(case, call, batches, torch.nn.Linear(2, 2)).measurement
    assert [f.code for f in m.noise if f.code == "host_slow"] == ["host_slow"]
    assert m.extra["speed_probe"]["slowdown"] == pytest.approx(0.2) and m.extra["speed_probe"]["host_slow"] is True
    k.cost = 1e-5
    calm = runner.measure_latency(case, lambda inputs: sum(range(50)), batches, torch.nn.Linear(2, 2)).measurement
    assert "host_slow" not in [f.code for f in calm.noise] and calm.extra["speed_probe"]["slowdown"] == pytest.approx(0.0)
