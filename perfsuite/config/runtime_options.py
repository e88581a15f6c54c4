"""The option blocks of the compiled and exported runtimes: `inference_runtime.compile` and
`inference_runtime.onnxruntime`. Defaults live in the schema dataclasses only.

A block belongs to one backend: `compile:` in a preset whose backend is not `compile` is an
error (it would be ignored), never a silent no-op.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from perfsuite.config.fields import Fields
from perfsuite.config.schema import (
    COMPILE_BACKENDS,
    COMPILE_MODES,
    ONNX_EXPORTERS,
    ORT_EXECUTION_MODES,
    ORT_OPT_LEVELS,
    CompileOptions,
    OnnxOptions,
)

#: section key -> the backend it configures
SECTIONS = {"compile": "compile", "onnxruntime": "onnxruntime"}
MAX_ORT_THREADS = 1024
MAX_OPSET = 99


def _default(cls: type, name: str) -> Any:
    return next(fl.default for fl in dataclasses.fields(cls) if fl.name == name)


def _optional_bool(f: Fields, key: str, default: bool | None) -> bool | None:
    if key not in f.data:
        f._read.add(key)
        return default
    value = f._get(key, None)
    if value is not None and not isinstance(value, bool):
        f.error(key, "expected true, false or null", value=value, allowed=["true", "false", "null"])
    return value


def _optional_int(f: Fields, key: str, *, minimum: int, maximum: int) -> int | None:
    value = f._get(key, None)
    return None if value is None else f._check_int(key, value, minimum, maximum)


def compile_options(f: Fields) -> CompileOptions:
    d = lambda name: _default(CompileOptions, name)  # noqa: E731
    options = CompileOptions(
        mode=f.string("mode", choices=COMPILE_MODES, default=d("mode")),
        backend=f.string("backend", choices=COMPILE_BACKENDS, default=d("backend")),
        dynamic=_optional_bool(f, "dynamic", d("dynamic")),
        fullgraph=f.boolean("fullgraph", default=d("fullgraph")),
        cold_start=f.boolean("cold_start", default=d("cold_start")),
    )
    f.done()
    if options.mode != "default" and options.backend != "inductor":
        f.error("mode", f"compile modes other than 'default' apply to the inductor backend only, not {options.backend!r}", value=options.mode, allowed=["default"])
    return options


def onnx_options(f: Fields) -> OnnxOptions:
    d = lambda name: _default(OnnxOptions, name)  # noqa: E731
    providers = f.str_list("providers", default=list(d("providers")))
    for i, name in enumerate(providers):
        if not name.endswith("ExecutionProvider"):
            f.error(
                f"providers[{i}]",
                "not an ONNX Runtime execution provider name",
                value=name,
                allowed="names such as CPUExecutionProvider, CUDAExecutionProvider, TensorrtExecutionProvider",
                hint="leave the list empty for the device's default (CUDA EP on cuda, else CPU)",
            )
    if len(set(providers)) != len(providers):
        f.error("providers", "lists a provider twice", value=list(providers))
    model_file = f._get("model_file", None)
    if model_file is not None and (not isinstance(model_file, str) or not model_file.endswith(".onnx")):
        f.error("model_file", "expected the path of an .onnx file (absolute, or relative to the model's snapshot folder)", value=model_file)
    options = OnnxOptions(
        exporter=f.string("exporter", choices=ONNX_EXPORTERS, default=d("exporter")),
        opset=_optional_int(f, "opset", minimum=7, maximum=MAX_OPSET),
        providers=providers,
        graph_optimization_level=f.string("graph_optimization_level", choices=ORT_OPT_LEVELS, default=d("graph_optimization_level")),
        execution_mode=f.string("execution_mode", choices=ORT_EXECUTION_MODES, default=d("execution_mode")),
        intra_op_threads=_optional_int(f, "intra_op_threads", minimum=1, maximum=MAX_ORT_THREADS),
        inter_op_threads=_optional_int(f, "inter_op_threads", minimum=1, maximum=MAX_ORT_THREADS),
        model_file=model_file,
    )
    f.done()
    return options


def backend_options(f: Fields, backend: str) -> dict[str, Any]:
    """RuntimeSpec keyword arguments for the option blocks of `backend` (read from section `f`).

    A block present for another backend is an error naming the backend it belongs to.
    """
    out: dict[str, Any] = {}
    for key, owner in SECTIONS.items():
        present = f.data.get(key) is not None
        f._read.add(key)
        if owner == backend:
            sub = f.sub(key)
            out[key] = compile_options(sub) if key == "compile" else onnx_options(sub)
        elif present:
            f.error(key, f"the '{key}' block configures backend '{owner}', but this runtime's backend is '{backend}'", hint=f"remove it, or set backend: {owner}")
    return out
