"""The gate's confirmation runs: a case that looks regressed is judged again on fresh runs (perfsuite.compare.confirm, perfsuite.confirm)."""

from __future__ import annotations

import json
import math
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.confirm import confirm_comparison, one_run_regressions, recheck, suspects
from perfsuite.compare.replicates import ReplicateModel, ratio_of_runs_to_replicates, ratio_to_replicates
from perfsuite.compare.verdict import judge, replicate_models
from perfsuite.confirm import (
    CONFIRM_ENV,
    PROBE_ENV,
    QUIET_OPTIONS,
    child_command,
    confirm_nodeids,
    probe_reference_from_env,
    quiet_child_options,
    run_confirmations,
)
from perfsuite.errors import PerfError
from perfsuite.results import load_run
from test_gate_replicates import write_run


def _runs(tmp_path, name, mins, n, *, spread=0.003, seed=0, noise=()):
    rng = np.random.default_rng(seed)
    return [load_run(write_run(tmp_path / f"{name}-{i}", {c: m * math.exp(rng.normal(0, spread)) for c, m in mins.items()},
                               seed=seed + i, noise=noise)) for i in range(n)]


BASE = {"a": 0.010, "b": 0.020, "c": 0.005}


def _first(tmp_path, head_mins, *, base_runs=5, policy=None):
    base = _runs(tmp_path, "base", BASE, base_runs)
    head = load_run(write_run(tmp_path / "head", head_mins, seed=77))
    policy = policy or GatePolicy()
    models = replicate_models(base, policy.statistic)
    return base, models, compare_runs(base[0], head, policy, models=models), policy


def _latency(comparison, case):
    return next(v for v in comparison.verdicts if v.case == case and v.metric == "latency")


def test_one_outlier_run_is_a_suspect_but_its_confirmation_runs_clear_it(tmp_path):
    base, models, first, policy = _first(tmp_path, {**BASE, "a": 0.0129})  # one run 29% slow, the rest unchanged
    assert _latency(first, "a").verdict == "regressed"
    assert suspects(first) == ("test_latency::a",)
    again = _runs(tmp_path, "again", BASE, 3, seed=40)  # the machine's usual spread: nothing changed
    final = confirm_comparison(first, base[0], again, policy, models=models)
    v = _latency(final, "a")
    assert v.verdict != "regressed" and not final.regressed
    assert v.confirm_runs == 3 and v.first is not None and v.first.ratio == pytest.approx(1.29, rel=0.01)
    assert v.estimate.n_head == 3 and "first run +29" in v.note
    doc = v.to_dict()
    assert doc["confirm_runs"] == 3 and doc["first_ratio"] == pytest.approx(1.29, rel=0.01)
    assert _latency(final, "b") == _latency(first, "b")  # cases that were not suspects are untouched


def test_a_real_slowdown_is_confirmed_and_the_mirror_metric_too(tmp_path):
    slow = {**BASE, "b": 0.0212}  # 6% slower
    base, models, first, policy = _first(tmp_path, slow)
    again = _runs(tmp_path, "again", slow, 3, seed=41)
    final = confirm_comparison(first, base[0], again, policy, models=models)
    assert {(v.metric, v.verdict) for v in final.verdicts if v.case == "b" and v.metric in ("latency", "throughput")} == {
        ("latency", "regressed"), ("throughput", "regressed")}
    assert _latency(final, "b").note.startswith("confirmed: the mean of 3 confirmation runs against the baseline's 5")
    assert {v.case for v in final.of("regressed")} == {"b"}


def test_confirmation_runs_that_disagree_widen_their_own_interval(tmp_path):
    model = ReplicateModel.from_summaries({k: [m * math.exp(e) for e in (0.0, 0.003, -0.003, 0.002, -0.002)] for k, m in BASE.items()})
    calm = [[0.0105] * 12, [0.0105] * 12, [0.0105] * 12]
    torn = [[0.0105 * 1.29] * 12, [0.0093] * 12, [0.0093] * 12]  # about the same mean, one disturbed run
    a = ratio_of_runs_to_replicates(model, "a", calm, statistic="min", confidence=0.999, floor=0.002)
    b = ratio_of_runs_to_replicates(model, "a", torn, statistic="min", confidence=0.999, floor=0.002)
    assert (b.high - b.low) > 3 * (a.high - a.low)
    assert judge(a, 0.03, lower_is_better=True)[0] == "regressed" and judge(b, 0.03, lower_is_better=True)[0] != "regressed"
    one = ratio_to_replicates(model, "a", calm[0], statistic="min", confidence=0.999, floor=0.002)
    same = ratio_of_runs_to_replicates(model, "a", calm[:1], statistic="min", confidence=0.999, floor=0.002)
    assert (one.ratio, one.low, one.high, one.n_head) == (same.ratio, same.low, same.high, 1)  # k = 1 is the single-run rule
    assert ratio_of_runs_to_replicates(model, "a", [[], [0.0, 1.0]], statistic="min", confidence=0.999, floor=0.002) is None


@settings(max_examples=40, deadline=None)
@given(st.floats(0.001, 1.0), st.floats(0.0005, 0.02), st.integers(1, 6), st.randoms(use_true_random=False))
def test_confirmation_runs_equal_to_the_baseline_never_regress_in_any_order(fastest, spread, k, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    model = ReplicateModel.from_summaries({f"c{i}": list(fastest * np.exp(rng.normal(0, spread, 5))) for i in range(4)})
    gm = math.exp(model.cases["c0"].mean)
    runs = [[gm * math.exp(rng.normal(0, spread / 10))] * 8 for _ in range(k)]
    est = ratio_of_runs_to_replicates(model, "c0", runs, statistic="min", confidence=0.999, floor=0.002)
    assert judge(est, 0.03, lower_is_better=True)[0] != "regressed"
    again = ratio_of_runs_to_replicates(model, "c0", list(reversed(runs)), statistic="min", confidence=0.999, floor=0.002)
    assert (again.ratio, again.low, again.high) == pytest.approx((est.ratio, est.low, est.high))
    slow = ratio_of_runs_to_replicates(model, "c0", [[1.5 * x for x in r] for r in runs], statistic="min", confidence=0.999, floor=0.002)
    assert judge(slow, 0.05, lower_is_better=True)[0] == "regressed"  # 1.5x always regresses at a 5% threshold


def test_disturbed_confirmation_runs_are_left_out_and_all_disturbed_keeps_the_first_verdict(tmp_path):
    slow = {**BASE, "a": 0.0115}
    base, models, first, policy = _first(tmp_path, slow)
    assert _latency(first, "a").verdict == "regressed"
    shared = _runs(tmp_path, "shared", slow, 3, seed=42, noise=("contended",))  # as slow, but disturbed: proves nothing
    final = confirm_comparison(first, base[0], shared, policy, models=models)
    v = _latency(final, "a")
    assert v.verdict == "regressed" and v.estimate == _latency(first, "a").estimate  # a busy runner cannot pass it
    assert v.note.startswith("not confirmed (all 3 confirmation runs were disturbed (contended)): this verdict is the first run's alone")
    mixed = _runs(tmp_path, "quiet", slow, 2, seed=43) + shared[:1]
    v = _latency(confirm_comparison(first, base[0], mixed, policy, models=models), "a")
    assert v.verdict == "regressed" and v.confirm_runs == 2 and "1 disturbed confirmation run left out" in v.note


def test_a_disturbed_single_run_confirmation_that_shows_no_regression_clears_the_case(tmp_path):
    """Interference only adds time: a disturbed run that is still within the threshold proves `ok`."""
    policy = GatePolicy(noise_floor=0.01)
    slow = {**BASE, "c": 0.0065}
    base, models, first, _ = _first(tmp_path, slow, base_runs=1, policy=policy)
    assert _latency(first, "c").verdict == "regressed"
    busy_but_fine = _runs(tmp_path, "busy", BASE, 1, seed=49, noise=("contended",))
    v = _latency(confirm_comparison(first, base[0], busy_but_fine, policy, models=models), "c")
    assert v.verdict == "ok" and v.confirm_runs == 1
    busy_and_slow = _runs(tmp_path, "busy2", slow, 1, seed=50, noise=("host_slow",))
    v = _latency(confirm_comparison(first, base[0], busy_and_slow, policy, models=models), "c")
    assert v.verdict == "regressed" and "the confirmation run was disturbed (host_slow)" in v.note


def test_without_confirmation_runs_the_first_verdict_stands_and_says_why(tmp_path):
    base, models, first, policy = _first(tmp_path, {**BASE, "a": 0.013})
    final = confirm_comparison(first, base[0], [], policy, models=models, failure="confirmation run 1 exited 4 without results")
    v = _latency(final, "a")
    assert v.verdict == "regressed"  # a broken check must not pass a regression
    assert v.note == "not confirmed (confirmation run 1 exited 4 without results): this verdict is the first run's alone"
    elsewhere = _runs(tmp_path, "other", {"b": 0.02}, 2, seed=47)  # runs that did not measure the suspect
    v = _latency(confirm_comparison(first, base[0], elsewhere, policy, models=models), "a")
    assert v.verdict == "regressed" and v.note.startswith("not confirmed (no confirmation run measured this case)")


def test_a_single_run_baseline_needs_every_confirmation_run_to_regress(tmp_path):
    policy = GatePolicy(noise_floor=0.01)
    slow = {**BASE, "c": 0.0065}  # 30% slower
    base, models, first, _ = _first(tmp_path, slow, base_runs=1, policy=policy)
    assert _latency(first, "c").estimate.method == "minimum" and _latency(first, "c").verdict == "regressed"
    confirmed = confirm_comparison(first, base[0], _runs(tmp_path, "slow", slow, 3, seed=44), policy, models=models)
    v = _latency(confirmed, "c")
    assert v.verdict == "regressed" and "3 confirmation runs, each against the baseline run (regressed, regressed, regressed)" in v.note
    mixed = _runs(tmp_path, "slow2", slow, 2, seed=45) + _runs(tmp_path, "fine", BASE, 1, seed=46)
    assert _latency(confirm_comparison(first, base[0], mixed, policy, models=models), "c").verdict != "regressed"
    wide = _runs(tmp_path, "wide", slow, 3, seed=48, noise=("high_iqr",))  # a spread flag is in the interval: no veto
    v = _latency(confirm_comparison(first, base[0], wide, policy, models=models), "c")
    assert v.verdict == "regressed" and "(regressed, regressed, regressed)" in v.note


def _one_run_regression(tmp_path, *, fast_base=False):
    """Case c 30% slower in three confirmation runs against a one-run baseline (``fast_base``: a baseline run
    whose c was 30% faster than its code, and the head unchanged)."""
    policy = GatePolicy(noise_floor=0.01)
    saved = {**BASE, "c": 0.005 / 1.3} if fast_base else BASE
    head = BASE if fast_base else {**BASE, "c": 0.0065}
    base = load_run(write_run(tmp_path / "saved", saved, seed=5))
    first = compare_runs(base, load_run(write_run(tmp_path / "head", head, seed=77)), policy)
    runs = _runs(tmp_path, "confirm", head, 3, seed=44)
    return confirm_comparison(first, base, runs, policy), runs, policy


def test_a_regression_against_a_one_run_baseline_is_rechecked_against_the_baseline_measured_again(tmp_path):
    # the saved baseline run was unusually fast: every head run looks 30% slower than it
    confirmed, runs, policy = _one_run_regression(tmp_path, fast_base=True)
    assert _latency(confirmed, "c").verdict == "regressed" and one_run_regressions(confirmed) == ("test_latency::c",)
    fresh = load_run(write_run(tmp_path / "again", BASE, seed=6))  # the same commit measured now: as fast as the head
    final = recheck(confirmed, fresh, runs, policy, keys=one_run_regressions(confirmed), commit="abc1234def", looks=3)
    v = _latency(final, "c")
    assert v.verdict in ("ok", "inconclusive") and v.note.startswith("checked against the baseline's commit abc1234 measured again: ")
    assert "against the saved baseline run: regressed +30" in v.note and v.first is not None
    assert [w.verdict for w in final.verdicts if w.case != "c"] == [w.verdict for w in confirmed.verdicts if w.case != "c"]


def test_a_real_regression_stands_against_the_baseline_measured_again(tmp_path):
    confirmed, runs, policy = _one_run_regression(tmp_path)
    fresh = load_run(write_run(tmp_path / "again", BASE, seed=6))
    v = _latency(recheck(confirmed, fresh, runs, policy, keys=("test_latency::c",), commit="abc1234", looks=3), "c")
    assert v.verdict == "regressed" and "; the baseline's commit abc1234 measured again: regressed too (3 confirmation runs" in v.note
    assert v.estimate == _latency(confirmed, "c").estimate  # the figure shown is still the one against the saved run


def test_runs_still_worse_than_the_threshold_but_too_noisy_against_the_baseline_again_keep_the_regression(tmp_path):
    confirmed, runs, _ = _one_run_regression(tmp_path)
    fresh = load_run(write_run(tmp_path / "again", BASE, seed=6))
    noisy = GatePolicy(noise_floor=0.3)  # each run's interval too wide to prove +30%, every estimate still past the threshold
    v = _latency(recheck(confirmed, fresh, runs, noisy, keys=("test_latency::c",), commit="abc1234", looks=3), "c")
    assert v.verdict == "regressed" and "worse than the threshold in every run, some too noisy to prove it" in v.note


@pytest.mark.parametrize("fresh, why", [
    (None, "not checked against the baseline's commit measured again: the baseline records no git commit, so the regression stands"),
    ("disturbed", "it was disturbed (contended), so the regression stands"),
    ("without c", "it did not measure this case, so the regression stands"),
])
def test_a_regression_the_baseline_measured_again_cannot_judge_stands_and_says_why(tmp_path, fresh, why):
    confirmed, runs, policy = _one_run_regression(tmp_path, fast_base=True)
    run = {None: None,
           "disturbed": load_run(write_run(tmp_path / "busy", BASE, seed=6, noise=("contended",))),  # could only be too slow
           "without c": load_run(write_run(tmp_path / "part", {"a": 0.010}, seed=6))}[fresh]
    final = recheck(confirmed, run, runs, policy, keys=("test_latency::c",), commit=None, why_not="the baseline records no git commit")
    v = _latency(final, "c")
    assert v.verdict == "regressed" and v.note.endswith(why)


def test_suspects_are_sample_verdicts_beyond_the_threshold_only(tmp_path):
    base, models, first, _ = _first(tmp_path, dict(BASE))
    assert suspects(first) == ()  # unchanged: nothing to re-measure
    from perfsuite.compare.stats import RatioEstimate
    from perfsuite.compare.verdict import Comparison, Verdict

    def v(case, metric, verdict, ratio, low, method="replicates", lower=True):
        est = RatioEstimate(ratio=ratio, low=low, high=ratio * ratio / low, confidence=0.99, n_base=5, n_head=1, method=method)
        return Verdict(case, "t", metric, verdict, est, 0.03, lower)
    made = Comparison((v("exact", "weights_bytes", "regressed", 1.2, 1.2, method="exact"),  # deterministic: not re-measured
                       v("wide", "latency", "inconclusive", 1.05, 0.95),  # worse than the threshold, undecided
                       v("slower_rate", "throughput", "inconclusive", 0.9, 0.8, lower=False),  # a rate 10% lower
                       v("small", "latency", "inconclusive", 1.02, 0.95),  # within the threshold
                       v("fine", "latency", "ok", 1.0, 0.99)), (), (), 0.01, 5)
    assert suspects(made) == ("t::wide", "t::slower_rate")


# -- the processes ------------------------------------------------------------------------------------
def _fake_child(tmp_path, mins, *, rc=0, make_folder=True, calls=None):
    def runner(cmd, *, cwd, env, capture_output, text):
        if calls is not None:
            calls.append((cmd, cwd, env))
        out = next(a for a in reversed(cmd) if a.startswith("--perf-out-dir=")).split("=", 1)[1]
        if make_folder:
            from pathlib import Path

            runs = Path(out) / "runs"
            n = len(list(runs.iterdir())) if runs.is_dir() else 0
            write_run(runs / f"2026112{n}-000000_s-cpu", mins, seed=100 + n)
        return subprocess.CompletedProcess(cmd, rc, stdout="collected 1 item\n1 passed\n", stderr="" if rc in (0, 1) else "ERROR: boom\n")
    return runner


def test_run_confirmations_runs_fresh_processes_with_the_sessions_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")  # never handed down: the child is no worker
    calls = []
    lines = []
    outcome = run_confirmations(["test_latency::a"], ["benches/test_latency.py::test_latency[a]"], count=3,
                                args=["benches", "-k", "latency"], cwd=tmp_path, out_dir=tmp_path / "run" / "confirm",
                                probe_reference_s=0.0012, xdist=True, runner=_fake_child(tmp_path, BASE, calls=calls), progress=lines.append)
    assert len(outcome.runs) == 3 and not outcome.failures and len(calls) == 3
    cmd, cwd, env = calls[0]
    assert cmd[1:] == ["-m", "pytest", "benches", "-k", "latency", f"--perf-out-dir={tmp_path / 'run' / 'confirm'}", "-n0"]
    assert cwd == tmp_path and "PYTEST_XDIST_WORKER" not in env and float(env[PROBE_ENV]) == 0.0012
    assert json.loads((tmp_path / "run/confirm/nodeids.json").read_text())["nodeids"] == ["benches/test_latency.py::test_latency[a]"]
    assert confirm_nodeids(env) == frozenset({"benches/test_latency.py::test_latency[a]"})
    assert (tmp_path / "run/confirm/run-2.log").read_text().startswith("$ ")
    assert lines == [f"confirmation run {i}/3: exit 0, 0 s" for i in (1, 2, 3)]
    assert outcome.to_dict()["runs"] == 3 and child_command(["x"], tmp_path, xdist=False)[-1:] == [f"--perf-out-dir={tmp_path}"]


def test_a_child_that_writes_no_results_stops_the_confirmation_with_its_output(tmp_path):
    outcome = run_confirmations(["k"], ["n"], count=3, args=[], cwd=tmp_path, out_dir=tmp_path / "c",
                                runner=_fake_child(tmp_path, BASE, rc=4, make_folder=False))
    assert outcome.runs == [] and len(outcome.failures) == 1  # the next would fail alike
    assert "confirmation run 1 exited 4 without results: collected 1 item | 1 passed | ERROR: boom; full output:" in outcome.failures[0]
    broken = run_confirmations(["k"], ["n"], count=3, args=[], cwd=tmp_path, out_dir=tmp_path / "e", runner=_fake_child(tmp_path, BASE, rc=3))
    assert broken.runs == [] and broken.failures[0].startswith("confirmation run 1 exited 3 (its results are not used): ")

    def cannot_start(cmd, **kw):
        raise FileNotFoundError(2, "No such file or directory")
    outcome = run_confirmations(["k"], ["n"], count=2, args=[], cwd=tmp_path, out_dir=tmp_path / "d", runner=cannot_start)
    assert outcome.failures == ["confirmation run 1 could not start: [Errno 2] No such file or directory"]


def test_the_child_environment_is_checked(tmp_path):
    assert confirm_nodeids({}) is None
    with pytest.raises(PerfError, match=r"\$PERFSUITE_CONFIRM names .*missing.json.*not a readable list of node ids.*unset it"):
        confirm_nodeids({CONFIRM_ENV: str(tmp_path / "missing.json")})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nodeids": [1, 2]}))
    with pytest.raises(PerfError, match="'nodeids' must be a list of strings"):
        confirm_nodeids({CONFIRM_ENV: str(bad)})
    assert probe_reference_from_env({PROBE_ENV: "0.0011"}) == 0.0011
    assert probe_reference_from_env({PROBE_ENV: "fast"}) is None and probe_reference_from_env({PROBE_ENV: "-1"}) is None


def test_quiet_child_options_turns_off_every_output_it_knows():
    option = SimpleNamespace(xmlpath="x.xml", benchmark_autosave=True, benchmark_save="n", perf_gate=True, perf_compare="main", keyword="lat")
    quiet_child_options(SimpleNamespace(option=option))
    assert (option.xmlpath, option.benchmark_autosave, option.benchmark_save, option.perf_gate, option.perf_compare) == (None, False, None, False, None)
    assert option.keyword == "lat" and not hasattr(option, "benchmark_json")  # others untouched, absent ones not added
    assert set(QUIET_OPTIONS) >= {"xmlpath", "lf", "stepwise", "perf_html", "perf_shard", "perf_baseline_save"}


def test_confirmation_stops_once_every_suspect_is_decided_or_the_machine_is_busy(tmp_path):
    from perfsuite.compare.confirm import settled

    policy = GatePolicy(noise_floor=0.01)
    slow = {**BASE, "c": 0.0065}
    base, models, first, _ = _first(tmp_path, slow, base_runs=1, policy=policy)
    keys = suspects(first)
    one = _runs(tmp_path, "one", slow, 1, seed=60)
    assert "decided after 1 run" in settled(confirm_comparison(first, base[0], one, policy, models=models, keys=keys), one, keys)
    # a busy machine: the first run was disturbed (not proven), and so is its confirmation run
    head = load_run(write_run(tmp_path / "busy-head", slow, seed=62, noise=("contended",)))
    busy_first = compare_runs(base[0], head, policy, models=models)
    assert _latency(busy_first, "c").verdict == "inconclusive"
    busy = _runs(tmp_path, "busy", slow, 1, seed=61, noise=("contended",))
    why = settled(confirm_comparison(busy_first, base[0], busy, policy, models=models, keys=keys), busy, keys)
    assert why.startswith("the last run was disturbed (contended)")
    assert settled(first, [], keys) == ""


def test_confirmation_stops_when_no_further_run_can_change_a_one_run_baseline_s_verdict(tmp_path):
    """A clean run that speaks against a regression settles a one-run baseline's case; a run only too wide does not."""
    from dataclasses import replace

    from perfsuite.compare.confirm import settled

    policy = GatePolicy(noise_floor=0.08)  # wide one-run intervals: a 6% change cannot be proven either way
    slow = {**BASE, "c": 0.0053}
    base, models, first, _ = _first(tmp_path, slow, base_runs=1, policy=policy)
    keys = suspects(first)
    assert "test_latency::c" in keys
    # a run as slow as the first, too wide to prove it: agrees, decides nothing, a further run may
    wide = _runs(tmp_path, "wide", slow, 1, seed=70)
    after = confirm_comparison(first, base[0], wide, policy, models=models, keys=keys)
    assert _latency(after, "c").verdict == "inconclusive" and "(wide)" in _latency(after, "c").note
    assert settled(after, wide, keys) == ""
    # a run at the baseline's speed speaks against the regression: inconclusive whatever comes next
    back = _runs(tmp_path, "back", BASE, 1, seed=71)
    after = confirm_comparison(first, base[0], [*wide, *back], policy, models=models, keys=keys)
    assert _latency(after, "c").verdict == "inconclusive" and "(wide, inconclusive)" in _latency(after, "c").note
    assert "whatever the next runs say" in settled(after, [*wide, *back], keys)
    # against replicates the runs are pooled: a further run may still decide, so the runs go on
    pooled = replace(after, verdicts=tuple(replace(v, open_to_more=True) for v in after.verdicts))
    assert settled(pooled, back, keys) == ""


def test_one_run_baseline_rule_regressed_needs_most_runs_regressed_and_no_disagreement():
    from perfsuite.compare.confirm import _single_run_rule

    assert _single_run_rule(["regressed"]) == ("regressed", False)
    assert _single_run_rule(["wide", "regressed"]) == ("inconclusive", True)  # a noisy run that agrees does not veto, nor confirm
    assert _single_run_rule(["wide", "regressed", "regressed"]) == ("regressed", False)
    assert _single_run_rule(["wide", "wide", "regressed"]) == ("inconclusive", True)  # an unchanged suite under load did this
    assert _single_run_rule(["wide"]) == ("inconclusive", True)
    assert _single_run_rule(["regressed", "inconclusive"]) == ("inconclusive", False)
    assert _single_run_rule(["regressed", "ok"]) == ("inconclusive", False)
    assert _single_run_rule(["ok", "ok"]) == ("ok", False)
    assert _single_run_rule(["ok", "wide"]) == ("inconclusive", False)


def test_run_confirmations_ends_when_settled_says_why(tmp_path):
    lines = []
    looks = []

    def settled(runs):
        looks.append(len(runs))
        return "every re-measured case is decided after 1 run"

    outcome = run_confirmations(["test_latency::a"], ["x::a"], count=3, args=["benches"], cwd=tmp_path, out_dir=tmp_path / "confirm",
                                runner=_fake_child(tmp_path, BASE), progress=lines.append, settled=settled)
    assert len(outcome.runs) == 1 and looks == [1] and outcome.to_dict()["stopped"].startswith("every re-measured case")
    assert lines[-1] == "no more confirmation runs: every re-measured case is decided after 1 run"


def test_the_command_that_would_decide_drops_the_gate_options_and_selects_the_cases():
    from perfsuite.confirm import decide_command

    args = ["benches", "--perf-suite", "smoke", "--perf-compare", "main", "--perf-gate", "--perf-confirm=2", "-k", "gpt2",
            "--perf-override", "model=gpt2.tiny"]
    cmd = decide_command(args, "0123456789abcdef", ["gpt2.tiny-pydoc-eager-bs1-cpu", "gpt2.tiny-pydoc-eager-bs4-cpu"])
    assert cmd == ("perfsuite ab --base 0123456789ab --rounds 24 --max-rounds 48 -- --perf-suite smoke --perf-override model=gpt2.tiny "
                   "-k 'gpt2.tiny-pydoc-eager-bs1-cpu or gpt2.tiny-pydoc-eager-bs4-cpu'")
    other = decide_command(["my benches", "-q"], None, ["x"])
    assert other == "perfsuite ab --base <the baseline's commit> --benches 'my benches' --rounds 24 --max-rounds 48 -- -q -k x"
