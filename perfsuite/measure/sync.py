"""Waiting for a device: the one place that knows how cpu, cuda[:N] and mps synchronize.

Imports torch only when a device other than the CPU is named.
"""

from __future__ import annotations

from collections.abc import Callable


def device_kind(device: str) -> str:
    """"cuda:1" -> "cuda"; "mps" -> "mps"; "cpu" -> "cpu"."""
    return device.split(":")[0]


def synchronizer(device: str) -> Callable[[], None]:
    """A function that blocks until `device`'s queued work is done (nothing to wait for on the CPU).

    "cuda:1" waits for GPU 1 itself, not for the current device.
    """
    kind = device_kind(device)
    if kind == "cuda":
        import torch

        return lambda: torch.cuda.synchronize(device)
    if kind == "mps":
        import torch

        return torch.mps.synchronize
    return lambda: None


def synchronize(device: str) -> None:
    synchronizer(device)()
