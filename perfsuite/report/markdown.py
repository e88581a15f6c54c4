"""The run's headline as GitHub-flavoured Markdown: summary.md, and the gate's CI job summary.

The same `perfsuite.report.headline` blocks the terminal prints, rendered as Markdown tables:
status words (outcomes, verdicts) get a coloured icon, figures are right-aligned. Every piece of
text from the run (case ids, model names, reasons) goes through `escape`, so a name with `|`,
backticks, `<script>`, `*` or a newline stays one literal cell and never becomes markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perfsuite.report.headline import Block, Cell, Note, Table, headline, numeric_columns
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.run import RunResult

if TYPE_CHECKING:
    from perfsuite.compare.verdict import Comparison

SUMMARY_FILE = "summary.md"
ICONS = {"bad": "🔴", "warn": "🟡", "good": "🟢"}
MAX_CELL = 200  # characters of one cell; the full text is in results.json and the tables

# ASCII punctuation that can start markup (GitHub renders $...$ as math); an underscore inside a
# word never starts emphasis, so `sample_images` stays readable.
_SPECIAL = re.compile(r"([\\`*{}\[\]|~#!$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def escape(text: str, limit: int = MAX_CELL) -> str:
    """`text` as literal Markdown inline text (also inside a table cell): one line, no markup, no HTML."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in str(text))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _cell(cell: Cell | str) -> str:
    if isinstance(cell, str):
        return escape(cell)
    text = escape(cell.text)
    icon = ICONS.get(cell.tone or "") if cell.status else None
    return f"{icon} {text}" if icon else text


def table(header: Sequence[str], rows: Sequence[Sequence[Cell | str]]) -> list[str]:
    """A GitHub table: figures right-aligned, text left-aligned."""
    align = ["---:" if right else ":---" for right in numeric_columns(header, rows)]
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render(blocks: Sequence[Block], *, heading: str = "###") -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            if block.title:
                lines += [f"{heading} {escape(block.title, 10 * MAX_CELL)}", ""]
            lines += [*table(block.header, block.rows), ""]
        elif isinstance(block, Note):
            icon = ICONS.get(block.tone or "")
            lines += [(f"{icon} " if icon else "") + escape(block.text, 100 * MAX_CELL), ""]
    return lines


def run_header(run: RunResult) -> str:
    """One line: which run, what it ran on, how it ended."""
    parts = [f"run {run.run_dir.name}", f"suite {run.suite or '-'}", f"device {run.device or '-'}", f"status {run.status}"]
    if run.imported:
        parts.append("imported")
    parts.append(f"{len(run.cases)} result{'s' if len(run.cases) != 1 else ''}")
    line = " · ".join(escape(p) for p in parts)
    return line + (f" · error: {escape(run.error)}" if run.error else "")


def run_summary(run: RunResult, comparison: Comparison | None = None, *, title: str = "perfsuite run") -> str:
    """summary.md of a run: its header line and headline tables (with verdicts when compared)."""
    lines = [f"## {escape(title)}", "", run_header(run), ""]
    lines += render(headline(run.cases, run.sweeps, comparison))
    return "\n".join(lines).rstrip("\n") + "\n"


def write_run_summary(run: RunResult) -> Path:
    """summary.md in the run folder (the gate rewrites it with its verdicts when it compares)."""
    path = run.run_dir / SUMMARY_FILE
    atomic_write_text(path, run_summary(run))
    return path
