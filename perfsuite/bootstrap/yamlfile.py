"""Reading a bootstrap YAML file into plain data, with errors that name the file and the key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from perfsuite.errors import PerfConfigError


def load_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file; a missing, unparsable or non-mapping file is a PerfConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PerfConfigError("file not found", file=str(path), hint="pass the right file with --config") from None
    except OSError as exc:
        raise PerfConfigError(f"cannot read the file ({exc.strerror})", file=str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PerfConfigError(f"not valid YAML: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PerfConfigError("the top level must be a mapping", file=str(path), value=type(data).__name__)
    return data


def check_keys(data: Mapping[str, Any], allowed: Iterable[str], *, file: Path, where: str = "") -> None:
    allowed = tuple(allowed)
    for key in data:
        if key not in allowed:
            raise PerfConfigError("unknown key", file=str(file), key=f"{where}{key}", allowed=allowed)


def get_str(data: Mapping[str, Any], key: str, *, file: Path, where: str = "", default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is None or isinstance(value, str):
        return value
    raise PerfConfigError("must be a string", file=str(file), key=f"{where}{key}", value=value)


def get_bool(data: Mapping[str, Any], key: str, *, file: Path, where: str = "", default: bool) -> bool:
    value = data.get(key, default)
    if isinstance(value, bool):
        return value
    raise PerfConfigError("must be true or false", file=str(file), key=f"{where}{key}", value=value)


def get_str_list(data: Mapping[str, Any], key: str, *, file: Path, where: str = "") -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PerfConfigError("must be a list of strings", file=str(file), key=f"{where}{key}", value=value)
