"""perfsuite on the lowest pytest-benchmark that pyproject allows.

pytest-benchmark 5.0-5.2 took --benchmark-json as an open file and crashed at session end under
perfsuite; pyproject now asks for the version this test runs. It installs exactly that version
(with --no-deps, from the package index or pip's find-links) into a venv that otherwise reuses this
environment (tests/overlay_venv.py), and runs a user's benchmark folder with the pytest-benchmark
options perfsuite touches: the default run-folder JSON, a user's --benchmark-json FILE,
--benchmark-cprofile and a timing option translated into perfsuite's policy. Skipped, with the
reason, only when pip cannot get that version (no index reachable).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from overlay_venv import overlay_venv, run
from test_plugin_options import MINI_SUITE, USER_BENCH


def lowest_allowed() -> str:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "pytest-benchmark"]
    (low,) = [s.version for s in req.specifier if s.operator == ">="]
    return low


def test_lowest_pytest_benchmark_works_with_perfsuite(tmp_path: Path) -> None:
    version = lowest_allowed()
    python = overlay_venv(tmp_path / "venv")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--ignore-installed", "-q", f"pytest-benchmark=={version}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0:
        pytest.skip(f"pip could not install pytest-benchmark=={version} (no package index?): {install.stderr.strip()[-300:]}")

    project = tmp_path / "project"
    (project / "my_benches").mkdir(parents=True)
    (project / "my_benches" / "test_mine.py").write_text(USER_BENCH)
    (project / "conf" / "suite").mkdir(parents=True)
    (project / "conf" / "suite" / "mini.yaml").write_text(MINI_SUITE)
    result = run(
        python, "-m", "pytest", "my_benches", "-p", "no:cacheprovider", "-s", "--perf-conf-dir", "conf", "--perf-suite", "mini",
        "--perf-out-dir", "out", "--benchmark-json", "mine.json", "--benchmark-cprofile", "tottime", "--benchmark-min-rounds", "7",
        cwd=project,
        env={"PYTHONPATH": str(REPO)},  # perfsuite from this checkout, pytest-benchmark from the venv
    )
    out = result.stdout
    assert f"benchmark: {version} " in out and "2 passed" in out, out[-3000:]
    assert "PERF device=cpu min_rounds=7 " in out
    assert "cProfile (time in s)" in out
    (run_dir,) = (project / "out" / "runs").iterdir()
    mine = json.loads((project / "mine.json").read_text())
    (bench,) = mine["benchmarks"]
    assert bench["stats"]["rounds"] == 5 and any("sorted" in row["function_name"] for row in bench["cprofile"])
    assert json.loads((run_dir / "benchmark.json").read_text())["benchmarks"] == mine["benchmarks"]
