"""Progress output of a real `pytest benches` run (a subprocess, so not a tty): one line per case."""

from __future__ import annotations

import pytest

from conftest import FAST_POLICY, REPO, as_overrides

SUITE = """
name: progress
description: one tiny text model, two batch sizes
models: [bert.tiny]
datasets: [pydoc]
batch_sizes: [1, 2]
"""
FAST = as_overrides(FAST_POLICY)


@pytest.fixture
def run(pytester: pytest.Pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/progress.yaml": SUITE})

    def go(*args: str) -> pytest.RunResult:
        argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-suite", "progress",
                "--perf-out-dir", str(tmp_path / "out"), "-k", "test_latency", *FAST]
        return pytester.runpytest_subprocess(*argv, *args)

    return go


def test_plain_log_gets_one_line_per_case_and_verbose_lines_stay_intact(run):
    result = run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*test_latency*bert.tiny-pydoc-eager-bs1-cpu* PASSED*",
        "perfsuite [[]1/2] bert.tiny-pydoc-eager-bs1-cpu: done in * s, * samples in * s; suite ~* left",
        "*test_latency*bert.tiny-pydoc-eager-bs2-cpu* PASSED*",
        "perfsuite [[]2/2] bert.tiny-pydoc-eager-bs2-cpu: done in * s, * samples in * s",
    ])
    assert "\b" not in result.stdout.str()  # no tty: no status line


def test_quiet_run_has_no_progress_lines(run):
    result = run("-q")
    result.assert_outcomes(passed=2)
    assert "perfsuite [" not in result.stdout.str()
