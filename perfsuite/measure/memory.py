"""Memory of a case, every figure in bytes and named with its unit.

- `CudaPeakMemory` — ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved``
  after ``reset_peak_memory_stats`` (``cuda`` injectable, a fake in tests).
- `RssSampler` — host resident set size of this process, sampled by a thread
  (psutil, 10 ms period): peak, and the increase during the case.
- `weights_bytes` — bytes of a module's parameters + buffers (tied tensors once).
- `settled_level` — private memory after glibc has handed freed heap pages back (``malloc_trim``):
  the level a case's own memory is counted from (`HostMemory.own_peak_bytes`);
  `file_backed_bytes` — a model's weights that live in a mapped file, which that level misses.

NVML process/device memory lives in `perfsuite.measure.nvml` (same sampler thread
as energy). Every record here has ``to_dict()`` for ``Measurement.with_extra``.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from perfsuite.measure.clocks import cuda_device_index

DEFAULT_PERIOD_S = 0.01


class PeriodicSampler:
    """Calls ``sample()`` every ``period_s`` on a daemon thread, once more on stop.

    ``sample`` must be cheap and must not raise (wrap failures yourself).
    """

    def __init__(self, sample: Callable[[], None], period_s: float = DEFAULT_PERIOD_S, name: str = "perf-sampler") -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        self._sample = sample
        self._period = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._sample()

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


@dataclass(frozen=True)
class CudaMemory:
    """Peak CUDA caching-allocator figures during the tracked block, bytes."""

    max_allocated_bytes: int
    max_reserved_bytes: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class CudaPeakMemory:
    """``with CudaPeakMemory(cuda, device="cuda:1") as peak: ...`` then ``peak.result`` (a `CudaMemory`).

    Synchronize, reset and both reads act on ``device`` (an ordinal or ``"cuda:N"``; None or
    ``"cuda"``: torch's current device), never implicitly on the current one.
    """

    def __init__(self, cuda: Any | None = None, device: int | str | None = None) -> None:
        if isinstance(device, str):
            device = cuda_device_index(device)
        if cuda is None:
            import torch  # lazy

            cuda = torch.cuda
        self._cuda = cuda
        self._device = device
        self.result: CudaMemory | None = None

    def __enter__(self) -> CudaPeakMemory:
        self._cuda.synchronize(self._device)
        self._cuda.reset_peak_memory_stats(self._device)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cuda.synchronize(self._device)
        self.result = CudaMemory(
            max_allocated_bytes=int(self._cuda.max_memory_allocated(self._device)),
            max_reserved_bytes=int(self._cuda.max_memory_reserved(self._device)),
        )


@dataclass(frozen=True)
class HostMemory:
    """Host memory of this process around the tracked block, bytes.

    ``rss_*`` are the process's RSS: its peak holds whatever earlier cases and libraries left
    behind, so it is context. The case's own figure (`own_peak_bytes`) counts private memory
    instead: ``private_peak_bytes`` during the block minus ``private_before_model_bytes``, the
    settled level just before the case's model was built (for a model several cases share, the
    level when it was built), plus ``mapped_weights_bytes``, the model's weights that live in a
    mapped file. Private memory is anonymous RSS on Linux (RSS without file-backed pages, so
    library code faulted in by the first call of any kernel does not count) and RSS elsewhere;
    ``own_method`` says which, and how freed heap pages were returned first.
    """

    rss_start_bytes: int
    rss_peak_bytes: int
    rss_end_bytes: int
    samples: int
    private_peak_bytes: int | None = None
    private_before_model_bytes: int | None = None
    mapped_weights_bytes: int | None = None
    own_method: str | None = None  # e.g. "anonymous+malloc_trim"

    @property
    def rss_increase_bytes(self) -> int:
        """Peak RSS minus RSS at the start: what the case added at its worst."""
        return self.rss_peak_bytes - self.rss_start_bytes

    @property
    def own_peak_bytes(self) -> int | None:
        """The case's own memory at its peak; None when the level before its model is unknown."""
        if self.private_peak_bytes is None or self.private_before_model_bytes is None:
            return None
        return max(self.private_peak_bytes - self.private_before_model_bytes, 0) + (self.mapped_weights_bytes or 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = asdict(self)
        out["rss_increase_bytes"] = self.rss_increase_bytes
        out["own_peak_bytes"] = self.own_peak_bytes
        return out


@dataclass(frozen=True)
class ModelLevel:
    """What a case's own memory is counted from: the settled private level before its model was built."""

    private_bytes: int
    mapped_weights_bytes: int
    method: str  # `HostMemory.own_method`


def read_memory() -> tuple[int, int]:
    """(RSS, private bytes) of this process: anonymous RSS from /proc/self/statm on Linux, RSS elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            fields = fh.read().split()
        page = os.sysconf("SC_PAGE_SIZE")
        resident, shared = int(fields[1]) * page, int(fields[2]) * page
        return resident, resident - shared
    except (OSError, ValueError, IndexError):
        import psutil  # lazy

        rss = int(psutil.Process().memory_info().rss)
        return rss, rss


def private_kind() -> str:
    return "anonymous" if os.path.exists("/proc/self/statm") else "rss"


class RssSampler:
    """``with RssSampler() as rss: ...`` then ``rss.result`` (a `HostMemory`).

    ``read`` is injectable (defaults to `read_memory`); ``rss_bytes`` alone gives RSS with no
    private figure.
    """

    def __init__(
        self,
        period_s: float = DEFAULT_PERIOD_S,
        rss_bytes: Callable[[], int] | None = None,
        read: Callable[[], tuple[int, int | None]] | None = None,
    ) -> None:
        if read is None:
            read = (lambda: (rss_bytes(), None)) if rss_bytes is not None else read_memory  # type: ignore[misc]
        self._read = read
        self._lock = threading.Lock()
        self._values: list[tuple[int, int | None]] = []
        self._sampler = PeriodicSampler(self._sample, period_s, name="perf-rss")
        self.result: HostMemory | None = None

    def _sample(self) -> None:
        rss, private = self._read()
        with self._lock:
            self._values.append((int(rss), None if private is None else int(private)))

    def __enter__(self) -> RssSampler:
        self._sampler.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._sampler.stop()
        with self._lock:
            values = list(self._values)
        rss = [v[0] for v in values]
        private = [v[1] for v in values if v[1] is not None]
        self.result = HostMemory(rss[0], max(rss), rss[-1], len(values), private_peak_bytes=max(private) if private else None)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (musl, macOS, Windows: no such call)."""
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_heap() -> str:
    """Hand free heap pages back to the OS; returns the method used ("malloc_trim" or "none").

    glibc keeps freed memory mapped, so after a bigger case the RSS stays high and a smaller case's
    allocations reuse those pages unseen. Trimming first makes a later increase count every page
    the case touches, whichever cases ran before it.
    """
    trim = _malloc_trim()
    if trim is None:
        return "none"
    trim(0)
    return "malloc_trim"


def settled_level(
    read: Callable[[], tuple[int, int]] = read_memory, release: Callable[[], str] = release_freed_heap
) -> tuple[int, str]:
    """Private bytes of this process after garbage collection and `release`, and the method (`HostMemory.own_method`)."""
    import gc

    gc.collect()
    method = release()
    return int(read()[1]), f"{private_kind()}+{method}"


def file_backed_bytes(module: Any, maps: str | None = None) -> int:
    """Bytes of ``module``'s parameters and buffers whose storage lies in a mapped file (mmapped
    safetensors): file-backed pages, which private memory does not count. 0 off Linux.

    ``maps`` is the text of /proc/self/maps (injectable); each storage counts once.
    """
    if maps is None:
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
                maps = fh.read()
        except OSError:
            return 0
    ranges = []
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) >= 6 and parts[4] != "0":  # inode 0: anonymous, [heap], [stack]
            low, high = (int(x, 16) for x in parts[0].split("-"))
            ranges.append((low, high))
    ranges.sort()
    starts = [low for low, _ in ranges]
    seen: set[int] = set()
    total = 0
    for tensor in (*module.parameters(), *module.buffers()):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in seen or ptr == 0:
            continue
        seen.add(ptr)
        i = bisect.bisect_right(starts, ptr) - 1
        if i >= 0 and ptr < ranges[i][1]:
            total += storage.nbytes()
    return total


def weights_bytes(module: Any) -> int:
    """Bytes of ``module``'s parameters plus buffers; a tensor shared by two names counts once."""
    seen: set[int] = set()
    total = 0
    for tensor in (*module.parameters(), *module.buffers()):
        key = id(tensor)
        if key in seen:
            continue
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    return total

