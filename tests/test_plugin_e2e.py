"""The plugin the way a user runs it: `pytest benches ...` in a subprocess (torch state leaks in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

E2E_SUITE = """
name: e2e
description: three families, two datasets, two batch sizes
models: [gpt2.tiny, bert.tiny, resnet50.tiny]
datasets: [pydoc, sample_images]
batch_sizes: [1, 2]
"""
FAST = ["--perf-override", "measure.rounds=3", "--perf-override", "measure.warmup_rounds=1"]


@pytest.fixture
def run_benches(pytester: pytest.Pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/e2e.yaml": E2E_SUITE})
    out = tmp_path / "out"

    def run(*args: str, fast: bool = True) -> pytest.RunResult:
        argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out)]
        return pytester.runpytest_subprocess(*argv, *(FAST if fast else []), *args)

    run.out = out  # type: ignore[attr-defined]
    return run


def run_dirs(out: Path) -> list[Path]:
    return sorted((out / "runs").iterdir()) if (out / "runs").is_dir() else []


def test_suite_runs_and_writes_run_folder(run_benches):
    result = run_benches("--perf-suite", "e2e")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*perfsuite: suite e2e, device cpu, 6 cases*", "*test_latency*gpt2.tiny-pydoc-eager-bs2-cpu*"])
    (run_dir,) = run_dirs(run_benches.out)
    assert run_dir.name.endswith("_e2e-cpu")
    assert {"run_config.yaml", "env.json", "benchmark.json"} <= {p.name for p in run_dir.iterdir()}
    env = json.loads((run_dir / "env.json").read_text())
    assert env["threads"]["torch_threads"] == 1 and env["cpu"]["logical_cores"] >= 1 and env["packages"]["torch"]
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert len(bench["benchmarks"]) == 6
    for b in bench["benchmarks"]:
        info = b["extra_info"]
        assert info["case"]["id"] == b["param"] and info["throughput"]["samples_per_s"] > 0
        assert b["params"]["perf_case"] == b["param"]  # serializable, not an object repr
        assert b["stats"]["rounds"] == 3
    text = [b for b in bench["benchmarks"] if b["extra_info"]["case"]["modality"] == "text"]
    assert all(b["extra_info"]["throughput"]["tokens_per_s"] > 0 for b in text)
    # pytest-benchmark's own compare command reads it
    cmp = subprocess.run(
        [str(Path(sys.executable).parent / "pytest-benchmark"), "compare", str(run_dir / "benchmark.json")],
        capture_output=True,
        text=True,
    )
    assert cmp.returncode == 0, cmp.stderr
    assert "gpt2.tiny-pydoc-eager-bs1-cpu" in cmp.stdout


def test_selection_and_overrides(run_benches):
    result = run_benches("--perf-suite", "e2e", "-k", "bert", "--perf-override", "infer.batch_sizes=[3]")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*bert.tiny-pydoc-eager-bs3-cpu*"])


def test_missing_cuda_is_a_usage_error(run_benches):
    result = run_benches("--device", "cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --device cuda was requested, but *--device cpu*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert run_dirs(run_benches.out) == []


def test_missing_cuda_can_skip_with_reason(run_benches):
    result = run_benches("--device", "cuda", "--perf-on-missing-device=skip", "--perf-suite", "e2e", "-rs")
    result.assert_outcomes(skipped=6)
    result.stdout.fnmatch_lines(["*SKIPPED*--device cuda was requested*"])


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--perf-suite", "nope"], "*unknown suite (got 'nope'). Allowed: *e2e*"),
        (["--perf-override", "infer.batch_sizes=[0]"], "*infer.batch_sizes[[]0[]]*must be >= 1*"),
        (["--perf-override", "infer.nokey=1"], "*infer.nokey*no such key*"),
    ],
)
def test_bad_config_is_one_clear_usage_error(run_benches, args, expect):
    result = run_benches(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: perfsuite config error{expect}"])
    assert "Traceback" not in result.stderr.str()


def test_yaml_syntax_error(pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/bad.yaml": "name: bad\nmodels: [gpt2.tiny\n"})
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-suite", "bad", "--perf-out-dir", str(tmp_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: perfsuite config error in user_conf/suite/bad.yaml: YAML syntax error at line *"])


def test_dataset_without_samples_fails_that_case_only(run_benches, conf_dir, tmp_path):
    empty = tmp_path / "empty_text"
    empty.mkdir()
    (empty / "blank.txt").write_text("\n\n")
    conf_dir({"dataset/empty.yaml": f"name: empty\nadapter: text\nmodality: text\nroot: {empty}\n"})
    result = run_benches("--perf-override", "model=bert.tiny", "--perf-override", "dataset=[pydoc,empty]", "--perf-override", "infer.batch_sizes=[1]")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*bert.tiny-empty-eager-bs1-cpu: dataset empty has zero usable samples*"])
    assert "Traceback" not in result.stdout.str()


def test_autosave_then_compare(run_benches, tmp_path):
    storage = f"--benchmark-storage=file://{tmp_path / 'storage'}"
    args = ["--perf-override", "model=distilbert.tiny", "--perf-override", "infer.batch_sizes=[1]", storage]
    run_benches(*args, "--benchmark-autosave").assert_outcomes(passed=1)
    run_benches(*args, "--benchmark-autosave").assert_outcomes(passed=1)
    result = run_benches(*args, "--benchmark-compare")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_latency*(NOW)*"])
    result.stdout.fnmatch_lines(["*test_latency*(0002_*"])


def test_pipeline_deselects_other_stages(run_benches):
    result = run_benches("--perf-override", "model=bert.tiny", "--perf-override", "pipeline.stages=[static_analysis]")
    result.stdout.fnmatch_lines(["*deselected*"])
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_plugin_stays_out_of_ordinary_runs(pytester):
    pytester.makepyfile("def test_ok():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "perfsuite:" not in result.stdout.str()
