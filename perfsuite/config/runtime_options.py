"""The runtime options every backend shares: precision, memory layout and the parity check.

`runtime_spec` (perfsuite.config.validate) reads a preset's name and backend and calls in here for
the rest; `check_precision` then checks the runtime's precision against the infer preset's cast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perfsuite.config.fields import _MISSING, Fields
from perfsuite.config.schema import PRECISION_MODES, PRECISIONS, InferSpec, ParitySpec, RuntimeSpec, Tolerance
from perfsuite.config.sections import _default

PARITY_DEFAULTS = "inference_runtime/parity/default.yaml"


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
    p.done()
    return ParitySpec(enabled=enabled, tolerances=tuple(tolerances))


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

