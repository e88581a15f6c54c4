"""Deterministic stand-ins for clocks, ``torch.cuda`` and ``pynvml``, for tests without a GPU.

    timer = FakeTimer()
    work = ScriptedWork(timer.advance, [0.010, 0.011, 0.010])   # each call "takes" the next duration
    m = measure(work, clock=CpuClock(timer=timer), ...)

    cuda = FakeCuda()
    work = ScriptedWork(cuda.launch, [0.002])                   # each call enqueues 2 ms of GPU work
    m = measure(work, clock=CudaClock(cuda=cuda, timer=timer))

`FakeCuda` behaves like the CUDA parts perfsuite uses: an event's ``elapsed_time``
raises until a ``synchronize()`` after its ``record()`` — so a clock that forgets to
synchronize fails its tests. `FakeNvml` answers the pynvml calls of
`perfsuite.measure.nvml` from set values and can be told to fail.
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
    def __init__(self, cuda: FakeCuda, enable_timing: bool = False) -> None:
        self._cuda = cuda
        self.enable_timing = enable_timing
        self.time_s: float | None = None
        self.epoch = -1

    def record(self, stream: Any = None) -> None:
        self.time_s = self._cuda.device_time_s
        self.epoch = self._cuda.sync_epoch
        self._cuda.records += 1

    def synchronize(self) -> None:
        self._cuda.synchronize()

    def _ready(self) -> bool:
        return self.time_s is not None and self._cuda.sync_epoch > self.epoch

    def elapsed_time(self, end: FakeEvent) -> float:
        if not self.enable_timing or not end.enable_timing:
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'")
        if not (self._ready() and end._ready()):
            raise RuntimeError("CUDA error: device not ready (event not completed; synchronize first)")
        assert self.time_s is not None and end.time_s is not None
        return (end.time_s - self.time_s) * 1e3


class FakeOutOfMemoryError(RuntimeError):
    pass


class FakeCuda:
    """The slice of ``torch.cuda`` perfsuite uses: events, synchronize, memory stats."""

    OutOfMemoryError = FakeOutOfMemoryError

    def __init__(self) -> None:
        self.device_time_s = 0.0
        self.sync_epoch = 0
        self.syncs = 0
        self.records = 0
        self.allocated = 0
        self.reserved = 0
        self.peak_allocated = 0
        self.peak_reserved = 0
        self.resets = 0
        self.empty_cache_calls = 0

    def Event(self, enable_timing: bool = False) -> FakeEvent:  # noqa: N802 - mirrors torch.cuda.Event
        return FakeEvent(self, enable_timing)

    def launch(self, seconds: float) -> None:
        """Enqueue ``seconds`` of device work."""
        self.device_time_s += seconds

    def synchronize(self, device: Any = None) -> None:
        self.syncs += 1
        self.sync_epoch += 1

    def is_available(self) -> bool:
        return True

    def alloc(self, nbytes: int) -> None:
        self.allocated += nbytes
        self.reserved = max(self.reserved, self.allocated)
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        self.peak_reserved = max(self.peak_reserved, self.reserved)

    def free(self, nbytes: int) -> None:
        self.allocated -= nbytes

    def reset_peak_memory_stats(self, device: Any = None) -> None:
        self.resets += 1
        self.peak_allocated = self.allocated
        self.peak_reserved = self.reserved

    def max_memory_allocated(self, device: Any = None) -> int:
        return self.peak_allocated

    def max_memory_reserved(self, device: Any = None) -> int:
        return self.peak_reserved

    def empty_cache(self) -> None:
        self.empty_cache_calls += 1
        self.reserved = self.allocated


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
    """pynvml stand-in. ``fail`` names functions that raise `FakeNVMLError` (``"nvmlInit"`` too)."""

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
    ) -> None:
        self.pid = pid
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

    def _enter(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
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
        return ("gpu", index)

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> FakeMemoryInfo:  # noqa: N802
        self._enter("nvmlDeviceGetMemoryInfo")
        with self._lock:
            used = next(self._used)
        return FakeMemoryInfo(total=10**10, free=10**10 - used, used=used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[FakeProcess]:  # noqa: N802
        self._enter("nvmlDeviceGetComputeRunningProcesses")
        with self._lock:
            mine = next(self._process)
        return [FakeProcess(self.pid + 1, 7), FakeProcess(self.pid, mine)]

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> float:  # noqa: N802
        self._enter("nvmlDeviceGetPowerUsage")
        return self.power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetTotalEnergyConsumption")
        with self._lock:
            return next(self._energy)

    def nvmlDeviceGetClockInfo(self, handle: Any, kind: int) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetClockInfo")
        return self.sm_clock_mhz if kind == 1 else self.mem_clock_mhz

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetTemperature")
        return self.temperature_c

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetCurrentClocksEventReasons")
        with self._lock:
            return next(self._throttle)
