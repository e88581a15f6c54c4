"""NVML (nvidia-ml-py) around a case: memory, energy and device state, one session.

    with NvmlMonitor(index=0) as mon:        # nvml=<fake module> in tests
        m = measure(fn, clock=CudaClock())
    report = mon.report
    m = m.with_extra(nvml=report.to_dict(samples=m.calls * batch_size))
    if (flag := report.noise_flag()) is not None:
        m = m.with_noise(flag.code, flag.reason)

- Memory: a sampling thread (10 ms) records the peak of this process's GPU memory
  (``nvmlDeviceGetComputeRunningProcesses``) and of the device's used memory, bytes.
- Energy: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ counter) before/after; where the
  counter is not supported, the sampled power (``nvmlDeviceGetPowerUsage``, mW) is
  integrated with the trapezoid rule. Reported in joules, and per sample on request.
- Device state before and after: SM and memory clocks (MHz), temperature (°C) and
  clock throttle reasons; a reason that limits performance (power cap, thermal or
  hardware slowdown) makes `NvmlReport.noise_flag` return a ``throttled`` flag.

Which GPU: NVML numbers GPUs in its own order and ignores CUDA_VISIBLE_DEVICES, so torch's
``cuda:1`` is not NVML's index 1 on a machine with remapped devices. The monitor asks torch for
the PCI bus id of its device (``get_device_properties(i).pci_domain_id/pci_bus_id/pci_device_id``)
and opens that GPU with ``nvmlDeviceGetHandleByPciBusId``. Only where the bus id cannot be had
does it fall back to the ordinal, and records why in the report's ``gpu`` (a
`NvmlUnavailableWarning` too when the ordinal may be wrong: index > 0 or CUDA_VISIBLE_DEVICES set).

When nvidia-ml-py is missing or NVML fails, a `NvmlUnavailableWarning` is issued and
each affected figure is ``None`` with its reason in ``unavailable`` — never zero.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from perfsuite.measure.memory import DEFAULT_PERIOD_S, PeriodicSampler
from perfsuite.measure.record import NoiseFlag

THROTTLE_REASONS: Mapping[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
#: Reasons that mean the clocks were held down while we measured.
LIMITING_THROTTLE_MASK = 0x4 | 0x8 | 0x20 | 0x40 | 0x80
_NVML_CLOCK_SM = 1
_NVML_CLOCK_MEM = 2
_NVML_TEMPERATURE_GPU = 0


class NvmlUnavailableWarning(UserWarning):
    """NVML could not provide some figures; they are reported as unavailable."""


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class DeviceState:
    """Clocks (MHz), temperature (°C) and throttle-reason bits at one moment."""

    sm_clock_mhz: int | None
    mem_clock_mhz: int | None
    temperature_c: int | None
    throttle_reasons: int | None
    unavailable: Mapping[str, str] = field(default_factory=dict)

    @property
    def throttle_names(self) -> tuple[str, ...]:
        bits = self.throttle_reasons or 0
        return tuple(name for bit, name in THROTTLE_REASONS.items() if bits & bit)

    @property
    def limiting(self) -> tuple[str, ...]:
        bits = (self.throttle_reasons or 0) & LIMITING_THROTTLE_MASK
        return tuple(name for bit, name in THROTTLE_REASONS.items() if bits & bit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sm_clock_mhz": self.sm_clock_mhz,
            "mem_clock_mhz": self.mem_clock_mhz,
            "temperature_c": self.temperature_c,
            "throttle_reasons": self.throttle_reasons,
            "throttle_names": list(self.throttle_names),
            "unavailable": dict(self.unavailable),
        }


def read_device_state(nvml: Any, handle: Any) -> DeviceState:
    """One reading of clocks, temperature and throttle reasons; failures become reasons."""
    missing: dict[str, str] = {}

    def get(name: str, call: Callable[[], Any]) -> Any:
        try:
            return int(call())
        except Exception as exc:  # NVML raises its own NVMLError subclasses; any failure is "unavailable"
            missing[name] = _why(exc)
            return None

    reasons_fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        nvml, "nvmlDeviceGetCurrentClocksThrottleReasons"
    )
    return DeviceState(
        sm_clock_mhz=get("sm_clock_mhz", lambda: nvml.nvmlDeviceGetClockInfo(handle, _NVML_CLOCK_SM)),
        mem_clock_mhz=get("mem_clock_mhz", lambda: nvml.nvmlDeviceGetClockInfo(handle, _NVML_CLOCK_MEM)),
        temperature_c=get("temperature_c", lambda: nvml.nvmlDeviceGetTemperature(handle, _NVML_TEMPERATURE_GPU)),
        throttle_reasons=get("throttle_reasons", lambda: reasons_fn(handle)),
        unavailable=missing,
    )


@dataclass(frozen=True)
class GpuSelection:
    """How the NVML handle of torch's ``cuda:<torch_index>`` was found."""

    torch_index: int
    pci_bus_id: str | None  # NVML's format, "00000000:3B:00.0"
    by: str  # "pci_bus_id", or "index" (the fallback)
    reason: str | None = None  # why the fallback was needed

    def to_dict(self) -> dict[str, Any]:
        return {"torch_index": self.torch_index, "pci_bus_id": self.pci_bus_id, "by": self.by, "reason": self.reason}


def torch_pci_bus_id(cuda: Any, index: int) -> str:
    """PCI bus id of torch's ``cuda:<index>`` in NVML's format (``"00000000:3B:00.0"``)."""
    props = cuda.get_device_properties(index)
    return f"{int(props.pci_domain_id):08X}:{int(props.pci_bus_id):02X}:{int(props.pci_device_id):02X}.0"


def nvml_handle_for(nvml: Any, index: int, cuda: Any | None) -> tuple[Any, GpuSelection]:
    """The NVML handle of torch's ``cuda:<index>``: by PCI bus id, else by ordinal (with the reason).

    ``cuda`` is ``torch.cuda`` (or a fake); None when torch is not loaded. Raises what
    ``nvmlDeviceGetHandleByIndex`` raises when the fallback fails too.
    """
    bus_id: str | None = None
    if cuda is None:
        reason = "torch is not loaded, so the PCI bus id of the torch device is unknown"
    else:
        try:
            bus_id = torch_pci_bus_id(cuda, index)
        except Exception as exc:  # old torch without pci_* fields, or no CUDA: fall back, say why
            reason = f"torch could not give the PCI bus id of cuda:{index} ({_why(exc)})"
        else:
            try:
                return nvml.nvmlDeviceGetHandleByPciBusId(bus_id), GpuSelection(index, bus_id, "pci_bus_id")
            except Exception as exc:  # NVMLError_NotFound, or a pynvml without the call
                reason = f"NVML found no GPU at PCI bus id {bus_id} ({_why(exc)})"
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    reason += f"; used NVML's GPU {index}, which is another GPU if CUDA_VISIBLE_DEVICES remaps devices"
    return handle, GpuSelection(index, bus_id, "index", reason)


def _loaded_torch_cuda() -> Any | None:
    torch = sys.modules.get("torch")  # a CUDA case has torch loaded; never import it just for this
    return None if torch is None else torch.cuda


@dataclass(frozen=True)
class NvmlReport:
    """What NVML saw around a case. ``None`` figures have their reason in ``unavailable``."""

    process_peak_bytes: int | None
    device_used_peak_bytes: int | None
    energy_j: float | None
    energy_method: str | None  # "total_energy_counter" or "integrated_power"
    before: DeviceState | None
    after: DeviceState | None
    samples: int
    unavailable: Mapping[str, str] = field(default_factory=dict)
    gpu: GpuSelection | None = None  # which GPU NVML read, and how it was found

    def energy_per_sample_j(self, samples: int) -> float | None:
        """Joules per inference sample (``samples`` = calls x batch size)."""
        if self.energy_j is None or samples <= 0:
            return None
        return self.energy_j / samples

    @property
    def throttled(self) -> tuple[str, ...]:
        """Limiting throttle reasons seen before or after the case."""
        names: list[str] = []
        for state in (self.before, self.after):
            for name in state.limiting if state is not None else ():
                if name not in names:
                    names.append(name)
        return tuple(names)

    def noise_flag(self) -> NoiseFlag | None:
        names = self.throttled
        if not names:
            return None
        return NoiseFlag("throttled", f"GPU clocks throttled around the case: {', '.join(names)}")

    def to_dict(self, *, samples: int | None = None) -> dict[str, Any]:
        missing = dict(self.unavailable)
        per_sample = None
        if samples is not None:
            per_sample = self.energy_per_sample_j(samples)
            if per_sample is None:
                missing.setdefault("energy_per_sample_j", missing.get("energy_j", "no samples"))
        return {
            "process_peak_bytes": self.process_peak_bytes,
            "device_used_peak_bytes": self.device_used_peak_bytes,
            "energy_j": self.energy_j,
            "energy_method": self.energy_method,
            "energy_per_sample_j": per_sample,
            "before": None if self.before is None else self.before.to_dict(),
            "after": None if self.after is None else self.after.to_dict(),
            "throttled": list(self.throttled),
            "nvml_samples": self.samples,
            "gpu": None if self.gpu is None else self.gpu.to_dict(),
            "unavailable": missing,
        }


_ALL = ("process_peak_bytes", "device_used_peak_bytes", "energy_j", "device_state")


class NvmlMonitor:
    """Context manager: NVML session + sampling thread; ``report`` is set on exit.

    ``index`` is the *torch* ordinal of the device; ``cuda`` is ``torch.cuda`` (default: the
    loaded torch's) or a fake, used to find that device's PCI bus id.
    """

    def __init__(
        self,
        index: int = 0,
        *,
        period_s: float = DEFAULT_PERIOD_S,
        pid: int | None = None,
        nvml: Any | None = None,
        cuda: Any | None = None,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._index = index
        self._cuda = cuda
        self._gpu: GpuSelection | None = None
        self._period = period_s
        self._pid = os.getpid() if pid is None else pid
        self._nvml = nvml
        self._now = now
        self._handle: Any = None
        self._lock = threading.Lock()
        self._missing: dict[str, str] = {}
        self._proc_peak: int | None = None
        self._dev_peak: int | None = None
        self._power: list[tuple[float, float]] = []  # (seconds, watts)
        self._samples = 0
        self._energy0: int | None = None
        self._before: DeviceState | None = None
        self._sampler: PeriodicSampler | None = None
        self.report: NvmlReport | None = None

    def _open(self) -> str | None:
        try:
            if self._nvml is None:
                import pynvml  # lazy, optional: perfsuite[cuda]

                self._nvml = pynvml
            self._nvml.nvmlInit()
            cuda = self._cuda if self._cuda is not None else _loaded_torch_cuda()
            self._handle, self._gpu = nvml_handle_for(self._nvml, self._index, cuda)
        except ImportError as exc:
            return f"nvidia-ml-py is not installed ({exc}); pip install 'perfsuite[cuda]'"
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, InvalidArgument, ...
            return f"NVML failed to start for GPU {self._index}: {_why(exc)}"
        return None

    def _try(self, name: str, call: Callable[[], Any]) -> Any:
        if name in self._missing:
            return None
        try:
            return call()
        except Exception as exc:  # a failing metric is marked unavailable, the others go on
            self._missing[name] = _why(exc)
            return None

    def _sample(self) -> None:
        nvml, h = self._nvml, self._handle
        used = self._try("device_used_peak_bytes", lambda: nvml.nvmlDeviceGetMemoryInfo(h).used)
        procs = self._try("process_peak_bytes", lambda: nvml.nvmlDeviceGetComputeRunningProcesses(h))
        mw = self._try("power", lambda: nvml.nvmlDeviceGetPowerUsage(h))
        t = self._now()
        mine = None
        if procs is not None:
            mine = next((p.usedGpuMemory for p in procs if p.pid == self._pid), None)
        with self._lock:
            self._samples += 1
            if used is not None:
                self._dev_peak = max(self._dev_peak or 0, int(used))
            if mine is not None:
                self._proc_peak = max(self._proc_peak or 0, int(mine))
            if mw is not None:
                self._power.append((t, mw / 1000.0))

    def __enter__(self) -> NvmlMonitor:
        reason = self._open()
        if reason is not None:
            warnings.warn(f"{reason}; GPU memory, energy and clock figures are unavailable", NvmlUnavailableWarning, stacklevel=2)
            self._missing.update(dict.fromkeys(_ALL, reason))
            return self
        if self._gpu is not None and self._gpu.reason and (self._index > 0 or os.environ.get("CUDA_VISIBLE_DEVICES")):
            warnings.warn(f"NVML figures may be for the wrong GPU: {self._gpu.reason}", NvmlUnavailableWarning, stacklevel=2)
        self._before = read_device_state(self._nvml, self._handle)
        self._energy0 = self._try("energy_counter", lambda: self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        self._sampler = PeriodicSampler(self._sample, self._period, name="perf-nvml")
        self._sampler.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._sampler is None:
            self.report = NvmlReport(None, None, None, None, None, None, 0, dict(self._missing), self._gpu)
            return
        self._sampler.stop()
        nvml, h = self._nvml, self._handle
        after = read_device_state(nvml, h)
        energy1 = None if self._energy0 is None else self._try(
            "energy_counter", lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(h)
        )
        energy_j, method = self._energy(energy1)
        with self._lock:
            missing = dict(self._missing)
            proc_peak, dev_peak, samples = self._proc_peak, self._dev_peak, self._samples
        if proc_peak is None and "process_peak_bytes" not in missing:
            missing["process_peak_bytes"] = (
                f"NVML did not list pid {self._pid} (no CUDA context yet, or a container PID namespace)"
            )
        if energy_j is None:
            why = [f"energy counter: {missing.get('energy_counter', 'not read')}"]
            why.append(f"power: {missing['power']}" if "power" in missing else "fewer than 2 power samples")
            missing["energy_j"] = "; ".join(why)
        try:
            nvml.nvmlShutdown()
        except Exception as exc:  # shutting down must not lose the figures we have
            missing["shutdown"] = _why(exc)
        self.report = NvmlReport(proc_peak, dev_peak, energy_j, method, self._before, after, samples, missing, self._gpu)
        failed = {k: v for k, v in missing.items() if k not in ("energy_counter", "power") or energy_j is None}
        if failed:
            warnings.warn(
                "NVML could not provide: " + "; ".join(f"{k} ({v})" for k, v in failed.items()),
                NvmlUnavailableWarning,
                stacklevel=2,
            )

    def _energy(self, energy1: int | None) -> tuple[float | None, str | None]:
        if self._energy0 is not None and energy1 is not None:
            return (energy1 - self._energy0) / 1000.0, "total_energy_counter"  # mJ -> J
        with self._lock:
            power = list(self._power)
        if len(power) < 2:
            return None, None
        joules = sum((t1 - t0) * (w0 + w1) / 2.0 for (t0, w0), (t1, w1) in zip(power, power[1:]))
        return joules, "integrated_power"
