"""Errors a user can cause, each rendered as one readable paragraph (no traceback)."""

from __future__ import annotations

from collections.abc import Iterable


class PerfError(Exception):
    """Base class of every error perfsuite raises on purpose for bad input."""


class PerfConfigError(PerfError):
    """A configuration problem: names the file, the key, the bad value, the allowed values and a hint."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: object = None,
        allowed: Iterable[object] | str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.allowed = allowed
        self.hint = hint
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = ["perfsuite config error"]
        where = []
        if self.file:
            where.append(f"in {self.file}")
        if self.key:
            where.append(f"at key '{self.key}'")
        if where:
            parts.append(" " + ", ".join(where))
        parts.append(f": {self.detail}")
        if self.value is not None:
            parts.append(f" (got {self.value!r})")
        text = "".join(parts).rstrip(".") + "."
        if self.allowed is not None:
            allowed = self.allowed if isinstance(self.allowed, str) else ", ".join(map(str, self.allowed))
            text += f" Allowed: {allowed or '(none found)'}."
        if self.hint:
            text += f" Hint: {self.hint.rstrip('.')}."
        return text


class PerfDataError(PerfError):
    """A dataset or model input that cannot be used (missing files, zero usable samples)."""


class PerfDeviceError(PerfError):
    """The requested device is not available on this machine."""


class PerfProfileError(PerfError):
    """A profiling stage could not run or keep its files (profiler failure, disk full, missing tool).

    Only the stage's own result is marked failed with this message; the case's timings stay.
    """


class PerfUsageError(PerfError):
    """A benchmark used perfsuite's API wrongly (`perf.measure` twice, a bad metric): the test fails with this message."""
