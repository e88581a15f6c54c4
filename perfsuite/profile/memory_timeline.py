"""Memory timeline of a case: the peak of each phase (load, warm-up, timed, profiled), and how it got there.

The timed rounds never run beside a memory tracker (perfsuite.runner), so this pass replays the
phases after them, in the case's own process, on the prepared runtime: `warm-up` (a few calls),
`timed` (steady-state calls, as the timed rounds make them) and `profiled` (calls under
torch.profiler with the case's `profiling.torch` settings, whose own buffers are part of what it
costs). `load` is the real one, tracked when the session built the model (`track_load`).

- CUDA: `torch.cuda.memory._record_memory_history(max_entries=...)` is on over the replayed phases;
  its snapshot is pickled to `traces/<case>.memory.pickle` (drag it onto pytorch.org/memory_viz).
  Each phase's peak is the caching allocator's `max_memory_allocated` / `max_memory_reserved`
  after `reset_peak_memory_stats` at the phase's start (synchronized before each read).
- CPU (and MPS): host RSS sampled every `period_s` by a thread, plus one read at each phase's
  start and end, into `tables/<case>.rss.csv` (t_s, phase, rss_bytes); each phase's peak is the
  largest RSS seen in it.

Both write the per-phase table `tables/<case>.memory.csv`. `torch.cuda` and the RSS reader are
injectable, so the CUDA path is tested with `perfsuite.measure.fakes.FakeCuda`.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager

from perfsuite.measure.clocks import cuda_device_index
from perfsuite.measure.memory import PeriodicSampler
from perfsuite.profile.files import write_artifact, write_csv
from perfsuite.results.layout import path_inside

PHASE_COLUMNS = ("phase", "calls", "source", "start_bytes", "peak_bytes", "end_bytes", "peak_increase_bytes", "reserved_peak_bytes")
RSS_COLUMNS = ("t_s", "phase", "rss_bytes")


@dataclass(frozen=True)
class PhasePeak:
    """One phase's memory: at its start, its peak, at its end (bytes), from `source`."""

    phase: str
    calls: int
    source: str  # cuda_allocated | host_rss
    start_bytes: int
    peak_bytes: int
    end_bytes: int
    reserved_peak_bytes: int | None = None  # CUDA: the caching allocator's reserved peak

    @property
    def peak_increase_bytes(self) -> int:
        return self.peak_bytes - self.start_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "calls": self.calls,
            "source": self.source,
            "start_bytes": self.start_bytes,
            "peak_bytes": self.peak_bytes,
            "end_bytes": self.end_bytes,
            "peak_increase_bytes": self.peak_increase_bytes,
            "reserved_peak_bytes": self.reserved_peak_bytes,
        }


@dataclass(frozen=True)
class PhaseRun:
    """A phase to replay: `calls` calls, inside `around()` (e.g. a profiler)."""

    name: str
    calls: int
    around: Callable[[], ContextManager[Any]] = contextlib.nullcontext


@dataclass(frozen=True)
class MemoryTimeline:
    device_kind: str  # cuda | cpu
    phases: tuple[PhasePeak, ...]
    table_path: Path
    snapshot_path: Path | None = None  # CUDA
    timeline_path: Path | None = None  # CPU: the RSS samples
    samples: int = 0  # CPU: RSS readings; CUDA: allocator events in the snapshot
    notes: tuple[str, ...] = field(default_factory=tuple)

    def peak(self, phase: str) -> PhasePeak | None:
        return next((p for p in self.phases if p.phase == phase), None)


def _cuda_module(cuda: Any | None) -> Any:
    if cuda is not None:
        return cuda
    import torch

    return torch.cuda


class _CudaPhases:
    """Per-phase allocator peaks on one device (reset at each start; synchronize before every read)."""

    def __init__(self, cuda: Any, device: int | None) -> None:
        self.cuda, self.device = cuda, device

    @contextlib.contextmanager
    def phase(self, name: str, calls: int, out: list[PhasePeak]) -> Iterator[None]:
        c, d = self.cuda, self.device
        c.synchronize(d)
        c.reset_peak_memory_stats(d)
        start = int(c.memory_allocated(d))
        yield
        c.synchronize(d)
        out.append(PhasePeak(name, calls, "cuda_allocated", start, int(c.max_memory_allocated(d)), int(c.memory_allocated(d)),
                             int(c.max_memory_reserved(d))))


class _RssTimeline:
    """Host RSS every `period_s` on a thread, labelled with the phase running when it was read."""

    def __init__(self, read: Callable[[], int], period_s: float, now: Callable[[], float]) -> None:
        self.read, self.now = read, now
        self.t0 = now()
        self.label = "idle"
        self.lock = threading.Lock()
        self.samples: list[tuple[float, str, int]] = []
        self.sampler = PeriodicSampler(self._sample, period_s, name="perf-rss-timeline")

    def _sample(self) -> None:
        value = int(self.read())
        with self.lock:
            self.samples.append((self.now() - self.t0, self.label, value))

    @contextlib.contextmanager
    def phase(self, name: str, calls: int, out: list[PhasePeak]) -> Iterator[None]:
        with self.lock:
            self.label = name
            first = len(self.samples)
        self._sample()
        yield
        self._sample()
        with self.lock:
            mine = [v for _, label, v in self.samples[first:] if label == name]
            self.label = "idle"
        out.append(PhasePeak(name, calls, "host_rss", mine[0], max(mine), mine[-1]))


def _rss_reader(rss_bytes: Callable[[], int] | None) -> Callable[[], int]:
    if rss_bytes is not None:
        return rss_bytes
    import psutil

    proc = psutil.Process()
    return lambda: proc.memory_info().rss


def _replay(fn: Callable[[], Any], phases: Sequence[PhaseRun], tracker: _CudaPhases | _RssTimeline,
            peaks: list[PhasePeak], sync: Callable[[], None]) -> None:
    for ph in phases:
        with tracker.phase(ph.name, ph.calls, peaks), ph.around():
            for _ in range(ph.calls):
                fn()
                sync()


def record_timeline(
    fn: Callable[[], Any],
    phases: Sequence[PhaseRun],
    *,
    device: str,
    out_dir: Path,
    name: str,
    max_entries: int = 100_000,
    period_s: float = 0.005,
    sync: Callable[[], None] = lambda: None,
    load: PhasePeak | None = None,
    cuda: Any | None = None,
    rss_bytes: Callable[[], int] | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> MemoryTimeline:
    """Replay `phases` of `fn` under the device's memory tracker; write the snapshot or RSS timeline.

    `load` (the session's load phase, when it was tracked) heads the per-phase table.
    Raises `perfsuite.errors.PerfProfileError` when a file cannot be written (nothing partial is left).
    """
    peaks: list[PhasePeak] = [load] if load is not None else []
    notes: list[str] = [] if load is not None else ["load: not tracked (the model was built before tracking, or elsewhere)"]
    tables = out_dir / "tables"
    table = path_inside(tables, name, ".memory.csv")
    if device.split(":")[0] == "cuda":
        c = _cuda_module(cuda)
        index = cuda_device_index(device)
        tracker = _CudaPhases(c, index)
        history = c.memory
        history._record_memory_history(max_entries=max_entries)
        try:
            _replay(fn, phases, tracker, peaks, sync)
            snapshot = history._snapshot()
        finally:
            history._record_memory_history(enabled=None)  # stop recording, whatever happened
        snap_path = path_inside(out_dir / "traces", name, ".memory.pickle")

        def dump(p: Path) -> None:
            with p.open("wb") as fh:
                pickle.dump(snapshot, fh)

        write_artifact(snap_path, dump, "CUDA memory snapshot")
        events = sum(len(t) for t in snapshot.get("device_traces", []) if isinstance(t, list)) if isinstance(snapshot, dict) else 0
        write_csv(table, PHASE_COLUMNS, [p.to_dict() for p in peaks], "memory phase table")
        return MemoryTimeline("cuda", tuple(peaks), table, snapshot_path=snap_path, samples=events, notes=tuple(notes))

    rss = _RssTimeline(_rss_reader(rss_bytes), period_s, now)
    rss.sampler.start()
    try:
        _replay(fn, phases, rss, peaks, sync)
    finally:
        rss.sampler.stop()
    if device.split(":")[0] == "mps":
        notes.append("mps: host RSS only (the MPS allocator's own figures are in the memory pass)")
    timeline = path_inside(tables, name, ".rss.csv")
    write_csv(timeline, RSS_COLUMNS, [{"t_s": t, "phase": label, "rss_bytes": v} for t, label, v in rss.samples], "RSS timeline")
    write_csv(table, PHASE_COLUMNS, [p.to_dict() for p in peaks], "memory phase table")
    return MemoryTimeline("cpu", tuple(peaks), table, timeline_path=timeline, samples=len(rss.samples), notes=tuple(notes))


@contextlib.contextmanager
def track_load(device: str, *, cuda: Any | None = None, rss_bytes: Callable[[], int] | None = None,
               period_s: float = 0.01) -> Iterator[list[PhasePeak]]:
    """Around building a model: yields a list that holds the `load` PhasePeak afterwards.

    CUDA: the allocator's peak (reset first, synchronized); elsewhere host RSS on a sampling thread.
    Nothing here is timed: loading is not a timed phase (its wall time, load_s, is a coarse figure).
    """
    out: list[PhasePeak] = []
    if device.split(":")[0] == "cuda":
        c = _cuda_module(cuda)
        with _CudaPhases(c, cuda_device_index(device)).phase("load", 0, out):
            yield out
        return
    rss = _RssTimeline(_rss_reader(rss_bytes), period_s, time.perf_counter)
    rss.sampler.start()
    try:
        with rss.phase("load", 0, out):
            yield out
    finally:
        rss.sampler.stop()
