"""A deterministic stand-in for ``torch.mps``, for testing the MPS clock and memory without a Mac.

    mps = FakeMps()
    work = ScriptedWork(mps.launch, [0.002])        # each call enqueues 2 ms of GPU work
    m = measure(work, clock=MpsClock(mps=mps, timer=timer))

Like `perfsuite.measure.fakes.FakeCuda`, it refuses misuse: an event's ``elapsed_time`` raises
until ``synchronize()`` ran after its ``record()`` (MPS events complete with the command buffer),
and events made without ``enable_timing=True`` cannot be timed. Memory readings are set values.
"""

from __future__ import annotations

from types import SimpleNamespace


class FakeMpsEvent:
    def __init__(self, mps: FakeMps, enable_timing: bool = False) -> None:
        self._mps = mps
        self.enable_timing = enable_timing
        self.time_s: float | None = None
        self.epoch = -1

    def record(self) -> None:
        self._mps.calls.append("record")
        self.time_s = self._mps.device_time
        self.epoch = self._mps.sync_epoch

    def _ready(self) -> bool:
        return self.time_s is not None and self._mps.sync_epoch > self.epoch

    def elapsed_time(self, end: FakeMpsEvent) -> float:
        if not (self.enable_timing and end.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'")
        if not (self._ready() and end._ready()):
            raise RuntimeError("MPS event not completed: synchronize before elapsed_time")
        assert self.time_s is not None and end.time_s is not None
        return (end.time_s - self.time_s) * 1e3


class FakeMps:
    """The slice of ``torch.mps`` perfsuite uses: synchronize, event.Event, the two memory readings."""

    def __init__(self, allocated: int = 0, driver: int = 0) -> None:
        self.device_time = 0.0  # seconds of GPU work finished once synchronized
        self.sync_epoch = 0
        self.allocated = allocated
        self.driver = driver
        self.calls: list[str] = []
        self.event = SimpleNamespace(Event=lambda enable_timing=False: FakeMpsEvent(self, enable_timing))

    def launch(self, seconds: float) -> None:
        """Enqueue `seconds` of GPU work (the host returns at once)."""
        self.calls.append("launch")
        self.device_time += seconds

    def synchronize(self) -> None:
        self.calls.append("synchronize")
        self.sync_epoch += 1

    def current_allocated_memory(self) -> int:
        return self.allocated

    def driver_allocated_memory(self) -> int:
        return self.driver
