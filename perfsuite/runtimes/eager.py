"""Eager PyTorch: the model's forward under torch.inference_mode(); the reference runtime.

Precision, as `inference_runtime.precision` / `precision_mode` say (docs: README "Runtimes"):

- ``cast``: the whole model is built in the precision (weights, activations, image inputs); the
  session builds it so (`Case.weights_precision`), and the forward runs as is.
- ``autocast``: the weights stay fp32 and the forward runs under ``torch.autocast(device_type,
  dtype)``: eligible ops (matmul, conv, linear, ...) in bf16/fp16, the rest in fp32.

`channels_last` is the model's too (weights and pixel inputs in NHWC, made when the model and its
batches are built); eager only reports it. Both are parity-checked against eager fp32 like any runtime.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from perfsuite.config.schema import RuntimeSpec
from perfsuite.measure.sync import device_kind
from perfsuite.models.base import DTYPES, TransformersModel
from perfsuite.registry import RUNTIMES

#: The profiler range of `inference_runtime.slowdown`'s spin (what a profile diff shows as slowed).
SLOWDOWN_RANGE = "perfsuite::injected_slowdown"


def autocast_for(spec: RuntimeSpec, device: str, *, cache: bool = True) -> Callable[[], contextlib.AbstractContextManager[Any]] | None:
    """The autocast context each call runs under for ``precision_mode: autocast``; None for a cast.

    Other backends that run the PyTorch forward (CUDA graphs, torch.compile) use it too. ``cache``
    False: no cast-weight cache, which CUDA graph capture needs (the cache is freed when the
    context exits, while the graph would still read it).
    """
    if spec.precision_mode != "autocast":
        return None
    import torch

    dtype = getattr(torch, DTYPES[spec.precision])
    kind = device_kind(device)
    return lambda: torch.autocast(device_type=kind, dtype=dtype, cache_enabled=cache)


class EagerRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel, *, autocast_cache: bool = True) -> None:
        import torch

        self.name = spec.name
        self.model = model
        self.spec = spec
        self._inference_mode = torch.inference_mode
        self._autocast = autocast_for(spec, model.device, cache=autocast_cache)
        self._slowdown = spec.slowdown
        self._slowdown_range = torch.profiler.record_function
        self._profiling = torch._C._autograd._profiler_enabled  # a profiler (torch.profiler / autograd's) is recording

    def __call__(self, inputs: dict[str, Any]) -> Any:
        if self._slowdown:
            return self._slowed(inputs)
        return self.forward(inputs)

    def forward(self, inputs: dict[str, Any]) -> Any:
        """One call in the runtime's precision (also what CUDA graphs capture)."""
        if self._autocast is None:  # a cast model (or fp32): no context beyond inference_mode
            with self._inference_mode():
                return self.model.forward(inputs)
        with self._inference_mode(), self._autocast():
            return self.model.forward(inputs)

    def _slowed(self, inputs: dict[str, Any]) -> Any:
        """The call, then a host spin for `slowdown` times its duration (gate experiments only).

        Under a profiler the spin is a range named `SLOWDOWN_RANGE`, so a profile shows it as an op of
        its own and the profile diff of a case slowed this way names it as the op that got slower.
        Outside one there is no range: entering and leaving it costs ~25 µs even with no profiler
        running, which would turn a 5% slowdown of a 0.75 ms call into 8% (measured).
        """
        start = time.perf_counter()
        out = self.forward(inputs)
        until = start + (time.perf_counter() - start) * (1.0 + self._slowdown)
        with self._slowdown_range(SLOWDOWN_RANGE) if self._profiling() else contextlib.nullcontext():
            while time.perf_counter() < until:
                pass
        return out

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": "pytorch", "mode": "eager", "grad": "inference_mode"}
        out.update(describe_precision(self.spec, self.model))
        if self._slowdown:
            out["injected_slowdown"] = self._slowdown
        return out


@contextlib.contextmanager
def slowed_forwards(module: Any, slowdown: float) -> Any:
    """Every forward of ``module`` inside the block followed by a host spin of ``slowdown`` times its duration.

    `inference_runtime.slowdown` for paths that call the model's own methods rather than the
    runtime (`generate()` runs the forward once per decoding step): without it an injected
    slowdown would not reach TTFT or TPOT, and a gate experiment would compare slowed latency
    cases with unslowed generation cases. The spin is a profiler range (`SLOWDOWN_RANGE`) only
    under a profiler, as in `EagerRuntime`.
    """
    if not slowdown:
        yield
        return
    import torch

    profiling = torch._C._autograd._profiler_enabled
    starts: list[float] = []

    def before(_module: Any, _args: Any) -> None:
        starts.append(time.perf_counter())

    def after(_module: Any, _args: Any, _output: Any) -> None:
        start = starts.pop() if starts else time.perf_counter()
        until = start + (time.perf_counter() - start) * (1.0 + slowdown)
        with torch.profiler.record_function(SLOWDOWN_RANGE) if profiling() else contextlib.nullcontext():
            while time.perf_counter() < until:
                pass

    handles = (module.register_forward_pre_hook(before), module.register_forward_hook(after))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def describe_precision(spec: RuntimeSpec, model: TransformersModel) -> dict[str, Any]:
    """How a runtime's precision and layout were applied, for the result's details."""
    out: dict[str, Any] = {"precision": spec.precision, "precision_mode": spec.precision_mode, "weights_dtype": str(model.dtype).replace("torch.", "")}
    if spec.precision_mode == "autocast":
        out["autocast"] = {"device_type": device_kind(model.device), "dtype": DTYPES[spec.precision]}
    if spec.channels_last:
        out["memory_format"] = "channels_last"
    return out


RUNTIMES.add("pytorch", EagerRuntime)
