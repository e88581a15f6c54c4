"""Model bootstrap: finding snapshots (hub cache or plain), checking them, models/<name> links."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from perfsuite.bootstrap import load_models_bootstrap, plan_models, run_plan
from perfsuite.bootstrap.snapshots import missing_files, resolve_hub_repo
from perfsuite.cli import main
from perfsuite.errors import PerfConfigError, PerfDataError


def fake_snapshot(folder: Path, *, config: bool = True, weights: bool = True, tokenizer: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if config:
        (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    if weights:
        (folder / "model.safetensors").write_bytes(b"\0" * 16)
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    return folder


def hub_entry(root: Path, repo_id: str, revs: list[str], main: str | None) -> Path:
    entry = root / ("models--" + repo_id.replace("/", "--"))
    for i, rev in enumerate(revs):
        snap = fake_snapshot(entry / "snapshots" / rev)
        os.utime(snap, (time.time() - 100 + i, time.time() - 100 + i))
    if main:
        (entry / "refs").mkdir(parents=True)
        (entry / "refs" / "main").write_text(main + "\n")
    return entry


def write_config(path: Path, models: str, env_vars: str = "[HF_SNAPSHOTS_ROOT, MODELS_ROOT]", defaults: str = "[]") -> Path:
    path.write_text(f"roots:\n  env: {env_vars}\n  defaults: {defaults}\nmodels:\n{models}")
    return path


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    hub = tmp_path / "hub"
    hub_entry(hub, "acme/tiny", ["aaa111", "bbb222"], main="aaa111")
    config = write_config(
        tmp_path / "bootstrap.yaml",
        "  - name: tiny\n    repo_id: acme/tiny\n    tokenizer_files: [[tokenizer.json, vocab.json]]\n",
    )
    return {"tmp": tmp_path, "hub": hub, "config": config, "models": tmp_path / "models"}


def apply(setup: dict[str, Path], env: dict[str, str], **kw: bool) -> tuple[int, str]:
    lines: list[str] = []
    plan = plan_models(load_models_bootstrap(setup["config"]), setup["models"], env)
    code = run_plan(plan, title="t", yes=kw.get("yes", True), dry_run=kw.get("dry_run", False), echo=lines.append)
    return code, "\n".join(lines)


def test_hub_cache_snapshot_named_by_refs_main_is_linked(setup: dict[str, Path]) -> None:
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 0, out
    link = setup["models"] / "tiny"
    assert link.is_symlink()
    assert link.resolve() == (setup["hub"] / "models--acme--tiny" / "snapshots" / "aaa111").resolve()
    assert "refs/main" in out


def test_second_run_changes_nothing(setup: dict[str, Path]) -> None:
    env = {"MODELS_ROOT": str(setup["hub"])}
    assert apply(setup, env)[0] == 0
    before = os.readlink(setup["models"] / "tiny")
    plan = plan_models(load_models_bootstrap(setup["config"]), setup["models"], env)
    assert plan.pending == () and plan.problems == ()
    code, out = apply(setup, env)
    assert code == 0 and "all in place" in out
    assert os.readlink(setup["models"] / "tiny") == before


def test_dry_run_and_no_flag_change_nothing(setup: dict[str, Path]) -> None:
    env = {"HF_SNAPSHOTS_ROOT": str(setup["hub"])}
    code, out = apply(setup, env, yes=False, dry_run=True)
    assert code == 0 and "would be made" in out
    code, out = apply(setup, env, yes=False)
    assert code == 1 and "Re-run with --yes" in out
    assert not os.path.lexists(setup["models"] / "tiny")


def test_revision_choice_without_refs(tmp_path: Path) -> None:
    entry = hub_entry(tmp_path, "acme/x", ["old", "new"], main=None)
    assert resolve_hub_repo(entry).path.name == "new"
    assert resolve_hub_repo(entry, "old").path.name == "old"
    only = hub_entry(tmp_path, "acme/y", ["one"], main=None)
    assert resolve_hub_repo(only).how == "only snapshot"
    with pytest.raises(PerfDataError, match="revision 'nope' not found.*Snapshots present: new, old"):
        resolve_hub_repo(entry, "nope")


def test_refs_main_naming_a_missing_snapshot_is_explained(tmp_path: Path) -> None:
    entry = hub_entry(tmp_path, "acme/x", ["aaa"], main="zzz")
    with pytest.raises(PerfDataError, match="refs/main names revision zzz.*incomplete download"):
        resolve_hub_repo(entry)


def test_plain_snapshot_folders_and_explicit_paths(tmp_path: Path) -> None:
    fake_snapshot(tmp_path / "root" / "acme" / "plain")
    fake_snapshot(tmp_path / "root" / "byname")
    fake_snapshot(tmp_path / "elsewhere" / "mine")
    config = write_config(
        tmp_path / "b.yaml",
        "  - {name: plain, repo_id: acme/plain}\n  - {name: byname}\n  - {name: mine, path: elsewhere/mine}\n",
    )
    plan = plan_models(load_models_bootstrap(config), tmp_path / "models", {"MODELS_ROOT": str(tmp_path / "root")})
    assert plan.problems == ()
    assert run_plan(plan, title="t", yes=True, dry_run=False, echo=lambda s: None) == 0
    assert (tmp_path / "models" / "mine").resolve() == (tmp_path / "elsewhere" / "mine").resolve()
    assert (tmp_path / "models" / "plain" / "config.json").exists()
    assert (tmp_path / "models" / "byname" / "config.json").exists()


def test_snapshot_without_config_json_is_an_error(setup: dict[str, Path]) -> None:
    (setup["hub"] / "models--acme--tiny" / "snapshots" / "aaa111" / "config.json").unlink()
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 1
    assert "is incomplete: missing config.json" in out
    assert not os.path.lexists(setup["models"] / "tiny")


def test_missing_weights_tokenizer_and_broken_blob_links_are_reported(tmp_path: Path) -> None:
    snap = fake_snapshot(tmp_path / "s", weights=False, tokenizer=False)
    assert missing_files(snap, [("tokenizer.json", "vocab.json")]) == [
        "tokenizer.json or vocab.json",
        "*.safetensors or pytorch_model*.bin",
    ]
    (snap / "model.safetensors").symlink_to(tmp_path / "blobs" / "gone")
    assert "*.safetensors or pytorch_model*.bin" in missing_files(snap, [])
    assert missing_files(snap, [], weights=False) == []


def test_corrupt_config_json_is_an_error(setup: dict[str, Path]) -> None:
    (setup["hub"] / "models--acme--tiny" / "snapshots" / "aaa111" / "config.json").write_text("{not json")
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 1 and "cannot be read as JSON" in out


def test_no_root_at_all_is_a_clear_error(setup: dict[str, Path]) -> None:
    config = write_config(setup["config"], "  - {name: tiny, repo_id: acme/tiny}\n", defaults=f"['{setup['tmp'] / 'no-cache'}']")
    plan = plan_models(load_models_bootstrap(config), setup["models"], {})
    (problem,) = plan.fatal
    assert "none of HF_SNAPSHOTS_ROOT, MODELS_ROOT is set" in problem.message
    assert str(setup["tmp"] / "no-cache") in problem.message
    assert "Set HF_SNAPSHOTS_ROOT" in problem.message


def test_root_variable_naming_a_missing_folder_is_reported(setup: dict[str, Path]) -> None:
    plan = plan_models(load_models_bootstrap(setup["config"]), setup["models"], {"HF_SNAPSHOTS_ROOT": "/nonexistent/x"})
    assert any("HF_SNAPSHOTS_ROOT=/nonexistent/x is not an existing folder" in p.message for p in plan.fatal)


def test_model_not_found_lists_where_it_looked(setup: dict[str, Path]) -> None:
    write_config(setup["config"], "  - {name: other, repo_id: acme/other}\n")
    plan = plan_models(load_models_bootstrap(setup["config"]), setup["models"], {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    message = plan.fatal[0].message
    assert "no snapshot found for model 'other'" in message
    assert str(setup["hub"] / "models--acme--other") in message


def test_optional_model_missing_is_a_warning(setup: dict[str, Path]) -> None:
    write_config(setup["config"], "  - {name: other, repo_id: acme/other, optional: true}\n")
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 0 and "warning: skipped (optional)" in out


def test_link_to_a_moved_snapshot_is_refreshed(setup: dict[str, Path]) -> None:
    assert apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})[0] == 0
    moved = setup["tmp"] / "hub2"
    shutil.move(setup["hub"], moved)
    link = setup["models"] / "tiny"
    assert link.is_symlink() and not link.exists()
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(moved)})
    assert code == 0 and "refresh" in out and "missing" in out
    assert link.resolve() == (moved / "models--acme--tiny" / "snapshots" / "aaa111").resolve()


def test_link_follows_a_new_refs_main(setup: dict[str, Path]) -> None:
    env = {"HF_SNAPSHOTS_ROOT": str(setup["hub"])}
    assert apply(setup, env)[0] == 0
    (setup["hub"] / "models--acme--tiny" / "refs" / "main").write_text("bbb222")
    code, out = apply(setup, env)
    assert code == 0 and "refresh" in out
    assert (setup["models"] / "tiny").resolve().name == "bbb222"


def test_real_folder_in_place_of_the_link_is_refused_and_kept(setup: dict[str, Path]) -> None:
    real = setup["models"] / "tiny"
    real.mkdir(parents=True)
    (real / "weights.bin").write_bytes(b"precious")
    code, out = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 1
    assert "is a real folder, not a symlink" in out and "never deletes" in out
    assert (real / "weights.bin").read_bytes() == b"precious"
    assert not real.is_symlink()


def test_one_broken_model_does_not_block_the_others(setup: dict[str, Path]) -> None:
    write_config(setup["config"], "  - {name: tiny, repo_id: acme/tiny}\n  - {name: gone, repo_id: acme/gone}\n")
    code, _ = apply(setup, {"HF_SNAPSHOTS_ROOT": str(setup["hub"])})
    assert code == 1
    assert (setup["models"] / "tiny").is_symlink()


@pytest.mark.parametrize(
    ("models", "key"),
    [
        ("  - {name: ../evil}\n", "models[0].name"),
        ("  - {name: bootstrap.yaml}\n", "models[0].name"),
        ("  - {name: a}\n  - {name: a}\n", "models[1].name"),
        ("  - {name: a, colour: red}\n", "models[0].colour"),
        ("  - {name: a, tokenizer_files: [1]}\n", "models[0].tokenizer_files"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, models: str, key: str) -> None:
    config = write_config(tmp_path / "b.yaml", models)
    with pytest.raises(PerfConfigError) as info:
        load_models_bootstrap(config)
    assert f"'{key}'" in str(info.value) and str(config) in str(info.value)


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "b.yaml").write_text("models: {not: a list}\n")
    assert main(["bootstrap", "models", "--config", str(tmp_path / "b.yaml"), "--models-dir", str(tmp_path / "m"), "--yes"]) == 1
    assert "must be a list of models" in capsys.readouterr().out


def test_cli_paths_come_from_environment_variables(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PERFSUITE_MODELS_CONFIG", str(setup["config"]))
    monkeypatch.setenv("PERFSUITE_MODELS_DIR", str(setup["models"]))
    monkeypatch.setenv("HF_SNAPSHOTS_ROOT", str(setup["hub"]))
    monkeypatch.delenv("MODELS_ROOT", raising=False)
    assert main(["bootstrap", "models", "--yes"]) == 0
    assert (setup["models"] / "tiny").is_symlink()
    assert main(["bootstrap", "models", "--dry-run"]) == 0
    assert "all in place" in capsys.readouterr().out


def test_shipped_models_config_is_valid() -> None:
    config = load_models_bootstrap(Path(__file__).resolve().parents[1] / "models" / "bootstrap.yaml")
    assert config.models and all(m.optional for m in config.models)
    assert "HF_SNAPSHOTS_ROOT" in config.root_env and "MODELS_ROOT" in config.root_env
