"""`perfsuite gate calibrate` and its trials, on a fake process runner: no pytest process is started."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from perfsuite.calibrate.busy import busy_processes
from perfsuite.calibrate.summary import calibrate, document, rounds_for, wrong_direction
from perfsuite.calibrate.trials import CaseVerdict, Trial, TrialPlan, TrialRunner, config_change, slowdown_change
from perfsuite.cli import main
from perfsuite.commands.gate import slowdowns
from perfsuite.errors import PerfDataError
from perfsuite.report.calibration import html, terminal_lines

CASES = ("bert.tiny-pydoc-eager-bs1-cpu", "gpt2.tiny-pydoc-eager-bs1-cpu")


def _value(cmd: Sequence[str], option: str) -> str | None:
    return cmd[cmd.index(option) + 1] if option in cmd else None


def _verdict(case: str, metric: str, verdict: str, ratio: float, improved: bool = False) -> dict[str, object]:
    return {"case": case, "test": "test_latency", "metric": metric, "verdict": verdict, "improved": improved, "ratio": ratio,
            "ci_low": ratio - 0.02, "ci_high": ratio + 0.02, "confidence": 0.99, "threshold": 0.05, "note": ""}


class FakeProcesses:
    """Plays pytest and `perfsuite ab`; refuses a gate run against a baseline that was never saved.

    A case is called regressed when its injected slowdown is at least ``sees[case]``; the
    ``lies`` cases are called `ok (improved)` whenever they are slowed (a wrong-direction verdict).
    """

    def __init__(self, tmp: Path, sees: dict[str, float], lies: tuple[str, ...] = ()) -> None:
        self.tmp, self.sees, self.lies = tmp, sees, lies
        self.saved: dict[str, int] = {}  # baseline store -> runs saved there
        self.calls: list[list[str]] = []
        self.seq = 0

    def _doc(self, slowdown: float, gpt2_only: bool) -> dict[str, object]:
        verdicts = []
        for case in CASES:
            s = slowdown if not gpt2_only or case.startswith("gpt2") else 0.0
            if case in self.lies and s:
                verdicts += [_verdict(case, m, "ok", 1 / (1 + s), improved=True) for m in ("latency", "throughput")]
                continue
            word = "regressed" if s and s >= self.sees[case] else "ok"
            verdicts += [_verdict(case, "latency", word, 1 + s), _verdict(case, "throughput", word, 1 / (1 + s)),
                         _verdict(case, "weights_bytes", "regressed" if gpt2_only and s else "ok", 1.0)]
        code = int(any(v["verdict"] == "regressed" for v in verdicts))
        return {"gate": {"decision": "gate FAILED" if code else "gate passed", "exit_code": code}, "verdicts": verdicts}

    def __call__(self, cmd: Sequence[str], cwd: Path) -> tuple[int, str]:
        cmd = list(cmd)
        self.calls.append(cmd)
        self.seq += 1
        overrides = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--perf-override", "--b-override")]
        slowdown = next((float(o.split("=")[1]) for o in overrides if o.startswith("inference_runtime.slowdown=")), 0.0)
        gpt2_only = "model.config.n_layer=3" in overrides
        if gpt2_only:
            slowdown = 1.0
        if cmd[1:4] == ["-m", "perfsuite.cli", "ab"]:
            folder = Path(_value(cmd, "--out") or "") / "ab" / str(self.seq)
            folder.mkdir(parents=True)
            (folder / "verdicts.json").write_text(json.dumps(self._doc(slowdown, gpt2_only)))
            return 0, f"ab: round 1/2 ...\nab folder: {folder}\n"
        assert cmd[1:3] == ["-m", "pytest"] and "--perf-out-dir" in cmd
        store = _value(cmd, "--perf-baseline-dir")
        if "--perf-baseline-save" in cmd:
            assert int(_value(cmd, "--perf-baseline-keep") or 0) >= 1
            self.saved[str(store)] = self.saved.get(str(store), 0) + 1
            return 0, f"baseline 'calibrate' saved: {store}/m/calibrate.json (1 run kept)\n"
        if str(store) not in self.saved:
            return 4, f"ERROR: no baseline named 'calibrate' in {store}\n"
        run = Path(_value(cmd, "--perf-out-dir") or "") / "runs" / f"20250101-000000_{self.seq}"
        run.mkdir(parents=True)
        doc = self._doc(slowdown, gpt2_only)
        (run / "verdicts.json").write_text(json.dumps(doc))
        return int(doc["gate"]["exit_code"]), f"verdicts: {run}/verdicts.json, summary: {run}/summary.md\n"  # type: ignore[index]


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.5
        return self.t


def _plan(**kw: object) -> TrialPlan:
    base = dict(benches="benches", pytest_args=("--perf-suite", "smoke"), changes=tuple(slowdown_change(s) for s in (0, 0.05, 1.0)), trials=3)
    return TrialPlan(**{**base, **kw})  # type: ignore[arg-type]


def _runner(plan: TrialPlan, tmp_path: Path, fake: FakeProcesses) -> TrialRunner:
    return TrialRunner(plan, tmp_path / "work", step=fake, clock=FakeClock(), log=lambda _: None, cwd=tmp_path)


def test_each_trial_is_a_fresh_baseline_then_a_gate_run_with_the_slowdown(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.5})
    seen: list[int] = []
    trials = _runner(_plan(baseline_runs=2), tmp_path, fake).run(on_trial=lambda done: seen.append(len(done)))
    assert seen == list(range(1, 10)) and len(trials) == 9
    # 2 baseline runs + 1 gate run per trial, each its own baseline store
    assert len(fake.calls) == 27 and len(fake.saved) == 9 and set(fake.saved.values()) == {2}
    gate = [c for c in fake.calls if "--perf-gate" in c]
    assert all(c[c.index("--perf-compare") + 1] == "calibrate" for c in gate)
    assert [c[c.index("--perf-override") + 1] for c in gate[:3]] == ["inference_runtime.slowdown=0", "inference_runtime.slowdown=0.05",
                                                                    "inference_runtime.slowdown=1"]
    assert all(c.index("--perf-override") > c.index("smoke") for c in gate)  # after the user's arguments: the trial's change wins
    first = trials[0]
    assert first.change == "unchanged" and first.method == "separate" and not first.failed and first.plain_wall_s == 1.5
    slowed = next(t for t in trials if t.change == "+100%")
    assert slowed.failed and slowed.exit_code == 1 and slowed.gate_wall_s == 1.5
    assert {v.case for v in slowed.verdicts if v.verdict == "regressed"} == set(CASES)


def test_a_reused_baseline_is_made_once(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.05})
    trials = _runner(_plan(reuse_baseline=True, baseline_runs=3), tmp_path, fake).run()
    assert len(trials) == 9 and list(fake.saved.values()) == [3]
    assert sum("--perf-gate" in c for c in fake.calls) == 9


def test_aa_trials_and_ab_trials(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.05})
    trials = _runner(_plan(aa_trials=5, ab_rounds=12, separate=False), tmp_path, fake).run()
    assert [t.change for t in trials].count("unchanged") == 5 and len(trials) == 11 and {t.method for t in trials} == {"ab"}
    ab = [c for c in fake.calls if "ab" in c]
    assert all(c[c.index("--rounds") + 1] == "12" and "--b-override" in c and c[c.index("--") + 1:] == ["--perf-suite", "smoke"] for c in ab)
    assert all(t.plain_wall_s is None for t in trials)


def test_a_baseline_that_fails_stops_the_calibration_with_its_output(tmp_path):
    def broken(cmd: Sequence[str], cwd: Path) -> tuple[int, str]:
        return 4, "ERROR: unknown suite 'nope'\n"

    with pytest.raises(PerfDataError, match=r"(?s)baseline run 1/1 .* failed \(exit 4\).*unknown suite 'nope'"):
        TrialRunner(_plan(), tmp_path, step=broken, log=lambda _: None, cwd=tmp_path).run()


def test_a_gate_run_without_verdicts_stops_the_calibration(tmp_path):
    def no_verdicts(cmd: Sequence[str], cwd: Path) -> tuple[int, str]:
        return (0, "baseline 'calibrate' saved: x\n") if "--perf-baseline-save" in cmd else (3, "INTERNALERROR boom\n")

    with pytest.raises(PerfDataError, match=r"(?s)gate run of trial 1 \(unchanged\) wrote no verdicts.json \(exit 3\).*boom"):
        TrialRunner(_plan(), tmp_path, step=no_verdicts, log=lambda _: None, cwd=tmp_path).run()


def test_detection_rates_smallest_caught_and_advice(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.5})
    plan = _plan()
    trials = _runner(plan, tmp_path, fake).run()
    cal = calibrate(trials, plan.changes)
    rows = {r.case: r for r in cal.cases}
    assert rows[CASES[0]].smallest == 0.05 and str(rows[CASES[0]].rates["+5%"]) == "3/3" and str(rows[CASES[0]].rates["unchanged"]) == "0/3"
    assert rows[CASES[1]].smallest == 1.0 and str(rows[CASES[1]].rates["+5%"]) == "0/3"
    arms = {a.change: a for a in cal.arms}
    assert arms["+100%"].gates_failed == 3 and arms["unchanged"].gates_failed == 0
    assert (arms["+5%"].reached.hits, arms["+5%"].reached.n) == (6, 12)  # latency + throughput of 2 cases, 3 trials; not weights
    assert arms["+5%"].all_reached == 0 and arms["+100%"].all_reached == 3 and arms["unchanged"].all_reached == 0
    assert arms["+100%"].gate_wall_s == 1.5 and arms["+100%"].plain_wall_s == 1.5
    assert any("every case was caught in >= 90% of trials from a 100% slowdown on;" in a and "threshold to 100% (configured latency threshold 5%)" in a
               for a in cal.advice), cal.advice
    text = "\n".join(terminal_lines(cal, plan.changes))
    assert "smallest caught (>= 90%)" in text and "false alarms" in text


def test_a_slowdown_caught_below_a_larger_one_missed_is_not_the_smallest():
    changes = tuple(slowdown_change(s) for s in (0.05, 0.1))

    def trial(change: str, word: str) -> Trial:
        return Trial("separate", change, 0, 0, 0, "", (CaseVerdict(CASES[0], "t", "latency", word, False, 1.1, 1.0, 1.2, 0.05, 0.99, ""),), 1.0, 1.0, "x")

    cal = calibrate([trial("+5%", "regressed"), trial("+10%", "inconclusive")], changes)
    assert cal.cases[0].smallest is None and "not caught" in cal.advice[0]


def test_wrong_direction_verdicts_are_counted(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.05}, lies=(CASES[1],))
    plan = _plan(changes=(slowdown_change(0), slowdown_change(1.0)), trials=2)
    trials = _runner(plan, tmp_path, fake).run()
    arms = {a.change: a for a in calibrate(trials, plan.changes).arms}
    assert arms["+100%"].wrong == 4 and arms["unchanged"].wrong == 0  # latency + throughput, 2 trials
    # a config change reaches only its cases: a regressed verdict elsewhere is the wrong direction
    change = config_change("model.config.n_layer=3", "gpt2*")
    t = Trial("separate", change.label, 0, 1, 1, "", (CaseVerdict(CASES[0], "t", "latency", "regressed", False, 1.2, 1.1, 1.3, 0.05, 0.99, ""),
                                                      CaseVerdict(CASES[1], "t", "latency", "regressed", False, 1.5, 1.4, 1.6, 0.05, 0.99, "")), 1, 1, "x")
    assert [v.case for v in wrong_direction(t, change)] == [CASES[0]]


def test_a_model_change_counts_only_timing_verdicts_of_the_cases_it_reaches(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.5})
    plan = _plan(changes=(slowdown_change(0), config_change("model.config.n_layer=3", "gpt2*")), trials=2)
    trials = _runner(plan, tmp_path, fake).run()
    arm = next(a for a in calibrate(trials, plan.changes).arms if a.change == "model.config.n_layer=3")
    assert (arm.reached.hits, arm.reached.n) == (4, 4) and arm.wrong == 0


def test_rounds_for_scales_the_aa_interval_width():
    def aa(half: float) -> Trial:
        return Trial("ab", "unchanged", 0, 0, 0, "", (CaseVerdict(CASES[0], "t", "latency", "ok", False, 1.0, 1 - half, 1 + half, 0.05, 0.99, ""),),
                     1.0, None, "x")

    narrow, wide = rounds_for([aa(0.02)], 24, 0.10), rounds_for([aa(0.08)], 24, 0.10)
    assert narrow is not None and wide is not None and wide == pytest.approx(16 * narrow, rel=0.1)  # width ~ 1/sqrt(rounds)
    # at the width where a 10% slowdown's lower bound just clears the 5% threshold 90% of the time, 24 rounds are enough
    z90, z99 = statistics.NormalDist().inv_cdf(0.9), statistics.NormalDist().inv_cdf(0.995)
    assert rounds_for([aa(0.05 / (1 + z90 / z99))], 24, 0.10) == pytest.approx(24, abs=1)
    assert rounds_for([aa(0.01)], 24, 0.05) is None  # not above the threshold: no number of rounds makes it `regressed`
    assert rounds_for([], 24, 0.10) is None


def test_document_and_html(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.5})
    plan = _plan(ab_rounds=8)
    trials = _runner(plan, tmp_path, fake).run()
    doc = json.loads(json.dumps(document(plan, trials)))
    assert doc["plan"]["ab_rounds"] == 8 and len(doc["trials"]) == 18
    assert Trial.from_dict(doc["trials"][0]) == trials[0]
    assert {(c["method"], c["smallest_caught"]) for c in doc["cases"] if c["case"] == CASES[0]} == {("separate", 0.05), ("ab", 0.05)}
    page = html(calibrate(trials, plan.changes, 8), plan.changes, plan.to_dict())
    assert page.count("<svg") == 2 and "90% of trials" in page and "A/B rounds" in page and "<script" not in page


@pytest.mark.parametrize("text, message", [("0,-0.1", "out of range"), ("0,11", "out of range"), ("x", "is not a number"), ("0.1,0.1", "given twice")])
def test_slowdowns_are_checked(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        slowdowns(text)
    assert slowdowns("1.0,0,0.05") == (0.0, 0.05, 1.0)


@pytest.mark.parametrize("argv, message", [
    (["--trials", "0"], "--trials: must be 1 to 1000"),
    (["--baseline-runs", "51"], "--baseline-runs: must be 1 to 50"),
    (["--busy", "-1"], "--busy: must be 0 to 64"),
    (["--ab-rounds", "x"], "--ab-rounds: 'x' is not a whole number"),
    (["--slowdowns", "0,20"], "--slowdowns: 20 is out of range"),
])
def test_calibrate_option_ranges_exit_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["gate", "calibrate", "--out", str(tmp_path), *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "calibrate").exists()


@pytest.mark.parametrize("argv, message", [
    (["--ab-rounds", "2"], "--ab-rounds 2 cannot give a paired verdict (it needs 3 pairs or more)"),
    (["--ab-only"], "--ab-only needs --ab-rounds N"),
    (["--model-change", "model.config.n_layer"], "a config change is a KEY=VALUE override"),
    (["--", "-k", "bert", "--perf-out-dir", "x"], "--perf-out-dir is set by the trials themselves"),
    (["--", "--perf-override", "inference_runtime.slowdown=0.5"], "the trials inject inference_runtime.slowdown themselves"),
])
def test_calibrate_usage_errors_exit_2_before_any_trial(argv, message, capsys, tmp_path):
    assert main(["gate", "calibrate", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "calibrate").exists()  # nothing ran


def test_gate_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gate"])
    assert exc.value.code == 2 and "calibrate" in capsys.readouterr().err


def test_busy_processes_are_ended_when_the_block_raises():
    with pytest.raises(RuntimeError), busy_processes(2) as pids:
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        raise RuntimeError("a trial failed")
    assert not any(_alive(p) for p in pids)


def test_busy_processes_already_started_are_ended_when_a_later_one_fails():
    started: list[object] = []

    class Proc:
        def __init__(self) -> None:
            self.pid, self.ended = len(started) + 100, False

        def terminate(self) -> None:
            self.ended = True

        def wait(self, timeout: float | None = None) -> int:
            return 0

    def spawn(cmd: Sequence[str]) -> Proc:
        if len(started) == 2:
            raise OSError("no more processes")
        started.append(Proc())
        return started[-1]  # type: ignore[return-value]

    with pytest.raises(OSError), busy_processes(3, spawn=spawn):
        pass
    assert len(started) == 2 and all(p.ended for p in started)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="0 to 64"), busy_processes(65, spawn=spawn):
        pass


def _alive(pid: int) -> bool:
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_busy_trials_run_inside_the_busy_block(tmp_path):
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.05})
    active: list[int] = []
    calls_inside: list[int] = []

    class Busy:
        def __init__(self, n: int) -> None:
            self.n = n

        def __enter__(self) -> None:
            active.append(self.n)
            calls_inside.append(len(fake.calls))

        def __exit__(self, *exc: object) -> None:
            active.pop()

    def step(cmd: Sequence[str], cwd: Path) -> tuple[int, str]:
        assert active == [2], "a trial's process ran without its busy processes"
        return fake(cmd, cwd)

    plan = _plan(busy=2, trials=1)
    trials = TrialRunner(plan, tmp_path / "w", step=step, busy=Busy, log=lambda _: None, cwd=tmp_path).run()
    assert len(trials) == 3 and all(t.busy == 2 for t in trials) and calls_inside == [0, 2, 4]


def test_the_trials_script_prints_the_acceptance_table(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    try:
        import gate_trials
    finally:
        sys.path.pop(0)
    fake = FakeProcesses(tmp_path, {CASES[0]: 0.05, CASES[1]: 0.05})
    plan = _plan(changes=(slowdown_change(0), slowdown_change(1.0)), trials=2)
    saved = tmp_path / "t.json"
    trials = _runner(plan, tmp_path, fake).run(on_trial=lambda done: saved.write_text(json.dumps(document(plan, done))))
    assert len(json.loads(saved.read_text())["trials"]) == len(trials) == 4
    assert gate_trials.main(["--table", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "gates failed" in out and "2/2" in out and "0/2" in out and "100% (8/8)" in out
    args = argparse.Namespace(scenario="busy", slowdowns=None, model_change="model.config.n_layer=3", changed="gpt2*", pytest_args=["--", "-k", "bert"],
                              trials=None, aa_trials=None, ab_rounds=0)
    busy = gate_trials.plan_of(args)
    assert busy.busy == 2 and busy.pytest_args[-2:] == ("-k", "bert") and [c.label for c in busy.changes] == ["unchanged", "+100%", "model.config.n_layer=3"]


def test_ab_b_override_makes_b_the_same_code_with_the_override(tmp_path):
    from perfsuite.ab import Side, overridden, run_side

    seen: list[list[str]] = []

    def runner(cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 4, "", "no tests ran")

    a = Side("a", "working tree", tmp_path)
    b = overridden(Side("b", "working tree", tmp_path), ["inference_runtime.slowdown=0.05"])
    assert overridden(a, []) is a and b.description == "working tree + inference_runtime.slowdown=0.05"
    for side in (a, b):
        assert run_side(side, "benches", tmp_path / side.label, ["-k", "bert"], runner=runner)[:2] == (4, None)
    assert "inference_runtime.slowdown=0.05" not in seen[0]
    assert seen[1][seen[1].index("inference_runtime.slowdown=0.05") - 1] == "--perf-override"
    assert seen[1][-2:] == ["-k", "bert"] and seen[0][-2:] == ["-k", "bert"]


@pytest.mark.parametrize("argv, message", [
    ([], "or only --b-override KEY=VALUE (both sides the working tree, B with the override)"),
    (["--b-override", "inference_runtime.slowdown"], "--b-override 'inference_runtime.slowdown': expected a config override KEY=VALUE"),
    (["--a", "x", "--b-override", "k=v"], "give either --a CONF --b CONF"),
])
def test_ab_override_usage_errors(argv, message, capsys, tmp_path):
    assert main(["ab", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
