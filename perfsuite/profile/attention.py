"""FLOP formulas for the attention ops torch's FlopCounterMode does not count on every path.

`torch.nn.functional.scaled_dot_product_attention` (transformers' default `attn_implementation="sdpa"`)
reaches a dispatch mode as `aten.scaled_dot_product_attention`, a composite op. FlopCounterMode
decomposes it: on CUDA into a flash/efficient/cuDNN kernel it has formulas for, but on CPU into
`aten._scaled_dot_product_flash_attention_for_cpu`, which it has none for, so the two attention
matmuls went uncounted (BERT-base at seq 128: 21.74 instead of 22.35 GFLOP per call).

Counting the composite op itself (before it is decomposed, so nothing is counted twice) gives the
same figure on every backend, and the same figure as eager attention (`Q @ K^T` and `P @ V` as two
batched matmuls): 2·B·H·Lq·Lk·E + 2·B·H·Lq·Lk·Ev. A causal or masked call counts the full score
matrix, as eager attention computes it; softmax and scaling are not counted (torch counts no
elementwise op).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def sdpa_flops(query_shape: Sequence[int], key_shape: Sequence[int], value_shape: Sequence[int], *args: Any, **kwargs: Any) -> int:
    """FLOPs of one SDPA call from its shapes (..., L, E); leading dims broadcast, GQA counted per query head."""
    if len(query_shape) < 2 or len(key_shape) < 2 or len(value_shape) < 2:
        raise ValueError(f"attention shapes need at least 2 dims: q={tuple(query_shape)}, k={tuple(key_shape)}, v={tuple(value_shape)}")
    batch = 1
    for n in query_shape[:-2]:
        batch *= int(n)
    lq, e = int(query_shape[-2]), int(query_shape[-1])
    lk, ev = int(key_shape[-2]), int(value_shape[-1])
    return 2 * batch * lq * lk * e + 2 * batch * lq * lk * ev


def attention_mapping() -> dict[Any, Any]:
    """`custom_mapping` for FlopCounterMode: the SDPA ops it misses (shape-based formulas)."""
    import torch

    aten = torch.ops.aten
    mapping: dict[Any, Any] = {aten.scaled_dot_product_attention: sdpa_flops}
    cpu_kernel = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)  # absent on some builds
    if cpu_kernel is not None:  # called directly by some models
        mapping[cpu_kernel] = sdpa_flops
    return mapping


def is_attention_op(name: str) -> bool:
    return "attention" in name
