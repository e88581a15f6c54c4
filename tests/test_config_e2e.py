"""Config errors and secrets the way a user meets them: `pytest benches ...` in a subprocess."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO


@pytest.fixture
def run_benches(pytester: pytest.Pytester, tmp_path):
    out = tmp_path / "out"

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-out-dir", str(out), *args)

    run.out = out  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize(
    ("override", "expect"),
    [
        ("=5", "*at key '--perf-override': an override needs a key before '='*"),
        ("~measure", "*in --perf-override ~measure, at key 'measure': required section 'measure' is missing*"),
        ("infer.batch_sizes=[1,1000000000]", "*at key 'infer.batch_sizes[[]1[]]': larger than perfsuite's limit of 4096*"),
        ("hardware.threads=100000", "*at key 'hardware.threads': more threads than CPUs this process may run on*"),
    ],
)
def test_bad_input_is_a_usage_error_without_traceback(run_benches, override, expect):
    result = run_benches("--perf-override", "model=bert.tiny", "--perf-override", override)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # 4
    result.stderr.fnmatch_lines([f"ERROR: perfsuite config error {expect}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_run_config_keeps_env_secrets_out(run_benches, conf_dir, tmp_path, monkeypatch):
    secret_root = tmp_path / "hunter2-secret-root"
    secret_root.mkdir()
    (secret_root / "a.txt").write_text("some text\n")
    monkeypatch.setenv("PERF_E2E_SECRET", str(secret_root))
    conf = conf_dir({"dataset/private.yaml": "name: private\nadapter: text\nmodality: text\nroot: ${oc.env:PERF_E2E_SECRET}\n"})
    # -k selects nothing: the session starts (and writes its run header) but measures nothing.
    result = run_benches("--perf-conf-dir", str(conf), "--perf-override", "model=bert.tiny", "--perf-override", "dataset=private", "-k", "no_such_test")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    (run_dir,) = (run_benches.out / "runs").iterdir()
    text = (run_dir / "run_config.yaml").read_text()
    assert "hunter2" not in text and "${oc.env:PERF_E2E_SECRET}" in text
    composed = yaml.safe_load(text)["composed"]
    assert {c["dataset"]["root"] for c in composed.values()} == {"${oc.env:PERF_E2E_SECRET}"}
    assert not any("hunter2" in p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())
