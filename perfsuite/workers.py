"""One pytest-xdist worker per device: which cores or which GPU each worker gets.

Pure: the devices this machine offers go in, one `WorkerSlot` per worker comes out, or a
`PerfError` saying why the worker count does not fit. perfsuite.xdist_plugin hands each worker its
slot (CUDA_VISIBLE_DEVICES in the worker's spawn environment, so it is set before the worker
imports torch, let alone initialises CUDA; the core set through `workerinput`).

Why a slot per worker and never two workers on one device: a device that runs two cases at once
times neither honestly. xdist gives each worker one test at a time, so one worker per device is
enough to keep every device to one case at a time. Asking for more workers than devices is a
usage error rather than silent queuing: the extra workers would only share devices.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfsuite.errors import PerfError

CUDA_ENV = "CUDA_VISIBLE_DEVICES"
_WORKER_ID = re.compile(r"^gw(\d+)$")


class WorkerPlanError(PerfError):
    """The requested workers do not fit the devices of this machine."""


@dataclass(frozen=True)
class WorkerSlot:
    """What one xdist worker may use: a disjoint core set (CPU) or one GPU (CUDA)."""

    index: int  # k of worker gwk
    device: str  # "cpu" or "cuda" (inside the worker, cuda means the one visible GPU)
    cores: tuple[int, ...]  # the worker's cores; on CUDA the host cores that drive its GPU
    cuda_visible: str | None = None  # the CUDA_VISIBLE_DEVICES value of this worker

    @property
    def worker_id(self) -> str:
        return f"gw{self.index}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "device": self.device, "cores": list(self.cores), "cuda_visible": self.cuda_visible}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerSlot:
        return cls(int(data["index"]), str(data["device"]), tuple(int(c) for c in data["cores"]), data.get("cuda_visible"))


def worker_index(worker_id: str) -> int:
    """`gw3` -> 3 (xdist names its workers gw0, gw1, ...; a restarted worker keeps its name)."""
    match = _WORKER_ID.match(worker_id)
    if match is None:
        raise WorkerPlanError(f"unexpected pytest-xdist worker id {worker_id!r}; expected gw0, gw1, ...")
    return int(match.group(1))


def visible_cuda_devices(env: Mapping[str, str], device_count: int) -> list[str]:
    """The GPUs this process may hand out: CUDA_VISIBLE_DEVICES's entries if set, else 0..count-1."""
    given = env.get(CUDA_ENV)
    if given is not None and given.strip() != "":
        return [d.strip() for d in given.split(",") if d.strip() and d.strip() != "-1"]
    return [str(i) for i in range(device_count)]


def split_cores(cores: Sequence[int], workers: int) -> list[tuple[int, ...]]:
    """`cores` cut into `workers` disjoint, contiguous, equal sets (a remainder stays unused)."""
    per = len(cores) // workers
    ordered = sorted(cores)
    return [tuple(ordered[i * per : (i + 1) * per]) for i in range(workers)]


def plan_slots(device: str, workers: int, *, cores: Sequence[int], cuda_devices: Sequence[str], flag: str = "--device",
               asked: str = "") -> tuple[WorkerSlot, ...]:
    """One slot per worker for `device`, or a WorkerPlanError that says what fits.

    ``asked``: how the user asked for the workers, as messages quote it (default ``-n WORKERS``).
    """
    asked = asked or f"-n {workers}"
    if workers < 1:
        raise WorkerPlanError(f"{asked}: perfsuite needs at least one worker")
    if device == "cpu":
        if workers > len(cores):
            raise WorkerPlanError(
                f"{asked} asks for {workers} workers, but this process may use only {len(cores)} CPU core(s) "
                f"({sorted(cores)}); each worker needs a core of its own or its timings would share it. "
                f"Use -n {len(cores)} or fewer (workers are not queued onto shared cores)."
            )
        return tuple(WorkerSlot(k, "cpu", part) for k, part in enumerate(split_cores(cores, workers)))
    if device.startswith("cuda"):
        if ":" in device:
            raise WorkerPlanError(
                f"{flag} {device} names one GPU, but {asked} starts {workers} workers; pass {flag} cuda "
                "to give each worker a GPU of its own (worker k gets GPU k of CUDA_VISIBLE_DEVICES)."
            )
        if workers > len(cuda_devices):
            raise WorkerPlanError(
                f"{asked} asks for {workers} workers, but {len(cuda_devices)} CUDA device(s) are visible "
                f"({', '.join(cuda_devices) or 'none'}); one worker per GPU keeps every GPU to one case at a time. "
                f"Use -n {len(cuda_devices)} or fewer (workers are not queued onto shared GPUs)."
            )
        host = split_cores(cores, workers) if len(cores) >= workers else [tuple(cores)] * workers
        return tuple(WorkerSlot(k, "cuda", host[k], cuda_devices[k]) for k in range(workers))
    raise WorkerPlanError(f"{flag} {device} is a single device; run it without -n (pytest-xdist workers need cpu or cuda)")


def allowed_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
