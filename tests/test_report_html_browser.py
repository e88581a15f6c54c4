"""The HTML report in a real browser: headless Chromium (Debian's package) driven by playwright, network blocked.

Skipped with the reason when Chromium or playwright is missing on a developer's machine; under
CI=true a missing browser fails instead (.ci/run installs both).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.compare.verdict import compare_runs
from perfsuite.report.browser import find_chromium, open_report
from perfsuite.report.html import REPORT_FILE, write_report
from perfsuite.report.shown import ComparisonView
from perfsuite.report.synthetic import SyntheticSpec, synthetic_run, write_run

HOSTILE = ("</script><script>alert(1)</script>", "\"q\" & 'q' <b>", "модель-🚀", "x" * 500)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    missing = None
    if found is None:
        missing = "no Chromium on PATH (Debian: apt-get install chromium; or set PERFSUITE_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is missing (pip install -e '.[test]')"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the HTML report in a browser: {missing}")
        pytest.skip(missing)
    return found  # type: ignore[return-value]


def test_smoke_run_writes_a_report_that_renders_in_chromium(pytester: pytest.Pytester, tmp_path: Path, chromium: str) -> None:
    # The smoke suite, cut to two small models (one text, one image) with every stage, so the
    # report has the case table, distributions, batch curves, memory, profiles with links and FLOPs.
    out, site = tmp_path / "out", tmp_path / "site"
    site.mkdir()
    result = pytester.runpytest_subprocess(
        str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-suite", "smoke", "--perf-out-dir", str(out),
        *as_overrides([*FAST_POLICY, "pipeline=full"]), "-k", "resnet50 or distilbert", "--perf-html", str(site),
    )
    result.assert_outcomes(passed=12)
    (run_dir,) = (out / "runs").iterdir()
    report = run_dir / REPORT_FILE
    result.stdout.fnmatch_lines([f"html report: {report}", f"html report: {site / REPORT_FILE}"])
    copy = (site / REPORT_FILE).read_text(encoding="utf-8")  # its links lead from site/ to the run folder's files
    links = re.findall(r'href="([^"#]+)"', copy)
    assert len(links) == 8 and all((site / link).resolve().is_file() for link in links)  # trace and op table, 4 profiled cases
    shot = run_dir / "report.png"
    check = open_report(report, chromium=chromium, screenshot=shot)
    assert check.console_errors == () and check.blocked == ()
    assert check.table_rows == 4  # two models x batch sizes 1 and 4
    assert check.charts >= 2 * 4 + 1  # per model: distribution, throughput, latency, memory; and the roofline
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_500_case_report_with_hostile_names_opens_paginated_and_escaped(tmp_path: Path, chromium: str) -> None:
    spec = SyntheticSpec(models=25, samples=120, names=HOSTILE)
    base = synthetic_run(spec)
    head = synthetic_run(replace(spec, seed=1, slowdown=1.3, slowed=(0, 1, 2)))
    run_dir = write_run(head, tmp_path / "run")
    path, _ = write_report(run_dir, comparison=ComparisonView.of(compare_runs(base, head), "baseline 'main'", "test"), baseline=base)
    check = open_report(path, chromium=chromium, screenshot=tmp_path / "big.png", full_page=False)
    assert check.console_errors == () and check.blocked == ()  # a <script> in a name would run and fail, or load
    assert check.title == f"perfsuite report: {run_dir.name}"
    assert check.table_rows == 50  # the first page of 500
    assert check.charts == 6 * 4 + 2  # six panels open (4 charts each), the forest plot and the roofline; the rest are closed
    assert check.overflow_px == 0  # a 500-character name wraps instead of widening the page
