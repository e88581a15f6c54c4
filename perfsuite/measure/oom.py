"""Out-of-memory during a batch sweep: recognise it, free memory, record it, go on.

    for bs in batch_sizes:
        with catch_oom(bs) as oom:
            results[bs] = measure(make_fn(bs), clock=clock)
        if oom.record is not None:
            results[bs] = oom.record          # OomRecord(status="oom", batch_size=bs, message=...)

Only out-of-memory errors are caught; any other exception propagates unchanged.
"""

from __future__ import annotations

import gc
import sys
import traceback
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from perfsuite.measure.clocks import cuda_device_index

#: Lower-cased message fragments that mean "the allocator gave up".
OOM_MESSAGES = (
    "out of memory",  # CUDA caching allocator, HIP
    "not enough memory",  # CPU allocator on Windows ("DefaultCPUAllocator: not enough memory")
    "can't allocate memory",  # CPU allocator on Linux/macOS ("DefaultCPUAllocator: can't allocate memory: you tried to allocate ...")
    "cannot allocate memory",  # errno ENOMEM in a message
    "cublas_status_alloc_failed",
    "failed to allocate memory",  # ONNX Runtime
)


def is_oom(exc: BaseException) -> bool:
    """True for torch.cuda.OutOfMemoryError, MemoryError, or a RuntimeError saying it ran out of memory."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch is not None else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(fragment in text for fragment in OOM_MESSAGES)
    return False


def free_memory(cuda: Any | None = None, device: int | str | None = None) -> None:
    """gc.collect(), then `empty_device_cache` (``cuda`` injectable)."""
    gc.collect()
    empty_device_cache(cuda, device)


def empty_device_cache(cuda: Any | None = None, device: int | str | None = None) -> None:
    """Return ``device``'s cached blocks to the driver when CUDA is in use.

    ``torch.cuda.empty_cache()`` takes no device and frees the *current* device's cache, so it
    runs under ``cuda.device(device)``: an OOM on ``cuda:1`` frees ``cuda:1``. ``device`` None
    (or ``"cuda"``) means the current device; a non-CUDA device string frees nothing.
    """
    if isinstance(device, str):
        if device == "mps":
            torch = sys.modules.get("torch")
            if torch is not None and torch.backends.mps.is_available():
                torch.mps.empty_cache()
            return
        if not device.startswith("cuda"):
            return
        device = cuda_device_index(device)
    if cuda is None:
        torch = sys.modules.get("torch")  # never import torch just to free memory
        if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return
        cuda = torch.cuda
    if device is None:
        cuda.empty_cache()
        return
    with cuda.device(device):
        cuda.empty_cache()


@dataclass(frozen=True)
class OomRecord:
    """A batch size that did not fit: kept in the sweep as a result, not lost as a crash."""

    batch_size: int | None
    message: str
    error_type: str
    status: str = "oom"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def oom_record(
    exc: BaseException, batch_size: int | None, *, cuda: Any | None = None, device: int | str | None = None
) -> OomRecord | None:
    """If ``exc`` is an OOM: drop its frames' references, free caches, return the record; else None."""
    if not is_oom(exc):
        return None
    if exc.__traceback__ is not None:
        traceback.clear_frames(exc.__traceback__)  # the frames hold the tensors that did not fit
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    record = OomRecord(batch_size=batch_size, message=message, error_type=type(exc).__name__)
    free_memory(cuda, device)
    return record


class catch_oom:  # noqa: N801 - used like contextlib.suppress
    """Context manager that turns an OOM in its block into ``self.record``; frees ``device``'s cache."""

    def __init__(self, batch_size: int | None = None, *, cuda: Any | None = None, device: int | str | None = None) -> None:
        self.batch_size = batch_size
        self._cuda = cuda
        self._device = device
        self.record: OomRecord | None = None

    def __enter__(self) -> catch_oom:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None:
            return False
        self.record = oom_record(exc, self.batch_size, cuda=self._cuda, device=self._device)
        return self.record is not None
