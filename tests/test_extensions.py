"""Extension points: `perfsuite.register` / entry points (models, datasets, runtimes, conf trees) and perfsuite's hooks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import perfsuite
from conftest import REPO
from perfsuite import extensions
from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError
from perfsuite.registry import DATASETS, MODELS, RUNTIMES


@pytest.fixture
def clean_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it."""
    MODELS.names()  # built-ins and installed entry points first
    for registry in (MODELS, DATASETS, RUNTIMES):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.setattr(extensions, "_conf_dirs", list(extensions._conf_dirs))
    monkeypatch.setattr(extensions, "_origins", dict(extensions._origins))


def _factory(spec):  # noqa: ANN001, ANN202
    return lambda: None


def test_register_adds_adapters_and_a_conf_dir_searched_before_perfsuites(clean_registries: None, tmp_path: Path) -> None:
    conf = tmp_path / "ext_conf"
    (conf / "model" / "mine" / "arch").mkdir(parents=True)
    (conf / "model" / "mine" / "arch" / "mine.small.yaml").write_text("adapter: mine\nmodality: text\n")
    user = tmp_path / "user_conf"
    user.mkdir()
    perfsuite.register(perfsuite.Extension(models={"mine": _factory}, runtimes={"mybackend": _factory}, conf_dir=conf), origin="a test")
    assert MODELS.get("mine") is _factory and "mybackend" in RUNTIMES
    sources = ConfSources.create((user,))
    assert sources.dirs[:2] == (user.resolve(), conf.resolve()) and sources.dirs[-1].name in ("conf", "_conf")
    assert "mine.small" in sources.model_ids()


@pytest.mark.parametrize(
    ("extension", "error"),
    [
        (perfsuite.Extension(models={"bert": _factory}), "the model adapter 'bert' is registered already (by perfsuite)"),
        (perfsuite.Extension(datasets={"x": 3}), "the dataset adapter 'x' is not callable"),
        (perfsuite.Extension(models={"a/b": _factory}), "names must be plain names"),
        (perfsuite.Extension(conf_dir="/nonexistent/perf_conf"), "an extension's conf_dir does not exist"),
        ({"models": {}}, "perfsuite.register takes a perfsuite.Extension, got dict"),
    ],
)
def test_register_rejects(clean_registries: None, extension: object, error: str) -> None:
    with pytest.raises(PerfConfigError, match="ext.py") as info:
        perfsuite.register(extension, origin="ext.py")  # type: ignore[arg-type]
    assert error in str(info.value)
    assert "x" not in DATASETS and "a/b" not in MODELS  # nothing half-registered


def test_a_second_registration_of_a_name_says_who_had_it(clean_registries: None) -> None:
    perfsuite.register(perfsuite.Extension(models={"twice": _factory}), origin="package one")
    with pytest.raises(PerfConfigError, match=r"in package two: the model adapter 'twice' is registered already \(by package one\)"):
        perfsuite.register(perfsuite.Extension(models={"twice": _factory}), origin="package two")


def _entry_point(name: str, value: object) -> SimpleNamespace:
    def load() -> object:
        if isinstance(value, Exception):
            raise value
        return value

    return SimpleNamespace(name=name, value=f"pkg.mod:{name}", dist=SimpleNamespace(name="pkg"), load=load)


@pytest.mark.parametrize(
    ("loaded", "error"),
    [
        (ImportError("No module named 'torchvision'"), "loading a perfsuite extension failed: ImportError: No module named 'torchvision'"),
        ("not an extension", "must name a perfsuite.Extension (or a function returning one), got str"),
    ],
)
def test_a_broken_entry_point_is_a_message_naming_its_package(clean_registries: None, monkeypatch: pytest.MonkeyPatch, loaded: object, error: str) -> None:
    import importlib.metadata

    monkeypatch.setattr(extensions, "_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [_entry_point("broken", loaded)] if group == "perfsuite.models" else [])
    with pytest.raises(PerfConfigError) as info:
        extensions.load_entry_points()
    assert error in str(info.value) and "perfsuite.models:broken" in str(info.value) and "pkg" in str(info.value)


def test_an_entry_point_may_name_a_function_returning_the_extension(clean_registries: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(extensions, "_loaded", False)
    made = lambda: perfsuite.Extension(datasets={"from_fn": _factory})  # noqa: E731
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [_entry_point("fn", made)] if group == "perfsuite.datasets" else [])
    extensions.load_entry_points()
    assert "from_fn" in DATASETS


HOOKS = '''
import json, os

def pytest_perf_env(config, env):
    env["runner_label"] = "pool-a"
    env["machine_id"] = "hijacked"  # perfsuite's own keys keep their values

def pytest_perf_case_result(config, result):
    with open(os.environ["HOOK_LOG"], "a") as fh:
        fh.write("result " + result.key + "\\n")

def pytest_perf_verdicts(config, comparison, decision):
    with open(os.environ["HOOK_LOG"], "a") as fh:
        fh.write(f"verdicts {len(comparison.verdicts)} exit={decision.exit_code}\\n")
'''


def test_perfsuite_hooks_reach_a_projects_conftest(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import FAST_POLICY, as_overrides

    pytester.makeconftest(HOOKS)
    pytester.mkpydir("benches")
    (pytester.path / "benches" / "test_own.py").write_text("def test_one(perf):\n    perf.measure(sum, range(100))\n")
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    out = tmp_path / "out"
    args = ["benches", "-p", "no:cacheprovider", "--device", "cpu", "--perf-suite", "smoke", "--perf-out-dir", str(out), *as_overrides(list(FAST_POLICY))]
    pytester.runpytest_subprocess(*args, "--perf-baseline-save", "main").assert_outcomes(passed=1)
    pytester.runpytest_subprocess(*args, "--perf-compare", "main", "--perf-confirm", "0", "--perf-confirm-budget", "0").assert_outcomes(passed=1)
    lines = log.read_text().splitlines()
    assert lines[:2] == ["result test_one::test_one-cpu", "result test_one::test_one-cpu"]
    assert lines[2].startswith("verdicts ") and len(lines) == 3
    env = json.loads((sorted((out / "runs").iterdir())[0] / "env.json").read_text())
    assert env["runner_label"] == "pool-a" and env["machine_id"] != "hijacked"


def test_an_env_hook_adding_what_json_cannot_hold_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makeconftest("def pytest_perf_env(config, env):\n    env['bad'] = object()\n")
    pytester.mkpydir("benches")
    (pytester.path / "benches" / "test_own.py").write_text("def test_one(perf):\n    perf.metric('x', 1.0)\n")
    result = pytester.runpytest_subprocess("benches", "-p", "no:cacheprovider", "--device", "cpu", "--perf-out-dir", str(tmp_path / "out"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a pytest_perf_env hook added a value env.json cannot hold" in result.stderr.str()


def test_benches_without_perfsuites_plugin_is_one_clear_usage_error(pytester):
    """`pytest benches -p no:perfsuite` in this repository: no 'unknown hook', no marker errors; it says the plugin is off."""
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:perfsuite", "-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: benches/ holds perfsuite benchmarks, but perfsuite's pytest plugin is off (-p no:perfsuite*"])
    text = result.stdout.str() + result.stderr.str()
    assert "unknown hook" not in text and "not found in `markers`" not in text and "INTERNALERROR" not in text
