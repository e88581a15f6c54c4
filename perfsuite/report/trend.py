"""Trends: a metric of one case on one machine over the runs in the history store, with its change points.

Shared by `perfsuite history` (text) and the HTML report's trend section. A series never mixes
machine ids: the same case on other hardware is another series. Its runs are listed commit by
commit (commits in the order they were first measured, each commit's runs in time order), since a
change point can only lie between two commits; runs with an injected slowdown are listed, marked,
and left out of the trend and its change points unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from perfsuite.compare.changepoint import DEFAULT_ALPHA, ChangePoint, change_points
from perfsuite.report.svg import el
from perfsuite.report.units import change, duration, si, size
from perfsuite.results.history import HistoryPoint, series_of
from perfsuite.results.metrics import TRENDS

TREND_METRICS = TRENDS  # `trend=True` in the metric registry


@dataclass(frozen=True)
class Trend:
    test: str
    case_id: str
    metric: str
    unit: str | None
    machine_id: str
    points: tuple[HistoryPoint, ...]  # the judged runs, in the order the change points index
    changes: tuple[ChangePoint, ...]
    listed: tuple[HistoryPoint, ...] = ()  # every run of the series in listing order, left-out runs included

    @property
    def key(self) -> str:
        return f"{self.test}::{self.case_id}"

    @property
    def left_out(self) -> tuple[HistoryPoint, ...]:
        """Runs with an injected slowdown, listed but not judged."""
        judged = set(self.points)
        return tuple(p for p in self.listed if p not in judged)

    @property
    def commits(self) -> int:
        """How many groups of runs (commits) the judged runs hold: a change point needs two."""
        return len({p.group for p in self.points})

    def notes(self) -> list[str]:
        """What a reader of the series must know besides its change points, in words."""
        out = []
        if len(self.points) >= 2 and self.commits == 1:
            out.append(f"all {len(self.points)} runs measured one commit: runs of one commit are its noise, never a change point")
        if self.left_out:
            slowdowns = ", ".join(f"{s:g}" for s in sorted({p.injected_slowdown or 0.0 for p in self.left_out}))
            out.append(f"{len(self.left_out)} run(s) with an injected slowdown (inference_runtime.slowdown {slowdowns}) left out of the "
                       "trend and its change points: perfsuite history --include-injected judges them")
        return out

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(p.value for p in self.points)

    def first_commit_after(self, cp: ChangePoint) -> str | None:
        return self.points[cp.index].git_commit

    def describe(self, cp: ChangePoint) -> str:
        commit = self.first_commit_after(cp)
        point = self.points[cp.index]
        return (
            f"change point at run {point.run_dir.rsplit('/', 1)[-1]}: {fmt(cp.before, self.unit)} -> {fmt(cp.after, self.unit)} "
            f"({change(1.0 + cp.magnitude)}, p={cp.p_value:.3f}); first commit after the change: {commit[:12] if commit else 'unknown'}"
        )


def fmt(value: float, unit: str | None) -> str:
    if unit == "s":
        return duration(value)
    if unit == "B":
        return size(value)
    return si(value, unit or "")


def by_commit(points: Sequence[HistoryPoint]) -> list[HistoryPoint]:
    """`points` (in time order) with each group's runs together, groups in the order they were first measured."""
    first: dict[tuple[str, float], int] = {}
    for p in points:
        first.setdefault(p.group, len(first))
    return sorted(points, key=lambda p: first[p.group])  # stable: time order within a group


def trends(
    points: Iterable[HistoryPoint], *, alpha: float = DEFAULT_ALPHA, permutations: int = 199, include_injected: bool = False
) -> list[Trend]:
    """One Trend per (case, metric, machine) series with its change points, ordered by case then metric.

    Change points lie only between commits (runs of one commit are one group); runs with an
    injected slowdown are left out unless `include_injected`, and then each slowdown of a commit is
    a group of its own.
    """
    out = []
    for (test, case_id, metric, machine), series in sorted(series_of(list(points)).items()):
        listed = by_commit(series)
        judged = [p for p in listed if include_injected or not p.injected]
        found = change_points([p.value for p in judged], groups=[p.group for p in judged], alpha=alpha, permutations=permutations)
        out.append(Trend(test, case_id, metric, series[0].unit, machine, tuple(judged), tuple(found), tuple(listed)))
    return out


def sparkline(trend: Trend, *, width: int = 220, height: int = 40) -> Markup:
    """The series as a small line, each change point a vertical mark."""
    values = trend.values
    lo, hi = min(values), max(values)
    span = (hi - lo) or abs(hi) or 1.0
    n = len(values)

    def x(i: int) -> float:
        return 4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height - 4 - (height - 8) * (v - lo) / span

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [el("polyline", {"points": line, "fill": "none", "stroke": "currentColor", "stroke-width": 1.5})]
    for cp in trend.changes:
        cx = (x(cp.index - 1) + x(cp.index)) / 2
        parts.append(el("line", {"x1": cx, "x2": cx, "y1": 2.0, "y2": float(height - 2), "stroke": "#c0392b", "stroke-dasharray": "3,2"},
                        el("title", None, trend.describe(cp))))
    return el("svg", {"width": width, "height": height, "viewBox": f"0 0 {width} {height}", "role": "img",
                      "aria-label": f"{trend.metric} of {trend.key} over {n} runs"}, *parts)


def trend_rows(found: Sequence[Trend]) -> list[dict[str, object]]:
    """What the HTML trend section shows, one row per series."""
    rows = []
    for t in found:
        rows.append({
            "case": t.key, "metric": t.metric, "machine": t.machine_id, "runs": len(t.points),
            "last": fmt(max(t.points, key=lambda p: p.started or "").value, t.unit), "svg": sparkline(t),  # the newest run, wherever its commit is listed
            "changes": [t.describe(cp) for cp in t.changes], "notes": t.notes(),
        })
    return rows
