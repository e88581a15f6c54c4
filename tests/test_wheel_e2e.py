"""perfsuite installed from its wheel, used from a folder that has nothing of the repo.

Builds the wheel (`pip wheel . --no-deps --no-build-isolation`, from a copy of the sources, so
the checkout gets no build/ or egg-info), installs it into a fresh venv under tmp, and runs a
user's project there: their own conf dir (a model through the `local` adapter pointing at a tiny
BERT snapshot they saved, a dataset of .txt files, a suite mixing it with the built-in bert.tiny)
and their own benches through perfsuite's public API (`perf`). The venv reuses this environment's packages
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
from perfsuite import Perf


def test_forward(perf: Perf, runtime, batch):
    m = perf.measure(runtime, batch)
    assert m.rounds >= 5 and min(m.samples_s) > 0


def test_own_code(perf: Perf):  # no suite fixture: the test is its own case
    perf.measure(sorted, list(range(300, 0, -1)))
    perf.metric("items", 300.0, better="higher")
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
    assert "3 passed" in result.stdout, result.stdout[-3000:]
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
        ("test_own_code-cpu", "passed"),
    }
    own = next(r for r in loaded.cases if r.test == "test_own_code")
    assert own.stats.n >= 5 and [m.name for m in own.metrics] == ["items"]
    mine = next(r for r in loaded.cases if r.case.id.startswith("mybert"))
    assert mine.details["model"]["weights"] == str((project / "snapshots" / "tinybert").resolve())
    assert mine.details["model"]["tokenizer"] != "hash"  # the snapshot's own tokenizer
    assert mine.stats.n >= 5 and mine.throughput.samples_per_s > 0
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert len(bench["benchmarks"]) == 3 and all(b["stats"]["rounds"] >= 5 for b in bench["benchmarks"])


def test_installed_wheel_scaffolds_a_project_from_its_packaged_templates(wheel_venv: Path, tmp_path: Path) -> None:
    """`perfsuite init` and `perfsuite new model` render templates that must ship inside the wheel."""
    python = wheel_venv
    run(python, "-m", "perfsuite.cli", "init", "proj", "--no-check", cwd=tmp_path)
    for rel in ("conf/suite/project.yaml", "benches/test_latency.py", "pytest.ini", ".github/workflows/perf.yml", "Dockerfile.perf"):
        assert (tmp_path / "proj" / rel).is_file(), rel
    made = run(python, "-m", "perfsuite.cli", "new", "model", "tb", "--family", "bert.tiny", "--no-validate", cwd=tmp_path / "proj")
    assert (tmp_path / "proj/conf/model/tb/output/direct/default.yaml").is_file() and "model=tb" in made.stdout


EXT_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "perfsuite-ext-example"
version = "0.1"

[project.entry-points."perfsuite.models"]
tinyenc = "perfsuite_ext_example:extension"

[tool.setuptools]
packages = ["perfsuite_ext_example"]

[tool.setuptools.package-data]
perfsuite_ext_example = ["conf/**/*.yaml"]
"""

EXT_MODULE = """
from pathlib import Path

from perfsuite import Built, Extension, ModelSpec


def build(spec: ModelSpec):
    def make() -> Built:
        from transformers import BertConfig, BertModel

        return Built(BertModel(BertConfig(**spec.config_dict())))

    return make


extension = Extension(models={"tinyenc": build}, conf_dir=Path(__file__).parent / "conf")
"""

EXT_CONF = {
    "model/tinyenc/arch/tinyenc.small.yaml": "adapter: tinyenc\nmodality: text\nconfig:\n  num_hidden_layers: 1\n  num_attention_heads: 2\n"
                                            "  hidden_size: 32\n  intermediate_size: 64\n  max_position_embeddings: 64\n  vocab_size: 512\n",
    "model/tinyenc/infer/tinyenc.default.yaml": "batch_sizes: [1]\nseq_len: 16\nmax_new_tokens: 0\nprecision: fp32\nnum_batches: 1\n",
}


def test_a_package_registers_a_model_family_through_an_entry_point(wheel_venv: Path, tmp_path: Path) -> None:
    """A package installed from its own folder brings an adapter and the conf tree naming it; `model=<its id>` runs it."""
    python = wheel_venv
    pkg = tmp_path / "ext"
    (pkg / "perfsuite_ext_example").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(EXT_PYPROJECT)
    (pkg / "perfsuite_ext_example" / "__init__.py").write_text(EXT_MODULE)
    for rel, text in EXT_CONF.items():
        path = pkg / "perfsuite_ext_example" / "conf" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pip_install(python, "--no-build-isolation", pkg, cwd=tmp_path)

    project = tmp_path / "project"
    (project / "benches").mkdir(parents=True)
    (project / "benches" / "test_it.py").write_text("def test_latency(perf, runtime, batch):\n    perf.measure(runtime, batch)\n")
    overrides = [arg for ov in [*FAST, "model=tinyenc.small", "dataset=pydoc"] for arg in ("--perf-override", ov)]
    result = run(python, "-m", "pytest", "benches", "--device", "cpu", "--perf-out-dir", "out", "-p", "no:cacheprovider", *overrides, cwd=project)
    assert "2 passed" in result.stdout, result.stdout[-3000:]  # the default suite's batch sizes 1 and 4
    (run_dir,) = (project / "out" / "runs").iterdir()
    cases = load_run(run_dir).cases
    assert {(c.case.id, c.case.model_family, c.outcome) for c in cases} == {
        ("tinyenc.small-pydoc-eager-bs1-cpu", "tinyenc", "passed"), ("tinyenc.small-pydoc-eager-bs4-cpu", "tinyenc", "passed")}
    listed = run(python, "-m", "perfsuite.cli", "list", "models", cwd=project)
    assert "tinyenc.small" in listed.stdout
