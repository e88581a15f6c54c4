"""Memory of a case, every figure in bytes and named with its unit.

- `CudaPeakMemory` — ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved``
  after ``reset_peak_memory_stats`` (``cuda`` injectable, a fake in tests).
- `RssSampler` — host resident set size of this process, sampled by a thread
  (psutil, 10 ms period): peak, and the increase during the case.
- `weights_bytes` — bytes of a module's parameters + buffers (tied tensors once).

NVML process/device memory lives in `perfsuite.measure.nvml` (same sampler thread
as energy). Every record here has ``to_dict()`` for ``Measurement.with_extra``.
"""

from __future__ import annotations

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
    """Host RSS of this process around the tracked block, bytes."""

    rss_start_bytes: int
    rss_peak_bytes: int
    rss_end_bytes: int
    samples: int

    @property
    def rss_increase_bytes(self) -> int:
        """Peak RSS minus RSS at the start: what the case added at its worst."""
        return self.rss_peak_bytes - self.rss_start_bytes

    def to_dict(self) -> dict[str, int]:
        out = asdict(self)
        out["rss_increase_bytes"] = self.rss_increase_bytes
        return out


class RssSampler:
    """``with RssSampler() as rss: ...`` then ``rss.result`` (a `HostMemory`).

    ``rss_bytes`` is injectable (defaults to psutil's ``Process().memory_info().rss``).
    """

    def __init__(self, period_s: float = DEFAULT_PERIOD_S, rss_bytes: Callable[[], int] | None = None) -> None:
        if rss_bytes is None:
            import psutil  # lazy: only needed while sampling

            proc = psutil.Process()
            rss_bytes = lambda: proc.memory_info().rss  # noqa: E731
        self._read = rss_bytes
        self._lock = threading.Lock()
        self._values: list[int] = []
        self._sampler = PeriodicSampler(self._sample, period_s, name="perf-rss")
        self.result: HostMemory | None = None

    def _sample(self) -> None:
        value = int(self._read())
        with self._lock:
            self._values.append(value)

    def __enter__(self) -> RssSampler:
        self._sampler.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._sampler.stop()
        with self._lock:
            values = list(self._values)
        self.result = HostMemory(values[0], max(values), values[-1], len(values))


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

