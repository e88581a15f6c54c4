"""A comparison as people and machines read it: terminal lines, Markdown, verdicts.json. Pure formatting.

The Markdown (summary.md, the CI job summary) is the head run's headline tables with a verdict
column (`perfsuite.report.markdown`), then every metric's verdict; the table code is that module's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perfsuite.compare.verdict import Comparison, Verdict
from perfsuite.report.units import change

if TYPE_CHECKING:
    from perfsuite.results.run import RunResult

_ORDER = {"regressed": 0, "inconclusive": 1, "ok": 2}
_STATISTIC = {"min": "fastest samples", "median": "medians"}


def _ci(v: Verdict) -> str:
    e = v.estimate
    if e.method == "exact":
        return "(exact)"
    if not e.has_interval:
        return "(medians only)"
    return f"[{change(e.low)}, {change(e.high)}]"


def _ordered(comparison: Comparison) -> list[Verdict]:
    return sorted(comparison.verdicts, key=lambda v: (_ORDER[v.verdict], v.case, v.metric))


def rows(comparison: Comparison) -> list[list[str]]:
    out = []
    for v in _ordered(comparison):
        word = v.verdict + (" (improved)" if v.improved else "")
        out.append([v.case, v.metric, word, change(v.estimate.ratio), _ci(v), f"{v.threshold:.0%}", v.note])
    return out


HEADER = ["case", "metric", "verdict", "change", "CI", "threshold", "note"]


def headline(comparison: Comparison, base_label: str) -> str:
    counts = {k: len(comparison.of(k)) for k in ("regressed", "inconclusive", "ok")}
    return (
        f"compared with {base_label}: {counts['regressed']} regressed, {counts['inconclusive']} inconclusive, "
        f"{counts['ok']} ok ({comparison.tests} sample-based tests, suite-wide alpha {comparison.alpha:g}, "
        f"timings by their {_STATISTIC.get(comparison.statistic, comparison.statistic)}); "
        f"{len(comparison.new)} new, {len(comparison.removed)} removed"
    )


def terminal_lines(comparison: Comparison, base_label: str, *, only_notable: bool = False) -> list[str]:
    from perfsuite.report.terminal import table

    body = rows(comparison)
    if only_notable:
        body = [r for r in body if not r[2].startswith("ok")] or body[:0]
    lines = [headline(comparison, base_label)]
    if body:
        lines += table(HEADER, body)
    for key in comparison.new:
        lines.append(f"  new (not in the baseline): {key}")
    for key in comparison.removed:
        lines.append(f"  removed (only in the baseline): {key}")
    return lines


def markdown(
    comparison: Comparison, base_label: str, *, title: str = "perfsuite regression gate", head: RunResult | None = None, decision: str = "",
) -> str:
    """The comparison in Markdown; with `head` (the compared run), its headline tables come first.

    ``decision``: the gate's decision line, shown first as a warning when it says that cases could not be judged.
    """
    from perfsuite.report.headline import Cell
    from perfsuite.report.headline import headline as headline_blocks
    from perfsuite.report.markdown import escape, render, run_header, table

    tone = {"regressed": "bad", "inconclusive": "warn", "ok": "good"}
    lines = [f"## {escape(title)}", ""]
    if decision and comparison.of("inconclusive"):
        lines += [f"> [!WARNING]\n> **{escape(decision)}**", ""]
    lines += [escape(headline(comparison, base_label)), ""]
    if head is not None:
        lines += [run_header(head), ""]
        lines += render(headline_blocks(head.cases, head.sweeps, comparison))
    body = [[Cell(c) for c in row] for row in rows(comparison)]
    for v, row in zip(_ordered(comparison), body):
        row[2] = Cell(row[2].text, tone[v.verdict], status=True)
    if head is not None and body:
        lines += [f"<details><summary>every metric ({len(body)} verdicts)</summary>", ""]
    lines += table(HEADER, body)
    if head is not None and body:
        lines += ["", "</details>"]
    if comparison.new or comparison.removed:
        lines.append("")
        lines += [f"- new: {escape(k)}" for k in comparison.new] + [f"- removed: {escape(k)}" for k in comparison.removed]
    return "\n".join(lines) + "\n"


def verdicts_doc(comparison: Comparison, *, base: dict[str, Any], head: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    """verdicts.json: everything a CI step needs to act on the comparison."""
    return {
        "schema_version": 1,
        "base": base,
        "head": head,
        "gate": gate,
        "alpha": comparison.alpha,
        "tests": comparison.tests,
        "statistic": comparison.statistic,
        "counts": {k: len(comparison.of(k)) for k in ("regressed", "inconclusive", "ok")},
        "verdicts": [v.to_dict() for v in comparison.verdicts],
        "new": list(comparison.new),
        "removed": list(comparison.removed),
    }

