"""Eager PyTorch with int8 dynamic quantization of the Linear layers (CPU only).

`quantize_linear_int8(module)` returns a quantized *copy* (the session shares one built model between
a model's cases, eager fp32 and the parity reference included, so the model itself is never changed):
``torch.ao.quantization.quantize_dynamic(copy, {torch.nn.Linear}, dtype=torch.qint8)``. Weights are
stored as int8; each call quantizes its activations on the fly and runs the int8 matmul kernels of
the CPU's quantized engine (fbgemm/x86 or qnnpack). Everything that is not a Linear stays fp32.

transformers' ``Conv1D`` (GPT-2's attention and MLP projections) is a Linear with its weight stored
transposed, which quantize_dynamic does not recognise: the copy replaces each one with the equivalent
``nn.Linear`` first (same math, weight transposed), so GPT-2's blocks are quantized too, and
`describe()` says how many were converted. A model with no Linear layer at all is refused (the case
is skipped with the reason) rather than timed as a quantized runtime that quantized nothing.

The quantized kernels exist on CPUs only: on other devices the matrix leaves the case out
(`unsupported`). Quantization starts from fp32 weights, so a case cast to bf16/fp16 is left out too.
int8 is approximate: the preset carries its own parity tolerances (the case computes in fp32, so its
preset overrides `parity.tolerances.fp32`). Generation cases generate with the quantized copy
(`generation_module`); their greedy tokens are compared with eager fp32's and the match length reported
(the preset's `parity.exact_tokens: []`: int8 does not claim identical tokens).

torch.ao.quantization is deprecated in favour of torchao; quantize_dynamic still works in the torch
versions perfsuite supports, and its deprecation warnings (one set per quantized model) are recorded
in `describe()["quantization"]["deprecated"]` instead of being repeated in every test's output.
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import dataclass
from typing import Any

from perfsuite.config.schema import CaseConfig, RuntimeSpec
from perfsuite.errors import PerfDeviceError
from perfsuite.measure.sync import device_kind
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES
from perfsuite.runtimes.base import RuntimeUnavailable
from perfsuite.runtimes.eager import EagerRuntime, describe_precision

BACKEND = "pytorch_int8_dynamic"
NOT_CPU = (
    "int8 dynamic quantization (torch.ao.quantization.quantize_dynamic) runs on CPU kernels only "
    "(fbgemm/x86, qnnpack): it needs --device cpu (this run is on {device})"
)
NOT_FP32 = (
    "int8 dynamic quantization starts from fp32 weights, but this case is cast to {precision}: "
    "set inference_runtime.precision and infer.precision to fp32 for it"
)
NO_LINEAR = (
    "int8 dynamic quantization found no torch.nn.Linear (or transformers Conv1D) layer in {model}: "
    "nothing would be quantized, so it is not run (the model's layers are {kinds})"
)
#: The warnings quantize_dynamic emits in the torch versions perfsuite supports: expected, recorded once.
DEPRECATIONS = (
    r"torch\.ao\.quantization is deprecated",
    r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor creation functions",
)


@dataclass(frozen=True)
class Quantized:
    """A quantized copy of a module and what was done to it."""

    module: Any  # torch.nn.Module: the copy, Linear layers replaced by dynamic int8 ones
    linear: int  # Linear layers quantized (Conv1D ones included)
    conv1d: int  # transformers Conv1D layers converted to nn.Linear before quantizing
    quantized_params: int  # weights and biases of the quantized layers, as counted before quantizing
    params: int  # every parameter of the module before quantizing
    engine: str  # torch.backends.quantized.engine: whose int8 kernels run
    deprecated: tuple[str, ...] = ()  # first lines of the deprecation warnings quantize_dynamic emitted

    def describe(self) -> dict[str, Any]:
        return {
            "method": "torch.ao.quantization.quantize_dynamic",
            "weights": "qint8 (per-tensor affine), activations quantized per call",
            "engine": self.engine,
            "linear_layers": self.linear,
            "conv1d_as_linear": self.conv1d,
            "quantized_params": self.quantized_params,
            "params": self.params,
            "quantized_share": round(self.quantized_params / self.params, 4) if self.params else 0.0,
            "deprecated": list(self.deprecated),
        }


def conv1d_as_linear(module: Any) -> int:
    """Replace every transformers ``Conv1D`` inside `module` (in place) by the equivalent ``nn.Linear``; the count.

    Conv1D computes ``x @ W + b`` with W of shape (in, out); nn.Linear computes ``x @ W'.T + b`` with
    W' of shape (out, in): W' = W.T gives the same outputs.
    """
    import torch

    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # no transformers: no Conv1D either
        return 0
    targets = [(name, child) for name, child in module.named_modules() if isinstance(child, Conv1D)]
    for name, conv in targets:
        linear = torch.nn.Linear(conv.nx, conv.nf, bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(conv.weight.t())
            if conv.bias is not None:
                linear.bias.copy_(conv.bias)
        parent_name, _, attr = name.rpartition(".")
        setattr(module.get_submodule(parent_name) if parent_name else module, attr, linear)
    return len(targets)


def quantize_linear_int8(module: Any, *, name: str = "the model") -> Quantized:
    """A copy of `module` with its Linear layers (and Conv1D ones, converted) quantized to int8; `module` is unchanged.

    Raises `RuntimeUnavailable` when there is nothing to quantize, and ValueError for weights that are not fp32.
    """
    import torch

    linear_cls = torch.nn.Linear
    weights = {p.dtype for p in module.parameters() if p.is_floating_point()}
    if weights - {torch.float32}:
        raise ValueError(f"quantize_linear_int8 needs fp32 weights, {name} has {sorted(str(d) for d in weights)}: build the model in fp32")
    params = sum(p.numel() for p in module.parameters())
    copied = copy.deepcopy(module)
    conv1d = conv1d_as_linear(copied)
    linears = [m for m in copied.modules() if type(m) is linear_cls]  # quantize_dynamic maps the exact type
    if not linears:
        kinds = sorted({type(m).__name__ for m in module.modules() if not list(m.children())})
        raise RuntimeUnavailable(NO_LINEAR.format(model=name, kinds=", ".join(kinds[:8]) + (", ..." if len(kinds) > 8 else "")))
    quantized_params = sum(p.numel() for m in linears for p in m.parameters(recurse=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.ao.quantization.quantize_dynamic(copied, {linear_cls}, dtype=torch.qint8, inplace=True)
    deprecated = _replay_unexpected(caught)
    left = sum(1 for m in copied.modules() if type(m) is linear_cls)
    if left:  # quantize_dynamic skips what it cannot handle; a partly quantized runtime must not pass as quantized
        raise RuntimeUnavailable(f"int8 dynamic quantization left {left} of {len(linears)} Linear layers of {name} in fp32")
    return Quantized(copied.eval(), len(linears), conv1d, quantized_params, params, str(torch.backends.quantized.engine), deprecated)


def _replay_unexpected(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """The expected deprecations' first lines (once each); any other warning is re-emitted as it came."""
    expected: dict[str, None] = {}
    for w in caught:
        text = str(w.message)
        if any(re.search(pattern, text) for pattern in DEPRECATIONS):
            first = text.strip().splitlines()[0].strip()
            expected[first if len(first) <= 160 else first[:157] + "..."] = None
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return tuple(expected)


class Int8DynamicRuntime:
    """Eager PyTorch (inference_mode) over an int8 dynamically quantized copy of the model."""

    def __init__(self, spec: RuntimeSpec, model: TransformersModel) -> None:
        import torch

        if device_kind(model.device) != "cpu":
            raise PerfDeviceError(NOT_CPU.format(device=model.device))
        if model.dtype != torch.float32:
            raise RuntimeUnavailable(NOT_FP32.format(precision=str(model.dtype).replace("torch.", "")))
        self.name = spec.name
        self.spec = spec
        self.model = model
        self.quantized = quantize_linear_int8(model.module, name=str(getattr(model.spec, "id", model.spec)))
        adapter = copy.copy(model)  # the same adapter (inputs, forward kwargs) over the quantized copy
        adapter.module = self.quantized.module
        self._eager = EagerRuntime(spec, adapter)

    @property
    def generation_module(self) -> Any:
        """The quantized copy: what `perf.generate` drives for a generation case of this runtime."""
        return self.quantized.module

    def __call__(self, inputs: dict[str, Any]) -> Any:
        return self._eager(inputs)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": BACKEND, "mode": "eager", "grad": "inference_mode"}
        out.update(describe_precision(self.spec, self.model))
        out["weights_dtype"] = "qint8 (Linear layers), float32 (the rest)"
        out["quantization"] = self.quantized.describe()
        if self.spec.slowdown:
            out["injected_slowdown"] = self.spec.slowdown
        return out

    @staticmethod
    def unsupported(cfg: CaseConfig, device: str) -> str | None:
        """Matrix expansion: CPU only, from fp32 weights (cheap: no torch import)."""
        if device_kind(device) != "cpu":
            return NOT_CPU.format(device=device)
        precision = cfg.runtime.precision if cfg.runtime.precision != "fp32" else cfg.infer.precision
        return None if precision == "fp32" else NOT_FP32.format(precision=precision)


RUNTIMES.add(BACKEND, Int8DynamicRuntime)
