"""The end-of-session summary in the terminal: the headline tables, aligned, coloured when the terminal can.

`summary_lines` is pure (results in, lines out); colour comes from a `paint(text, tone)` function
the caller passes. At the end of `pytest benches`, `write_summary` passes pytest's own terminal
writer's markup, which is plain text when the output is not a terminal or with `--color=no`, so
escape codes never reach a file or a CI log that did not ask for them.

Text from the run (case ids, model names, failure reasons) is shown with control characters
replaced, so a hostile name cannot move the cursor or recolour the terminal, and cut at
`MAX_CELL` columns so one long name does not push every row off the screen.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from perfsuite.report.headline import Block, Cell, Note, Table, headline, numeric_columns
from perfsuite.results.case import CaseResult
from perfsuite.results.run import SweepResult

if TYPE_CHECKING:
    from perfsuite.compare.verdict import Comparison

Paint = Callable[[str, str], str]  # (text, tone) -> text, e.g. wrapped in escape codes

# pytest TerminalWriter markup per tone ("title" for a table's title line).
TONE_MARKUP: dict[str, dict[str, bool]] = {
    "bad": {"red": True, "bold": True},
    "warn": {"yellow": True},
    "good": {"green": True},
    "title": {"bold": True},
}
MAX_CELL = 80


def _plain(text: str, tone: str) -> str:
    return text


def clean(text: str) -> str:
    """Control and format characters (escape, newline, bidi overrides) become visible placeholders."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs"):
            out.append(" " if ch in "\t\n\r" else "\N{REPLACEMENT CHARACTER}")
        else:
            out.append(ch)
    return "".join(out)


def width(text: str) -> int:
    """Columns `text` takes in a terminal: wide (CJK, emoji) characters take two, combining ones none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, limit: int = MAX_CELL) -> str:
    text = clean(text)
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 3:
            break
        out.append(ch)
        used += w
    return "".join(out) + "..."


def table(header: Sequence[str], rows: Sequence[Sequence[str | Cell]], *, paint: Paint = _plain) -> list[str]:
    """Aligned columns: figures right-aligned, text left-aligned; toned cells painted."""
    cells = [[c if isinstance(c, Cell) else Cell(c) for c in row] for row in rows]
    texts = [[_fit(c.text) for c in row] for row in cells]
    heads = [_fit(h) for h in header]
    widths = [max([width(h)] + [width(r[i]) for r in texts]) for i, h in enumerate(heads)]
    right = numeric_columns(header, cells)

    def line(row: Sequence[str], tones: Sequence[str | None]) -> str:
        out = []
        for text, w, tone, r in zip(row, widths, tones, right):
            pad = " " * (w - width(text))
            text = paint(text, tone) if tone else text
            out.append(pad + text if r else text + pad)
        return "  ".join(out).rstrip()

    none = [None] * len(heads)
    return [line(heads, none), line(["-" * w for w in widths], none),
            *(line(t, [c.tone for c in row]) for t, row in zip(texts, cells))]


def render(blocks: Sequence[Block], *, paint: Paint = _plain) -> list[str]:
    lines: list[str] = []
    after_table = False
    for block in blocks:
        if isinstance(block, Table):
            if lines:
                lines.append("")
            if block.title:
                lines.append(paint(_fit(block.title, 10 * MAX_CELL), "title"))
            lines += table(block.header, block.rows, paint=paint)
            after_table = True
        elif isinstance(block, Note):
            if after_table:
                lines.append("")
            text = clean(block.text)
            lines.append(paint(text, block.tone) if block.tone else text)
            after_table = False
    return lines


def summary_lines(results: Sequence[CaseResult], sweeps: Sequence[SweepResult] = (), *,
                  comparison: Comparison | None = None, paint: Paint = _plain) -> list[str]:
    """The headline tables (`perfsuite.report.headline`) as terminal lines."""
    return render(headline(results, sweeps, comparison), paint=paint)


def write_summary(terminalreporter: Any, results: Sequence[CaseResult], sweeps: Sequence[SweepResult] = (),
                  comparison: Comparison | None = None) -> None:
    """Print the summary through pytest's terminal reporter, coloured only where pytest colours."""
    writer = terminalreporter.config.get_terminal_writer()

    def paint(text: str, tone: str) -> str:
        return writer.markup(text, **TONE_MARKUP.get(tone, {}))

    for line in summary_lines(results, sweeps, comparison=comparison, paint=paint):
        terminalreporter.write_line(line)
