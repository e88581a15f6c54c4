"""The gate re-measures an undecided case beside the baseline's commit, as a user runs it (pytest subprocesses, a real git repo)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from perfsuite.confirm import PROBE_ENV
from test_gate_e2e import AB_SUITE  # one tiny bert case, a short measurement

def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """A git repository with one tiny latency case and a gate config too noisy for two separate runs to decide."""
    root = pytester.path
    (root / "conf/suite").mkdir(parents=True)
    (root / "conf/suite/ab.yaml").write_text(AB_SUITE)
    (root / "conf/gate").mkdir()
    # the widest noise floor allowed leaves a 2x slowdown inconclusive between two runs; the paired rounds use none
    (root / "conf/gate/noisy.yaml").write_text((REPO / "conf/gate/default.yaml").read_text().replace("noise_floor: 0.05", "noise_floor: 0.49"))
    (root / "benches").mkdir()
    (root / "benches/test_latency.py").write_text((REPO / "benches/test_latency.py").read_text())
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / ".gitignore").write_text("out/\nmodels/\n")
    # local model snapshots, host data outside git: the base side is handed this checkout's folder
    # (as one `--perf-models-dir=` token, or pytest would root the worktree's run here)
    (root / "models").mkdir()
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    return root


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("benches", "-p", "no:cacheprovider", "-k", "latency", "--perf-suite", "ab",
                                         "--perf-conf-dir", "conf", "--perf-out-dir", "out", *args)


def test_an_undecided_slowdown_is_decided_beside_the_baselines_commit(pytester, project, monkeypatch):
    _run(pytester, "--perf-baseline-save", "main").assert_outcomes(passed=1)
    commit = _git(project, "rev-parse", "HEAD")
    # the head's every case flagged host_slow, as on a busy runner: a reference no probe can match
    monkeypatch.setenv(PROBE_ENV, "1e-9")
    slowed = _run(pytester, "--perf-compare", "main", "--perf-gate", "--perf-gate-config", "noisy", "--perf-confirm", "0",
                  "--perf-override", "inference_runtime.slowdown=1.0", "--perf-confirm-budget", "400")
    text = slowed.stdout.str()
    assert slowed.ret == 1, text
    slowed.stdout.fnmatch_lines(["perfsuite gate: 1 case still inconclusive (test_latency::bert.tiny-pydoc-eager-bs1-cpu); "
                                 "re-measuring beside the baseline's commit in paired rounds of about * s, within 400 s*",
                                 "perfsuite gate: beside round 1/* (base then head): * s",
                                 "perfsuite gate: beside round 2/* (head then base): * s",
                                 f"perfsuite gate: beside the baseline's commit {commit[:10]}: * paired rounds in * s; every case decided*",
                                 "*gate FAILED: 1 case(s) regressed: bert.tiny-pydoc-eager-bs1-cpu*"])
    run = sorted((project / "out/runs").iterdir())[-1]
    doc = json.loads((run / "verdicts.json").read_text())
    latency = next(v for v in doc["verdicts"] if v["metric"] == "latency")
    assert latency["verdict"] == "regressed" and latency["method"] == "paired-t" and latency["ratio"] > 1.5, latency
    assert latency["note"].startswith(f"re-measured beside the baseline's commit {commit[:7]} (its own config): ")
    assert doc["beside"]["commit"] == commit and doc["beside"]["rounds"] >= 3 and doc["beside"]["budget_s"] == 400
    assert doc["wall_s"]["beside"] == doc["beside"]["seconds"] and doc["wall_s"]["total"] > doc["wall_s"]["beside"]
    assert _git(project, "worktree", "list").count("\n") == 0  # the baseline's worktree is gone
    assert "Traceback" not in text


def test_a_negative_budget_is_a_usage_error(pytester, project):
    bad = _run(pytester, "--perf-confirm-budget", "-5")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*argument --perf-confirm-budget: expected seconds (a number >= 0; 0 turns the re-measurement off), got '-5'"])
