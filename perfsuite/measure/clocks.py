"""Clocks: how one sample of a zero-argument inference call is timed.

A clock owns device synchronization, so `perfsuite.measure.measure` never needs to
know which device it is timing. Everything a clock touches is injectable, which is
how the statistics and the CUDA paths are tested without a GPU:

- `CpuClock(timer=time.perf_counter_ns)` — wall time of each call on the host.
- `CudaClock(mode="isolated", cuda=torch.cuda)` — "isolated latency": synchronize,
  CUDA events around each single call, synchronize. One sample = one call.
- `CudaClock(mode="pipelined", block=10)` — "pipelined throughput": events around a
  block of ``block`` back-to-back calls and one synchronize per block. One sample =
  block time / ``block`` (calls overlap the host's launch of the next call).
- `perfsuite.measure.mps.MpsClock` — the same two modes with MPS events (``--device mps``).

On CUDA every sample also carries the host-side launch time (host wall time spent
issuing the call(s), per call), reported next to device time.

A CUDA clock is bound to its case's device: for ``device="cuda:1"`` the events are recorded on
device 1's current stream and ``synchronize`` waits for device 1, whatever the current device
is (``torch.cuda.synchronize()`` without an argument waits for the current one, which would
time nothing on ``cuda:1``). ``"cuda"`` means torch's current device, as in ``.to("cuda")``.

Extension point: anything with the `Clock` protocol's attributes and methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

from perfsuite.errors import PerfConfigError

Timer = Callable[[], int]
"""A monotonic clock returning integer nanoseconds (``time.perf_counter_ns``)."""

CUDA_MODES = ("isolated", "pipelined")


class Reading(NamedTuple):
    """Samples from one `Clock.collect` call: per-call seconds, and host launch seconds (CUDA)."""

    samples_s: list[float]
    host_s: list[float] | None


@runtime_checkable
class Clock(Protocol):
    """What `measure` needs from a clock."""

    name: str  # e.g. "perf_counter_ns", "cuda_event"
    sync_mode: str  # "none" (host wall time), "isolated", "pipelined"
    device: str  # "cpu", "cuda:0"
    calls_per_sample: int  # fn calls behind one sample

    def now_s(self) -> float:
        """Host time in seconds, for the time budgets of warm-up and stopping."""
        ...

    def time_first_call(self, fn: Callable[[], object]) -> float:
        """Seconds of one synchronized call (the cold first call)."""
        ...

    def collect(self, fn: Callable[[], object], n: int) -> Reading:
        """Take ``n`` samples of ``fn``."""
        ...


class CpuClock:
    """Host wall time around each call, from an injectable nanosecond timer."""

    name = "perf_counter_ns"
    sync_mode = "none"
    calls_per_sample = 1

    def __init__(self, timer: Timer = time.perf_counter_ns, *, device: str = "cpu") -> None:
        self._timer = timer
        self.device = device

    def now_s(self) -> float:
        return self._timer() * 1e-9

    def time_first_call(self, fn: Callable[[], object]) -> float:
        return self.collect(fn, 1).samples_s[0]

    def collect(self, fn: Callable[[], object], n: int) -> Reading:
        timer = self._timer  # locals: this loop is the hot path tools/measure_overhead.py checks
        out = [0.0] * n
        for i in range(n):
            t0 = timer()
            fn()
            t1 = timer()
            out[i] = (t1 - t0) * 1e-9
        return Reading(out, None)


def cuda_device_index(device: str) -> int | None:
    """The ordinal in ``"cuda:N"``; None for ``"cuda"`` (torch's current device).

    Raises `PerfConfigError` for anything else (``"cuda:x"``, ``"cuda:-1"``, ``"gpu"``).
    """
    if device == "cuda":
        return None
    head, _, tail = device.partition(":")
    if head == "cuda" and tail.isdigit():  # isdigit: no sign, no spaces
        return int(tail)
    raise PerfConfigError(
        "not a CUDA device", key="device", value=device, allowed=("cuda", "cuda:N with N = 0, 1, ..."),
        hint="name the GPU by its torch ordinal, e.g. --device cuda:1",
    )


def _torch_cuda() -> Any:
    import torch  # lazy: importing perfsuite must not import torch

    return torch.cuda


class CudaClock:
    """CUDA events around calls; ``cuda`` is the ``torch.cuda`` module or a fake of it.

    The fake needs ``Event(enable_timing=True)`` objects with ``record(stream)`` and
    ``elapsed_time(other) -> ms``, ``current_stream(device)``, ``current_device()`` and
    ``synchronize(device)``.
    """

    name = "cuda_event"

    def __init__(
        self,
        mode: str = "isolated",
        *,
        block: int = 10,
        cuda: Any | None = None,
        device: str = "cuda",
        timer: Timer = time.perf_counter_ns,
    ) -> None:
        if mode not in CUDA_MODES:
            raise PerfConfigError("unknown CUDA timing mode", key="clock.mode", value=mode, allowed=CUDA_MODES)
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise PerfConfigError("must be a whole number >= 1", key="clock.block", value=block)
        self._index = cuda_device_index(device)
        self.sync_mode = mode
        self.calls_per_sample = 1 if mode == "isolated" else block
        self._cuda = cuda if cuda is not None else _torch_cuda()
        self._timer = timer
        self.device = device

    def now_s(self) -> float:
        return self._timer() * 1e-9

    def _bound(self) -> tuple[int, Any, Any, Any]:
        """The device ordinal, its current stream, and two timing events to record on that stream."""
        index = self._cuda.current_device() if self._index is None else self._index
        stream = self._cuda.current_stream(index)
        return index, stream, self._cuda.Event(enable_timing=True), self._cuda.Event(enable_timing=True)

    def time_first_call(self, fn: Callable[[], object]) -> float:
        return self._isolated(fn, 1).samples_s[0]

    def collect(self, fn: Callable[[], object], n: int) -> Reading:
        if self.sync_mode == "isolated":
            return self._isolated(fn, n)
        return self._pipelined(fn, n)

    def _isolated(self, fn: Callable[[], object], n: int) -> Reading:
        cuda, timer = self._cuda, self._timer
        index, stream, start, end = self._bound()
        dev = [0.0] * n
        host = [0.0] * n
        for i in range(n):
            cuda.synchronize(index)  # nothing queued before the call may be billed to it
            h0 = timer()
            start.record(stream)
            fn()
            end.record(stream)
            h1 = timer()
            cuda.synchronize(index)
            dev[i] = start.elapsed_time(end) * 1e-3
            host[i] = (h1 - h0) * 1e-9
        return Reading(dev, host)

    def _pipelined(self, fn: Callable[[], object], n: int) -> Reading:
        cuda, timer, block = self._cuda, self._timer, self.calls_per_sample
        index, stream, start, end = self._bound()
        dev = [0.0] * n
        host = [0.0] * n
        cuda.synchronize(index)
        for i in range(n):
            h0 = timer()
            start.record(stream)
            for _ in range(block):
                fn()
            end.record(stream)
            h1 = timer()
            cuda.synchronize(index)  # the one synchronize per block
            dev[i] = start.elapsed_time(end) * 1e-3 / block
            host[i] = (h1 - h0) * 1e-9 / block
        return Reading(dev, host)


def clock_for(device: str, *, mode: str = "isolated", block: int = 10) -> Clock:
    """The real clock for a device string: ``"cpu"``, ``"cuda"`` / ``"cuda:N"`` or ``"mps"``."""
    if device == "cpu":
        return CpuClock()
    if device == "cuda" or device.startswith("cuda:"):
        return CudaClock(mode, block=block, device=device)  # validates "cuda:N"
    if device == "mps":
        from perfsuite.measure.mps import MpsClock  # imports this module: not at the top

        return MpsClock(mode, block=block)
    raise PerfConfigError(
        "no clock for this device", key="device", value=device, allowed=("cpu", "cuda", "cuda:N", "mps")
    )
