"""Deterministic stand-ins for clocks, ``torch.cuda`` and ``pynvml``, for tests without a GPU.

    timer = FakeTimer()
    work = ScriptedWork(timer.advance, [0.010, 0.011, 0.010])   # each call "takes" the next duration
    m = measure(work, clock=CpuClock(timer=timer), ...)

    cuda = FakeCuda()
    work = ScriptedWork(cuda.launch, [0.002])                   # each call enqueues 2 ms of GPU work
    m = measure(work, clock=CudaClock(cuda=cuda, timer=timer))

    cuda = FakeCuda(devices=2)                                  # device 0 current, as in torch
    work = ScriptedWork(lambda s: cuda.launch(s, 1), [0.002])   # the model lives on cuda:1
    m = measure(work, clock=CudaClock(cuda=cuda, timer=timer, device="cuda:1"))
    assert cuda.devices_hit("synchronize") == {1}

`FakeCuda` behaves like the CUDA parts perfsuite uses: an event's ``elapsed_time``
raises until a ``synchronize()`` of *its* device after its ``record()`` — so a clock that
forgets to synchronize, or synchronizes the current device instead of the case's, fails its
tests. Every call is logged with the device it hit. `FakeNvml` answers the pynvml calls of
`perfsuite.measure.nvml` from set values, has GPUs at PCI bus ids, and can be told to fail.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class FakeTimer:
    """A nanosecond timer that only moves when told to (``advance``), plus ``tick_ns`` per read."""

    def __init__(self, start_ns: int = 0, tick_ns: int = 0) -> None:
        self.ns = start_ns
        self.tick_ns = tick_ns
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        self.ns += self.tick_ns
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


class ScriptedWork:
    """A zero-argument callable whose n-th call passes the n-th duration to ``advance``.

    Durations repeat from the start (``cycle=True``) or the last one repeats.
    """

    def __init__(self, advance: Callable[[float], None], durations: Iterable[float], *, cycle: bool = True) -> None:
        values = list(durations)
        if not values:
            raise ValueError("ScriptedWork needs at least one duration")
        self._advance = advance
        self._it = itertools.cycle(values) if cycle else itertools.chain(values, itertools.repeat(values[-1]))
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self._advance(next(self._it))


class FakeEvent:
    """A CUDA event: ``record`` stamps the device time of the stream's device; readable after its sync."""

    def __init__(self, cuda: FakeCuda, enable_timing: bool = False) -> None:
        self._cuda = cuda
        self.enable_timing = enable_timing
        self.time_s: float | None = None
        self.epoch = -1
        self.device: int | None = None

    def record(self, stream: FakeStream | None = None) -> None:
        # torch records on ``stream``, else on the current stream of the *current* device.
        device = self._cuda.current if stream is None else stream.device
        self._cuda._hit("record", device)
        self.device = device
        self.time_s = self._cuda.device_time[device]
        self.epoch = self._cuda.sync_epoch[device]

    def synchronize(self) -> None:
        if self.device is not None:
            self._cuda.synchronize(self.device)

    def _ready(self) -> bool:
        return self.time_s is not None and self.device is not None and self._cuda.sync_epoch[self.device] > self.epoch

    def elapsed_time(self, end: FakeEvent) -> float:
        if not self.enable_timing or not end.enable_timing:
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'")
        if self.device is not None and end.device is not None and self.device != end.device:
            raise RuntimeError(f"CUDA error: events recorded on different devices ({self.device} and {end.device})")
        if not (self._ready() and end._ready()):
            raise RuntimeError("CUDA error: device not ready (event not completed; synchronize first)")
        assert self.time_s is not None and end.time_s is not None
        return (end.time_s - self.time_s) * 1e3


@dataclass(frozen=True)
class FakeStream:
    device: int


@dataclass(frozen=True)
class FakeDeviceProperties:
    """The ``torch.cuda.get_device_properties`` fields perfsuite reads (``pci_*`` ints, as in torch)."""

    name: str
    pci_domain_id: int
    pci_bus_id: int
    pci_device_id: int
    total_memory: int = 80 * 2**30


class FakeOutOfMemoryError(RuntimeError):
    pass


class _FakeDeviceContext:
    def __init__(self, cuda: FakeCuda, device: int) -> None:
        self._cuda = cuda
        self._device = device
        self._saved: list[int] = []

    def __enter__(self) -> None:
        self._saved.append(self._cuda.current)
        self._cuda.current = self._device

    def __exit__(self, *exc: object) -> None:
        self._cuda.current = self._saved.pop()


class FakeCudaMemoryHistory:
    """``torch.cuda.memory``'s private history API: records allocations only while enabled.

    ``_snapshot()`` refuses to run when history was never enabled (torch returns an empty
    snapshot then; a tracker that forgets to enable it must fail its test, not pass silently).
    """

    def __init__(self, cuda: FakeCuda) -> None:
        self.cuda = cuda
        self.enabled: str | None = None
        self.max_entries: int | None = None
        self.events: list[dict[str, Any]] = []
        self.ever_enabled = False

    def _record_memory_history(self, enabled: str | None = "all", *, max_entries: int = 2**62, **_: Any) -> None:
        self.enabled = enabled
        if enabled:
            self.ever_enabled = True
            self.max_entries = max_entries

    def _snapshot(self, device: Any = None) -> dict[str, Any]:
        if not self.ever_enabled:
            raise RuntimeError("FakeCudaMemoryHistory: _snapshot() before _record_memory_history()")
        return {"segments": [], "device_traces": [list(self.events)]}

    def record(self, action: str, nbytes: int) -> None:
        if self.enabled:
            self.events.append({"action": action, "size": nbytes})


class FakeCuda:
    """The slice of ``torch.cuda`` perfsuite uses, over ``devices`` fake GPUs (device 0 current).

    Every call that acts on a device is logged in ``calls`` as ``(name, device)``, with the device
    it really hit: the one passed, else the *current* device, as torch does. Per-device state
    (queued time, sync epoch, allocator figures) is kept apart, so a clock that records its events
    on device 1 but synchronizes the current device 0 cannot read them (``elapsed_time`` raises).
    ``device_time_s``, ``allocated``, ``reserved``, ``peak_*`` read device 0; the counters
    (``syncs``, ``records``, ``resets``, ``empty_cache_calls``) count calls on every device.
    """

    OutOfMemoryError = FakeOutOfMemoryError

    def __init__(self, devices: int = 1, *, properties: Sequence[FakeDeviceProperties] | None = None) -> None:
        if devices < 1:
            raise ValueError("FakeCuda needs at least one device")
        self.n = devices
        self.properties = list(properties) if properties is not None else [
            FakeDeviceProperties(f"Fake GPU {i}", 0, 0x3B + i, 0) for i in range(devices)
        ]
        self.current = 0
        self.calls: list[tuple[str, int]] = []
        self.device_time = [0.0] * devices
        self.sync_epoch = [0] * devices
        self.alloc_bytes = [0] * devices
        self.reserved_bytes = [0] * devices
        self.peak_alloc_bytes = [0] * devices
        self.peak_reserved_bytes = [0] * devices
        self.memory = FakeCudaMemoryHistory(self)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _index(self, device: Any) -> int:
        """torch's device argument: None (current), an int, "cuda", "cuda:N", or a torch-like device."""
        if device is None:
            return self.current
        if isinstance(device, FakeStream):
            return device.device
        if isinstance(device, str):
            if device == "cuda":
                return self.current
            if not device.startswith("cuda:"):
                raise ValueError(f"Expected a cuda device, but got: {device}")
            device = int(device.split(":", 1)[1])
        index = getattr(device, "index", device)
        if index is None:
            return self.current
        if not isinstance(index, int) or not 0 <= index < self.n:
            raise RuntimeError(f"CUDA error: invalid device ordinal {device!r} ({self.n} device(s))")
        return index

    def _hit(self, name: str, device: int) -> None:
        self.calls.append((name, device))

    def devices_hit(self, name: str) -> set[int]:
        """Which devices the calls named ``name`` acted on."""
        return {d for n, d in self.calls if n == name}

    def _count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    @property
    def syncs(self) -> int:
        return self._count("synchronize")

    @property
    def records(self) -> int:
        return self._count("record")

    @property
    def resets(self) -> int:
        return self._count("reset_peak_memory_stats")

    @property
    def empty_cache_calls(self) -> int:
        return self._count("empty_cache")

    @property
    def device_time_s(self) -> float:
        return self.device_time[0]

    @property
    def allocated(self) -> int:
        return self.alloc_bytes[0]

    @property
    def reserved(self) -> int:
        return self.reserved_bytes[0]

    @reserved.setter
    def reserved(self, value: int) -> None:
        self.reserved_bytes[0] = value

    @property
    def peak_allocated(self) -> int:
        return self.peak_alloc_bytes[0]

    @property
    def peak_reserved(self) -> int:
        return self.peak_reserved_bytes[0]

    # -- the torch.cuda surface -----------------------------------------------------------------
    def Event(self, enable_timing: bool = False) -> FakeEvent:  # noqa: N802 - mirrors torch.cuda.Event
        return FakeEvent(self, enable_timing)

    def device(self, device: Any) -> _FakeDeviceContext:
        """``with cuda.device(i):`` makes ``i`` the current device inside the block."""
        return _FakeDeviceContext(self, self._index(device))

    def current_device(self) -> int:
        return self.current

    def set_device(self, device: Any) -> None:
        self.current = self._index(device)

    def device_count(self) -> int:
        return self.n

    def current_stream(self, device: Any = None) -> FakeStream:
        return FakeStream(self._index(device))

    def get_device_properties(self, device: Any) -> FakeDeviceProperties:
        return self.properties[self._index(device)]

    def launch(self, seconds: float, device: Any = None) -> None:
        """Enqueue ``seconds`` of work on ``device`` (default: the current one), as a kernel would."""
        self.device_time[self._index(device)] += seconds

    def synchronize(self, device: Any = None) -> None:
        index = self._index(device)
        self._hit("synchronize", index)
        self.sync_epoch[index] += 1

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def alloc(self, nbytes: int, device: Any = None) -> None:
        i = self._index(device)
        self.memory.record("alloc", nbytes)
        self.alloc_bytes[i] += nbytes
        self.reserved_bytes[i] = max(self.reserved_bytes[i], self.alloc_bytes[i])
        self.peak_alloc_bytes[i] = max(self.peak_alloc_bytes[i], self.alloc_bytes[i])
        self.peak_reserved_bytes[i] = max(self.peak_reserved_bytes[i], self.reserved_bytes[i])

    def free(self, nbytes: int, device: Any = None) -> None:
        self.memory.record("free_completed", nbytes)
        self.alloc_bytes[self._index(device)] -= nbytes

    def reset_peak_memory_stats(self, device: Any = None) -> None:
        i = self._index(device)
        self._hit("reset_peak_memory_stats", i)
        self.peak_alloc_bytes[i] = self.alloc_bytes[i]
        self.peak_reserved_bytes[i] = self.reserved_bytes[i]

    def memory_allocated(self, device: Any = None) -> int:
        i = self._index(device)
        self._hit("memory_allocated", i)
        return self.alloc_bytes[i]

    def max_memory_allocated(self, device: Any = None) -> int:
        i = self._index(device)
        self._hit("max_memory_allocated", i)
        return self.peak_alloc_bytes[i]

    def max_memory_reserved(self, device: Any = None) -> int:
        i = self._index(device)
        self._hit("max_memory_reserved", i)
        return self.peak_reserved_bytes[i]

    def empty_cache(self) -> None:
        # torch.cuda.empty_cache() takes no device: it releases the *current* device's cache.
        i = self.current
        self._hit("empty_cache", i)
        self.reserved_bytes[i] = self.alloc_bytes[i]


class FakeNVMLError(Exception):
    pass


@dataclass
class FakeMemoryInfo:
    total: int
    free: int
    used: int


@dataclass
class FakeProcess:
    pid: int
    usedGpuMemory: int | None  # noqa: N815 - pynvml's field name


class FakeNvml:
    """pynvml stand-in. ``fail`` names functions that raise `FakeNVMLError` (``"nvmlInit"`` too).

    ``bus_ids`` are the PCI bus ids of the GPUs in NVML's own order (NVML ignores
    CUDA_VISIBLE_DEVICES); a handle is ``("gpu", nvml_index)``. Every handle a per-device call
    received is kept in ``handles_used``, so a test can check which GPU was asked.
    """

    NVMLError = FakeNVMLError

    def __init__(
        self,
        *,
        pid: int = 1234,
        process_bytes: Sequence[int] = (100,),
        used_bytes: Sequence[int] = (1000,),
        power_mw: float = 100_000.0,
        energy_mj: Sequence[int] = (5_000, 9_000),
        sm_clock_mhz: int = 1500,
        mem_clock_mhz: int = 5000,
        temperature_c: int = 60,
        throttle: Sequence[int] = (0, 0),
        fail: Iterable[str] = (),
        bus_ids: Sequence[str] = ("00000000:3B:00.0",),
    ) -> None:
        self.pid = pid
        self.bus_ids = [_canonical_bus_id(b) for b in bus_ids]
        self.handles_used: set[Any] = set()
        self._process = itertools.chain(process_bytes, itertools.repeat(process_bytes[-1]))
        self._used = itertools.chain(used_bytes, itertools.repeat(used_bytes[-1]))
        self.power_mw = power_mw
        self._energy = itertools.chain(energy_mj, itertools.repeat(energy_mj[-1]))
        self.sm_clock_mhz = sm_clock_mhz
        self.mem_clock_mhz = mem_clock_mhz
        self.temperature_c = temperature_c
        self._throttle = itertools.chain(throttle, itertools.repeat(throttle[-1]))
        self.fail = set(fail)
        self.calls: dict[str, int] = {}
        self.initialized = False
        self._lock = threading.Lock()  # the sampler thread and the caller both call in

    def _enter(self, name: str, handle: Any = None) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            if handle is not None:
                self.handles_used.add(handle)
        if name in self.fail:
            raise FakeNVMLError(f"{name}: Not Supported")

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml names
        self._enter("nvmlInit")
        self.initialized = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self._enter("nvmlShutdown")
        self.initialized = False

    def nvmlDeviceGetHandleByIndex(self, index: int) -> tuple[str, int]:  # noqa: N802
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.bus_ids):
            raise FakeNVMLError("Invalid Argument")
        return ("gpu", index)

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> tuple[str, int]:  # noqa: N802
        self._enter("nvmlDeviceGetHandleByPciBusId")
        wanted = _canonical_bus_id(bus_id)
        if wanted not in self.bus_ids:
            raise FakeNVMLError("Not Found")
        return ("gpu", self.bus_ids.index(wanted))

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> FakeMemoryInfo:  # noqa: N802
        self._enter("nvmlDeviceGetMemoryInfo", handle)
        with self._lock:
            used = next(self._used)
        return FakeMemoryInfo(total=10**10, free=10**10 - used, used=used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[FakeProcess]:  # noqa: N802
        self._enter("nvmlDeviceGetComputeRunningProcesses", handle)
        with self._lock:
            mine = next(self._process)
        return [FakeProcess(self.pid + 1, 7), FakeProcess(self.pid, mine)]

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> float:  # noqa: N802
        self._enter("nvmlDeviceGetPowerUsage", handle)
        return self.power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetTotalEnergyConsumption", handle)
        with self._lock:
            return next(self._energy)

    def nvmlDeviceGetClockInfo(self, handle: Any, kind: int) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetClockInfo", handle)
        return self.sm_clock_mhz if kind == 1 else self.mem_clock_mhz

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetTemperature", handle)
        return self.temperature_c

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetCurrentClocksEventReasons", handle)
        with self._lock:
            return next(self._throttle)


def _canonical_bus_id(bus_id: str) -> str:
    """NVML accepts "0000:3b:00.0" and "00000000:3B:00.0" for the same GPU."""
    domain, rest = bus_id.strip().split(":", 1)
    return f"{int(domain, 16):08X}:{rest.upper()}"
