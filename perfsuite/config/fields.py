"""Typed reads of one config section; every problem becomes one `PerfConfigError`.

A `Fields` knows which YAML file the section came from and which keys the user set on the
command line, so an error points at the place to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from perfsuite.errors import PerfConfigError

_MISSING: Any = object()
# The value recorded for a key the user deleted with `--perf-override ~KEY`.
DELETED = "~"


def type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__
    )


def article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


class Fields:
    def __init__(
        self,
        data: object,
        *,
        section: str,
        file: str | None,
        overridden: Mapping[str, str] | None = None,
    ) -> None:
        self.section = section
        self.file = file
        self.overridden = dict(overridden or {})
        self.data: dict[str, Any] = {}
        self._read: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.error("", f"section '{section}' must be a mapping of keys to values, not {article(type_name(data))}", value=data)
        self.data = dict(data)

    # -- errors ---------------------------------------------------------------------------------
    def full_key(self, key: str) -> str:
        return f"{self.section}.{key}" if self.section else key

    def error(
        self,
        key: str,
        message: str,
        *,
        value: object = None,
        allowed: Iterable[object] | str | None = None,
        hint: str | None = None,
    ) -> NoReturn:
        full = self.full_key(key.split("[")[0]) if key else self.section
        file = self.file
        if full in self.overridden:
            typed = self.overridden[full]
            file = f"--perf-override ~{full}" if typed == DELETED else f"--perf-override {full}={typed}"
        raise PerfConfigError(message, file=file, key=self.full_key(key) if key else self.section, value=value, allowed=allowed, hint=hint)

    def _get(self, key: str, default: Any) -> Any:
        self._read.add(key)
        if key not in self.data or self.data[key] is None:
            if default is _MISSING:
                self.error(key, "required key is missing" if key not in self.data else "required, but set to null")
            return default
        return self.data[key]

    # -- scalars --------------------------------------------------------------------------------
    def string(self, key: str, *, choices: Iterable[str] | None = None, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value:
            self.error(key, f"expected a non-empty string, got {article(type_name(value))}", value=value)
        if choices is not None:
            choices = list(choices)
            if value not in choices:
                self.error(key, "unknown value", value=value, allowed=choices)
        return value

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        return self._check_int(key, value, minimum, maximum)

    def _check_int(self, key: str, value: object, minimum: int | None, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"expected an integer, got {article(type_name(value))}", value=value)
        if minimum is not None and value < minimum:
            allowed = f"{minimum}..{maximum}" if maximum is not None else f"integers >= {minimum}"
            self.error(key, f"must be >= {minimum}", value=value, allowed=allowed)
        if maximum is not None and value > maximum:
            self.error(
                key,
                f"larger than perfsuite's limit of {maximum}",
                value=value,
                allowed=f"{minimum if minimum is not None else 0}..{maximum}",
                hint="beyond this a case cannot fit in memory or time; see 'Limits' in docs/configuration.md",
            )
        return value

    def boolean(self, key: str, *, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, got {article(type_name(value))}", value=value, allowed=["true", "false"])
        return value

    # -- lists and mappings ---------------------------------------------------------------------
    def _list(self, key: str, default: Any) -> list[Any] | None:
        value = self._get(key, default)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            self.error(key, f"expected a list, got {article(type_name(value))}", value=value, hint=f"write it as {key}: [..]")
        return list(value)

    def int_list(
        self,
        key: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        max_length: int | None = None,
        default: Any = _MISSING,
    ) -> tuple[int, ...] | None:
        items = self._list(key, default)
        if items is None:
            return None
        if not items:
            self.error(key, "must not be empty", value=items)
        if max_length is not None and len(items) > max_length:
            self.error(key, f"lists {len(items)} values; perfsuite's limit is {max_length}", hint="split the sweep into several runs")
        return tuple(self._check_int(f"{key}[{i}]", v, minimum, maximum) for i, v in enumerate(items))

    def float_list(self, key: str, *, length: int | None = None, default: Any = _MISSING) -> tuple[float, ...]:
        items = self._list(key, default) or []
        if length is not None and len(items) != length:
            self.error(key, f"expected {length} numbers, got {len(items)}", value=items)
        out = []
        for i, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.error(f"{key}[{i}]", f"expected a number, got {article(type_name(v))}", value=v)
            out.append(float(v))
        return tuple(out)

    def str_list(self, key: str, *, default: Any = _MISSING, nonempty: bool = False) -> tuple[str, ...]:
        items = self._list(key, default) or []
        if nonempty and not items:
            self.error(key, "must not be empty", value=items)
        for i, v in enumerate(items):
            if not isinstance(v, str) or not v:
                self.error(f"{key}[{i}]", f"expected a non-empty string, got {article(type_name(v))}", value=v)
        return tuple(items)

    def raw_list(self, key: str, *, default: Any = _MISSING) -> list[Any]:
        return self._list(key, default) or []

    def mapping(self, key: str, *, default: Any = _MISSING) -> dict[str, Any]:
        value = self._get(key, default)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(key, f"expected a mapping, got {article(type_name(value))}", value=value)
        return dict(value)

    def sub(self, key: str) -> Fields:
        """A nested section, read with the same file and overrides."""
        value = self._get(key, None)
        return Fields(value, section=self.full_key(key), file=self.file, overridden=self.overridden)

    def required(self, key: str) -> Fields:
        """A nested section that must be present (a deleted or empty section is an error, not defaults)."""
        self._read.add(key)
        if self.data.get(key) is None:
            self.error(
                key,
                f"required section '{self.full_key(key)}' is missing",
                hint="it cannot be deleted (~KEY); override single values inside it instead, e.g. "
                f"{self.full_key(key)}.SOME_KEY=VALUE",
            )
        return self.sub(key)

    def done(self) -> None:
        """Reject keys nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            self.error(unknown[0], "unknown key", allowed=sorted(self._read), hint="check the spelling")
