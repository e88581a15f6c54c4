"""What one tracker did with a run: exported (where), skipped or failed (why, and how to fix it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class TrackerFailed(Exception):
    """A tracker could not take the run; the message says why and what to check."""


class TrackerMissing(TrackerFailed):
    """The tracker's package is not installed."""

    def __init__(self, tracker: str, package: str, exc: BaseException) -> None:
        super().__init__(
            f"{package} is not installed ({type(exc).__name__}: {exc}); "
            f"install it with pip install 'perfsuite[{tracker}]'"
        )


@dataclass(frozen=True)
class TrackerOutcome:
    tracker: str
    ok: bool
    where: str  # the tracking URI / log dir / W&B run, or the reason it failed
    note: str | None = None
    ref: str | None = None  # the tracker's own id of the run (MLflow run id, W&B run id)
    seconds: float | None = None  # how long the export took (tracking.json), imports included

    def __post_init__(self) -> None:
        from perfsuite.config.redact import redact_urls

        # `where` is a tracking URI or an error about one: tracking.json, the terminal and the report never show its password
        object.__setattr__(self, "where", redact_urls(self.where))
        if self.note:
            object.__setattr__(self, "note", redact_urls(self.note))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.ok:
            return f"tracking: {self.tracker}: {self.where}" + (f" ({self.note})" if self.note else "")
        return f"tracking with {self.tracker} failed, the run itself is complete: {self.where}"
