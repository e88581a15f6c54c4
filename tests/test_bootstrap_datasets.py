"""Dataset bootstrap: data root, zip extracted once (resumable), source-data link, require_source_data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from perfsuite.bootstrap import load_dataset_bootstrap, plan_dataset, plan_datasets, require_source_data, run_plan
from perfsuite.bootstrap import unzip as unzip_mod
from perfsuite.bootstrap.unzip import extract_zip, marker_path
from perfsuite.cli import main
from perfsuite.errors import PerfConfigError, PerfDataError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ZIP = REPO / "datasets" / "digits_png" / "sample" / "digits_png.zip"

BOOTSTRAP_YAML = """\
root_env: TOY_ROOT
default_root: {default_root}
zips: [toy.zip]
unzip_targets: ["."]
source_subdir: toy
repo_link_name: source-data
"""


def make_zip(path: Path, n: int = 12) -> dict[str, bytes]:
    members = {f"toy/{i % 3}/img_{i:03d}.png": bytes([i]) * (100 + i) for i in range(n)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return members


@pytest.fixture
def toy(tmp_path: Path) -> dict[str, Path]:
    datasets = tmp_path / "datasets"
    ds = datasets / "toy"
    ds.mkdir(parents=True)
    (ds / "bootstrap.yaml").write_text(BOOTSTRAP_YAML.format(default_root=tmp_path / "default-root"))
    root = tmp_path / "root"
    make_zip(root / "toy.zip")
    return {"datasets": datasets, "ds": ds, "root": root, "tmp": tmp_path}


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def bootstrap(toy: dict[str, Path], *args: str, env: dict[str, str] | None = None) -> int:
    env = {"TOY_ROOT": str(toy["root"]), "HOME": str(toy["tmp"] / "home")} if env is None else env
    plan = plan_datasets(toy["datasets"], ["toy"], env)
    return run_plan(plan, title="test", yes="--yes" in args, dry_run="--dry-run" in args, echo=lambda s: None)


def test_zip_is_extracted_once_and_the_second_run_does_nothing(toy: dict[str, Path]) -> None:
    assert bootstrap(toy, "--yes") == 0
    images = files_under(toy["root"] / "toy")
    assert len(images) == 12
    link = toy["ds"] / "source-data"
    assert link.is_symlink() and link.resolve() == (toy["root"] / "toy").resolve()
    stamps = {p: p.stat().st_mtime_ns for p in (toy["root"] / "toy").rglob("*")}

    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(toy["root"])})
    assert plan.pending == () and plan.problems == ()
    assert bootstrap(toy, "--yes") == 0
    assert {p: p.stat().st_mtime_ns for p in (toy["root"] / "toy").rglob("*")} == stamps
    assert require_source_data(toy["ds"]) == link


def test_without_yes_nothing_changes_and_the_exit_code_asks_for_yes(toy: dict[str, Path]) -> None:
    assert bootstrap(toy) == 1
    assert bootstrap(toy, "--dry-run") == 0
    assert not (toy["root"] / "toy").exists()
    assert not os.path.lexists(toy["ds"] / "source-data")


def test_root_env_unset_and_default_missing_is_a_clear_error(toy: dict[str, Path]) -> None:
    plan = plan_datasets(toy["datasets"], ["toy"], {"HOME": str(toy["tmp"] / "home")})
    (problem,) = plan.fatal
    assert "TOY_ROOT is not set" in problem.message
    assert str(toy["tmp"] / "default-root") in problem.message
    assert "set TOY_ROOT=" in problem.message
    assert plan.steps == ()


def test_root_env_pointing_nowhere_is_a_clear_error(toy: dict[str, Path]) -> None:
    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(toy["tmp"] / "nope")})
    (problem,) = plan.fatal
    assert f"TOY_ROOT={toy['tmp'] / 'nope'} does not exist" in problem.message


def test_optional_dataset_only_warns_when_bootstrapping_all(toy: dict[str, Path]) -> None:
    cfg_file = toy["ds"] / "bootstrap.yaml"
    cfg_file.write_text(cfg_file.read_text() + "optional: true\n")
    env = {"HOME": str(toy["tmp"] / "home")}
    assert plan_datasets(toy["datasets"], [], env).fatal == ()
    assert plan_datasets(toy["datasets"], [], env).problems[0].fatal is False
    assert len(plan_datasets(toy["datasets"], ["toy"], env).fatal) == 1


def test_corrupt_zip_is_a_clear_error_and_nothing_is_lost(toy: dict[str, Path]) -> None:
    zip_path = toy["root"] / "toy.zip"
    zip_path.write_bytes(b"PK\x03\x04 this is not really a zip")
    before = zip_path.read_bytes()
    messages: list[str] = []
    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(toy["root"])})
    code = run_plan(plan, title="t", yes=True, dry_run=False, echo=messages.append)
    assert code == 1
    text = "\n".join(messages)
    assert "is not a readable zip" in text and "Download or copy it again" in text
    assert zip_path.read_bytes() == before
    assert not marker_path(toy["root"], "toy.zip").exists()
    assert not os.path.lexists(toy["ds"] / "source-data"), "no link to data that was never extracted"


def test_zip_with_a_bad_member_keeps_what_was_extracted(tmp_path: Path) -> None:
    zip_path = tmp_path / "toy.zip"
    members = make_zip(zip_path, n=4)
    with zipfile.ZipFile(zip_path) as zf:
        last = zf.infolist()[-1]
    raw = bytearray(zip_path.read_bytes())
    # Flip bytes in the data of the last member only: the others stay readable.
    name_len = int.from_bytes(raw[last.header_offset + 26 : last.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[last.header_offset + 28 : last.header_offset + 30], "little")
    data_at = last.header_offset + 30 + name_len + extra_len
    raw[data_at : data_at + 4] = bytes(b ^ 0xFF for b in raw[data_at : data_at + 4])
    zip_path.write_bytes(bytes(raw))
    with pytest.raises(PerfDataError, match="is corrupt: member"):
        extract_zip(zip_path, tmp_path / "out", marker_path(tmp_path, "toy.zip"))
    assert not marker_path(tmp_path, "toy.zip").exists()
    assert len(files_under(tmp_path / "out")) == len(members) - 1
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_partial_extraction_is_resumed_without_duplicates(toy: dict[str, Path]) -> None:
    root = toy["root"]
    members = make_zip(root / "toy.zip")
    calls = {"n": 0}
    real_copy = unzip_mod.shutil.copyfileobj

    def crash_after_five(src, dst, length=0):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("simulated crash")
        return real_copy(src, dst, length)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(unzip_mod.shutil, "copyfileobj", crash_after_five)
        with pytest.raises(KeyboardInterrupt):
            extract_zip(root / "toy.zip", root, marker_path(root, "toy.zip"))
    assert len(files_under(root / "toy")) == 5
    assert not marker_path(root, "toy.zip").exists()
    # A truncated member (someone's half unzip) must be rewritten, not kept.
    first = root / sorted(members)[0]
    first.write_bytes(b"x")

    result = extract_zip(root / "toy.zip", root, marker_path(root, "toy.zip"))
    assert result.skipped == 4 and result.written == 8
    assert files_under(root / "toy") == sorted(m.removeprefix("toy/") for m in members)
    for name, data in members.items():
        assert (root / name).read_bytes() == data
    assert marker_path(root, "toy.zip").exists()


def test_bootstrap_after_an_interrupted_extraction_finishes_it(toy: dict[str, Path]) -> None:
    root = toy["root"]
    with zipfile.ZipFile(root / "toy.zip") as zf:
        zf.extract(zf.infolist()[0], root)  # a half-done unzip from before
    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(root)})
    assert [s.verb for s in plan.pending] == ["extract", "create"]
    assert run_plan(plan, title="t", yes=True, dry_run=False, echo=lambda s: None) == 0
    assert len(files_under(root / "toy")) == 12


def test_unsafe_member_names_are_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../escape.txt", "nope")
    with pytest.raises(PerfDataError, match="unsafe member name"):
        extract_zip(zip_path, tmp_path / "out", marker_path(tmp_path, "evil.zip"))
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "ok.txt").exists(), "names are checked before anything is written"


def test_a_link_to_moved_data_is_refreshed(toy: dict[str, Path]) -> None:
    assert bootstrap(toy, "--yes") == 0
    moved = toy["tmp"] / "moved-root"
    shutil.move(toy["root"], moved)
    link = toy["ds"] / "source-data"
    assert not link.exists()
    with pytest.raises(PerfDataError, match="no longer exists"):
        require_source_data(toy["ds"])
    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(moved)})
    assert [s.verb for s in plan.pending] == ["refresh"]
    assert run_plan(plan, title="t", yes=True, dry_run=False, echo=lambda s: None) == 0
    assert link.resolve() == (moved / "toy").resolve()


def test_a_real_folder_where_the_link_goes_is_refused_and_kept(toy: dict[str, Path]) -> None:
    real = toy["ds"] / "source-data"
    real.mkdir()
    (real / "precious.txt").write_text("mine")
    messages: list[str] = []
    plan = plan_datasets(toy["datasets"], ["toy"], {"TOY_ROOT": str(toy["root"])})
    assert run_plan(plan, title="t", yes=True, dry_run=False, echo=messages.append) == 1
    assert "is a real folder, not a symlink" in "\n".join(messages)
    assert (real / "precious.txt").read_text() == "mine"


def test_require_source_data_names_the_bootstrap_command(toy: dict[str, Path]) -> None:
    (toy["ds"] / "bootstrap.sh").write_text("#!/bin/sh\n")
    with pytest.raises(PerfDataError) as info:
        require_source_data(toy["ds"])
    message = str(info.value)
    assert "dataset 'toy' has no source data" in message
    assert "datasets/toy/bootstrap.sh --yes" in message


def test_require_source_data_refuses_an_unfinished_extraction(toy: dict[str, Path]) -> None:
    assert bootstrap(toy, "--yes") == 0
    marker_path(toy["root"], "toy.zip").unlink()
    with pytest.raises(PerfDataError, match="was not fully extracted"):
        require_source_data(toy["ds"])


def test_use_sample_seeds_a_missing_root(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(REPO / "datasets" / "digits_png", datasets / "digits_png", ignore=shutil.ignore_patterns("source-data"))
    env = {"HOME": str(tmp_path / "home")}
    plan = plan_datasets(datasets, ["digits_png"], env, use_sample=True)
    assert [s.verb for s in plan.pending] == ["seed", "extract", "create"]
    assert run_plan(plan, title="t", yes=True, dry_run=False, echo=lambda s: None) == 0
    root = tmp_path / "home" / ".cache" / "perfsuite" / "datasets" / "digits_png"
    assert (root / "digits_png.zip").read_bytes() == SAMPLE_ZIP.read_bytes()
    data = require_source_data(datasets / "digits_png")
    assert len(list(data.rglob("*.png"))) == 40
    assert plan_datasets(datasets, ["digits_png"], env, use_sample=True).pending == ()


def test_embedded_datasets_need_nothing(tmp_path: Path) -> None:
    (tmp_path / "pydoc").mkdir()
    (tmp_path / "pydoc" / "README.md").write_text("embedded")
    plan = plan_datasets(tmp_path, [], {})
    assert plan.pending == () and plan.problems == ()
    assert "embedded" in plan.steps[0].detail


def test_unknown_dataset_name_lists_the_known_ones(toy: dict[str, Path]) -> None:
    plan = plan_datasets(toy["datasets"], ["nope"], {})
    assert "known: toy" in plan.fatal[0].message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("root_env: X\nzips: [../up.zip]\n", "zips"),
        ("root_env: X\nsource_subdir: /abs\n", "source_subdir"),
        ("zips: [a.zip]\n", "root_env"),
        ("root_env: X\nzips: [a.zip, b.zip]\nunzip_targets: [a, b, c]\n", "unzip_targets"),
        ("root_env: X\nbogus: 1\n", "bogus"),
    ],
)
def test_bad_bootstrap_yaml_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "bootstrap.yaml").write_text(text)
    with pytest.raises(PerfConfigError) as info:
        load_dataset_bootstrap(tmp_path)
    assert f"'{key}'" in str(info.value) and "bootstrap.yaml" in str(info.value)


def test_cli_datasets_command(toy: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TOY_ROOT", str(toy["root"]))
    assert main(["bootstrap", "datasets", "toy", "--datasets-dir", str(toy["datasets"]), "--yes"]) == 0
    assert "create" in capsys.readouterr().out
    assert main(["bootstrap", "datasets", "toy", "--datasets-dir", str(toy["datasets"]), "--yes"]) == 0
    assert "all in place" in capsys.readouterr().out


def test_dataset_shell_script_runs_the_bootstrap(tmp_path: Path) -> None:
    """The real datasets/digits_png/bootstrap.sh, pointed at temporary folders."""
    datasets = tmp_path / "datasets"
    shutil.copytree(REPO / "datasets" / "digits_png", datasets / "digits_png", ignore=shutil.ignore_patterns("source-data"))
    root = tmp_path / "data-root"
    root.mkdir()
    shutil.copy(SAMPLE_ZIP, root / "digits_png.zip")
    env = {**os.environ, "DIGITS_PNG_ROOT": str(root), "HOME": str(tmp_path / "home"), "PERFSUITE_PYTHON": sys.executable}
    script = REPO / "datasets" / "digits_png" / "bootstrap.sh"
    cmd = ["bash", str(script), "--yes", "--datasets-dir", str(datasets)]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "41 file(s) written" in first.stdout
    assert (datasets / "digits_png" / "source-data").resolve() == (root / "digits_png").resolve()
    assert not os.path.lexists(REPO / "datasets" / "digits_png" / "source-data") or (
        REPO / "datasets" / "digits_png" / "source-data"
    ).resolve() != (root / "digits_png").resolve()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0 and "all in place" in second.stdout


def test_plan_dataset_directly(toy: dict[str, Path]) -> None:
    cfg = load_dataset_bootstrap(toy["ds"])
    assert cfg is not None and cfg.zips == ("toy.zip",) and cfg.unzip_targets == (".",)
    plan = plan_dataset(cfg, {"TOY_ROOT": str(toy["root"])})
    assert [s.verb for s in plan.pending] == ["extract", "create"]


def test_a_missing_zip_blocks_the_link_of_that_dataset_only(toy: dict[str, Path]) -> None:
    (toy["root"] / "toy.zip").unlink()
    (toy["root"] / "toy").mkdir()  # the folder exists, but its data never arrived
    other = toy["datasets"] / "other"
    other.mkdir()
    (other / "bootstrap.yaml").write_text("root_env: OTHER_ROOT\n")
    (toy["tmp"] / "other-root").mkdir()
    env = {"TOY_ROOT": str(toy["root"]), "OTHER_ROOT": str(toy["tmp"] / "other-root")}
    messages: list[str] = []
    code = run_plan(plan_datasets(toy["datasets"], [], env), title="t", yes=True, dry_run=False, echo=messages.append)
    assert code == 1
    assert "toy.zip not found" in "\n".join(messages)
    assert not os.path.lexists(toy["ds"] / "source-data")
    assert (other / "source-data").is_symlink()
