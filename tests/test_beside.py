"""Re-measuring undecided cases beside the baseline's commit: the rounds, the budget, the worktree (perfsuite.beside).

The pytest processes are faked (an injected runner writing run folders); git is real, in a tiny
repository of the test's own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from perfsuite.beside import (
    MAX_ROUNDS,
    NotBeside,
    Side,
    base_commit,
    default_budget,
    git_toplevel,
    measure_base_again,
    planned_rounds,
    remeasure_beside,
    replay_args,
    run_rounds,
)
from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.confirm import CONFIRM_ENV
from perfsuite.results import load_run
from perfsuite.results.baselines import BaselineStore, RunArgs, read_baseline
from test_gate_replicates import write_run

KEY = "test_latency::a"
NODE = "benches/test_latency.py::test_latency[a]"


def _first(tmp_path: Path):
    base = load_run(write_run(tmp_path / "first-base", {"a": 0.010}, seed=1))
    head = load_run(write_run(tmp_path / "first-head", {"a": 0.020}, seed=2))
    return compare_runs(base, head, GatePolicy(noise_floor=0.9))  # too noisy to decide: inconclusive


class FakeRunner:
    """Writes a run folder where the command's last --perf-out-dir says, as a pytest child would; the clock moves on."""

    def __init__(self, tmp_path: Path, slow: dict[str, float], *, seconds: float = 10.0, fail_on: int | None = None, exit_code: int = 0):
        self.tmp, self.slow, self.seconds, self.fail_on, self.exit_code = tmp_path, slow, seconds, fail_on, exit_code
        self.now = 0.0
        self.calls: list[dict] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, cmd, *, cwd, env, **kwargs):
        self.calls.append({"cmd": cmd, "cwd": Path(cwd), "env": env})
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise OSError("no such interpreter")
        self.now += self.seconds
        out = Path(next(a for a in reversed(cmd) if a.startswith("--perf-out-dir=")).split("=", 1)[1])
        side = "head" if Path(cwd).name == "head" else "base"
        n = len(self.calls)
        write_run(out / "runs" / f"20260101-0000{n:02d}", {"a": 0.010 * self.slow[side] * (1 + 0.003 * (n % 3))}, seed=n)
        return subprocess.CompletedProcess(cmd, self.exit_code, stdout="1 passed", stderr="")


def _sides(tmp_path: Path) -> tuple[Side, Side]:
    return (Side("base", ("benches", "--perf-suite", "s"), tmp_path / "base", {"PYTHONPATH": "wt"}),
            Side("head", ("benches", "--perf-suite", "s", "--perf-override", "x=1"), tmp_path / "head"))


def test_rounds_alternate_the_order_and_stop_once_every_case_is_decided(tmp_path):
    runner = FakeRunner(tmp_path, {"base": 1.0, "head": 2.0})
    lines: list[str] = []
    got = run_rounds([KEY], [NODE], *_sides(tmp_path), first=_first(tmp_path), out_dir=tmp_path / "beside", budget_s=1000,
                     round_estimate_s=20, runner=runner, clock=runner.clock, progress=lines.append)
    assert got.planned == MAX_ROUNDS and got.stopped.startswith("every case decided after")
    assert 3 <= len(got.rounds) < MAX_ROUNDS
    assert [r.order for r in got.rounds[:3]] == [("base", "head"), ("head", "base"), ("base", "head")]
    assert [c["cwd"].name for c in runner.calls[:4]] == ["base", "head", "head", "base"]
    assert got.rejudge(_first(tmp_path)).of("regressed")
    assert got.estimates[(KEY, "latency")].ratio == pytest.approx(2.0, rel=0.02)
    listing = json.loads((tmp_path / "beside" / "nodeids.json").read_text())
    assert listing["nodeids"] == [NODE] and all(c["env"][CONFIRM_ENV] == str(tmp_path / "beside" / "nodeids.json") for c in runner.calls)
    assert runner.calls[0]["env"]["PYTHONPATH"] == "wt" and runner.calls[1]["env"].get("PYTHONPATH") != "wt"  # the base side's own
    assert runner.calls[1]["cmd"][3:9] == ["benches", "--perf-suite", "s", "--perf-override", "x=1", f"--perf-out-dir={tmp_path / 'beside' / 'round-1' / 'head'}"]
    assert lines[0] == "beside round 1/10 (base then head): 20 s"
    doc = got.to_dict()
    assert doc["rounds"] == len(got.rounds) and doc["orders"][:2] == ["basehead", "headbase"] and doc["estimates"][0]["method"] == "paired-t"


def test_the_budget_stops_the_rounds_before_one_that_would_overrun_it(tmp_path):
    runner = FakeRunner(tmp_path, {"base": 1.0, "head": 1.0}, seconds=30.0)  # a round takes 60 s, not the 20 s estimated
    got = run_rounds([KEY], [NODE], *_sides(tmp_path), first=_first(tmp_path), out_dir=tmp_path / "beside", budget_s=200,
                     round_estimate_s=20, runner=runner, clock=runner.clock)
    assert got.planned == 10 and len(got.rounds) == 3 and got.seconds == 180  # 3 x 60 s; a 4th would end at 240 s
    assert got.stopped == "budget: another round of about 60 s would pass 200 s"


def test_a_budget_too_small_for_three_rounds_runs_nothing_and_says_so(tmp_path):
    runner = FakeRunner(tmp_path, {"base": 1.0, "head": 1.0})
    got = run_rounds([KEY], [NODE], *_sides(tmp_path), first=_first(tmp_path), out_dir=tmp_path / "beside", budget_s=50,
                     round_estimate_s=20, runner=runner, clock=runner.clock)
    assert not runner.calls and got.why_not == "the budget of 50 s (--perf-confirm-budget) pays for fewer than 3 rounds of about 20 s each"


@pytest.mark.parametrize("fail_on, exit_code, expect", [
    (2, 0, "round 1: the head side could not start: no such interpreter"),
    (None, 3, "round 1: the base side exited 3 (its results are not used): 1 passed; full output: "),
])
def test_a_side_that_breaks_ends_the_rounds_with_why(tmp_path, fail_on, exit_code, expect):
    runner = FakeRunner(tmp_path, {"base": 1.0, "head": 1.0}, fail_on=fail_on, exit_code=exit_code)
    got = run_rounds([KEY], [NODE], *_sides(tmp_path), first=_first(tmp_path), out_dir=tmp_path / "beside", budget_s=1000,
                     round_estimate_s=20, runner=runner, clock=runner.clock)
    assert got.stopped.startswith(expect) and not got.estimates and got.to_dict()["rounds"] == 0


def test_budget_rules():
    assert default_budget(4.0, 3.0) == 6 * 2 * 7.0
    assert planned_rounds(100, 40) == 0 and planned_rounds(130, 40) == 3 and planned_rounds(10_000, 40) == MAX_ROUNDS


def test_replay_moves_absolute_paths_of_the_recorded_rootdir_into_the_worktree(tmp_path):
    wt = tmp_path / "wt"
    got = replay_args(["/old/root/benches", "--perf-conf-dir=/old/root/conf", "--perf-conf-dir", "/old/rootx/conf", "-k", "x=/old/root"],
                      "/old/root/", wt)
    assert got == [str(wt / "benches"), f"--perf-conf-dir={wt / 'conf'}", "--perf-conf-dir", "/old/rootx/conf", "-k", "x=/old/root"]


# -- the baseline's commit: a real git repository -------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "benches").mkdir(parents=True)
    (repo / "benches/test_latency.py").write_text("# base\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    return repo


def _baseline(commit: str | None, *, dirty: bool = False, args: RunArgs | None = RunArgs(("benches",), ".", "/old/root")):
    git = {} if commit is None else {"commit": commit, "dirty": dirty}
    return SimpleNamespace(env={"git": git} if commit is not None else {}, run_args=args)


@pytest.mark.parametrize("make, expect", [
    (lambda c: _baseline(None), "the baseline records no git commit"),
    (lambda c: _baseline(c, dirty=True), "saved from a working tree with uncommitted changes (commit "),
    (lambda c: _baseline(c, args=None), "does not record the pytest arguments it ran with (saved by an older perfsuite)"),
    (lambda c: _baseline("0" * 40), "the baseline's commit 0000000000 is not in this repository"),
])
def test_why_a_baseline_cannot_be_re_measured_beside(repo, make, expect):
    commit = _git(repo, "rev-parse", "HEAD")
    with pytest.raises(NotBeside, match=expect.replace("(", r"\(").replace(")", r"\)")):
        base_commit(make(commit), repo)
    assert base_commit(_baseline(commit), repo) == commit


def test_outside_a_git_checkout_it_says_so(tmp_path, repo):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_toplevel(plain) is None
    got = remeasure_beside([KEY], [NODE], _baseline(_git(repo, "rev-parse", "HEAD")), first=_first(tmp_path), rootdir=plain,
                           head_args=[], head_cwd=plain, out_dir=tmp_path / "beside", budget_s=1000, round_estimate_s=10,
                           runner=FakeRunner(tmp_path, {}))
    assert got.why_not == "this run is not in a git checkout, so the baseline's commit cannot be checked out beside it"
    assert not got.rounds


def _worktrees(repo: Path) -> list[str]:
    return [line for line in _git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def test_the_base_side_runs_in_a_worktree_of_the_commit_with_its_own_arguments_which_is_removed_after(repo, tmp_path):
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "benches/test_latency.py").write_text("# head\n")
    _git(repo, "commit", "-qam", "head")
    models = tmp_path / "models"
    models.mkdir()
    seen: list[str] = []

    class Recording(FakeRunner):
        def __call__(self, cmd, *, cwd, env, **kwargs):
            if Path(cwd).name != "head":
                seen.append((Path(cwd) / "benches/test_latency.py").read_text())
            return super().__call__(cmd, cwd=cwd, env=env, **kwargs)

    runner = Recording(tmp_path, {"base": 1.0, "head": 2.0})
    head = repo / "head"  # the head side's folder: the fake tells the sides apart by it
    base = _baseline(commit, args=RunArgs(("/old/root/benches", "--perf-override", "x=0"), ".", "/old/root"))
    got = remeasure_beside([KEY], [NODE], base, first=_first(tmp_path), rootdir=repo, head_args=["benches"], head_cwd=head,
                           out_dir=tmp_path / "beside", budget_s=1000, round_estimate_s=10, models_dir=models,
                           runner=runner, clock=runner.clock)
    assert got.commit == commit and got.stopped.startswith("every case decided") and seen and set(seen) == {"# base\n"}
    base_cmd = runner.calls[0]["cmd"]
    worktree = runner.calls[0]["cwd"]
    # option values as one token: a separate models path would be the first path-like argument pytest
    # sees and would root the base side (and its node ids) in this checkout instead of the worktree
    assert base_cmd[3:8] == [f"--perf-models-dir={models}", str(worktree / "benches"), "--perf-override", "x=0", base_cmd[7]]
    assert base_cmd[7].startswith("--perf-out-dir=")
    assert runner.calls[0]["env"]["PYTHONPATH"].split(":")[0] == str(worktree)
    assert not worktree.exists() and _worktrees(repo) == [f"worktree {repo}"]


def test_the_worktree_is_removed_when_a_round_raises(repo, tmp_path):
    def explode(cmd, *, cwd, **kwargs):
        assert Path(cwd).is_dir() and len(_worktrees(repo)) == 2
        raise RuntimeError("the runner broke")

    with pytest.raises(RuntimeError, match="the runner broke"):
        remeasure_beside([KEY], [NODE], _baseline(_git(repo, "rev-parse", "HEAD")), first=_first(tmp_path), rootdir=repo,
                         head_args=[], head_cwd=repo, out_dir=tmp_path / "beside", budget_s=1000, round_estimate_s=10, runner=explode)
    assert _worktrees(repo) == [f"worktree {repo}"]


def test_the_baseline_measured_again_is_one_base_process_in_a_worktree_limited_to_the_cases(repo, tmp_path):
    commit = _git(repo, "rev-parse", "HEAD")
    runner = FakeRunner(tmp_path, {"base": 1.0, "head": 2.0})
    base = _baseline(commit, args=RunArgs(("/old/root/benches", "--perf-override", "x=0"), ".", "/old/root"))
    got = measure_base_again([KEY], [NODE], base, rootdir=repo, out_dir=tmp_path / "again", runner=runner, clock=runner.clock)
    assert got.commit == commit and got.why_not == "" and got.seconds == 10.0
    assert [c.key for c in got.run.cases] == [KEY] and len(runner.calls) == 1
    (call,) = runner.calls
    listing = json.loads(Path(call["env"][CONFIRM_ENV]).read_text())
    assert listing["nodeids"] == [NODE] and "x=0" in call["cmd"] and not Path(call["cwd"]).exists()
    assert got.to_dict()["run"] == str(got.run.run_dir) and _worktrees(repo) == [f"worktree {repo}"]
    dirty = measure_base_again([KEY], [NODE], _baseline(commit, dirty=True), rootdir=repo, out_dir=tmp_path / "again2", runner=runner)
    assert dirty.run is None and "uncommitted changes" in dirty.why_not and len(runner.calls) == 1
    broken = measure_base_again([KEY], [NODE], base, rootdir=repo, out_dir=tmp_path / "again3",
                                runner=FakeRunner(tmp_path, {"base": 1.0}, exit_code=3))
    assert broken.run is None and "exited 3" in broken.why_not


# -- what the baseline records --------------------------------------------------------------------

def test_a_saved_baseline_carries_the_runs_arguments_and_an_older_one_reads_without(tmp_path):
    run = write_run(tmp_path / "run", {"a": 0.010})
    (run / "run_config.yaml").write_text("suite: s\ninvocation: [benches, --perf-suite, s, --perf-baseline-save, main]\n"
                                         "invocation_dir: .\nrootdir: /old/root\n")
    store = BaselineStore(tmp_path / "baselines")
    path = store.save(run, "main")
    assert read_baseline(path).run_args == RunArgs(("benches", "--perf-suite", "s", "--perf-baseline-save", "main"), ".", "/old/root")
    doc = json.loads(path.read_text())
    del doc["run_args"]
    path.write_text(json.dumps(doc))
    assert read_baseline(path).run_args is None
    doc["run_args"] = {"args": "benches", "invocation_dir": ".", "rootdir": "/r"}
    path.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="run_args.args"):
        read_baseline(path)


def test_by_default_only_cases_a_busy_machine_disturbed_are_re_measured_beside(tmp_path):
    """Quiet but undecided (a one-run baseline's wide interval): named, not re-measured; disturbed: re-measured."""
    from perfsuite.gate_plugin import GatePlugin

    quiet = load_run(write_run(tmp_path / "quiet", {"a": 0.010, "b": 0.020}, seed=1))
    busy = load_run(write_run(tmp_path / "busy", {"a": 0.010}, seed=2, noise=("contended",)))
    plugin = GatePlugin(session=None, store=None, save_as=None, compare_to="main", gate=True, force=False)
    keys = ("test_latency::a", "test_latency::b")
    assert plugin._disturbed(keys, quiet) == ()
    assert plugin._disturbed(keys, busy) == ("test_latency::a",)
    # a confirmation run disturbed counts too: the machine was busy while the gate re-measured
    plugin.confirmation = SimpleNamespace(runs=[busy])
    assert plugin._disturbed(keys, quiet) == ("test_latency::a",)


def test_a_worktree_left_by_a_killed_ab_run_is_replaced_not_a_git_error(repo, tmp_path):
    from perfsuite.ab import git_side

    holder = tmp_path / "ab-worktrees"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(holder / "a"), "HEAD")  # as a SIGKILLed run leaves it
    (holder / "a" / "leftover.txt").write_text("from the killed run")
    side = git_side("a", repo, "HEAD", holder)
    assert side.cwd == holder / "a" and not (holder / "a" / "leftover.txt").exists()
    assert len(_worktrees(repo)) == 2  # this checkout and the one fresh worktree


def test_ab_stopped_by_sigterm_removes_its_worktrees_and_says_so(repo, tmp_path):
    import signal
    import sys
    import time

    (repo / "benches" / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(60)\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "slow")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "perfsuite.cli", "ab", "--base", "HEAD", "--repo", str(repo), "--rounds", "3",
                             "--out", str(out), "--benches", "benches"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_worktrees(repo)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # into the first round
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "perfsuite ab: stopped by SIGTERM; removing its git worktrees" in err and "Traceback" not in err
    assert _worktrees(repo) == [f"worktree {repo}"] and not (out / "ab-worktrees" / "a").exists()
