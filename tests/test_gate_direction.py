"""Evidence decides, flags explain: which noise flags may change a verdict, and in which direction (issue 22, part 1 and 3)."""

from __future__ import annotations

import json

import pytest

from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.verdict import direction_veto, judged_by, replicate_models
from perfsuite.results import load_run
from test_gate_replicates import write_run

BASE = {"a": 0.010, "b": 0.020}
SLOW = {"a": 0.020, "b": 0.040}  # 2x


def _latency(comparison, case):
    return next(v for v in comparison.verdicts if v.case == case and v.metric == "latency")


def _run(tmp_path, name, mins, *, seed, noise=()):
    return load_run(write_run(tmp_path / name, mins, seed=seed, noise=noise))


POLICY = GatePolicy(noise_floor=0.05)
QUIET = GatePolicy(noise_floor=0.0)  # a floor low enough that an unchanged case can be proven ok


def test_spread_flags_never_veto_a_regression(tmp_path):
    base = _run(tmp_path, "base", BASE, seed=1, noise=("max_time", "high_iqr"))
    head = _run(tmp_path, "head", SLOW, seed=2, noise=("max_time", "high_iqr"))
    c = compare_runs(base, head, POLICY)
    assert {_latency(c, k).verdict for k in BASE} == {"regressed"}
    assert {v.verdict for v in c.verdicts if v.metric == "throughput"} == {"regressed"}


def test_a_disturbed_baseline_cannot_hide_the_sign_of_a_regression(tmp_path):
    base = _run(tmp_path, "base", BASE, seed=1, noise=("contended", "host_slow"))
    c = compare_runs(base, _run(tmp_path, "head", SLOW, seed=2), POLICY)
    assert _latency(c, "a").verdict == "regressed" and _latency(c, "a").estimate.low > 1.5


def test_a_disturbed_baseline_cannot_prove_ok_or_improved(tmp_path):
    base = _run(tmp_path, "base", BASE, seed=1, noise=("host_slow",))
    assert _latency(compare_runs(_run(tmp_path, "clean", BASE, seed=1), _run(tmp_path, "head", BASE, seed=2), QUIET), "a").verdict == "ok"
    c = compare_runs(base, _run(tmp_path, "head", BASE, seed=2), QUIET)
    v = _latency(c, "a")
    assert v.verdict == "inconclusive" and not v.improved
    assert "the baseline was disturbed (host_slow)" in v.note and not c.regressed


def test_a_disturbed_head_cannot_prove_a_regression_but_can_prove_ok(tmp_path):
    base = _run(tmp_path, "base", BASE, seed=1)
    slowed = compare_runs(base, _run(tmp_path, "head", SLOW, seed=2, noise=("contended",)), POLICY)
    v = _latency(slowed, "a")
    assert v.verdict == "inconclusive" and "this run was disturbed (contended)" in v.note and not slowed.regressed
    fine = compare_runs(base, _run(tmp_path, "head2", BASE, seed=3, noise=("contended",)), QUIET)
    assert _latency(fine, "a").verdict == "ok"


def test_gate_noisy_turns_the_direction_rule_off(tmp_path):
    base = _run(tmp_path, "base", BASE, seed=1)
    c = compare_runs(base, _run(tmp_path, "head", SLOW, seed=2, noise=("contended",)), GatePolicy(noise_floor=0.05, gate_noisy=True))
    assert _latency(c, "a").verdict == "regressed"


def test_the_rule_itself():
    assert direction_veto("regressed", (), ("contended",))
    assert not direction_veto("regressed", ("contended",), ())
    assert direction_veto("ok", ("host_slow",), ())
    assert not direction_veto("ok", (), ("host_slow",))
    assert not direction_veto("inconclusive", ("a",), ("b",))


def test_a_replicate_baseline_judges_even_when_some_of_its_runs_were_disturbed(tmp_path):
    """Three saved runs, two of them disturbed for every case: still the replicate model, and the left-out runs are named."""
    runs = [_run(tmp_path, "r0", BASE, seed=10)] + [_run(tmp_path, f"r{i}", {k: v * 1.3 for k, v in BASE.items()}, seed=10 + i,
                                                          noise=("contended",)) for i in (1, 2)]
    models = replicate_models(runs, "min")
    spread = models["latency"].cases["test_latency::a"]
    assert spread.runs == 1 and models["latency"].runs_saved == 3 and len(spread.left_out) == 2
    assert "baseline run 2 of 3" in spread.left_out[0] and "contended" in spread.left_out[0]
    policy = GatePolicy(noise_floor=0.05)
    # the moderated variance needs degrees of freedom from somewhere: two clean runs of another case lend them
    lender = [_run(tmp_path, f"l{i}", {"z": 0.005}, seed=30 + i) for i in range(3)]
    merged = replicate_models([*runs, *lender], "min")
    c = compare_runs(runs[0], _run(tmp_path, "head", SLOW, seed=20), policy, models=merged)
    v = _latency(c, "a")
    assert v.estimate.method == "replicates" and v.verdict == "regressed"
    assert "left out: disturbed (contended)" in v.note
    doc = v.to_dict()
    assert doc["judged_by"].startswith("replicates: the spread between") and json.dumps(doc)


def test_a_case_with_only_disturbed_replicates_keeps_them_and_counts_as_a_disturbed_baseline(tmp_path):
    runs = [_run(tmp_path, f"r{i}", BASE, seed=40 + i, noise=("host_slow",)) for i in range(3)]
    models = replicate_models(runs, "min")
    assert models["latency"].cases["test_latency::a"].disturbed == ("host_slow",)
    c = compare_runs(runs[0], _run(tmp_path, "head", BASE, seed=50), GatePolicy(), models=models)
    v = _latency(c, "a")
    assert v.estimate.method == "replicates" and v.verdict == "inconclusive" and "baseline was disturbed" in v.note
    slowed = compare_runs(runs[0], _run(tmp_path, "head2", SLOW, seed=51), GatePolicy(), models=models)
    assert _latency(slowed, "a").verdict == "regressed"


def test_judged_by_names_every_model():
    from perfsuite.compare.stats import RatioEstimate

    def est(method, n_base=1, n_head=1):
        return RatioEstimate(1.0, 0.9, 1.1, 0.99, n_base, n_head, method, 0.05)
    assert judged_by(est("minimum")).startswith("one baseline run: fastest samples")
    assert judged_by(est("replicates", 5)) == "replicates: the spread between 5 baseline runs"
    assert judged_by(est("paired-t", 6, 6)) == "paired rounds (paired-t, 6 pairs)"
    assert judged_by(est("exact")) == "exact figures"


def test_a_timing_metric_can_have_its_own_noise_floor(tmp_path):
    """generate() varies more between processes than one forward: e2e gets its own floor, latency keeps the suite's."""
    from perfsuite.config.gate import gate_spec, load_gate
    from perfsuite.errors import PerfConfigError

    spec = gate_spec({"noise_floor": 0.05, "noise_floors": {"e2e": 0.16}}, name="t", file=None)
    assert spec.policy.floor("e2e") == 0.16 and spec.policy.floor("latency") == 0.05 and spec.policy.paired().floor("e2e") == 0.0
    assert load_gate("default").policy.floor("e2e") > load_gate("default").policy.floor("latency")
    base = _run(tmp_path, "base", {"a": 0.010}, seed=1)
    head = _run(tmp_path, "head", {"a": 0.0125}, seed=2)
    narrow = {v.metric: v for v in compare_runs(base, head, GatePolicy(noise_floor=0.01)).verdicts}
    wide = {v.metric: v for v in compare_runs(base, head, GatePolicy(noise_floor=0.01, noise_floors={"latency": 0.16})).verdicts}
    assert narrow["latency"].estimate.high - narrow["latency"].estimate.low < wide["latency"].estimate.high - wide["latency"].estimate.low
    assert wide["throughput"].estimate.high - wide["throughput"].estimate.low == pytest.approx(
        narrow["throughput"].estimate.high - narrow["throughput"].estimate.low)
    for bad in ({"e2e": 0.7}, {"nonsense": 0.1}, [0.1]):
        with pytest.raises(PerfConfigError, match="noise_floors"):
            gate_spec({"noise_floors": bad}, name="t", file=None)
