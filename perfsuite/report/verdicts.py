"""A comparison as people and machines read it: terminal lines, Markdown, verdicts.json. Pure formatting."""

from __future__ import annotations

from typing import Any

from perfsuite.compare.verdict import Comparison, Verdict

_ORDER = {"regressed": 0, "inconclusive": 1, "ok": 2}
_STATISTIC = {"min": "fastest samples", "median": "medians"}


def _pct(x: float) -> str:
    return f"{(x - 1.0) * 100:+.1f}%"


def _ci(v: Verdict) -> str:
    e = v.estimate
    if e.method == "exact":
        return "(exact)"
    if not e.has_interval:
        return "(medians only)"
    return f"[{_pct(e.low)}, {_pct(e.high)}]"


def rows(comparison: Comparison) -> list[list[str]]:
    ordered = sorted(comparison.verdicts, key=lambda v: (_ORDER[v.verdict], v.case, v.metric))
    out = []
    for v in ordered:
        word = v.verdict + (" (improved)" if v.improved else "")
        out.append([v.case, v.metric, word, _pct(v.estimate.ratio), _ci(v), f"{v.threshold:.0%}", v.note])
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


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown(comparison: Comparison, base_label: str, *, title: str = "perfsuite regression gate") -> str:
    icon = {"regressed": "🔴 regressed", "inconclusive": "🟡 inconclusive", "ok": "🟢 ok"}
    lines = [f"## {title}", "", _md_escape(headline(comparison, base_label)), ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "---|" * len(HEADER))
    for v, row in zip(sorted(comparison.verdicts, key=lambda v: (_ORDER[v.verdict], v.case, v.metric)), rows(comparison)):
        row = [*row]
        row[2] = icon[v.verdict] + (" (improved)" if v.improved else "")
        lines.append("| " + " | ".join(_md_escape(c) for c in row) + " |")
    if comparison.new or comparison.removed:
        lines.append("")
        lines += [f"- new: `{k}`" for k in comparison.new] + [f"- removed: `{k}`" for k in comparison.removed]
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

