"""The HTML report without a browser: sections, escaping, no external URLs, incomplete run folders, the CLI.

The page is parsed with the standard library's HTMLParser, as a browser's tokenizer would see it;
tests/test_report_html_browser.py opens it in Chromium.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from perfsuite.cli import main
from perfsuite.compare.verdict import compare_runs
from perfsuite.errors import PerfDataError
from perfsuite.report.html import REPORT_FILE, write_report
from perfsuite.report.page import script_json
from perfsuite.report.shown import ComparisonView
from perfsuite.report.svg import Box
from perfsuite.report.synthetic import SyntheticSpec, synthetic_run, write_run
from perfsuite.report.verdicts import verdicts_doc
from perfsuite.results.importer import import_pytest_benchmark
from perfsuite.results.layout import OutLayout

SMALL = SyntheticSpec(models=3, runtimes=("eager", "compile"), batch_sizes=(1, 4, 16), samples=80)
SLOWED = (1, 2)  # eager bs4 and bs16 of the first model: 30% slower than the baseline
HOSTILE = (
    "</script><script>alert('x')</script>",
    "\"quoted\" & 'single' <b>bold</b> --> <!--",
    "модель-ñ-模型-🚀",
    "m" * 500,
)


class Page(HTMLParser):
    """Every start tag with its attributes, the text of <script>/<style> blocks, all text, by element id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._raw: tuple[str, dict[str, str | None]] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw = (tag, dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            tag, attrs = self._raw
            (self.scripts.append((attrs, data)) if tag == "script" else self.styles.append(data))
            self._raw = None
        else:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._raw = None

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def data(self) -> list[dict]:
        (block,) = [text for attrs, text in self.scripts if attrs.get("id") == "perf-data"]
        return json.loads(block)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A small synthetic run with hostile model names, written with verdicts against its baseline."""
    spec = replace(SMALL, names=HOSTILE[:2])
    base = synthetic_run(spec)
    head = synthetic_run(replace(spec, seed=1, slowdown=1.3, slowed=SLOWED))
    run_dir = write_run(head, tmp_path_factory.mktemp("report") / "run")
    comparison = ComparisonView.of(compare_runs(base, head), "baseline 'main'", "test")
    path, problems = write_report(run_dir, comparison=comparison, baseline=base)
    assert problems == () and path == run_dir / REPORT_FILE
    return run_dir, path.read_text(encoding="utf-8")


def test_the_report_has_every_section_and_one_row_per_timed_case(compared):
    run_dir, text = compared
    page = Page(text)
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    assert {"run", "comparison", "cases", "models", "profiles", "flops", "case-table", "perf-data"} <= ids
    rows = page.data()
    assert len(rows) == SMALL.cases  # latency cases only: static and profile results have their own sections
    oom = [r for r in rows if r["outcome"] == "oom"]
    assert len(oom) == 0  # the OOM model is the 7th of every 7: not among 3
    first = [r for r in rows if r["model"] == HOSTILE[0] and r["runtime"] == "eager"]
    assert [r["verdict"] for r in first] == ["ok", "regressed", "regressed"]
    assert [round(r["chg"], 1) for r in first[1:]] == [1.3, 1.3]
    assert all(r["p50"] > 0 and r["sps"] > 0 and r["rss"] > r["mem"] > 0 and r["panel"].startswith("panel-") for r in rows)
    charts = page.all("svg", **{"class": "chart"})
    # per model: distribution, throughput and latency curves, memory; plus the forest plot and the roofline
    assert len(charts) == 3 * 4 + 2
    assert len(page.all("g", **{"class": "forest-row verdict-regressed"})) == 2  # latency of the two slowed cases
    assert len(page.all("details", **{"class": "panel"})) == 3
    cards = re.findall(r'class="value">(\d+)</span><span class="label">cases (\w+)<', text)
    # by each result's worst metric: the latency cases and one static analysis per model
    assert [label for _, label in cards] == ["regressed", "inconclusive", "ok"] and cards[0][0] == "2"
    assert int(cards[1][0]) <= 1 and int(cards[1][0]) + int(cards[2][0]) == SMALL.cases - 2 + SMALL.models  # noise may leave one undecided


def test_no_url_outside_the_file(compared):
    _, text = compared
    page = Page(text)
    external = re.compile(r"^\s*(https?:)?//", re.I)
    for tag, attrs in page.tags:
        for key in ("src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset"):
            value = attrs.get(key)
            assert value is None or not external.match(value), (tag, key, value)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and attrs.get("src"))
    for css in page.styles:
        assert "@import" not in css and not re.search(r"url\(", css)
    assert not re.search(r"https?://", text)  # not even a namespace or a comment


def test_hostile_names_are_text_everywhere(compared):
    _, text = compared
    page = Page(text)
    assert "<script><script>alert" not in text and "<b>bold</b>" not in text
    assert [a.get("type") for a, _ in page.scripts] == ["application/json", None]  # the data block and the page's own script
    (block,) = [t for a, t in page.scripts if a.get("id") == "perf-data"]
    assert "</" not in block and "<!--" not in block
    models = {r["model"] for r in page.data()}
    assert set(HOSTILE[:2]) <= models  # exactly the original text once parsed
    shown = "".join(page.text)
    assert HOSTILE[0] in shown and HOSTILE[1] in shown  # panel titles, chart labels and tooltips as text


def test_unicode_and_very_long_ids_are_kept_whole_and_cut_only_in_chart_labels(tmp_path):
    spec = replace(SMALL, models=2, runtimes=("eager",), names=HOSTILE[2:])
    run = synthetic_run(spec)
    run_dir = write_run(run, tmp_path / "run")
    path, _ = write_report(run_dir, comparison=ComparisonView.of(compare_runs(run, run), "itself", "test"))
    page = Page(path.read_text(encoding="utf-8"))
    assert {r["model"] for r in page.data()} == set(HOSTILE[2:])
    shown = "".join(page.text)
    assert f"{HOSTILE[2]} · pydoc · cpu" in shown and f"{HOSTILE[3]} · pydoc · cpu" in shown  # panel titles
    assert re.search(r"(?<!m)m{27}…m{12}-pydoc-eager-bs\d+-cpu · latency", shown)  # a forest plot row label, cut in the middle


def test_script_json_cannot_end_its_block():
    text = str(script_json({"id": "</script><!-- & >"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"id": "</script><!-- & >"}


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PerfDataError, match="does not exist"):
        write_report(tmp_path / "nope")


def test_an_incomplete_run_folder_reports_what_exists_and_says_what_is_missing(tmp_path):
    run_dir = write_run(synthetic_run(replace(SMALL, models=1)), tmp_path / "run")
    (run_dir / "results.json").unlink()
    path, problems = write_report(run_dir)
    assert len(problems) == 1 and "results.json is missing" in problems[0]
    page = Page(path.read_text(encoding="utf-8"))
    assert page.data() == []
    shown = " ".join(page.text)
    assert "results.json is missing" in shown and "Synthetic CPU" in shown  # env.json is still shown
    (run_dir / "results.json").write_text('{"schema_version": 2, "status": "fini')  # a killed write
    (run_dir / "env.json").unlink()
    _, problems = write_report(run_dir)
    assert any("results.json could not be read" in p and "not valid JSON" in p for p in problems)
    assert any("env.json is missing" in p for p in problems)


def test_an_interrupted_run_and_failed_cases_are_said_at_the_top(tmp_path):
    run = synthetic_run(replace(SMALL, models=7, runtimes=("eager",)))  # the 7th model runs out of memory at bs16
    run = replace(run, status="interrupted")
    path, _ = write_report(write_run(run, tmp_path / "run"))
    page = Page(path.read_text(encoding="utf-8"))
    banners = " ".join(page.text)
    assert "The run was interrupted" in banners and "1 case(s) did not pass: model06.base-pydoc-eager-bs16-cpu (oom)" in banners
    (oom,) = [r for r in page.data() if r["outcome"] == "oom"]
    assert oom["p50"] is None and "out of memory" in oom["reason"]


def test_verdicts_written_by_the_gate_are_shown_without_a_baseline(tmp_path):
    base = synthetic_run(SMALL)
    head = synthetic_run(replace(SMALL, seed=1, slowdown=1.3, slowed=SLOWED))
    run_dir = write_run(head, tmp_path / "run")
    doc = verdicts_doc(compare_runs(base, head), base={"baseline": "main", "saved": "2026-11-20T10:00:00", "machine_id": "abc"},
                       head={"run": str(run_dir)}, gate={"decision": "gate failed: 2 case(s) regressed"})
    (run_dir / "verdicts.json").write_text(json.dumps(doc))
    path, problems = write_report(run_dir)
    page = Page(path.read_text(encoding="utf-8"))
    assert problems == () and "gate failed: 2 case(s) regressed" in " ".join(page.text)
    assert len(page.all("g", **{"class": "forest-row verdict-regressed"})) == 2
    (run_dir / "verdicts.json").write_text('{"verdicts": [{"case": 1}]}')
    _, problems = write_report(run_dir)
    assert len(problems) == 1 and "verdicts.json could not be read" in problems[0]


def test_cli_rebuilds_the_report_against_another_run_with_links_relative_to_the_file(tmp_path, capsys):
    base_dir = write_run(synthetic_run(SMALL), tmp_path / "runs" / "base")
    head = synthetic_run(replace(SMALL, seed=1, slowdown=1.3, slowed=SLOWED), tmp_path / "runs" / "head")
    head_dir = write_run(head, tmp_path / "runs" / "head")
    table = Path(next(c.profile.op_table for c in head.cases if c.profile))
    table.parent.mkdir(parents=True)
    table.write_text("name,count\naten::addmm,40\n")
    target = tmp_path / "site" / "report.html"
    assert main(["report", str(head_dir), "-o", str(target), "--compare", str(base_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"html report: {target}"
    page = Page(target.read_text(encoding="utf-8"))
    links = [a["href"] for a in page.all("a") if a.get("href", "").endswith(".ops.csv")]
    assert links == [f"../runs/head/tables/{table.name}"] and (target.parent / links[0]).resolve() == table.resolve()
    assert "Comparison with run base" in " ".join(page.text)
    assert main(["report", str(head_dir), "--compare", "no/such"]) == 2
    assert "no such run folder, and not a baseline name" in capsys.readouterr().err


def test_cli_report_of_an_imported_pytest_benchmark_run(tmp_path, capsys):
    source = tmp_path / "bench.json"
    stats = {"min": 0.001, "max": 0.003, "mean": 0.0015, "stddev": 0.0002, "median": 0.0014, "rounds": 40, "iqr": 0.0001}
    source.write_text(json.dumps({
        "machine_info": {"node": "ci", "python_version": "3.11.7", "cpu": {"brand_raw": "Some CPU", "count": 4}},
        "commit_info": {"id": "abc123", "branch": "main", "dirty": False}, "datetime": "2026-11-20T10:00:00", "version": "5.3.1",
        "benchmarks": [{"name": f"test_sum[{n}]", "fullname": f"t.py::test_sum[{n}]", "params": {"n": n}, "param": str(n),
                        "stats": stats, "extra_info": {}} for n in (10, 100)],
    }))
    run_dir = import_pytest_benchmark(source, OutLayout(tmp_path / "out")).run_dir
    assert main(["report", "--out", str(tmp_path / "out"), "--html"]) == 0
    page = Page((run_dir / REPORT_FILE).read_text(encoding="utf-8"))
    rows = page.data()
    assert len(rows) == 2 and all(r["p50"] == pytest.approx(0.0014) and r["p99"] is None for r in rows)
    assert "Imported from pytest-benchmark" in " ".join(page.text)


def test_box_of_samples_follows_tukey():
    box = Box.of([1.0] * 10 + [2.0] * 10 + [10.0])
    assert (box.q1, box.median, box.q3) == (1.0, 2.0, 2.0)
    assert box.low == 1.0 and box.high == 2.0 and box.outliers == (10.0,) and box.n == 21


def test_each_runtime_row_shows_its_speed_up_over_eager(compared):
    _, text = compared
    rows = Page(text).data()
    eager = [r for r in rows if r["runtime"] == "eager"]
    compiled = [r for r in rows if r["runtime"] == "compile" and r["outcome"] == "passed"]
    assert eager and compiled and all(r["spd"] is None for r in eager)
    # the synthetic compile runtime costs 0.72x eager; the two slowed cases are eager ones (1.3x), so compile gains more there
    ratios = sorted(round(r["spd"] * 0.72, 1) for r in compiled)
    assert ratios == [1.0] * (len(compiled) - len(SLOWED)) + [1.3] * len(SLOWED), ratios
