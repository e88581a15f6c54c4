"""perfsuite installed from its wheel, used from a folder that has nothing of the repo.

Builds the wheel (`pip wheel . --no-deps --no-build-isolation`, from a copy of the sources, so
the checkout gets no build/ or egg-info), installs it into a fresh venv under tmp, and runs a
user's project there: their own conf dir (a model through the `local` adapter pointing at a tiny
BERT snapshot they saved, a dataset of .txt files, a suite mixing it with the built-in bert.tiny)
and their own bench using perfsuite's fixtures. The venv reuses this environment's packages
(tests/overlay_venv.py), so nothing is downloaded and only perfsuite comes from the wheel.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from perfsuite.results import load_run

from conftest import FAST_POLICY, REPO
from overlay_venv import overlay_venv, pip_install, run

SHIPPED = ("pyproject.toml", "README.md", "perfsuite", "conf", "fixtures")

SNAPSHOT = """
import string, sys
from pathlib import Path
from transformers import BertConfig, BertModel, BertTokenizer

snap = Path(sys.argv[1])
snap.mkdir(parents=True)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase, *"the quick brown fox jumps over a lazy dog".split()]
(snap / "vocab.txt").write_text("\\n".join(vocab) + "\\n")
BertTokenizer(str(snap / "vocab.txt")).save_pretrained(snap)
config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=64)
BertModel(config).save_pretrained(snap)
"""

USER_BENCH = """
from perfsuite.benchmark_fixture import record_measurement
from perfsuite.runner import measure_latency


def test_forward(benchmark, perf_case, built_model, runtime, batch, perf_record):
    outcome = measure_latency(perf_case, runtime, batch, built_model.model.module)
    m = outcome.measurement
    perf_record.measurement, perf_record.throughput, perf_record.memory = m, outcome.throughput, outcome.memory
    perf_record.details["model"] = built_model.model.info().as_dict()
    record_measurement(benchmark, m, profile_call=lambda: runtime(batch.inputs[0]))
    assert m.rounds >= 5 and min(m.samples_s) > 0
"""

FAST = list(FAST_POLICY)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with perfsuite installed from a freshly built wheel; returns its python."""
    pytest.importorskip("setuptools", minversion="77", reason="builds the wheel without build isolation (pip install -e .[test])")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SHIPPED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("perfsuite-*.whl")

    python = overlay_venv(tmp / "venv")
    pip_install(python, "--no-index", wheel, cwd=tmp)
    return python


def test_installed_wheel_runs_a_users_own_benchmarks(wheel_venv: Path, tmp_path: Path) -> None:
    python = wheel_venv
    where = run(python, "-c", "import perfsuite, perfsuite.config.sources as s; print(perfsuite.__file__); print(s.BUILTIN_CONF)", cwd=tmp_path)
    package, conf = (Path(line) for line in where.stdout.split())
    assert python.parent.parent in package.parents and conf == package.parent / "_conf"  # not the checkout

    project = tmp_path / "project"  # the user's folder: nothing of perfsuite's repo in it
    project.mkdir()
    run(python, "-c", SNAPSHOT, project / "snapshots" / "tinybert", cwd=project)
    texts = project / "texts"
    texts.mkdir()
    for i in range(3):
        (texts / f"note{i}.txt").write_text(f"The quick brown fox {i} jumps over a lazy dog.\n\nA second paragraph, number {i}.\n")
    files = {
        "model/mybert/arch/mybert.default.yaml": f"adapter: local\nmodality: text\npath: {project / 'snapshots' / 'tinybert'}\n",
        "model/mybert/infer/mybert.default.yaml": "batch_sizes: [1]\nseq_len: 16\nmax_new_tokens: 0\nprecision: fp32\nnum_batches: 1\n",
        "dataset/mytexts.yaml": f"name: mytexts\nadapter: text\nmodality: text\nroot: {texts}\nfiles: ['*.txt']\n",
        "suite/mine.yaml": "name: mine\nmodels: [mybert, bert.tiny]\ndatasets: [mytexts]\nbatch_sizes: [1]\n",
    }
    for rel, text in files.items():
        (project / "their_conf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "their_conf" / rel).write_text(text)
    (project / "their_benches").mkdir()
    (project / "their_benches" / "test_mine.py").write_text(textwrap.dedent(USER_BENCH))

    overrides = [arg for ov in FAST for arg in ("--perf-override", ov)]
    result = run(
        python, "-m", "pytest", "their_benches", "--perf-conf-dir", "their_conf", "--perf-suite", "mine", "--device", "cpu",
        "--perf-out-dir", "out", "-p", "no:cacheprovider", "--benchmark-cprofile", "tottime", *overrides,
        cwd=project,
    )
    assert "2 passed" in result.stdout, result.stdout[-3000:]
    assert "perfsuite: suite mine, device cpu, 2 cases" in result.stdout
    assert "cProfile (time in s)" in result.stdout
    (run_dir,) = (project / "out" / "runs").iterdir()
    assert run_dir.name.endswith("_mine-cpu")
    # report.html is rendered from the templates shipped as package data
    assert (run_dir / "report.html").is_file() and "internal error" not in result.stdout, result.stdout[-3000:]
    loaded = load_run(run_dir)  # this checkout's reader on the installed wheel's output
    assert loaded.status == "finished"
    assert {(r.case.id, r.outcome) for r in loaded.cases} == {
        ("mybert-mytexts-eager-bs1-cpu", "passed"),
        ("bert.tiny-mytexts-eager-bs1-cpu", "passed"),
    }
    mine = next(r for r in loaded.cases if r.case.id.startswith("mybert"))
    assert mine.details["model"]["weights"] == str((project / "snapshots" / "tinybert").resolve())
    assert mine.details["model"]["tokenizer"] != "hash"  # the snapshot's own tokenizer
    assert mine.stats.n >= 5 and mine.throughput.samples_per_s > 0
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert len(bench["benchmarks"]) == 2 and all(b["stats"]["rounds"] >= 5 for b in bench["benchmarks"])


def test_installed_wheel_scaffolds_a_project_from_its_packaged_templates(wheel_venv: Path, tmp_path: Path) -> None:
    """`perfsuite init` and `perfsuite new model` render templates that must ship inside the wheel."""
    python = wheel_venv
    run(python, "-m", "perfsuite.cli", "init", "proj", "--no-check", cwd=tmp_path)
    for rel in ("conf/suite/project.yaml", "benches/test_latency.py", "pytest.ini", ".github/workflows/perf.yml", "Dockerfile.perf"):
        assert (tmp_path / "proj" / rel).is_file(), rel
    made = run(python, "-m", "perfsuite.cli", "new", "model", "tb", "--family", "bert.tiny", "--no-validate", cwd=tmp_path / "proj")
    assert (tmp_path / "proj/conf/model/tb/output/direct/default.yaml").is_file() and "model=tb" in made.stdout
