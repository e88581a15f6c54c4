"""Thread counts and CPU affinity for a benchmark session, and what was actually in force."""

from __future__ import annotations

import os
import warnings
from typing import Any

from perfsuite.config.schema import HardwareSpec


def apply_hardware(hw: HardwareSpec) -> dict[str, Any]:
    """Set torch's intra/inter-op threads and pin the process; return what is in force now.

    Pinning keeps the scheduler from moving the benchmark between cores mid-run; on a small shared
    box one pinned thread is the stable setting.
    """
    import torch

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if hw.pin and allowed:
        cores = list(hw.cores) if hw.cores is not None else allowed[: hw.threads]
        missing = sorted(set(cores) - set(allowed))
        if missing:
            warnings.warn(f"perfsuite: cores {missing} are not available to this process (allowed: {allowed}); not pinning")
        else:
            os.sched_setaffinity(0, cores)
    torch.set_num_threads(hw.threads)
    if torch.get_num_interop_threads() != hw.interop_threads:
        try:
            torch.set_num_interop_threads(hw.interop_threads)
        except RuntimeError:  # only settable before the first inter-op work in the process
            warnings.warn(
                f"perfsuite: inter-op threads stay at {torch.get_num_interop_threads()} "
                f"(asked for {hw.interop_threads}); torch had already started its pool"
            )
    torch.backends.cudnn.benchmark = hw.cudnn_benchmark
    torch.backends.cudnn.deterministic = hw.deterministic
    if hw.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return threads_in_force()


def threads_in_force() -> dict[str, Any]:
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
    }


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
