"""pytest-xdist: one worker per device, real timings on the workers, one merged run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.results import load_run

pytest.importorskip("xdist")

SUITE = """
name: duo
description: two tiny models, two batch sizes
models: [gpt2.tiny, bert.tiny]
datasets: [pydoc]
batch_sizes: [1, 2]
"""
FAST = as_overrides(FAST_POLICY)


@pytest.fixture
def xrun(pytester: pytest.Pytester, conf_dir, tmp_path, monkeypatch):
    conf = conf_dir({"suite/duo.yaml": SUITE})
    out = tmp_path / "out"
    # A private core-claim folder: another perfsuite run on this machine must not make the workers share.
    monkeypatch.setenv("PERFSUITE_CORE_DIR", str(tmp_path / "cores"))

    def run(*args: str) -> pytest.RunResult:
        argv = ["-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out), "--perf-suite", "duo"]
        return pytester.runpytest_subprocess(*argv, *args)

    run.out = out  # type: ignore[attr-defined]
    return run


def only_run(out: Path) -> Path:
    (run_dir,) = sorted((out / "runs").iterdir())
    return run_dir


def test_two_cpu_workers_time_every_case_into_one_run_folder(xrun):
    result = xrun(str(REPO / "benches" / "test_latency.py"), "-n", "2", "--device", "cpu", *FAST)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["perfsuite: 2 xdist workers, one device each: gw0 cores [[]*[]]; gw1 cores [[]*[]]"])
    result.stdout.fnmatch_lines(["*html report: *report.html"])
    result.stdout.fnmatch_lines(["*perfsuite workers: gw0: cores [[]*[]]; gw1: cores [[]*[]]*"])
    run_dir = only_run(xrun.out)
    run = load_run(run_dir)
    assert run.status == "finished" and len(run.cases) == 4
    for case in run.of_kind("latency"):
        # Timed on a worker: perfsuite's samples, not pytest-benchmark's disabled single call.
        assert case.outcome == "passed" and case.stats.n >= 5 and len(case.samples_s) == case.stats.n and case.stats.p50_s > 0
    assert {s.group for s in run.sweeps} == {"gpt2.tiny-pydoc-eager-cpu", "bert.tiny-pydoc-eager-cpu"}
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert len(bench["benchmarks"]) == 4 and all(b["stats"]["rounds"] >= 5 for b in bench["benchmarks"])
    assert bench["perfsuite"]["run_dir"] == str(run_dir) and bench["perfsuite"]["merged_from"] == 2
    env = json.loads((run_dir / "env.json").read_text())
    cores = [set(w["threads"]["affinity"]) for w in env["workers"].values()]
    assert len(cores) == 2 and not cores[0] & cores[1]  # disjoint core sets
    assert all(w["threads"]["torch_threads"] == 1 for w in env["workers"].values())
    from perfsuite.results.env import machine_id_of

    # The machine id is the workers' (1 thread each), as a one-process run's: baselines and history line up.
    assert env["threads"]["torch_threads"] == 1 and env["machine_id"] == machine_id_of(env)
    assert json.loads((run_dir / "env.json").read_text())["machine_id"] == bench["machine_info"]["perfsuite_machine_id"]
    assert (run_dir / "report.html").is_file() and (run_dir / "tables" / "cases.csv").is_file()
    assert sorted(p.name for p in (run_dir / "workers").iterdir()) == ["gw0", "gw1"]
    assert "automatically disabled" not in result.stdout.str() + result.stderr.str()


def test_more_workers_than_cores_is_a_usage_error(xrun):
    result = xrun(str(REPO / "benches" / "test_latency.py"), "-n", "64", "--device", "cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*-n 64 asks for 64 workers, but this process may use only * CPU core(s)*not queued*"])
    assert not (xrun.out / "runs").is_dir() or not any((xrun.out / "runs").iterdir())


def test_n_auto_gives_a_worker_per_core_this_process_may_use(xrun, pytester):
    """xdist's own `auto` counts the machine's cores; a process limited to one (taskset, a container) gets one worker."""
    import os
    import subprocess
    import sys

    core = min(os.sched_getaffinity(0))
    argv = [sys.executable, "-m", "pytest", str(REPO / "benches" / "test_latency.py"), "-p", "no:cacheprovider", "-k", "bert and bs1",
            "--perf-conf-dir", str(xrun.out.parent / "user_conf"), "--perf-out-dir", str(xrun.out), "--perf-suite", "duo", *FAST]
    one_core = {"cwd": pytester.path, "capture_output": True, "text": True, "preexec_fn": lambda: os.sched_setaffinity(0, {core})}
    done = subprocess.run([*argv, "-n", "auto"], **one_core)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("perfsuite workers: ")]
    assert line == f"perfsuite workers: gw0: cores [{core}]"  # one worker (a tmp path may say gw1: this suite's own xdist worker)
    refused = subprocess.run([*argv, "-n", "2"], **one_core)  # type: ignore[call-overload]
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR and "-n 2 asks for 2 workers, but this process may use only 1 CPU core(s)" in refused.stderr


def test_pytest_benchmarks_per_worker_storage_is_refused(xrun):
    result = xrun(str(REPO / "benches" / "test_latency.py"), "-n", "2", "--device", "cpu", "--benchmark-autosave")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--benchmark-autosave cannot be used with pytest-xdist (-n)*merges every worker's*"])


def test_one_gpu_with_several_workers_is_a_usage_error(xrun, pytester):
    pytester.makeconftest(FAKE_TWO_GPUS)
    pytester.makepyfile(test_where=RECORD_ENV)
    result = xrun("test_where.py", "-n", "2", "--device", "cuda:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device cuda:1 names one GPU, but -n 2 starts 2 workers; pass --device cuda*"])


CRASHING = """
import os

def test_case(perf_case, perf_record):
    if perf_case.id == "bert.tiny-pydoc-eager-bs2-cpu":
        os._exit(3)  # the worker dies mid-case
"""


def test_a_worker_crash_keeps_the_finished_cases_and_reports_the_crashed_one(xrun, pytester):
    pytester.makepyfile(test_crash=CRASHING)
    result = xrun("test_crash.py", "-n", "2", "--device", "cpu")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*a worker crashed while running *test_crash.py::test_case[[]bert.tiny-pydoc-eager-bs2-cpu[]]*"])
    run = load_run(only_run(xrun.out))
    by_id = {c.case.id: c for c in run.cases}
    assert len(by_id) == 4 and run.status in ("finished", "error")
    crashed = by_id["bert.tiny-pydoc-eager-bs2-cpu"]
    assert crashed.outcome == "error" and "crashed while running this case" in crashed.reason
    assert sorted(c.outcome for c in run.cases) == ["error", "passed", "passed", "passed"]
    assert (only_run(xrun.out) / "report.html").is_file()


# Two CUDA devices as the controller sees them: torch.cuda answers as a 2-GPU machine would. Each
# process loads this conftest, so the workers see the same fake; what a worker really gets is its
# environment, which the test writes down.
FAKE_TWO_GPUS = """
import torch

torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 2
torch.cuda.get_device_name = lambda i=0: "Fake GPU"
torch.cuda.get_device_capability = lambda i=0: (9, 0)
"""

RECORD_ENV = """
import json, os
from pathlib import Path

def test_where(worker_id):
    out = Path(os.environ["ENV_LOG"]) / f"{worker_id}.json"
    out.write_text(json.dumps({"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
                               "affinity": sorted(os.sched_getaffinity(0))}))
"""


def test_each_worker_gets_its_own_cuda_device(xrun, pytester, tmp_path, monkeypatch):
    pytester.makeconftest(FAKE_TWO_GPUS)
    pytester.makepyfile(test_where=RECORD_ENV)
    log = tmp_path / "envlog"
    log.mkdir()
    monkeypatch.setenv("ENV_LOG", str(log))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # --dist each runs every test on every worker, so both workers report their environment.
    result = xrun("test_where.py", "-n", "2", "--dist", "each", "--device", "cuda")
    result.assert_outcomes(passed=2)
    seen = {p.stem: json.loads(p.read_text()) for p in log.iterdir()}
    assert {w: s["CUDA_VISIBLE_DEVICES"] for w, s in seen.items()} == {"gw0": "0", "gw1": "1"}
    assert not set(seen["gw0"]["affinity"]) & set(seen["gw1"]["affinity"])  # the host cores that drive each GPU differ too
    result.stdout.fnmatch_lines(["*perfsuite workers: gw0: cores *, CUDA_VISIBLE_DEVICES=0; gw1: cores *, CUDA_VISIBLE_DEVICES=1*"])
