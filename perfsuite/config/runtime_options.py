"""Runtime preset options beyond name and backend, validated in one place.

- Shared by every backend: `precision`, `precision_mode`, `channels_last` and the `parity` block
  (tolerances composed from conf/inference_runtime/parity/default.yaml and the preset's own block);
  `check_precision` then checks the runtime's precision against the infer preset's cast.
- Owned by one backend: the `compile:` block (backend `compile`) and the `onnxruntime:` block
  (backend `onnxruntime`). A block in a preset of another backend is an error (it would be
  ignored), never a silent no-op.

`runtime_spec` (perfsuite.config.validate) reads a preset's name and backend and calls in here for
the rest. Defaults live in the schema dataclasses only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perfsuite.config.fields import _MISSING, Fields
from perfsuite.config.schema import (
    COMPILE_BACKENDS,
    COMPILE_MODES,
    MAX_NEW_TOKENS,
    ONNX_EXPORTERS,
    ORT_EXECUTION_MODES,
    ORT_OPT_LEVELS,
    PRECISION_MODES,
    PRECISIONS,
    CompileOptions,
    InferSpec,
    OnnxOptions,
    ParitySpec,
    RuntimeSpec,
    Tolerance,
)
from perfsuite.config.sections import _default

PARITY_DEFAULTS = "inference_runtime/parity/default.yaml"
#: section key -> the backend it configures
SECTIONS = {"compile": "compile", "onnxruntime": "onnxruntime"}
MAX_ORT_THREADS = 1024
MAX_OPSET = 99


def precision_options(f: Fields) -> dict[str, Any]:
    """`precision`, `precision_mode`, `channels_last` of a runtime preset, as RuntimeSpec keyword arguments."""
    precision = f.string("precision", choices=PRECISIONS, default=_default(RuntimeSpec, "precision"))
    mode = f.string("precision_mode", choices=PRECISION_MODES, default=_default(RuntimeSpec, "precision_mode"))
    if mode == "autocast" and precision == "fp32":
        f.error(
            "precision_mode",
            "autocast to fp32 changes nothing: autocast runs eligible ops in a lower precision",
            value=mode,
            allowed=["cast (with precision: fp32)", "autocast (with precision: bf16 or fp16)"],
            hint="set precision: bf16 (or fp16 on CUDA) for mixed precision, or drop precision_mode",
        )
    return {
        "precision": precision,
        "precision_mode": mode,
        "channels_last": f.boolean("channels_last", default=_default(RuntimeSpec, "channels_last")),
    }


def parity_spec(f: Fields, *, file: str | None) -> ParitySpec:
    """`inference_runtime.parity`, composed from `file` (the shared defaults) and the preset's own block."""
    f._read.add("parity")
    where = f"{file} (or the runtime preset's parity: block)" if file else f.file
    if f.data.get("parity") is None:
        f.error(
            "parity",
            "required section 'inference_runtime.parity' is missing",
            hint=f"conf/config.yaml mounts {PARITY_DEFAULTS} there; override single values, e.g. inference_runtime.parity.enabled=false",
        )
    p = Fields(f.data["parity"], section="inference_runtime.parity", file=where, overridden=f.overridden)
    enabled = p.boolean("enabled", default=_default(ParitySpec, "enabled"))
    t = p.required("tolerances")
    for name in t.data:
        if name not in PRECISIONS:
            t.error(str(name), "unknown precision", value=name, allowed=PRECISIONS)
    tolerances = []
    for precision in PRECISIONS:
        if t.data.get(precision) is None:
            t.error(precision, f"no tolerance for {precision}", allowed=PRECISIONS, hint=f"give every precision {{atol: A, rtol: R}}; see {PARITY_DEFAULTS}")
        e = t.sub(precision)
        tolerances.append((precision, Tolerance(atol=_tolerance(e, "atol"), rtol=_tolerance(e, "rtol"))))
        e.done()
    t.done()
    tokens = p.integer("tokens", minimum=0, maximum=MAX_NEW_TOKENS, default=_default(ParitySpec, "tokens"))
    exact = p.str_list("exact_tokens", default=list(_default(ParitySpec, "exact_tokens")))
    for i, name in enumerate(exact):
        if name not in PRECISIONS:
            p.error(f"exact_tokens[{i}]", "unknown precision", value=name, allowed=PRECISIONS)
    p.done()
    return ParitySpec(enabled=enabled, tolerances=tuple(tolerances), tokens=tokens, exact_tokens=tuple(exact))


def _tolerance(f: Fields, key: str) -> float:
    value = f._get(key, _MISSING)  # required: the defaults live in the YAML
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        f.error(key, "must be a finite number >= 0", value=value, allowed="0 (exact) or more, e.g. 0.001", hint="outputs match where |out - ref| <= atol + rtol * |ref|")
    return float(value)


def check_precision(runtime: RuntimeSpec, infer: InferSpec, *, file: str | None, infer_file: str | None, overridden: Mapping[str, str]) -> None:
    """The runtime's precision and the infer preset's whole-model cast must not contradict each other."""
    f = Fields({}, section="inference_runtime", file=file, overridden=overridden)
    if infer.precision == "fp32":
        return
    if runtime.precision_mode == "autocast":
        f.error(
            "precision_mode",
            f"autocast needs fp32 weights, but infer.precision casts the whole model to {infer.precision} ({infer_file})",
            value="autocast",
            hint="set infer.precision: fp32 and let the runtime's autocast choose the op precision",
        )
    if runtime.precision not in ("fp32", infer.precision):
        f.error(
            "precision",
            f"contradicts infer.precision {infer.precision} ({infer_file}): the case would be cast twice",
            value=runtime.precision,
            allowed=["fp32", infer.precision],
            hint="set the precision in one place: the runtime preset (per runtime) or infer.precision (every runtime)",
        )


# -- the option blocks of one backend (compile:, onnxruntime:) ------------------------------


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
