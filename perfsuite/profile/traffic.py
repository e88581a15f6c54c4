"""Bytes a forward call moves to and from memory: an eager, unfused estimate, counted op by op.

A TorchDispatchMode sees every aten op of one call (after FlopCounterMode's decompositions, so the
ops eager execution runs) and adds up:

- **weights read**: each parameter or buffer an op reads, once per call (its full size), whichever
  view of it the op gets (`t()` of a Linear weight is the weight); a gather-like op (embedding,
  index_select, gather) reads only the rows it returns, counted as activation reads of that size;
- **activations read**: every other tensor input of every op (an op reads it from memory again);
- **activations written**: every tensor an op returns.

View ops (`view`, `t`, `expand`, `slice`, ...) move no bytes. What this is not: fused or compiled
runtimes keep intermediates in registers and caches and move fewer bytes; a cache may serve a
re-read; so for eager execution it is an upper-bound-style estimate, and its arithmetic intensity
(FLOPs / bytes) a lower bound. docs/roofline.md states it with the figures it gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Ops that read only the rows they return from their (possibly huge) first input.
GATHER_OPS = frozenset({"aten.embedding.default", "aten.index_select.default", "aten.gather.default", "aten.index.Tensor",
                        "aten.take_along_dim.default"})


@dataclass
class Traffic:
    """What one counted call moved, in bytes, and the attention-like ops it ran (by aten name)."""

    weights_read: int = 0
    activations_read: int = 0
    activations_written: int = 0
    ops: int = 0
    attention_ops: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.weights_read + self.activations_read + self.activations_written

    def to_dict(self) -> dict[str, int]:
        return {"weights_read": self.weights_read, "activations_read": self.activations_read,
                "activations_written": self.activations_written, "total": self.total}


def _nbytes(t: Any) -> int:
    size = t.numel() * t.element_size()
    try:
        return min(size, t.untyped_storage().nbytes())  # an expanded (stride-0) input is read once
    except (RuntimeError, NotImplementedError):  # tensors without storage (some subclasses)
        return size


def traffic_mode(module: Any) -> Any:
    """A dispatch mode counting one call's bytes into its `.traffic` (a `Traffic`)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    weights: dict[int, Any] = {}  # id(tensor) -> the parameter/buffer it is (or views)
    for t in (*module.parameters(), *module.buffers()):
        weights[id(t)] = t
    keep: list[Any] = []  # views of weights, kept alive so their ids stay theirs

    class _Mode(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.traffic = Traffic()
            self._read: set[int] = set()

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = str(func)
            inputs = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
            outputs = [o for o in tree_leaves(out) if isinstance(o, torch.Tensor)]
            if "attention" in name:
                self.traffic.attention_ops.add(name)
            if not outputs:
                return out
            if getattr(func, "is_view", False):
                base = next((weights[id(a)] for a in inputs[:1] if id(a) in weights), None)
                if base is not None:  # a view of a weight is that weight
                    for o in outputs:
                        weights[id(o)] = base
                        keep.append(o)
                return out
            tr = self.traffic
            tr.ops += 1
            gather = name in GATHER_OPS
            for i, a in enumerate(inputs):
                base = weights.get(id(a))
                if gather and i == 0:
                    tr.activations_read += sum(_nbytes(o) for o in outputs)  # the rows it returns
                elif base is not None:
                    if id(base) not in self._read:
                        self._read.add(id(base))
                        tr.weights_read += _nbytes(base)
                else:
                    tr.activations_read += _nbytes(a)
            tr.activations_written += sum(_nbytes(o) for o in outputs)
            return out

    return _Mode()
