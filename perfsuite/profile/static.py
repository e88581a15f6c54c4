"""Static analysis of a case (static_analysis stage): parameters, weight bytes, FLOPs and bytes per call.

FLOPs come from torch.utils.flop_counter.FlopCounterMode over one forward call (counted, not
timed; matmul/conv/attention FLOPs as torch defines them: 2 per multiply-add), broken down by
top-level module, with SDPA attention counted on every backend (`perfsuite.profile.attention`).
Bytes moved are an eager, unfused estimate from the same call (`perfsuite.profile.traffic`);
FLOPs per byte moved is the arithmetic intensity a roofline places the case at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perfsuite.measure import weights_bytes
from perfsuite.profile.attention import attention_mapping
from perfsuite.profile.traffic import traffic_mode


def analyze(module: Any, call: Callable[[], Any]) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = list(module.parameters())
    by_dtype: dict[str, int] = {}
    for p in params:
        key = str(p.dtype).replace("torch.", "")
        by_dtype[key] = by_dtype.get(key, 0) + p.numel()
    children = {name: sum(p.numel() for p in child.parameters()) for name, child in module.named_children()}
    counter = FlopCounterMode(display=False, custom_mapping=attention_mapping())
    traffic = traffic_mode(module)
    # The traffic mode sits below the counter: it sees the ops the counter's decompositions run.
    with traffic, counter, torch.inference_mode():
        call()
    total = int(counter.get_total_flops())
    per_module = {
        name: int(sum(ops.values()))
        for name, ops in counter.get_flop_counts().items()
        if name.count(".") == 1  # top-level children of the model ("Global" is the total)
    }
    per_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    sdpa_flops = sum(n for op, n in per_op.items() if "attention" in op)
    counted = {str(op) for op in counter.flop_registry}
    missed = sorted(name for name in traffic.traffic.attention_ops if name.rsplit(".", 1)[0] not in counted)
    wbytes = weights_bytes(module)
    moved = traffic.traffic
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
        "sdpa_flops": sdpa_flops,  # fused attention ops; eager attention is in aten.bmm
        "attention_not_counted": (f"no FLOP formula for {', '.join(missed)}: its FLOPs are not in flops_per_call" if missed else None),
        "bytes_per_call": moved.total,
        "bytes_moved": moved.to_dict(),
        "flops_per_byte": (total / moved.total) if moved.total else None,
    }
