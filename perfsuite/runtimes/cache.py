"""Where a runtime keeps what it builds once and reuses: ``out/cache/<runtime>/<key>/``.

    folder = artifact_dir(out_dir, "onnxruntime", {"model": case.model, "shapes": shapes, "options": spec})
    onnx_file = folder / "model.onnx"          # exported once, reused by every later run

The key hashes the caller's parts (model id/config, input shapes, runtime options: anything
JSON-like, dataclasses included) together with the versions of the packages whose output the
artifact depends on (`VERSIONED`), so a new torch or onnxruntime never reuses a stale artifact.
Each folder holds ``key.json``: the parts and versions it was keyed by, for a person to read.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

from perfsuite.results.layout import OutLayout, atomic_write_text, file_stem

#: Distributions whose versions are part of every key (absent ones count as None).
VERSIONED = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "torch-tensorrt", "perfsuite")
KEY_FILE = "key.json"
KEY_LENGTH = 16  # hex digits of sha256: 64 bits, no collision among any realistic number of artifacts


def versions() -> dict[str, str | None]:
    """Installed versions of `VERSIONED` (read from package metadata: nothing is imported)."""
    found: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def canonical(value: Any) -> Any:
    """`value` as plain JSON data with a stable order; TypeError for what has no stable form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if type(value).__module__ == "torch" and type(value).__name__ in ("dtype", "device", "Size"):
        return str(value)
    raise TypeError(f"cannot key an artifact on a {type(value).__name__} ({value!r}): pass plain values (str, numbers, lists, dicts, dataclasses)")


def artifact_key(parts: Mapping[str, object]) -> str:
    """The cache key of `parts` plus the installed `versions()`: 16 hex digits, stable across runs."""
    text = json.dumps({"parts": canonical(parts), "versions": versions()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def artifact_dir(out_dir: Path, runtime: str, parts: Mapping[str, object]) -> Path:
    """``<out_dir>/cache/<runtime>/<key>/``, created, with its ``key.json``; the same folder for the same parts."""
    key = artifact_key(parts)
    folder = OutLayout(Path(out_dir)).cache / file_stem(runtime) / key
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / KEY_FILE
    if not record.is_file():
        text = json.dumps({"runtime": runtime, "key": key, "parts": canonical(parts), "versions": versions()}, indent=2, sort_keys=True)
        atomic_write_text(record, text + "\n")
    return folder
