"""TensorRT through torch-tensorrt's dynamo frontend (NVIDIA GPUs only).

For each new input signature the model is exported with ``torch.export`` (inputs passed by name,
the adapter's fixed keyword arguments such as ``use_cache=False`` applied inside) and compiled
with ``torch_tensorrt.dynamo.compile`` into a TensorRT engine for exactly those shapes. The
first call of a shape builds its engine (the parity check makes that call, before timing);
`describe()` records the build seconds.

Precision is a cast: the session builds the model in the case's precision, so the exported
graph and its inputs carry fp32/fp16/bf16 and TensorRT keeps those types (``use_explicit_typing``
in torch-tensorrt >= 2.6; older releases get ``enabled_precisions``). Autocast is not offered
(the matrix leaves such cases out). Without a CUDA device or without torch-tensorrt the matrix
leaves the cases out too, naming what to install.
"""

from __future__ import annotations

import importlib.util
import inspect
import time
from typing import Any

from perfsuite.config.schema import CaseConfig, RuntimeSpec
from perfsuite.errors import PerfDeviceError
from perfsuite.models.base import DTYPES, TransformersModel
from perfsuite.registry import RUNTIMES
from perfsuite.runtimes.base import input_signature, shapes_label
from perfsuite.runtimes.eager import describe_precision

INSTALL = (
    "pip install torch-tensorrt (the release built for this torch version; see README 'Runtimes'), "
    "or the extra: pip install 'perfsuite[tensorrt]'"
)
NOT_CUDA = "TensorRT runs on NVIDIA GPUs: it needs --device cuda (this run is on {device})"
NO_PACKAGE = "torch-tensorrt is not installed: " + INSTALL
NO_AUTOCAST = "tensorrt takes precision as a cast (the engine's types), not autocast: set precision_mode: cast"


def _exportable(model: TransformersModel, names: tuple[str, ...]) -> Any:
    """The adapter's forward as an nn.Module of positional tensors returning a dict of named tensors."""
    import torch

    from perfsuite.runtimes.parity import named_tensors

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = model.module  # registered: torch.export lifts its parameters

        def forward(self, *tensors: Any) -> dict[str, Any]:
            return named_tensors(model.forward(dict(zip(names, tensors))))

    return Positional().eval()


class TensorRTRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel, *, trt: Any = None) -> None:
        if not model.device.startswith("cuda"):
            raise PerfDeviceError(NOT_CUDA.format(device=model.device))
        if trt is None:
            try:
                import torch_tensorrt as trt
            except ImportError as exc:
                raise PerfDeviceError(f"{NO_PACKAGE} ({type(exc).__name__}: {exc})") from None
        self.name = spec.name
        self.spec = spec
        self.model = model
        self._trt = trt
        self._engines: dict[Any, tuple[tuple[str, ...], Any]] = {}
        self.build_s: dict[str, float] = {}

    def __call__(self, inputs: dict[str, Any]) -> Any:
        found = self._engines.get(input_signature(inputs))
        if found is None:
            found = self._build(inputs)
        names, engine = found
        return engine(*(inputs[name] for name in names))

    def _settings(self) -> dict[str, Any]:
        import torch

        params = inspect.signature(self._trt.dynamo.compile).parameters
        settings: dict[str, Any] = {"device": torch.device(self.model.device)}
        if "use_explicit_typing" in params:  # torch-tensorrt >= 2.6: the cast model's dtypes are the engine's
            settings["use_explicit_typing"] = True
        else:
            settings["enabled_precisions"] = {getattr(torch, DTYPES[self.spec.precision])}
        return settings

    def _build(self, inputs: dict[str, Any]) -> tuple[tuple[str, ...], Any]:
        import torch

        names = tuple(sorted(inputs))
        args = tuple(inputs[name] for name in names)
        start = time.perf_counter()
        with torch.inference_mode(False), torch.no_grad():
            exported = torch.export.export(_exportable(self.model, names), args)
            engine = self._trt.dynamo.compile(exported, arg_inputs=list(args), **self._settings())
        torch.cuda.synchronize(self.model.device)
        self.build_s[shapes_label(inputs)] = time.perf_counter() - start
        found = self._engines[input_signature(inputs)] = (names, engine)
        return found

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": "tensorrt", "frontend": "torch_tensorrt.dynamo"}
        out["torch_tensorrt"] = getattr(self._trt, "__version__", "unknown")
        out.update(describe_precision(self.spec, self.model))
        out["engines"] = len(self._engines)
        out["build_s"] = dict(self.build_s)
        return out

    @staticmethod
    def unsupported(cfg: CaseConfig, device: str) -> str | None:
        """Matrix expansion: a CUDA device, torch-tensorrt importable, precision as a cast."""
        if device.split(":")[0] != "cuda":
            return NOT_CUDA.format(device=device)
        if importlib.util.find_spec("torch_tensorrt") is None:
            return NO_PACKAGE
        if cfg.runtime.precision_mode == "autocast":
            return NO_AUTOCAST
        return None


RUNTIMES.add("tensorrt", TensorRTRuntime)
