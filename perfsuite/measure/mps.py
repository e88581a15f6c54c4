"""Apple-silicon GPUs (``--device mps``) behind the same clock and memory abstractions as CUDA.

- `MpsClock` — MPS events (``torch.mps.event.Event(enable_timing=True)``) around each call
  (isolated) or each block of calls (pipelined), with ``torch.mps.synchronize()`` before reading
  them: `CudaClock`'s loops, driven through `MpsDriver`, which gives ``torch.mps`` the shape of
  the ``torch.cuda`` slice those loops use (one device, no streams).
- `MpsMemory` — ``torch.mps.current_allocated_memory()`` (tensors) and
  ``driver_allocated_memory()`` (everything Metal holds for the process). MPS keeps no peak
  counters, so `MpsPeakMemory` samples both on a thread during the memory pass (like host RSS).

``mps`` is injectable everywhere (``torch.mps`` or `perfsuite.measure.fakes_mps.FakeMps`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from perfsuite.measure.clocks import CudaClock, Timer
from perfsuite.measure.memory import DEFAULT_PERIOD_S, PeriodicSampler


def _torch_mps() -> Any:
    import torch  # lazy

    return torch.mps


class _MpsEvent:
    """An MPS event that accepts (and ignores) the stream a CUDA-shaped caller passes to ``record``."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def record(self, stream: Any = None) -> None:
        self.event.record()

    def elapsed_time(self, end: _MpsEvent) -> float:
        return float(self.event.elapsed_time(end.event))


class MpsDriver:
    """``torch.mps`` seen as the slice of ``torch.cuda`` that `CudaClock` uses: one device, no streams."""

    def __init__(self, mps: Any) -> None:
        self._mps = mps

    def current_device(self) -> int:
        return 0

    def current_stream(self, device: int | None = None) -> None:
        return None

    def Event(self, enable_timing: bool = False) -> _MpsEvent:  # noqa: N802 - mirrors torch.cuda.Event
        return _MpsEvent(self._mps.event.Event(enable_timing=enable_timing))

    def synchronize(self, device: int | None = None) -> None:
        self._mps.synchronize()


class MpsClock(CudaClock):
    """MPS events around calls; the same isolated/pipelined modes, samples and host launch times as CUDA."""

    name = "mps_event"

    def __init__(self, mode: str = "isolated", *, block: int = 10, mps: Any | None = None, timer: Timer = time.perf_counter_ns) -> None:
        super().__init__(mode, block=block, cuda=MpsDriver(mps if mps is not None else _torch_mps()), device="cuda", timer=timer)
        self.device = "mps"


@dataclass(frozen=True)
class MpsMemory:
    """MPS memory during the tracked block, bytes; peaks are the largest of `samples` readings."""

    allocated_peak_bytes: int  # torch.mps.current_allocated_memory(): tensors
    driver_peak_bytes: int  # torch.mps.driver_allocated_memory(): all Metal allocations of the process
    allocated_end_bytes: int
    samples: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class MpsPeakMemory:
    """``with MpsPeakMemory(period_s=0.01) as peak: ...`` then ``peak.result`` (an `MpsMemory`)."""

    def __init__(self, mps: Any | None = None, period_s: float = DEFAULT_PERIOD_S) -> None:
        self._mps = mps if mps is not None else _torch_mps()
        self._lock = threading.Lock()
        self._readings: list[tuple[int, int]] = []
        self._sampler = PeriodicSampler(self._sample, period_s, name="perf-mps-memory")
        self.result: MpsMemory | None = None

    def _sample(self) -> None:
        reading = (int(self._mps.current_allocated_memory()), int(self._mps.driver_allocated_memory()))
        with self._lock:
            self._readings.append(reading)

    def __enter__(self) -> MpsPeakMemory:
        self._mps.synchronize()
        self._sampler.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._mps.synchronize()  # the last reading sees the block's work finished
        self._sampler.stop()
        with self._lock:
            readings = list(self._readings)
        self.result = MpsMemory(
            allocated_peak_bytes=max(a for a, _ in readings),
            driver_peak_bytes=max(d for _, d in readings),
            allocated_end_bytes=readings[-1][0],
            samples=len(readings),
        )
