"""Export a model adapter's forward to ONNX, once per model+shape+options+versions (out/cache/onnxruntime/).

- The dynamo exporter (`torch.onnx.export(..., dynamo=True)`) first; with `exporter: auto` the
  legacy TorchScript exporter is the fallback, and the dynamo error is kept as the reason.
- The batch dimension is dynamic: one file serves every batch size. The dynamo exporter
  specialises a dimension whose example size is 1, so the example batch is repeated to 2 first.
- The module is in eval mode and exported under `torch.no_grad()`; the exporter's chatter goes
  to `export.log` next to the file, never to the terminal.
- The outputs are flattened to a tuple of tensors (`OutputLayout`) and rebuilt by the runtime, so
  ONNX Runtime hands back the same structure as eager (a ModelOutput with the same keys).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import MAX_BATCH_SIZE, OnnxOptions
from perfsuite.errors import PerfDataError
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.reading import Doc

MODEL_FILE = "model.onnx"
META_FILE = "export.json"
LOG_FILE = "export.log"


@dataclass(frozen=True)
class OutputLayout:
    """How eager's output maps to ONNX outputs: a tensor, a tuple of tensors, or a mapping (ModelOutput)."""

    kind: str  # "tensor" | "sequence" | "mapping"
    names: tuple[str, ...]  # ONNX output names, in order

    @classmethod
    def of(cls, output: Any) -> OutputLayout:
        import torch

        if isinstance(output, torch.Tensor):
            return cls("tensor", ("output",))
        if isinstance(output, Mapping):
            keys = tuple(output.keys())
            if not keys or not all(isinstance(output[k], torch.Tensor) for k in keys):
                raise TypeError(f"the model returns {type(output).__name__} with non-tensor values; the onnxruntime runtime needs tensors only")
            return cls("mapping", tuple(str(k) for k in keys))
        if isinstance(output, (tuple, list)) and output and all(isinstance(v, torch.Tensor) for v in output):
            return cls("sequence", tuple(f"output_{i}" for i in range(len(output))))
        raise TypeError(f"the model returns {type(output).__name__}; the onnxruntime runtime supports a tensor, a tuple of tensors or a ModelOutput")

    def flatten(self, output: Any) -> tuple[Any, ...]:
        if self.kind == "tensor":
            return (output,)
        if self.kind == "mapping":
            return tuple(output[k] for k in self.names)
        return tuple(output)

    def rebuild(self, like: Any, values: Sequence[Any]) -> Any:
        """`values` (in `names` order) in the structure of `like` (eager's output type)."""
        if self.kind == "tensor":
            return values[0]
        if self.kind == "mapping":
            return type(like)(**dict(zip(self.names, values))) if hasattr(like, "to_tuple") else type(like)(zip(self.names, values))
        return type(like)(values)


@dataclass(frozen=True)
class ExportRecord:
    """What made a cached .onnx file (`export.json`)."""

    exporter: str  # "dynamo" | "torchscript"
    export_s: float
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    fallback_reason: str | None = None
    opset: int | None = None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "input_names": list(self.input_names), "output_names": list(self.output_names)}, indent=1)

    @classmethod
    def read(cls, path: Path) -> ExportRecord:
        doc = Doc.root(json.loads(path.read_text(encoding="utf-8")), str(path))
        return cls(
            exporter=doc.string("exporter"),
            export_s=doc.number("export_s"),
            input_names=doc.strings("input_names"),
            output_names=doc.strings("output_names"),
            fallback_reason=doc.string("fallback_reason", None),
            opset=doc.integer("opset", None),
        )


class ExportError(Exception):
    """Every exporter tried failed; `log` holds what they printed."""

    def __init__(self, cause: BaseException, log: str) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.log = log


def weights_digest(module: Any) -> str:
    """A hash of every parameter and buffer: an exported file bakes the weights in, so they are part of its key."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        t = tensor.detach().reshape(-1).contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(tensor.shape)};".encode())
        h.update(t.view(dtype=torch.uint8).cpu().numpy().tobytes())
    return h.hexdigest()


def example_batch(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs with a batch of at least 2 (a batch of 1 is repeated): the dynamo exporter would fix a size-1 batch."""
    import torch

    return {k: torch.cat([v, v]) if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] < 2 else v for k, v in inputs.items()}


@contextlib.contextmanager
def _quiet(buffer: io.StringIO) -> Iterator[None]:
    """The exporters' prints, warnings and torch.onnx log lines go to `buffer`, not the terminal."""
    handler = logging.StreamHandler(buffer)
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]  # torch.onnx has its own stderr handler, bound to the real stderr
        lg.propagate = False
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved):
            lg.handlers = handlers
            lg.propagate = propagate
        for w in caught:
            buffer.write(f"{w.category.__name__}: {w.message}\n")


def _flat_module(model: Any, names: Sequence[str], layout: OutputLayout) -> Any:
    import torch

    class Flat(torch.nn.Module):
        """Positional inputs in `names` order -> a flat tuple of output tensors."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = model.module  # registered, so the exporter sees the parameters

        def forward(self, *args: Any) -> tuple[Any, ...]:
            return layout.flatten(model.forward(dict(zip(names, args))))

    return Flat().eval()


def _export(model: Any, example: Mapping[str, Any], layout: OutputLayout, path: Path, exporter: str, opset: int | None) -> None:
    import torch

    names = list(example)
    flat = _flat_module(model, names, layout)
    args = tuple(example.values())
    common = {"input_names": names, "output_names": list(layout.names), "opset_version": opset, "verbose": False}
    with torch.no_grad():
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=MAX_BATCH_SIZE)
            dims = tuple({0: batch} if isinstance(v, torch.Tensor) and v.dim() else None for v in args)
            torch.onnx.export(flat, args, str(path), dynamo=True, dynamic_shapes=(dims,), **common)
        else:
            axes = {n: {0: "batch"} for n in [*names, *layout.names]}
            torch.onnx.export(flat, args, str(path), dynamo=False, dynamic_axes=axes, **common)


def export_model(model: Any, inputs: Mapping[str, Any], layout: OutputLayout, folder: Path, options: OnnxOptions) -> ExportRecord:
    """Export into `folder` (model.onnx, export.json, export.log); raises ExportError when every exporter failed.

    Written through a private temporary folder and moved into place, the record last, so a reader
    (another run sharing out/cache) never sees a half-written file as a cached export.
    """
    model.module.eval()
    example = example_batch(inputs)
    order = {"auto": ("dynamo", "torchscript"), "dynamo": ("dynamo",), "torchscript": ("torchscript",)}[options.exporter]
    tmp = folder / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log = io.StringIO()
    fallback: str | None = None
    try:
        for exporter in order:
            log.write(f"--- {exporter} exporter\n")
            start = time.perf_counter()
            try:
                with _quiet(log):
                    _export(model, example, layout, tmp / MODEL_FILE, exporter, options.opset)
            except Exception as exc:  # noqa: BLE001 - an exporter's failure is data: try the next, keep the reason
                log.write(f"failed: {type(exc).__name__}: {exc}\n")
                if exporter == order[-1]:
                    raise ExportError(exc, log.getvalue()) from exc
                first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
                fallback = f"dynamo exporter failed: {type(exc).__name__}: {first}"[:300]
                continue
            record = ExportRecord(exporter, time.perf_counter() - start, tuple(example), layout.names, fallback, options.opset)
            break
        for item in tmp.iterdir():
            os.replace(item, folder / item.name)
        atomic_write_text(folder / LOG_FILE, log.getvalue())
        atomic_write_text(folder / META_FILE, record.to_json())
        return record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached_export(folder: Path) -> ExportRecord | None:
    """The record of a complete export in `folder`, or None (nothing there, or a record that cannot be read)."""
    meta, model = folder / META_FILE, folder / MODEL_FILE
    if not (meta.is_file() and model.is_file()):
        return None
    try:
        return ExportRecord.read(meta)
    except (OSError, ValueError, PerfDataError):  # a damaged record means: export again
        return None
