"""A gate calibration as people read it: terminal tables and one self-contained HTML page with the plot."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from markupsafe import Markup, escape

from perfsuite.calibrate.summary import DETECTION, ArmRow, Calibration, CaseRow
from perfsuite.calibrate.trials import Change
from perfsuite.report.svg import PALETTE, Series, line_chart

METHOD_NAMES = {"separate": "separate runs", "ab": "A/B rounds"}
ARM_HEADER = ["method", "change", "trials", "gates failed", "reached timing verdicts regressed", "trials all regressed", "wrong direction",
              "gate wall", "plain wall"]


def _smallest(row: CaseRow) -> str:
    return f"{row.smallest:.0%}" if row.smallest is not None else "none of those tried"


def case_table(rows: Sequence[CaseRow], changes: Sequence[Change]) -> tuple[list[str], list[list[str]]]:
    header = ["case", "method", *(("false alarms" if c.unchanged else c.label) for c in changes), f"smallest caught (>= {DETECTION:.0%})"]
    body = [[r.case, METHOD_NAMES[r.method], *(str(r.rates.get(c.label, "-")) for c in changes), _smallest(r)] for r in rows]
    return header, body


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "-"


def arm_table(arms: Sequence[ArmRow]) -> list[list[str]]:
    out = []
    for a in arms:
        share = f"{a.reached.rate:.0%} ({a.reached})" if a.reached.rate is not None else "-"
        ratio = f" ({a.gate_wall_s / a.plain_wall_s:.2f}x)" if a.gate_wall_s and a.plain_wall_s else ""
        out.append([METHOD_NAMES[a.method], a.change, str(a.trials), f"{a.gates_failed}/{a.trials}", share,
                    f"{a.all_reached}/{a.trials}" if a.reached.n else "-", str(a.wrong),
                    _seconds(a.gate_wall_s) + ratio, _seconds(a.plain_wall_s)])
    return out


def terminal_lines(cal: Calibration, changes: Sequence[Change]) -> list[str]:
    from perfsuite.report.terminal import table

    header, body = case_table(cal.cases, changes)
    lines = ["per case: trials in which a timing verdict was `regressed` (for `unchanged`: false alarms)"]
    lines += table(header, body) if body else ["  (no case was judged)"]
    lines += ["", "per change:"] + table(ARM_HEADER, arm_table(cal.arms))
    lines += ["", "recommendation:"] + [f"  {a}" for a in cal.advice]
    return lines


def _chart(rows: Sequence[CaseRow], changes: Sequence[Change], method: str) -> Markup | None:
    xs = sorted((c for c in changes if c.slowdown is not None), key=lambda c: c.slowdown or 0.0)
    series = []
    for i, row in enumerate(r for r in rows if r.method == method):
        points = tuple((c.slowdown or 0.0, row.rates[c.label].rate or 0.0) for c in xs if row.rates[c.label].n)
        if points:
            series.append(Series(row.case, points, PALETTE[i % len(PALETTE)], in_legend=len(rows) <= 12))
    if not series:
        return None
    span = (xs[0].slowdown or 0.0, xs[-1].slowdown or 0.0)
    series.append(Series(f"{DETECTION:.0%} of trials", ((span[0], DETECTION), (span[1], DETECTION)), "#555555", dashed=True))
    return line_chart(series, title=f"Gate detection vs injected slowdown: {METHOD_NAMES[method]}", x_label="injected slowdown (0.25 = 25% slower)",
                      y_label="trials caught", y_fmt=lambda v: f"{v:.0%}")


def _html_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def html(cal: Calibration, changes: Sequence[Change], plan: dict[str, Any]) -> str:
    """One offline page: the settings, the plot per method, both tables and the recommendation."""
    css = resources.files("perfsuite.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    charts = [c for m in ("separate", "ab") if (c := _chart(cal.cases, changes, m)) is not None]
    settings = (f"{plan.get('trials')} trial(s) per change, baseline of {plan.get('baseline_runs')} run(s)"
                f"{' reused across trials' if plan.get('reuse_baseline') else ', fresh per trial'}, "
                f"{plan.get('busy') or 0} busy process(es), A/B rounds: {plan.get('ab_rounds') or 'none'}; "
                f"pytest {plan.get('benches')} {' '.join(plan.get('pytest_args') or ())}")
    header, body = case_table(cal.cases, changes)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>perfsuite gate calibration</title>",
        f"<style>{css}</style></head><body><main>",
        "<h1>perfsuite gate calibration</h1>",
        f"<p>{escape(settings)}</p>",
        "<h2>Recommendation</h2><ul>" + "".join(f"<li>{escape(a)}</li>" for a in cal.advice) + "</ul>",
        *(str(c) for c in charts),
        "<h2>Per case</h2><p>Trials in which a timing verdict of the case was <code>regressed</code> "
        "(for <code>unchanged</code>: false alarms).</p>",
        _html_table(header, body),
        "<h2>Per change</h2>",
        _html_table(ARM_HEADER, arm_table(cal.arms)),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
