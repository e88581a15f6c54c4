"""The headline tables in the terminal and in Markdown: same figures, verdicts, colour only when asked, escaping."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from perfsuite.compare import compare_runs
from perfsuite.measure import summarize, throughput
from perfsuite.report.markdown import escape, run_summary
from perfsuite.report.terminal import summary_lines, width
from perfsuite.report.verdicts import markdown
from synthetic_runs import HOSTILE, HOSTILE_ID, TEXT, result, write_run

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def brackets(text: str, tone: str) -> str:
    """A visible stand-in for colour: [tone:text]."""
    return f"[{tone}:{text}]"


@pytest.fixture
def compared(tmp_path):
    """A base run and a head run whose gpt2 case got 50% slower; the hostile case is unchanged in both."""
    rng = np.random.default_rng(0)

    def latency(case, median):
        samples = tuple(float(x) for x in median * (1 + rng.exponential(0.01, 200)))  # timing noise only adds time
        stats = summarize(samples)
        return result(case, summary=stats, imported_samples_s=samples, throughput=throughput(stats, batch_size=1, tokens_per_call=128))

    base = write_run(tmp_path / "base", [latency(TEXT, 0.010), latency(HOSTILE, 0.010)])
    new = dataclasses.replace(TEXT, id="bert.tiny-pydoc-eager-bs1-cpu", model="bert.tiny")
    head = write_run(tmp_path / "head", [latency(TEXT, 0.015), latency(HOSTILE, 0.010), latency(new, 0.010)])
    return head, compare_runs(base, head)


def test_terminal_and_markdown_show_the_same_figures(tmp_path):
    run = write_run(tmp_path / "run")
    terminal = "\n".join(summary_lines(run.cases, run.sweeps))
    md = run_summary(run)
    for figure in ("10.0 ms", "400 MiB", "12.8k", "2.50 GFLOP", "124M", "21.0 ms", "+15.5%"):
        assert figure in terminal and figure in md, figure
    for title in ("latency: 6 cases (1 failed, 1 oom)", "generation: 1 case", "profile: 1 case", "static: 1 case"):
        assert title in terminal and f"### {title}" in md
    assert "🔴 failed" in md and "🟡 oom" in md and "n/e" in md
    assert "verdict" not in terminal and "CUDA peak" not in terminal  # no comparison, no CUDA: no empty columns


def test_verdicts_show_per_case_with_their_change_and_colour(compared):
    head, comparison = compared
    lines = summary_lines(head.cases, head.sweeps, comparison=comparison, paint=brackets)
    header = next(line for line in lines if line.startswith("case"))
    assert "verdict" in header.split()
    row = next(line for line in lines if line.startswith(TEXT.id))
    found = re.search(r"\[bad:regressed latency \+(\d+\.\d)%\]", row)
    assert found and 35 < float(found.group(1)) < 65, row  # 1.5x the samples; the gate compares their fastest ones
    assert "[good:ok]" in next(line for line in lines if line.startswith("evil"))
    assert "new" in next(line for line in lines if line.startswith("bert.tiny"))
    assert lines[0] == "[title:latency: 3 cases]"


def test_painting_does_not_move_the_columns(compared):
    head, comparison = compared
    plain = summary_lines(head.cases, head.sweeps, comparison=comparison)
    painted = summary_lines(head.cases, head.sweeps, comparison=comparison, paint=brackets)
    unpainted = [re.sub(r"\[(?:bad|warn|good|title):(.*?)\]", r"\1", line) for line in painted]
    assert unpainted == plain and not any("\x1b" in line for line in plain)
    header, rule, *rows = plain[1:]
    column = width(header[: header.index("outcome")])
    assert column == width(rule[: rule.index("  -") + 2]) == len(TEXT.id) + 2 + 80 - len(TEXT.id)  # the cut id sets it
    for row in rows:  # the hostile id's two wide characters (漢字) take two columns each and still line up
        assert len(row[: row.index("passed")]) == column - (2 if row.startswith("evil") else 0), row


def test_hostile_names_stay_inert_in_the_terminal(compared):
    head, comparison = compared
    text = "\n".join(summary_lines(head.cases, head.sweeps, comparison=comparison))
    assert "\n*b*" not in text and "\x1b" not in text  # the newline in the id did not break the row
    row = next(line for line in text.splitlines() if line.startswith("evil"))
    assert "zzz...  passed" in row and row.endswith("ok")  # the id is cut to a bounded width; the row goes on


@pytest.mark.parametrize(
    "text, expect",
    [
        ("a|b", r"a\|b"),
        ("`code`", r"\`code\`"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("line\nbreak\r\nand\u2028more", "line break and more"),
        ("esc\x1b[31mred\x00", "esc \\[31mred"),
        ("*bold* _it_ [link](x) $math$ ~~s~~ #h", r"\*bold\* \_it\_ \[link\](x) \$math\$ \~\~s\~\~ \#h"),
        ("sample_images &amp;", "sample_images &amp;amp;"),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_escape(text, expect):
    assert escape(text) == expect


def test_the_gate_summary_is_the_headline_with_verdicts_then_every_metric(compared):
    head, comparison = compared
    md = markdown(comparison, "baseline 'main'", head=head)
    assert md.startswith("## perfsuite regression gate\n")
    latency = md.index("### latency: 3 cases")
    details = md.index("<details><summary>every metric")
    assert latency < details
    assert f"| {TEXT.id} | passed |" in md and "🔴 regressed latency +5" in md[latency:details]
    assert "🔴 regressed" in md[details:] and "- new: test_latency::bert.tiny-pydoc-eager-bs1-cpu" in md
    tables = [block.splitlines() for block in md.split("\n\n") if block.startswith("| ")]
    assert len(tables) == 2
    for table in tables:  # every row has its header's columns: no pipe or newline from a name split a cell
        assert {len(UNESCAPED_PIPE.findall(line)) for line in table} == {len(UNESCAPED_PIPE.findall(table[0]))}
    assert "<script>" not in md and "<img" not in md and HOSTILE_ID[:4] in md
    assert "\n*b*" not in md  # the id's newline did not end the row


def test_a_comparison_without_its_run_keeps_the_plain_verdict_table(compared):
    _, comparison = compared
    md = markdown(comparison, "run a", title="perfsuite A/B")
    assert md.startswith("## perfsuite A/B") and "###" not in md and "<details>" not in md
    assert "| case | metric | verdict | change | CI | threshold | note |" in md
