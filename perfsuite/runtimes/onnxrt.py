"""ONNX Runtime: the model exported once (perfsuite.runtimes.onnx_export), run by an InferenceSession.

`prepare` exports the model (or finds the export in out/cache/onnxruntime/<hash>: model, weights,
non-batch shapes, options and versions), or takes the .onnx file the model ships
(`model_file`); it then opens a session with the preset's execution providers and session
options (threads default to the pinned thread count) and runs every prepared batch once.

The timed call converts the inputs to numpy (zero-copy on CPU), runs the session and rebuilds
eager's output structure from the results, so its outputs compare with eager's key by key. On a
cuda device the inputs and outputs are copied between host and device inside the call (no IO
binding yet): the timings include those copies.

Precision is a cast: the exported graph carries the dtype the session built the model in; autocast
(a PyTorch context) cannot reach it, so such cases are left out at matrix expansion (`unsupported`).
The parity check compares the session's outputs with eager fp32 before timing.

Needs the `onnx` extra (`pip install perfsuite[onnx]`: onnxruntime, onnx, onnxscript); without it
the case is skipped with that hint.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from perfsuite.config.schema import CaseConfig, OnnxOptions, RuntimeSpec
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES
from perfsuite.results.runtime_setup import RuntimeSetup
from perfsuite.runtimes.base import RuntimeContext, RuntimePrepError, RuntimeUnavailable, batch_signatures, prep_failure
from perfsuite.runtimes.cache import artifact_dir
from perfsuite.runtimes.onnx_export import MODEL_FILE, ExportError, OutputLayout, cached_export, export_model, weights_digest

CPU_EP = "CPUExecutionProvider"
GPU_EPS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
EXTRA_HINT = "pip install 'perfsuite[onnx]' (onnxruntime, onnx, onnxscript)"
NO_AUTOCAST = (
    "onnxruntime runs the exported graph in the types of its weights: autocast (a PyTorch context) "
    "does not reach it; set precision_mode: cast"
)
OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def resolve_providers(requested: Sequence[str], device: str, available: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The execution providers to use, in order, and a note for each one that had to be dropped.

    Empty `requested`: the CUDA provider (then CPU) on a cuda device, else CPU. A provider this
    onnxruntime build lacks is dropped with a note; if none is left, the CPU provider runs.
    """
    wanted = list(requested) or (["CUDAExecutionProvider", CPU_EP] if device.startswith("cuda") else [CPU_EP])
    notes = []
    chosen = []
    for name in wanted:
        if name in available:
            chosen.append(name)
            continue
        hint = " (install onnxruntime-gpu for the CUDA and TensorRT providers)" if name in GPU_EPS else ""
        notes.append(f"{name} is not available in this onnxruntime build (it has: {', '.join(available)}){hint}; dropped")
    if not chosen:
        chosen = [CPU_EP]
        notes.append(f"no requested execution provider is available: running on {CPU_EP}")
    if device.startswith("cuda") and not any(p in GPU_EPS for p in chosen):
        notes.append(f"--device {device} but the session runs on {', '.join(chosen)}: these are CPU timings")
    return tuple(chosen), tuple(notes)


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeUnavailable(f"the onnxruntime runtime needs the onnx extra: {EXTRA_HINT}") from None
    return onnxruntime


class OnnxRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel) -> None:
        self.name = spec.name
        self.model = model
        self.options = spec.onnxruntime or OnnxOptions()
        self._session: Any = None
        self._input_names: tuple[str, ...] = ()
        self._layout: OutputLayout | None = None
        self._like: Any = None  # eager's output on the first batch: the structure to rebuild
        self._device = "cpu"
        self._providers: tuple[str, ...] = ()

    def __call__(self, inputs: dict[str, Any]) -> Any:
        if self._session is None or self._layout is None:
            raise RuntimeError(f"runtime {self.name!r} was called before prepare(): it exports and opens its session there")
        import torch

        feed = {name: inputs[name].detach().cpu().numpy() for name in self._input_names}
        outputs = self._session.run(list(self._layout.names), feed)
        tensors = [torch.from_numpy(o) for o in outputs]
        if self._device != "cpu":
            tensors = [t.to(self._device) for t in tensors]
        return self._layout.rebuild(self._like, tensors)

    # -- preparation ------------------------------------------------------------------------------
    def cache_parts(self, inputs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        options = {"exporter": self.options.exporter, "opset": self.options.opset}  # session options do not change the file
        # the batch dimension left out: it is dynamic, one file serves every batch size
        shapes = dict.fromkeys(tuple((name, shape[1:], dtype) for name, shape, dtype in sig) for sig in batch_signatures(inputs))
        return {
            "model": repr(self.model.spec),
            "weights": weights_digest(self.model.module),
            "dtype": str(self.model.dtype),
            "inputs": list(shapes),
            "options": options,
        }

    def _model_file(self, context: RuntimeContext) -> Path:
        path = Path(self.options.model_file or "")
        if not path.is_absolute():
            if self.model.spec.path is None:
                raise RuntimePrepError(
                    f"onnxruntime.model_file {self.options.model_file!r} is relative, but model {self.model.spec.id} has no snapshot folder to resolve it in; give an absolute path"
                )
            path = Path(self.model.spec.path) / path
        if not path.is_file():
            raise RuntimePrepError(f"onnxruntime.model_file {path} does not exist (model {self.model.spec.id})")
        return path

    def _session_options(self, ort: Any, context: RuntimeContext) -> Any:
        hw = context.case.config.hardware
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.options.intra_op_threads or hw.threads
        so.inter_op_num_threads = self.options.inter_op_threads or hw.interop_threads
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[self.options.graph_optimization_level])
        so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if self.options.execution_mode == "parallel" else ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3  # errors only: warnings would land in the benchmark's output
        return so

    def prepare(self, inputs: Sequence[dict[str, Any]], context: RuntimeContext) -> RuntimeSetup:
        import torch

        ort = _import_ort()
        self._device = str(context.case.device)
        with torch.inference_mode():
            self._like = self.model.forward(inputs[0])
        try:
            self._layout = OutputLayout.of(self._like)
        except TypeError as exc:
            raise RuntimePrepError(f"onnxruntime cannot run model {self.model.spec.id}: {exc}") from None
        notes: list[str] = []
        cold_s = fallback = folder = None
        if self.options.model_file:
            path, exporter, cache = self._model_file(context), "file", "warm"
            notes.append(f"runs the model's own ONNX file {path}; nothing exported")
        else:
            folder = artifact_dir(context.out_dir, "onnxruntime", self.cache_parts(inputs))
            record = cached_export(folder)
            cache = "warm" if record is not None else "cold"
            if record is None:
                try:
                    record = export_model(self.model, inputs[0], self._layout, folder, self.options)
                except ExportError as exc:
                    raise prep_failure(f"ONNX export ({self.options.exporter} exporter)", exc.cause, context.log_file("onnx-export"), exc.log) from None
            else:
                notes.append("export found in out/cache: export time is the one recorded when the file was made")
            path, exporter, cold_s, fallback = folder / MODEL_FILE, record.exporter, record.export_s, record.fallback_reason
        providers, dropped = resolve_providers(self.options.providers, self._device, ort.get_available_providers())
        for note in dropped:  # in results.json, and in pytest's warnings summary where a person sees it
            warnings.warn(f"{context.case.id}: {note}", UserWarning, stacklevel=2)
        notes.extend(dropped)
        start = time.perf_counter()
        try:
            self._session = ort.InferenceSession(str(path), sess_options=self._session_options(ort, context), providers=list(providers))
            warm_s = time.perf_counter() - start
            self._bind(path, given=tuple(inputs[0]))
            for batch in inputs:  # every prepared batch once: nothing left to initialise in the timed rounds
                self(batch)
        except RuntimePrepError:
            raise
        except Exception as exc:  # noqa: BLE001 - ORT's own error fails this case only
            self._session = None
            raise prep_failure(f"ONNX Runtime session for {path}", exc, context.log_file("onnxruntime")) from None
        self._providers = tuple(self._session.get_providers())
        return RuntimeSetup(
            backend="onnxruntime",
            cache=cache,
            artifact_dir=None if folder is None else str(folder),
            cold_s=cold_s,
            warm_s=warm_s,
            exporter=exporter,
            fallback_reason=fallback,
            providers=self._providers,
            notes=tuple(notes),
        )

    def _bind(self, path: Path, given: tuple[str, ...]) -> None:
        """Check the session's inputs and outputs against the adapter's inputs and eager's output names."""
        assert self._layout is not None
        wanted = tuple(i.name for i in self._session.get_inputs())
        missing = [n for n in wanted if n not in given]
        if missing:
            raise RuntimePrepError(f"{path} expects inputs {list(wanted)}; the model adapter prepares {list(given)} (missing: {missing})")
        self._input_names = wanted
        produced = tuple(o.name for o in self._session.get_outputs())
        if self._layout.kind == "mapping":
            names = tuple(n for n in self._layout.names if n in produced)
            if not names:
                raise RuntimePrepError(f"{path} produces outputs {list(produced)}, none of eager's {list(self._layout.names)}")
            self._layout = OutputLayout("mapping", names)
        elif len(produced) != len(self._layout.names):
            raise RuntimePrepError(f"{path} produces {len(produced)} outputs, eager {len(self._layout.names)}")
        else:
            self._layout = OutputLayout(self._layout.kind, produced)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": "onnxruntime", "onnxruntime": {**asdict(self.options), "providers": list(self.options.providers)}}
        if self._providers:
            out["session_providers"] = list(self._providers)
        return out

    @staticmethod
    def unsupported(cfg: CaseConfig, device: str) -> str | None:
        """Matrix expansion: autocast does not apply to an exported graph (a cast does: it is the weights')."""
        return NO_AUTOCAST if cfg.runtime.precision_mode == "autocast" else None


RUNTIMES.add("onnxruntime", OnnxRuntime)
