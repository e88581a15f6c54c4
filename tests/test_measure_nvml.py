"""NVML monitor through a fake pynvml: memory peaks, energy, device state, failures, and the GPU
chosen by the torch device's PCI bus id."""

from __future__ import annotations

import json
import sys

import pytest

from perfsuite.measure import NvmlMonitor, NvmlUnavailableWarning
from perfsuite.measure.fakes import FakeCuda, FakeDeviceProperties, FakeNvml
from perfsuite.measure.nvml import GpuSelection, read_device_state, torch_pci_bus_id


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


# -- which GPU: torch's device found by PCI bus id, not by ordinal --------------------------------

BUS_IDS = ("00000000:3B:00.0", "00000000:3C:00.0")
# CUDA_VISIBLE_DEVICES=1,0: torch's cuda:0 is the GPU at 3C, cuda:1 the one at 3B (NVML's GPU 0)
REMAPPED = [FakeDeviceProperties("GPU at 3C", 0, 0x3C, 0), FakeDeviceProperties("GPU at 3B", 0, 0x3B, 0)]


@pytest.mark.parametrize(("torch_index", "nvml_index"), [(1, 0), (0, 1)])
def test_nvml_opens_the_gpu_at_the_torch_devices_bus_id(monkeypatch, torch_index, nvml_index):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    nvml = FakeNvml(bus_ids=BUS_IDS)
    report = run(nvml, index=torch_index, cuda=FakeCuda(devices=2, properties=REMAPPED))
    assert nvml.handles_used == {("gpu", nvml_index)}
    assert "nvmlDeviceGetHandleByIndex" not in nvml.calls
    assert report.gpu == GpuSelection(torch_index, BUS_IDS[nvml_index], "pci_bus_id")
    assert report.to_dict()["gpu"]["pci_bus_id"] == BUS_IDS[nvml_index]


def test_bus_id_is_formatted_like_nvmls():
    cuda = FakeCuda(properties=[FakeDeviceProperties("x", 0x1, 0xAF, 0x1F)])
    assert torch_pci_bus_id(cuda, 0) == "00000001:AF:1F.0"


class NoBusId(FakeCuda):
    def get_device_properties(self, device):
        raise AttributeError("'torch._C._CudaDeviceProperties' object has no attribute 'pci_bus_id'")


def test_without_a_bus_id_nvml_falls_back_to_the_ordinal_and_warns_when_it_may_be_wrong(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = FakeNvml(bus_ids=BUS_IDS)
    with pytest.warns(NvmlUnavailableWarning, match="wrong GPU"):
        report = run(nvml, index=1, cuda=NoBusId(devices=2))
    assert nvml.handles_used == {("gpu", 1)}
    assert report.gpu.by == "index" and "pci_bus_id" in report.gpu.reason and "CUDA_VISIBLE_DEVICES" in report.gpu.reason
    assert report.energy_j is not None  # the figures are still taken


def test_fallback_for_gpu_0_without_remapping_is_recorded_without_a_warning(monkeypatch, recwarn):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    report = run(FakeNvml(), index=0, cuda=NoBusId())
    assert report.gpu.by == "index" and report.gpu.reason
    assert not [w for w in recwarn if issubclass(w.category, NvmlUnavailableWarning)]


def test_bus_id_unknown_to_nvml_falls_back_with_the_reason(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    cuda = FakeCuda(properties=[FakeDeviceProperties("elsewhere", 0, 0x99, 0)])
    with pytest.warns(NvmlUnavailableWarning, match="no GPU at PCI bus id 00000000:99:00.0"):
        report = run(FakeNvml(bus_ids=BUS_IDS), index=0, cuda=cuda)
    assert report.gpu.by == "index" and "Not Found" in report.gpu.reason


def test_no_gpu_by_either_way_is_nvml_unavailable():
    with pytest.warns(NvmlUnavailableWarning, match="NVML failed to start for GPU 5"):
        report = run(FakeNvml(bus_ids=BUS_IDS), index=5, cuda=NoBusId(devices=2))
    assert report.energy_j is None and report.gpu is None
