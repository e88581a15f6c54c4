"""NVTX ranges around a case's phases (load, warm-up, timed, profiled), for Nsight's timeline.

Only when the case runs on CUDA and torch has CUDA: `torch.cuda.nvtx.range_push/range_pop`, once
per phase (not per call, so the timed rounds pay two calls of about a microsecond in all). On
any other device `phase_ranges` returns a context that does nothing and imports nothing.
Ranges are named `perfsuite:<phase>`, the names the nsys/ncu presets' NVTX filters use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ContextManager

PHASES = ("load", "warm-up", "timed", "profiled", "layers", "memory")
PREFIX = "perfsuite:"

PhaseRange = Callable[[str], ContextManager[None]]


def no_range(phase: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def _uses_cuda(device: str) -> bool:
    return device.split(":")[0] == "cuda"


def phase_ranges(device: str, nvtx: Any | None = None) -> PhaseRange:
    """`with phase_ranges(case.device)("timed"): ...`; `nvtx` is injectable (a fake in tests)."""
    if not _uses_cuda(device):
        return no_range
    if nvtx is None:
        import torch

        if not torch.cuda.is_available():
            return no_range
        nvtx = torch.cuda.nvtx

    @contextlib.contextmanager
    def ranged(phase: str) -> Iterator[None]:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
        nvtx.range_push(PREFIX + phase)
        try:
            yield
        finally:
            nvtx.range_pop()

    return ranged
