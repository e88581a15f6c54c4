"""Was the CPU ours while we measured? A contention monitor around the timed sampling.

    with ContentionMonitor(threads=1, cpu_bound=True, pinned=True) as mon:
        m = measure(fn, clock=clock_for("cpu"))
    if (flag := mon.report.noise_flag()) is not None:
        m = m.with_noise(flag.code, flag.reason)      # "contended"

Another perfsuite run (or a compiler, a browser, a CI neighbour) on our pinned core makes every
sample slower, and nothing in the samples says so. The monitor reads counters once on entry and
once on exit (no thread, no sleep, a few microseconds) and compares:

- this process's CPU time (``resource.getrusage``: user + system, every thread) with the wall
  time of the block: a single-threaded CPU case that was given its core burns CPU for all of the
  wall time, so ``cpu_share = cpu / (wall x threads)`` below `CPU_SHARE_THRESHOLD` (0.9) means
  the core was given to someone else for a tenth of the time or more;
- the busy time of the pinned cores (``psutil.cpu_times(percpu=True)``: all but idle and iowait,
  steal included) minus our own CPU time: what *other* processes ran on our cores. Above
  `OTHERS_SHARE_THRESHOLD` (10 % of the pinned cores' capacity) the run is flagged, on CPU and on
  CUDA alike (a starved launching thread slows GPU timings too). /proc/stat counts in 10 ms ticks,
  so this rule is judged only over blocks of at least `MIN_CORE_WINDOW_S`.

Both go with the involuntary context switches (``ru_nivcsw``), the runnable processes of
``/proc/loadavg`` and the load average, which the flag's reason quotes. Multi-threaded CPU cases
are judged by the second rule only: torch's intra-op pool idles between small ops, so a low
``cpu_share`` there is not contention. `sample_load` takes a short look at the whole machine for
env.json.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from perfsuite.measure.record import NoiseFlag

CPU_SHARE_THRESHOLD = 0.9
"""A single-threaded CPU case given less than this share of its core is contended."""
OTHERS_SHARE_THRESHOLD = 0.10
"""Other processes' share of the pinned cores' time above which a case is contended."""
MIN_WALL_S = 0.1
"""Blocks shorter than this are not judged (too few scheduler decisions to mean anything)."""
MIN_CORE_WINDOW_S = 1.0
"""The per-core rule needs this much wall time: /proc/stat counts in 10 ms ticks."""
BUSY_CORE_PERCENT = 50.0
"""`sample_load` counts a core busy above this percentage."""


@dataclass(frozen=True)
class Counters:
    """One reading: wall and CPU seconds of this process, and the pinned cores' busy/total seconds."""

    wall_s: float
    cpu_s: float  # user + system, all threads of this process
    involuntary_switches: int | None
    core_busy_s: Mapping[int, float]  # seconds since boot, per core, that were not idle/iowait
    core_total_s: Mapping[int, float]
    runnable: int | None = None  # processes runnable right now, this one included (/proc/loadavg)
    loadavg: tuple[float, float, float] | None = None
    unavailable: Mapping[str, str] = field(default_factory=dict)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _core_times(cores: Sequence[int]) -> tuple[dict[int, float], dict[int, float]]:
    import psutil  # lazy: a dependency, but not imported at plugin load

    per_cpu = psutil.cpu_times(percpu=True)
    busy: dict[int, float] = {}
    total: dict[int, float] = {}
    for core in cores:
        t = per_cpu[core]._asdict()
        # guest time is already inside user/nice; idle and iowait are the core doing nothing
        whole = sum(v for k, v in t.items() if k not in ("guest", "guest_nice"))
        busy[core] = whole - t.get("idle", 0.0) - t.get("iowait", 0.0)
        total[core] = whole
    return busy, total


def _runnable() -> int | None:
    with open("/proc/loadavg") as f:  # "0.50 0.40 0.30 3/456 12345": 3 runnable now
        return int(f.read().split()[3].split("/")[0])


def read_counters(cores: Sequence[int]) -> Counters:
    """The real counters; a reading that fails is left out, with its reason."""
    import resource

    wall = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    missing: dict[str, str] = {}
    busy: dict[int, float] = {}
    total: dict[int, float] = {}
    runnable = loadavg = None
    try:
        busy, total = _core_times(cores)
    except Exception as exc:  # no /proc/stat (macOS) or a core psutil does not list
        missing["core_times"] = _why(exc)
    try:
        runnable = _runnable()
    except (OSError, ValueError, IndexError) as exc:
        missing["runnable"] = _why(exc)
    try:
        loadavg = os.getloadavg()
    except OSError as exc:
        missing["loadavg"] = _why(exc)
    return Counters(wall, usage.ru_utime + usage.ru_stime, usage.ru_nivcsw, busy, total, runnable, loadavg, missing)


@dataclass(frozen=True)
class ContentionReport:
    """What the counters say about the block. `noise_flag` decides; `to_dict` keeps the figures."""

    wall_s: float
    cpu_s: float
    threads: int  # threads the case may keep busy: min(torch threads, pinned cores)
    cores: tuple[int, ...]
    cpu_bound: bool  # a CPU case (on CUDA the host thread waits on the GPU by design)
    pinned: bool
    involuntary_switches: int | None
    others_core_s: float | None  # CPU seconds other processes ran on our cores
    runnable_others: int | None  # other runnable processes at the end of the block
    loadavg: tuple[float, float, float] | None
    unavailable: Mapping[str, str] = field(default_factory=dict)

    @property
    def cpu_share(self) -> float | None:
        """Our CPU seconds over the seconds our threads could have run."""
        if self.wall_s <= 0 or self.threads < 1:
            return None
        return self.cpu_s / (self.wall_s * self.threads)

    @property
    def others_share(self) -> float | None:
        """Other processes' share of our cores' time during the block."""
        if self.others_core_s is None or self.wall_s <= 0 or not self.cores:
            return None
        return self.others_core_s / (self.wall_s * len(self.cores))

    def _verdicts(self) -> list[str]:
        out = []
        share, others = self.cpu_share, self.others_share
        cores = ", ".join(map(str, self.cores))
        noun = "core" if len(self.cores) == 1 else "cores"
        if self.wall_s >= MIN_WALL_S and self.cpu_bound and self.threads == 1 and share is not None and share < CPU_SHARE_THRESHOLD:
            where = f"its pinned {noun} {cores}" if self.pinned else "a core"
            out.append(f"this process got {share:.0%} of {where} during sampling")
        if self.wall_s >= MIN_CORE_WINDOW_S and self.pinned and others is not None and others > OTHERS_SHARE_THRESHOLD:
            out.append(f"other processes used {others:.0%} of pinned {noun} {cores}")
        return out

    def noise_flag(self) -> NoiseFlag | None:
        """A ``contended`` flag when the pinned core was not given to us; None otherwise."""
        verdicts = self._verdicts()
        if not verdicts:
            return None
        context = []
        if self.runnable_others is not None:
            context.append(f"{self.runnable_others} other process{'es were' if self.runnable_others != 1 else ' was'} runnable")
        if self.loadavg is not None:
            context.append(f"load average {self.loadavg[0]:.2f}")
        if self.involuntary_switches is not None:
            context.append(f"{self.involuntary_switches} involuntary context switches")
        return NoiseFlag("contended", "; ".join([*verdicts, *context]))

    def to_dict(self) -> dict[str, Any]:
        share, others = self.cpu_share, self.others_share
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "cpu_share": None if share is None else round(share, 4),
            "threads": self.threads,
            "cores": list(self.cores),
            "cpu_bound": self.cpu_bound,
            "pinned": self.pinned,
            "others_core_s": self.others_core_s,
            "others_share": None if others is None else round(others, 4),
            "involuntary_switches": self.involuntary_switches,
            "runnable_others": self.runnable_others,
            "loadavg": None if self.loadavg is None else [round(x, 2) for x in self.loadavg],
            "contended": self.noise_flag() is not None,
            "unavailable": dict(self.unavailable),
        }


def _affinity() -> tuple[int, ...]:
    return tuple(sorted(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else ()


class ContentionMonitor:
    """Context manager: counters on entry and exit; ``report`` (a `ContentionReport`) on exit.

    ``cores`` default to this process's affinity at entry; then ``pinned`` (the config asked to
    pin) holds only if that affinity is narrower than the machine, so a process that was never
    pinned is not judged by what other processes do on all of the machine's cores.
    ``read(cores)`` is injectable (`read_counters` by default) so the verdicts are tested with
    scripted counters.
    """

    def __init__(
        self,
        *,
        threads: int = 1,
        cpu_bound: bool = True,
        pinned: bool = False,
        cores: Sequence[int] | None = None,
        read: Callable[[Sequence[int]], Counters] = read_counters,
    ) -> None:
        self._threads = threads
        self._cpu_bound = cpu_bound
        self._pinned = pinned
        self._cores = tuple(cores) if cores is not None else None
        self._read = read
        self._start: Counters | None = None
        self.report: ContentionReport | None = None

    def __enter__(self) -> ContentionMonitor:
        if self._cores is None:
            self._cores = _affinity()
            self._pinned = self._pinned and 0 < len(self._cores) < (os.cpu_count() or 0)
        self._start = self._read(self._cores)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        end = self._read(self._cores or ())
        start = self._start
        assert start is not None, "ContentionMonitor exited without entering"
        self.report = compare(start, end, threads=self._threads, cores=self._cores or (), cpu_bound=self._cpu_bound, pinned=self._pinned)


def compare(start: Counters, end: Counters, *, threads: int, cores: Sequence[int], cpu_bound: bool, pinned: bool) -> ContentionReport:
    """The report for the block between two readings (pure)."""
    wall = end.wall_s - start.wall_s
    cpu = end.cpu_s - start.cpu_s
    missing = {**start.unavailable, **end.unavailable}
    others = None
    if cores and all(c in start.core_busy_s and c in end.core_busy_s for c in cores):
        busy = sum(end.core_busy_s[c] - start.core_busy_s[c] for c in cores)
        others = max(0.0, busy - cpu)  # our threads ran on these cores (pinned); the rest is theirs
    elif "core_times" not in missing:
        missing["core_times"] = "no per-core times for the cores of this process"
    switches = None
    if start.involuntary_switches is not None and end.involuntary_switches is not None:
        switches = end.involuntary_switches - start.involuntary_switches
    runnable = None if end.runnable is None else max(0, end.runnable - 1)  # minus this process
    return ContentionReport(
        wall_s=wall,
        cpu_s=cpu,
        threads=max(1, min(threads, len(cores))) if cores else max(1, threads),
        cores=tuple(cores),
        cpu_bound=cpu_bound,
        pinned=pinned,
        involuntary_switches=switches,
        others_core_s=others,
        runnable_others=runnable,
        loadavg=end.loadavg,
        unavailable=missing,
    )


def sample_load(
    interval_s: float = 0.1,
    *,
    cpu_percent: Callable[[float], Sequence[float]] | None = None,
    loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
    runnable: Callable[[], int | None] = _runnable,
) -> dict[str, Any]:
    """A short look at the machine for env.json: load average, runnable processes, busy cores.

    Sleeps ``interval_s`` (inside psutil) to measure each core's busy percentage. Every reader
    is injectable; one that fails is reported in ``unavailable``, never as zero.
    """
    out: dict[str, Any] = {"interval_s": interval_s, "loadavg": None, "runnable": None, "busy_cores": None, "per_core_busy_percent": None}
    missing: dict[str, str] = {}
    try:
        out["loadavg"] = [round(x, 2) for x in loadavg()]
    except OSError as exc:
        missing["loadavg"] = _why(exc)
    try:
        out["runnable"] = runnable()
    except (OSError, ValueError, IndexError) as exc:
        missing["runnable"] = _why(exc)
    try:
        if cpu_percent is None:
            import psutil

            per_core = psutil.cpu_percent(interval=interval_s, percpu=True)
        else:
            per_core = cpu_percent(interval_s)
        out["per_core_busy_percent"] = [round(p, 1) for p in per_core]
        out["busy_cores"] = sum(1 for p in per_core if p > BUSY_CORE_PERCENT)
    except Exception as exc:  # psutil missing or /proc unreadable: say so
        missing["per_core_busy_percent"] = _why(exc)
    out["unavailable"] = missing
    return out
