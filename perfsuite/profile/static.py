"""Static analysis of a case (static_analysis stage): parameters, weight bytes and FLOPs per call.

FLOPs come from torch.utils.flop_counter.FlopCounterMode over one forward call (counted, not
timed; matmul/conv/attention FLOPs as torch defines them), broken down by top-level module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perfsuite.measure import weights_bytes


def analyze(module: Any, call: Callable[[], Any]) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = list(module.parameters())
    by_dtype: dict[str, int] = {}
    for p in params:
        key = str(p.dtype).replace("torch.", "")
        by_dtype[key] = by_dtype.get(key, 0) + p.numel()
    children = {name: sum(p.numel() for p in child.parameters()) for name, child in module.named_children()}
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        call()
    total = int(counter.get_total_flops())
    per_module = {
        name: int(sum(ops.values()))
        for name, ops in counter.get_flop_counts().items()
        if name.count(".") == 1  # top-level children of the model ("Global" is the total)
    }
    per_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    wbytes = weights_bytes(module)
    return {
        "params": sum(p.numel() for p in params),
        "params_by_dtype": by_dtype,
        "params_by_child": children,
        "weights_bytes": wbytes,
        "flops_per_call": total,
        "flops_by_module": per_module,
        "flops_by_op": per_op,
        # FLOPs per byte of weights read once per call: a lower bound on arithmetic intensity.
        "flops_per_weight_byte": (total / wbytes) if wbytes else None,
    }
