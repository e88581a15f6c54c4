"""Typed reads of stored JSON: every value is checked, and a bad one names its file and key.

Readers of results.json never chain `.get(...) or {}`: they go through `Doc`, which knows where
it is in the file (`results[3].measurement.stats.p50_s`) and raises `PerfDataError` with that
path, the bad value and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfsuite.errors import PerfDataError

_MISSING = object()


@dataclass(frozen=True)
class Doc:
    """A JSON object at a known place in a known file."""

    data: Mapping[str, Any]
    where: str  # "results[3].measurement"
    file: str  # shown in errors

    @classmethod
    def root(cls, data: Any, file: str) -> Doc:
        if not isinstance(data, Mapping):
            raise PerfDataError(f"{file}: expected a JSON object at the top level, got {type(data).__name__}")
        return cls(data, "", file)

    def _path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, expected: str, value: Any) -> PerfDataError:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return PerfDataError(
            f"{self.file}: key '{self._path(key)}' holds {shown}, expected {expected}. "
            "The file was not written by this perfsuite or was edited; re-run the benchmarks "
            "(or restore the file) to read it."
        )

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise self.fail(key, "a value (the key is required)", None)
            return default
        return value

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            raise self.fail(key, "a string", value)
        return value

    def integer(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, "a whole number", value)
        return value

    def number(self, key: str, default: Any = _MISSING, *, low: float | None = None, above: bool = False) -> Any:
        """A finite number; with ``low``: at least ``low`` (``above``: more than ``low``), e.g. a duration > 0."""
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or _below(value, low, above):
            raise self.fail(key, _a_number(low, above), value)
        return float(value)

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def sub(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, Mapping):
            raise self.fail(key, "an object", value)
        return Doc(value, self._path(key), self.file)

    def mapping(self, key: str, default: Any = _MISSING) -> Any:
        """A JSON object kept as plain data (display-only details)."""
        found = self.sub(key, default)
        return found if found is default else dict(found.data)

    def items(self, key: str, default: Any = _MISSING) -> Any:
        """A list of objects, each as a Doc."""
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list):
            raise self.fail(key, "a list", value)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{key}[{i}]", "an object", item)
            out.append(Doc(item, f"{self._path(key)}[{i}]", self.file))
        return out

    def numbers(self, key: str, default: Any = _MISSING, *, low: float | None = None, above: bool = False) -> Any:
        """A list of finite numbers, each in range as for `number`."""
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or _below(v, low, above) for v in value
        ):
            raise self.fail(key, "a list of " + _a_number(low, above).replace("a number", "numbers"), value)
        return tuple(float(v) for v in value)

    def strings(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "a list of strings", value)
        return tuple(value)


def _below(value: float, low: float | None, above: bool) -> bool:
    return low is not None and (value <= low if above else value < low)


def _a_number(low: float | None, above: bool) -> str:
    if low is None:
        return "a number"
    return f"a number {'>' if above else '>='} {low:g}" + (" (a duration)" if low == 0 and above else "")


def convert(doc: Doc, key: str, build: Any) -> Any:
    """Run a trusted constructor on a sub-document; any shape error becomes a PerfDataError at `key`."""
    try:
        return build()
    except PerfDataError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise doc.fail(key, f"a valid record ({type(exc).__name__}: {exc})", doc.data.get(key)) from None

