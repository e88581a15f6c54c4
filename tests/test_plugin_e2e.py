"""The plugin the way a user runs it: `pytest benches ...` in a subprocess (torch state leaks in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.results import load_run

E2E_SUITE = """
name: e2e
description: three families, two datasets, two batch sizes
models: [gpt2.tiny, bert.tiny, resnet50.tiny]
datasets: [pydoc, sample_images]
batch_sizes: [1, 2]
"""
FAST = as_overrides([*FAST_POLICY, "measure.generation.runs=11"])  # 11 runs establish the medians


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
    result.assert_outcomes(passed=8)  # 6 latency cases + 2 generation cases (gpt2)
    result.stdout.fnmatch_lines(["*perfsuite: suite e2e, device cpu, 6 cases*", "*test_latency*gpt2.tiny-pydoc-eager-bs2-cpu*"])
    result.stdout.fnmatch_lines(["latency: 6 cases", "case * outcome * p50 * p90 * p99 * n * samples/s * tokens/s * own RSS * first call * load *"])
    result.stdout.fnmatch_lines(["generation: 2 cases", "case * outcome * TTFT p50 * TPOT p50 *", "gpt2.tiny-pydoc-eager-bs1-cpu *passed * ms *"])
    result.stdout.fnmatch_lines(["batch sweep bert.tiny-pydoc-eager-cpu: knee at batch size*"])
    assert "\x1b[" not in result.stdout.str()  # not a terminal: no colour codes in the output
    (run_dir,) = run_dirs(run_benches.out)
    assert run_dir.name.endswith("_e2e-cpu")
    assert {"run_config.yaml", "env.json", "benchmark.json", "results.json", "summary.md"} <= {p.name for p in run_dir.iterdir()}
    run = load_run(run_dir)
    assert run.status == "finished" and run.error is None and len(run.cases) == 8
    import pandas as pd

    metrics = pd.read_parquet(run_dir / "tables" / "metrics.parquet")
    assert set(metrics.groupby(["test", "case_id"]).size()) == {24, 27}  # latency and generation metrics per case
    assert metrics.query("metric == 'latency_p50_s'")["value"].gt(0).sum() == 6
    cases_csv = (run_dir / "tables" / "cases.csv").read_text().splitlines()
    assert len(cases_csv) == 9 and cases_csv[0].startswith("run_id,suite,started,test,kind,case_id,")
    assert "### latency: 6 cases" in (run_dir / "summary.md").read_text()
    for r in run.of_kind("latency"):
        assert r.outcome == "passed" and len(r.samples_s) == r.stats.n >= 5
        assert r.memory.host.rss_peak_bytes > 0 and r.memory.weights_bytes > 0
        assert r.memory.host.own_peak_bytes >= 0.9 * r.memory.weights_bytes  # the model's weights are the case's own
        assert r.load_s > 0 and r.measurement.first_call_s > 0
    gen = run.of_kind("generation")
    assert len(gen) == 2 and all(r.generation.ttft.p50_s > 0 for r in gen)
    assert {s.group for s in run.sweeps} >= {"bert.tiny-pydoc-eager-cpu"}
    env = json.loads((run_dir / "env.json").read_text())
    assert env["threads"]["torch_threads"] == 1 and env["cpu"]["logical_cores"] >= 1 and env["packages"]["torch"]
    assert env["threads"]["affinity"] == [0] or len(env["threads"]["affinity"]) == 1  # pinned to one core
    assert env["determinism"] == {"seed": 0, "cudnn_benchmark": False, "cudnn_deterministic": False, "deterministic_algorithms": False}
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert len(bench["benchmarks"]) == 8
    for b in [b for b in bench["benchmarks"] if b["name"].startswith("test_latency")]:
        info = b["extra_info"]
        assert info["case"]["id"] == b["param"] and info["throughput"]["samples_per_s"] > 0
        assert info["schema_version"] == 1 and info["stats"]["p50_s"] > 0 and "samples_s" not in info
        assert abs(b["stats"]["median"] - info["stats"]["p50_s"]) < 1e-12  # the same samples
        assert b["params"]["perf_case"] == b["param"]  # serializable, not an object repr
        assert b["stats"]["rounds"] >= 5
    text = [b for b in bench["benchmarks"] if b["name"].startswith("test_latency") and b["extra_info"]["case"]["modality"] == "text"]
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
    result.assert_outcomes(skipped=8)
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
    result = run_benches(
        "--perf-override", "model=bert.tiny", "--perf-override", "pipeline.stages=[static_analysis]",
        f"--ignore={REPO / 'benches' / 'test_static.py'}",
    )
    result.stdout.fnmatch_lines(["*deselected*"])
    result.stdout.fnmatch_lines(["*PerfStageWarning: pipeline stage 'static_analysis' is selected but no collected benchmark runs it*"])
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_benchmark_disable_runs_each_case_once(run_benches):
    result = run_benches("--perf-override", "model=gpt2.tiny", "--perf-override", "infer.batch_sizes=[1]", "--benchmark-disable",
                         "--perf-baseline-save", "main")
    result.assert_outcomes(passed=2)  # latency + generation, each run once as a smoke test, untimed
    assert "benchmark: 2 tests" not in result.stdout.str()  # nothing was timed, so no table
    # an untimed run is no baseline: said, and the run itself is fine
    result.stdout.fnmatch_lines(["*baseline 'main' was not saved: * cannot be a baseline: none of its cases was timed*"])
    assert result.ret == 0 and not (run_benches.out / "baselines").exists()
    assert load_run(run_dirs(run_benches.out)[0]).status == "finished"


def test_a_benchmark_json_that_cannot_be_written_is_said_before_or_after_and_nothing_is_lost(run_benches, tmp_path):
    quick = ("--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1]", "-k", "latency")
    early = run_benches(*quick, "--benchmark-json", str(tmp_path / "no" / "such" / "b.json"))
    assert early.ret == pytest.ExitCode.USAGE_ERROR and run_dirs(run_benches.out) == []
    early.stderr.fnmatch_lines([f"ERROR: --benchmark-json {tmp_path / 'no' / 'such' / 'b.json'}: cannot write there: its folder * does not exist"])
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full to stand for a full disk")
    full = run_benches(*quick, "--benchmark-json", "/dev/full")  # every write there fails with ENOSPC, as on a full disk
    full.assert_outcomes(passed=1)
    assert full.ret == 1 and "Traceback" not in full.stdout.str() + full.stderr.str()
    full.stdout.fnmatch_lines(["perfsuite error: pytest-benchmark could not write /dev/full: No space left on device (the run's own files*"])
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "error" and "could not write /dev/full" in run.error and len(run.cases) == 1
    assert (run_dir / "report.html").is_file() and (run_dir / "summary.md").is_file()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs, nearly full: a real file system that runs out of space (needs root to mount)."""
    where = tmp_path / "small-tmpfs"
    where.mkdir()
    mounted = hasattr(os, "geteuid") and os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("mounting a small tmpfs needs root (mount -t tmpfs); the /dev/full test covers the same path")
    (where / "filler").write_bytes(b"x" * 56 * 1024)  # 8 KiB left: far less than a benchmark.json
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_benchmark_json_on_a_full_tmpfs_ends_the_run_as_an_error_with_everything_else_written(run_benches, small_tmpfs):
    target = small_tmpfs / "bench.json"
    result = run_benches("--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1]", "-k", "latency",
                         "--benchmark-json", str(target))
    result.assert_outcomes(passed=1)
    assert result.ret == 1 and "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([f"perfsuite error: pytest-benchmark could not write {target}: No space left on device*"])
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "error" and "No space left on device" in run.error and len(run.cases) == 1
    assert (run_dir / "report.html").is_file() and (run_dir / "summary.md").is_file() and (run_dir / "tables").is_dir()
    assert sorted(p.name for p in small_tmpfs.iterdir() if p.name != "filler" and p.stat().st_size > 0) == []  # no partial file kept


def test_collect_only_lists_cases_and_leaves_no_run_folder(run_benches):
    result = run_benches("--perf-suite", "e2e", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_latency.py::test_latency[[]resnet50.tiny-sample_images-eager-bs2-cpu[]]*"])
    assert run_dirs(run_benches.out) == []
    assert not (run_benches.out / "runs" / ".lock").exists()


def test_plugin_stays_out_of_ordinary_runs(pytester):
    # perfsuite's plugin loads in every pytest run: it must not pull in torch or transformers there
    # (Hydra is imported by hydra-core's own pytest plugin, not by perfsuite).
    pytester.makepyfile("import sys\n\ndef test_cheap():\n    assert not {'torch', 'transformers'} & set(sys.modules)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "perfsuite:" not in result.stdout.str()


def test_a_folder_that_happens_to_be_called_benches_does_not_switch_perfsuite_on(pytester):
    """Plain pytest-benchmark tests in benches/ of a project that never named it for perfsuite: no pinning, no out/."""
    bench = pytester.mkdir("benches") / "test_sum.py"
    bench.write_text("import os\n\ndef test_sum(benchmark):\n    benchmark(sum, range(100))\n"
                     "    assert len(os.sched_getaffinity(0)) == os.cpu_count() or True\n")
    result = pytester.runpytest_subprocess("benches", "-p", "no:cacheprovider", "--benchmark-disable-gc")
    result.assert_outcomes(passed=1)
    assert "perfsuite:" not in result.stdout.str() and not (pytester.path / "out").exists()
    # a test that takes `perf` there says how to switch perfsuite on
    (pytester.path / "benches" / "test_own.py").write_text("def test_own(perf):\n    perf.measure(sum, [1, 2])\n")
    off = pytester.runpytest_subprocess("benches/test_own.py", "-p", "no:cacheprovider")
    off.assert_outcomes(errors=1)  # the fixture fails at setup
    off.stdout.fnmatch_lines(["*perfsuite is not active in this run: name the benchmarks folder in your pytest config (ini perf_benches*"])
    # named in the project's pytest config, the same folder is perfsuite's
    pytester.makeini("[pytest]\nperf_benches = benches\n")
    named = pytester.runpytest_subprocess("benches", "-p", "no:cacheprovider", "--collect-only", "-q")
    named.stdout.fnmatch_lines(["*perfsuite*"])


FAULTS_PLUGIN = '''
import os
import pytest

seen = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    if os.environ.get("FAULT") == "model_raises" and "bs2" in item.name and "bert" in item.name:
        from perfsuite.runtimes import eager

        def broken(self, inputs):
            raise RuntimeError("kernel exploded on this batch")

        eager.EagerRuntime.__call__ = broken


def pytest_runtest_teardown(item):
    from perfsuite.runtimes import eager

    eager.EagerRuntime.__call__ = ORIGINAL
    seen.append(item.name)
    if os.environ.get("FAULT") == "ctrl_c" and len(seen) == 2:
        raise KeyboardInterrupt
    if os.environ.get("FAULT") == "rm_run_dir" and len(seen) == 1:  # a cleanup job empties out/runs mid-run
        import shutil

        from perfsuite.plugin import PERF_SESSION

        shutil.rmtree(item.config.stash[PERF_SESSION].run_dir)


from perfsuite.runtimes import eager as _eager

ORIGINAL = _eager.EagerRuntime.__call__
'''


def test_model_error_fails_that_case_only(run_benches, pytester, monkeypatch):
    pytester.makepyfile(faults=FAULTS_PLUGIN)
    monkeypatch.setenv("FAULT", "model_raises")
    result = run_benches("-p", "faults", "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2]")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: kernel exploded on this batch*"])
    (run_dir,) = run_dirs(run_benches.out)
    outcomes = {r.case.id: (r.outcome, r.reason) for r in load_run(run_dir).cases}
    assert outcomes["bert.tiny-pydoc-eager-bs1-cpu"] == ("passed", None)
    assert outcomes["bert.tiny-pydoc-eager-bs2-cpu"] == ("failed", "RuntimeError: kernel exploded on this batch")


def test_ctrl_c_keeps_finished_cases_on_disk(run_benches, pytester, monkeypatch):
    pytester.makepyfile(faults=FAULTS_PLUGIN)
    monkeypatch.setenv("FAULT", "ctrl_c")
    result = run_benches("-p", "faults", "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2,3]")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "interrupted"
    assert [r.case.id for r in run.cases] == ["bert.tiny-pydoc-eager-bs1-cpu", "bert.tiny-pydoc-eager-bs2-cpu"]
    assert all(r.stats.n >= 5 for r in run.cases)
    assert not (run_benches.out / "runs" / ".lock").exists()  # the run lock was released


def test_a_run_folder_deleted_mid_run_is_made_again_whole_and_the_run_says_what_was_lost(run_benches, pytester, monkeypatch):
    pytester.makepyfile(faults=FAULTS_PLUGIN)
    monkeypatch.setenv("FAULT", "rm_run_dir")
    result = run_benches("-p", "faults", "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2]",
                         "-k", "latency", "--perf-baseline-save", "main")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["perfsuite error: the run folder * was deleted while the run was going on; perfsuite made it again "
                                 "with results.json and env.json, run_config.yaml, but the traces and files written into it before are gone"])
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "error" and [c.case.id for c in run.cases] == ["bert.tiny-pydoc-eager-bs1-cpu", "bert.tiny-pydoc-eager-bs2-cpu"]
    env = json.loads((run_dir / "env.json").read_text())
    assert env["machine_id"] and (run_dir / "run_config.yaml").is_file()  # the machine it ran on, not a blank one
    assert not (run_benches.out / "baselines").exists()  # an incomplete run is no baseline


def test_profiled_pass_writes_trace_and_op_table(run_benches):
    import gzip

    result = run_benches("--perf-override", "model=gpt2.tiny", "--perf-override", "infer.batch_sizes=[1]", "--perf-override", "pipeline=full", "-k", "profile or static")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["static: 1 case", "case * outcome * params * weights * FLOPs/call*", "gpt2.tiny-pydoc-eager-bs1-cpu *passed*M*MiB*FLOP*"])
    result.stdout.fnmatch_lines(["profile: 1 case", "case * outcome * FLOPs/call * top op * trace*", "gpt2.tiny-pydoc-eager-bs1-cpu *yes*"])
    (run_dir,) = run_dirs(run_benches.out)
    trace = run_dir / "traces" / "gpt2.tiny-pydoc-eager-bs1-cpu.json.gz"
    events = json.loads(gzip.decompress(trace.read_bytes()))["traceEvents"]
    assert any(e.get("name") == "aten::mm" for e in events)
    table = (run_dir / "tables" / "gpt2.tiny-pydoc-eager-bs1-cpu.ops.csv").read_text().splitlines()
    assert table[0].startswith("name,count,self_cpu_us") and len(table) > 5
    entries = {r.kind: r for r in load_run(run_dir).cases}
    profile = entries["profile"].profile
    assert profile.flops_per_call > 0
    assert entries["static"].static.flops_per_call >= 2 * 128 * 128 * 8192  # at least the LM head
    assert profile.dropped_activities == {"cuda": "the case does not run on CUDA"}


SESSION_FAULTS = '''
import os
import signal

from perfsuite import runner
from perfsuite.measure import CpuClock

fault = os.environ.get("SESSION_FAULT", "")
seen = []


class SlowTimer:
    """Every reading is 0.5 s after the last: each call looks like it took 0.5-1 s."""

    def __init__(self):
        self.t = 0

    def __call__(self):
        self.t += 500_000_000
        return self.t


if fault == "slow_clock":
    runner.clock_for = lambda device, **kw: CpuClock(SlowTimer())
if fault == "sweep_bug":
    from perfsuite.session import PerfSession

    def broken(self):
        raise ZeroDivisionError("a bug in the sweep analysis")

    PerfSession.sweeps = broken

    from perfsuite.report import artifacts

    def broken_tables(run):
        raise RuntimeError("a bug in the tables")

    artifacts.write_run_files = broken_tables
    from perfsuite.report import html

    def broken_render(inputs):
        raise RuntimeError("a bug in the HTML report")

    html.render = broken_render


def pytest_runtest_teardown(item):
    seen.append(item.name)
    if fault == "sigterm" and len(seen) == 2:
        os.kill(os.getpid(), signal.SIGTERM)
    if fault == "disk_full" and len(seen) == 1:
        from perfsuite.results import run

        def full(path, text):
            raise OSError(28, "No space left on device", str(path))

        run.atomic_write_text = full
'''


@pytest.fixture
def session_fault(pytester, monkeypatch):
    pytester.makepyfile(session_faults=SESSION_FAULTS)
    # Prepended: a checkout run through PYTHONPATH (a worktree) keeps testing its own perfsuite.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(pytester.path), os.environ.get("PYTHONPATH")) if p))

    def use(name: str) -> tuple[str, str]:
        monkeypatch.setenv("SESSION_FAULT", name)
        return ("-p", "session_faults")

    return use


def test_a_case_that_cannot_establish_its_median_ends_the_session_cleanly(run_benches, session_fault):
    # A fake clock makes every call look 0.5-1 s long; the hard budget stops each case after a few
    # samples, too few to establish a median (needs 11).
    result = run_benches(
        *session_fault("slow_clock"), "--perf-suite", "e2e", "-k", "latency and (bert or resnet)",
        "--perf-override", "measure.stop.max_time_s=2", "--perf-override", "measure.stop.hard_max_time_s=3",
    )
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    result.stdout.fnmatch_lines(["bert.tiny-pydoc-eager-bs1-cpu *passed*n/e*n/e*n/e*n/e*hard_budget*", "*median not established (4):*"])
    result.stdout.fnmatch_lines(["batch sweep bert.tiny-pydoc-eager-cpu: knee at batch size - (needs at least two batch sizes with an established median*"])
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "finished" and all(1 <= c.stats.n < 11 and not c.median_established for c in run.cases)
    assert all("hard_budget" in c.noise_codes for c in run.cases)
    assert all("needs >= 11 samples" in c.throughput.not_established for c in run.cases)
    assert all(row.status == "not_established" for s in run.sweeps for row in s.analysis.rows)


def test_a_bug_in_perfsuites_session_end_keeps_pytests_summary_and_exit_code(run_benches, session_fault):
    result = run_benches(*session_fault("sweep_bug"), "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2]", "-k", "latency")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*perfsuite internal error: the batch-sweep analysis failed: ZeroDivisionError: a bug in the sweep analysis*"])
    result.stdout.fnmatch_lines(["*perfsuite internal error: writing the run's tables and summary.md failed: RuntimeError: a bug in the tables*"])
    result.stdout.fnmatch_lines(["*perfsuite internal error: writing report.html failed: RuntimeError: a bug in the HTML report*"])
    assert "Traceback" not in result.stdout.str()
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "error" and "ZeroDivisionError" in run.error and "a bug in the tables" in run.error and len(run.cases) == 2
    assert "ZeroDivisionError" in (run_dir / "perfsuite-error.log").read_text()


def test_sigterm_is_handled_like_ctrl_c(run_benches, session_fault):
    result = run_benches(*session_fault("sigterm"), "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2,3]", "-k", "latency")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    (run_dir,) = run_dirs(run_benches.out)
    run = load_run(run_dir)
    assert run.status == "interrupted" and [c.case.id for c in run.cases] == ["bert.tiny-pydoc-eager-bs1-cpu", "bert.tiny-pydoc-eager-bs2-cpu"]
    assert "The run was interrupted" in (run_dir / "report.html").read_text(encoding="utf-8")  # the report too, saying so
    assert not (run_benches.out / "runs" / ".lock").exists()  # the run lock was released
    assert (run_dir / "benchmark.json").is_file()


def test_an_out_dir_that_cannot_be_written_is_a_usage_error_before_any_case(pytester, tmp_path):
    not_a_dir = tmp_path / "out-file"
    not_a_dir.write_text("a file, not a folder")
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-out-dir", str(not_a_dir), "--perf-override", "model=bert.tiny")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: perfsuite cannot write its run folder under {not_a_dir}*--perf-out-dir DIR*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_disk_that_fills_up_mid_run_loses_no_measurement(run_benches, session_fault):
    result = run_benches(*session_fault("disk_full"), "--perf-override", "model=bert.tiny", "--perf-override", "infer.batch_sizes=[1,2]", "-k", "latency")
    result.assert_outcomes(passed=2)  # the second case still ran
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    result.stdout.fnmatch_lines(["bert.tiny-pydoc-eager-bs2-cpu *passed*", "*perfsuite error: cannot write *results.json: No space left on device*a copy was saved to *"])
    saved = Path(out.split("a copy was saved to ")[1].split()[0].rstrip("."))
    doc = json.loads(saved.read_text())
    assert [r["case"]["id"] for r in doc["results"]] == ["bert.tiny-pydoc-eager-bs1-cpu", "bert.tiny-pydoc-eager-bs2-cpu"]
    saved.unlink()
