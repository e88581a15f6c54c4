"""Where a loose file of an old `out/` belongs: timestamps in names, folders and JSON; pure functions.

Used by `perfsuite.results.migrate` (see its docstring for the mapping rules).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from perfsuite.results.layout import RUN_DIR_RE, RUN_TS_FORMAT, slugify

CACHE_DIRS = frozenset({"onnx", "compiled", "engines", "exported"})
BASELINE_DIRS = frozenset({"baseline"})
UNMAPPED = PurePosixPath("_archive", "unmapped")
LOG_DIR = PurePosixPath("_archive", "migrate-out")
MIGRATED_SLUG = "migrated"
JSON_TIME_KEYS: tuple[str, ...] = ("datetime", "timestamp", "started_at", "start_time")
_JSON_MAX_BYTES = 64 << 20

_TS_RES = (
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[-_T](\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[T_ ](\d{2})[:.-](\d{2})[:.-](\d{2})(?!\d)"),
)

Echo = Callable[[str], None]


# --- pure mapping logic -------------------------------------------------------------------


@dataclass(frozen=True)
class TsMatch:
    when: _dt.datetime
    start: int
    end: int

    @property
    def key(self) -> str:
        return self.when.strftime(RUN_TS_FORMAT)


def find_timestamp(text: str) -> TsMatch | None:
    """The leftmost valid date-time in `text` (see the module doc for the forms), or None."""
    best: TsMatch | None = None
    for pattern in _TS_RES:
        for m in pattern.finditer(text):
            try:
                when = _dt.datetime(*(int(g) for g in m.groups()))
            except ValueError:
                continue  # digits that only look like a date (month 13, ...)
            if best is None or m.start() < best.start:
                best = TsMatch(when, m.start(), m.end())
            break
    return best


def parse_time_value(value: object) -> _dt.datetime | None:
    """A JSON time value (ISO string or epoch seconds) as a naive local datetime, or None."""
    when: _dt.datetime | None = None
    if isinstance(value, str):
        try:
            when = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 1e9 <= value < 1e10:
        when = _dt.datetime.fromtimestamp(value)
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when


def run_slug(component: str, match: TsMatch) -> str | None:
    """The slug a `<ts>_<slug>`-like folder name carries, or None when it is only a timestamp."""
    rest = (component[: match.start] + " " + component[match.end :]).strip(" _-.T")
    return slugify(rest) if rest else None


def clash_name(name: str, n: int) -> str:
    """`report.json.gz` -> `report.clash-1.json.gz`; `.lock` -> `.lock.clash-1`."""
    head, dot, tail = name[1:].partition(".") if name.startswith(".") else name.partition(".")
    if name.startswith("."):
        head = "." + head
    if not dot:
        return f"{name}.clash-{n}"
    return f"{head}.clash-{n}.{tail}"


@dataclass(frozen=True)
class Intent:
    """Where one foreign file should go before clashes are resolved."""

    kind: str  # "run", "cache", "baselines", "unmapped"
    inner: PurePosixPath  # path inside the destination (run folder, cache/, baselines/, unmapped/)
    reason: str
    ts: str | None = None  # for kind == "run"
    run_name: str | None = None  # for a run named by a `<ts>_<slug>` folder


def map_file(rel: PurePosixPath, json_time: _dt.datetime | None) -> Intent:
    """Pure: where the foreign file at `rel` (relative to out/) belongs; see the module doc."""
    parts = rel.parts
    top = parts[0]
    if len(parts) > 1 and top in CACHE_DIRS:
        return Intent("cache", rel, f"cache folder {top}/")
    if len(parts) > 1 and top in BASELINE_DIRS:
        return Intent("baselines", PurePosixPath(*parts[1:]), f"baseline folder {top}/")
    name_ts = find_timestamp(parts[-1])
    if name_ts:
        return Intent("run", rel, "timestamp in its name", ts=name_ts.key)
    for i in range(len(parts) - 2, -1, -1):
        match = find_timestamp(parts[i])
        if match is None:
            continue
        inner = PurePosixPath(*parts[:i], *parts[i + 1 :])
        slug = run_slug(parts[i], match)
        if RUN_DIR_RE.match(parts[i]):
            run_name: str | None = parts[i]
        else:
            run_name = f"{match.key}_{slug}" if slug else None
        return Intent("run", inner, f"timestamp in folder {parts[i]!r}", ts=match.key, run_name=run_name)
    if json_time is not None:
        return Intent("run", rel, "time recorded inside the JSON", ts=json_time.strftime(RUN_TS_FORMAT))
    return Intent("unmapped", rel, "UNMAPPED: no timestamp in its name, folders or content")


# --- planning (reads the disk, writes nothing) --------------------------------------------
