"""Replicate baselines: a baseline keeps its last k runs and the gate judges by the spread between them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.cli import main
from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.replicates import PRIOR_DF, ReplicateModel, ratio_to_replicates, t_quantile
from perfsuite.compare.verdict import judge, replicate_models
from perfsuite.config.gate import load_gate
from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure, summarize
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.results import CaseInfo, CaseResult, ResultsWriter, load_run
from perfsuite.results.baselines import BaselineStore, read_baseline


def write_run(folder, mins, *, suite="s", seed=0, n=60, noise=(), machine="m1"):
    """A run whose case `c` has fastest sample mins[c] exactly; the rest a quiet machine's tail above it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = ResultsWriter(folder / "results.json", suite=suite, device="cpu", started=None)
    for case_id, fastest in mins.items():
        samples = fastest * (1 + rng.exponential(0.01, n))
        samples[rng.integers(n)] = fastest
        samples = tuple(float(x) for x in samples)
        case = CaseInfo(case_id, "m", "f", "text", "d", "eager", 1, "cpu", "fp32", 0)
        if noise:  # a measurement of its own (flags live there), on a fake clock replaying the samples
            timer = FakeTimer()
            m = measure(ScriptedWork(timer.advance, list(samples)), clock=CpuClock(timer), warmup=WarmupPolicy(min_calls=1, window=1, rel_tol=0.9),
                        stop=StopPolicy(min_time_s=1e-6, min_rounds=n, max_time_s=10.0))
            for flag in noise:
                m = m.with_noise(flag, f"{flag} (test)")
            w.record(CaseResult("test_latency", "latency", case, "passed", "t", measurement=m))
        else:
            w.record(CaseResult("test_latency", "latency", case, "passed", "t", summary=summarize(samples), imported_samples_s=samples))
    w.finish("finished")
    (folder / "env.json").write_text(json.dumps({"machine_id": machine}))
    return folder


def test_t_quantile_matches_scipy():
    scipy_t = pytest.importorskip("scipy.stats").t
    for df in (1, 2, 3, 4, 7, 12, 24, 60, 500):
        for p in (0.6, 0.9, 0.975, 0.995, 0.9995, 0.99995):
            assert t_quantile(p, df) == pytest.approx(scipy_t.ppf(p, df), rel=5e-3), (df, p)
            assert t_quantile(1 - p, df) == pytest.approx(-t_quantile(p, df))
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.9, 0.5)


def test_moderated_variance_borrows_from_the_other_cases_only():
    lonely = ReplicateModel.from_summaries({"a": [1.0, 1.02, 0.98]})
    var, df = lonely.moderated("a")
    assert df == 2 and var == pytest.approx(np.var(np.log([1.0, 1.02, 0.98]), ddof=1))  # no others: its own
    quiet = {f"q{i}": [1.0, 1.001, 0.999, 1.0] for i in range(10)}  # 30 pooled df, capped
    model = ReplicateModel.from_summaries({**quiet, "noisy": [1.0, 1.1, 0.9, 1.0]})
    var, df = model.moderated("noisy")
    own = np.var(np.log([1.0, 1.1, 0.9, 1.0]), ddof=1)
    assert df == PRIOR_DF + 3 and own * 3 / df < var < own  # pulled toward the quiet ones, not to them
    q_var, _ = model.moderated("q0")
    assert q_var > np.var(np.log([1.0, 1.001, 0.999, 1.0]), ddof=1)  # the noisy one lends some spread


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.001, 1.0), min_size=3, max_size=8), st.floats(0.0005, 0.02), st.randoms(use_true_random=False))
def test_identical_replicates_and_head_never_regress_and_order_does_not_matter(base_mins, spread, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    summaries = {f"c{i}": list(m * np.exp(rng.normal(0, spread, 5))) for i, m in enumerate(base_mins)}
    model = ReplicateModel.from_summaries(summaries)
    shuffled = ReplicateModel.from_summaries({k: list(reversed(v)) for k, v in reversed(list(summaries.items()))})
    for key, values in summaries.items():
        head = [float(np.exp(np.mean(np.log(values))))] * 12  # exactly the replicates' geometric mean
        est = ratio_to_replicates(model, key, head, statistic="min", confidence=0.9995, floor=0.002)
        assert est is not None and est.ratio == pytest.approx(1.0)
        assert judge(est, 0.03, lower_is_better=True)[0] != "regressed"
        again = ratio_to_replicates(shuffled, key, head, statistic="min", confidence=0.9995, floor=0.002)
        assert (again.low, again.high) == pytest.approx((est.low, est.high))


@settings(max_examples=60, deadline=None)
@given(st.floats(0.001, 1.0), st.floats(0.0, 0.01), st.integers(3, 10))
def test_a_head_one_and_a_half_times_slower_always_regresses_at_5_percent(fastest, spread, k):
    rng = np.random.default_rng(k)
    summaries = {f"c{i}": list(fastest * np.exp(rng.normal(0, spread, k))) for i in range(4)}
    model = ReplicateModel.from_summaries(summaries)
    gm = float(np.exp(np.mean(np.log(summaries["c0"]))))
    est = ratio_to_replicates(model, "c0", [1.5 * gm] * 12, statistic="min", confidence=0.9995, floor=0.002)
    assert est.ratio == pytest.approx(1.5) and judge(est, 0.05, lower_is_better=True)[0] == "regressed"


def test_saving_again_keeps_the_last_runs_as_replicates(tmp_path):
    store = BaselineStore(tmp_path / "baselines")
    for i in range(7):
        path = store.save(write_run(tmp_path / f"r{i}", {"a": 0.010 + i * 1e-5}, seed=i), "main", keep=5)
    b = read_baseline(path)
    assert b.runs == 5 and len(b.replicates) == 4
    assert min(b.run.cases[0].samples_s) == pytest.approx(0.01006)  # the newest is the baseline's run
    assert [round(min(r.cases[0].samples_s), 6) for r in b.replicates] == [0.01005, 0.01004, 0.01003, 0.01002]  # newest first
    assert read_baseline(store.save(write_run(tmp_path / "one", {"a": 0.02}), "main", keep=1)).runs == 1  # 1 replaces
    store.save(write_run(tmp_path / "x", {"a": 0.01}, suite="other"), "main")
    assert read_baseline(store.path("main", "m1")).runs == 1  # another suite's runs are not replicates of this one
    with pytest.raises(PerfDataError, match="keeps 1 to 50 runs"):
        store.save(tmp_path / "r0", "main", keep=0)


def test_an_unreadable_old_baseline_is_replaced_and_a_bad_replicate_is_a_clear_error(tmp_path):
    store = BaselineStore(tmp_path / "baselines")
    target = store.path("main", "m1")
    target.parent.mkdir(parents=True)
    target.write_text("{not json")
    assert read_baseline(store.save(write_run(tmp_path / "r", {"a": 0.01}), "main")).runs == 1
    doc = json.loads(target.read_text())
    doc["replicates"] = ["not a run"]
    target.write_text(json.dumps(doc))
    with pytest.raises(PerfDataError, match=r"replicates\[0\]"):
        read_baseline(target)


def _runs(tmp_path, level, n, *, seed0=0, spread=0.003, cases=("a", "b", "c")):
    rng = np.random.default_rng(seed0)
    return [load_run(write_run(tmp_path / f"{level}-{seed0}-{i}", {c: 0.01 * level * math.exp(rng.normal(0, spread)) for c in cases}, seed=seed0 + i))
            for i in range(n)]


def test_the_gate_uses_the_replicate_model_from_min_replicates_runs_on(tmp_path):
    base = _runs(tmp_path, 1.0, 5)
    slowed = _runs(tmp_path, 1.05, 1, seed0=50)[0]
    policy = GatePolicy(noise_floor=0.05)
    two = compare_runs(base[0], slowed, policy, replicates=base[1:2])
    assert {v.estimate.method for v in two.verdicts if v.metric == "latency"} == {"minimum"}  # 2 runs: single-run rule
    assert not two.regressed  # the 5% floor cannot prove a 5% change
    five = compare_runs(base[0], slowed, policy, replicates=base[1:])
    latency = [v for v in five.verdicts if v.metric == "latency"]
    assert {v.estimate.method for v in latency} == {"replicates"} and {v.estimate.n_base for v in latency} == {5}
    assert {v.verdict for v in latency} == {"regressed"}  # 5% against a measured 0.3% spread
    assert {v.verdict for v in five.verdicts if v.metric == "throughput"} == {"regressed"}  # the mirror agrees
    same = compare_runs(base[0], _runs(tmp_path, 1.0, 1, seed0=99)[0], policy, replicates=base[1:])
    assert not same.regressed
    models = replicate_models(base, "min")
    assert set(models) == {"latency", "throughput"} and models["latency"].cases["test_latency::a"].runs == 5


def test_spread_flags_do_not_stop_a_replicate_verdict_but_a_shared_core_does(tmp_path):
    base = _runs(tmp_path, 1.0, 4)
    policy = GatePolicy()
    rng = np.random.default_rng(3)
    mins = {c: 0.0125 * math.exp(rng.normal(0, 0.003)) for c in "abc"}
    spread = load_run(write_run(tmp_path / "h1", mins, noise=("high_iqr", "max_time")))
    assert compare_runs(base[0], spread, policy, replicates=base[1:]).regressed
    shared = load_run(write_run(tmp_path / "h2", mins, noise=("contended",)))
    verdicts = compare_runs(base[0], shared, policy, replicates=base[1:]).verdicts
    assert {v.verdict for v in verdicts if v.metric == "latency"} == {"inconclusive"}
    assert all("contended" in v.note for v in verdicts if v.metric == "latency")
    slow = load_run(write_run(tmp_path / "h3", mins, noise=("host_slow",)))  # the whole machine ran slow around it
    verdicts = compare_runs(base[0], slow, policy, replicates=base[1:]).verdicts
    assert {v.verdict for v in verdicts if v.metric == "latency"} == {"inconclusive"}
    assert all("host_slow" in v.note for v in verdicts if v.metric == "latency")


def test_an_undecided_replicate_verdict_says_what_would_decide_it(tmp_path):
    base = _runs(tmp_path, 1.0, 3, spread=0.03)
    head = _runs(tmp_path, 1.04, 1, seed0=7, spread=0.03)[0]
    verdicts = [v for v in compare_runs(base[0], head, GatePolicy(), replicates=base[1:]).verdicts if v.verdict == "inconclusive"]
    assert verdicts and all("more baseline runs" in v.note for v in verdicts)


def test_gate_config_replicate_keys_are_validated(conf_dir):
    assert load_gate("default").policy.min_replicates == 3
    bad = conf_dir({"gate/bad.yaml": "min_replicates: 1\n"})
    with pytest.raises(PerfConfigError, match="min_replicates"):
        load_gate("bad", (bad,))
    floor = conf_dir({"gate/f.yaml": "replicate_floor: -0.1\n"})
    with pytest.raises(PerfConfigError, match="replicate_floor"):
        load_gate("f", (floor,))


def test_cli_save_three_times_then_compare_against_the_replicates(tmp_path, capsys):
    out = tmp_path / "out"
    rng = np.random.default_rng(0)
    for i in range(3):
        run = write_run(out / "runs" / f"2026010{i}-000000_s-cpu", {"a": 0.01 * math.exp(rng.normal(0, 0.002)), "b": 0.01}, seed=i)
        assert main(["baseline", "save", "main", "--run", str(run), "--out", str(out)]) == 0
    assert f"({i + 1} runs kept)" in capsys.readouterr().out
    assert main(["baseline", "list", "--out", str(out)]) == 0 and "3 runs" in capsys.readouterr().out
    write_run(out / "runs" / "20260109-000000_s-cpu", {"a": 0.0106, "b": 0.01}, seed=9)
    verdicts = tmp_path / "v.json"
    assert main(["compare", "--baseline", "main", "--out", str(out), "--json", str(verdicts)]) == 1
    assert "3 runs" in capsys.readouterr().out
    doc = json.loads(verdicts.read_text())
    by = {(v["case"], v["metric"]): v for v in doc["verdicts"]}
    assert by[("a", "latency")]["method"] == "replicates" and by[("a", "latency")]["verdict"] == "regressed"
    assert by[("b", "latency")]["verdict"] != "regressed"
    with pytest.raises(SystemExit) as info:
        main(["baseline", "save", "main", "--keep", "0", "--out", str(out)])
    assert info.value.code == 2 and "argument --keep: must be 1 to 50 (runs a baseline keeps), got 0" in capsys.readouterr().err


def test_a_disturbed_baseline_run_does_not_widen_the_replicate_model(tmp_path):
    """A baseline run flagged host_slow or contended measured the disturbance, not the spread between runs."""
    base = _runs(tmp_path, 1.0, 5)
    mins = {c: 0.0125 * 1.3 for c in "abc"}  # 30% slower, as a whole-machine slow phase makes a run
    disturbed = load_run(write_run(tmp_path / "slow", mins, noise=("host_slow",), seed=11))
    clean = replicate_models(base, "min")["latency"]
    with_slow = replicate_models([*base, disturbed], "min")["latency"]
    assert with_slow.cases["test_latency::a"].runs == clean.cases["test_latency::a"].runs == 5
    spread = load_run(write_run(tmp_path / "spread", mins, noise=("high_iqr",), seed=12))  # a spread flag: kept
    assert replicate_models([*base, spread], "min")["latency"].cases["test_latency::a"].runs == 6


def test_baseline_list_names_an_unreadable_baseline_and_lists_the_rest(tmp_path, capsys):
    out = tmp_path / "out"
    run = write_run(out / "runs" / "20260101-000000_s-cpu", {"a": 0.01}, seed=1)
    for name in ("main", "nightly"):
        assert main(["baseline", "save", name, "--run", str(run), "--out", str(out)]) == 0
    (broken,) = (out / "baselines").glob("*/main.json")
    broken.write_text("{not json")
    capsys.readouterr()
    assert main(["baseline", "list", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert any("main" in line and "UNREADABLE" in line for line in lines)
    assert any("nightly" in line and "1 results" in line for line in lines)  # the readable one is still listed
    assert "1 of 2 baselines cannot be read" in captured.err and str(broken) in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("status, timed, why", [
    ("running", True, "it never finished (status running"),
    ("interrupted", True, "it ended interrupted"),
    ("error", True, "it ended error"),
    ("finished", False, "none of its cases was timed (a run with --benchmark-disable"),
])
def test_an_unusable_run_is_refused_as_a_baseline_with_the_reason(tmp_path, capsys, status, timed, why):
    out = tmp_path / "out"
    run = write_run(out / "runs" / "20260101-000000_s-cpu", {"a": 0.01}, seed=1)
    doc = json.loads((run / "results.json").read_text())
    doc["status"] = status
    if not timed:  # as --benchmark-disable records a case: passed, called once, nothing measured
        for r in doc["results"]:
            r["summary"] = r["imported_samples_s"] = None
    (run / "results.json").write_text(json.dumps(doc))
    assert main(["baseline", "save", "main", "--run", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{run} cannot be a baseline: {why}" in err and "Traceback" not in err
    assert not (out / "baselines").exists() or not list((out / "baselines").rglob("main.json"))
