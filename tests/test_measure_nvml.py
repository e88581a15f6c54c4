"""NVML monitor through a fake pynvml: memory peaks, energy, device state, failures."""

from __future__ import annotations

import json
import sys

import pytest

from perfsuite.measure import NvmlMonitor, NvmlUnavailableWarning
from perfsuite.measure.fakes import FakeNvml
from perfsuite.measure.nvml import read_device_state


def run(nvml, **kw):
    with NvmlMonitor(nvml=nvml, pid=nvml.pid, period_s=0.001, **kw) as mon:
        pass
    return mon.report


def test_memory_peaks_and_energy_counter():
    nvml = FakeNvml(process_bytes=(100, 700, 300), used_bytes=(1000, 9000, 2000), energy_mj=(5_000, 9_500))
    report = run(nvml)
    assert report.process_peak_bytes == 700  # the sampler saw at least the start and stop samples
    assert report.device_used_peak_bytes == 9000
    assert report.energy_j == pytest.approx(4.5) and report.energy_method == "total_energy_counter"
    assert report.energy_per_sample_j(9) == pytest.approx(0.5)
    assert report.samples >= 2 and not nvml.initialized  # shut down again
    assert report.unavailable == {}


def test_energy_falls_back_to_integrated_power_when_counter_unsupported():
    clock = iter(range(10**6))
    nvml = FakeNvml(power_mw=250_000.0, fail={"nvmlDeviceGetTotalEnergyConsumption"})
    report = run(nvml, now=lambda: float(next(clock)))  # each power sample 1 "second" apart
    assert report.energy_method == "integrated_power"
    assert report.energy_j == pytest.approx(250.0 * (report.samples - 1))
    assert "energy_counter" in report.unavailable


def test_nvml_init_failing_warns_and_marks_everything_unavailable():
    nvml = FakeNvml(fail={"nvmlInit"})
    with pytest.warns(NvmlUnavailableWarning, match="NVML failed to start"):
        report = run(nvml)
    assert report.process_peak_bytes is None and report.device_used_peak_bytes is None and report.energy_j is None
    assert report.before is None and report.after is None
    assert "nvmlInit" in report.unavailable["energy_j"]
    d = report.to_dict(samples=10)
    assert d["energy_per_sample_j"] is None and d["unavailable"]["energy_per_sample_j"]
    assert json.loads(json.dumps(d)) == d


def test_missing_pynvml_warns_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    with pytest.warns(NvmlUnavailableWarning, match=r"perfsuite\[cuda\]"):
        with NvmlMonitor() as mon:
            pass
    assert mon.report.energy_j is None and "not installed" in mon.report.unavailable["energy_j"]


def test_one_failing_metric_is_unavailable_and_the_rest_still_reported():
    nvml = FakeNvml(fail={"nvmlDeviceGetComputeRunningProcesses"})
    with pytest.warns(NvmlUnavailableWarning, match="process_peak_bytes"):
        report = run(nvml)
    assert report.process_peak_bytes is None and "Not Supported" in report.unavailable["process_peak_bytes"]
    assert report.device_used_peak_bytes == 1000 and report.energy_j == pytest.approx(4.0)


def test_process_not_listed_is_unavailable_not_zero():
    nvml = FakeNvml()
    with pytest.warns(NvmlUnavailableWarning, match="did not list pid"):
        with NvmlMonitor(nvml=nvml, pid=999_999, period_s=0.001) as mon:
            pass
    assert mon.report.process_peak_bytes is None


def test_device_state_before_after_and_throttle_flag():
    nvml = FakeNvml(throttle=(0x1, 0x20 | 0x4), sm_clock_mhz=1400, temperature_c=83)
    report = run(nvml)
    assert report.before.throttle_names == ("gpu_idle",) and report.before.limiting == ()
    assert report.after.sm_clock_mhz == 1400 and report.after.temperature_c == 83
    assert report.throttled == ("sw_power_cap", "sw_thermal_slowdown")
    flag = report.noise_flag()
    assert flag.code == "throttled" and "sw_thermal_slowdown" in flag.reason


def test_idle_reason_alone_is_not_throttling():
    assert run(FakeNvml(throttle=(0x1, 0x1))).noise_flag() is None


def test_read_device_state_marks_failed_readings():
    state = read_device_state(FakeNvml(fail={"nvmlDeviceGetTemperature"}), ("gpu", 0))
    assert state.temperature_c is None and "temperature_c" in state.unavailable
    assert state.sm_clock_mhz == 1500
