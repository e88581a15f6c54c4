"""Baselines on disk, the gate's decision, paired A/B statistics and the A/B loop (fake processes)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.ab import Side, run_ab
from perfsuite.cli import main
from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.gate import EXIT_INCONCLUSIVE, EXIT_REGRESSED, decide
from perfsuite.compare.paired import PairedCase, compare_pairs, look_schedule, min_pairs, paired_ratio, wilcoxon_k
from perfsuite.config.gate import load_gate
from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.measure import summarize
from perfsuite.results import CaseInfo, CaseResult, ResultsWriter, load_run
from perfsuite.results.baselines import BaselineStore, read_baseline


def write_run(folder: Path, medians: dict[str, float], *, machine: str = "m1", seed: int = 0, n: int = 200) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = ResultsWriter(folder / "results.json", suite="s", device="cpu", started=None)
    for case_id, median in medians.items():
        samples = tuple(float(x) for x in median * rng.lognormal(0, 0.02, n))
        case = CaseInfo(case_id, "m", "f", "text", "d", "eager", 1, "cpu", "fp32", 0)
        w.record(CaseResult("test_latency", "latency", case, "passed", "t", summary=summarize(samples), imported_samples_s=samples))
    w.finish("finished")
    (folder / "env.json").write_text(json.dumps({"machine_id": machine}))
    return folder


# -- baselines --------------------------------------------------------------------------------------

def test_baseline_round_trip_and_listing(tmp_path):
    run = write_run(tmp_path / "run", {"a": 0.01, "b": 0.02})
    store = BaselineStore(tmp_path / "baselines")
    path = store.save(run, "main")
    assert path == tmp_path / "baselines" / "m1" / "main.json"
    b = store.load("main", "m1")
    assert b.machine_id == "m1" and b.has_raw_samples and [c.case.id for c in b.run.cases] == ["a", "b"]
    assert [(m, n) for m, n, _ in store.list()] == [("m1", "main")]
    assert main(["baseline", "promote", "main", "--to", "release", "--baseline-dir", str(store.root)]) == 0
    assert read_baseline(store.path("release", "m1")).name == "release"
    assert main(["baseline", "delete", "main", "--baseline-dir", str(store.root)]) == 0
    assert [n for _, n, _ in store.list()] == ["release"]


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 101])
def test_baseline_names_are_names_not_paths(tmp_path, name):
    with pytest.raises(PerfDataError, match="not allowed"):
        BaselineStore(tmp_path).path(name, "m1")


@pytest.mark.parametrize(
    "content, match",
    [("{broken", "not valid JSON"), ('{"schema_version": 9, "kind": "perfsuite-baseline"}', "schema_version 1"),
     ('{"schema_version": 1, "kind": "perfsuite-baseline", "name": "x", "machine_id": "m", "saved": "t", "results": {"schema_version": 2, "status": "finished", "results": [{"kind": "latency"}]}}', "results\\[0\\]")],
)
def test_a_corrupt_baseline_is_a_clear_error(tmp_path, content, match):
    path = tmp_path / "m1" / "x.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(PerfDataError, match=match):
        BaselineStore(tmp_path).load("x")


def test_a_missing_baseline_names_the_known_ones(tmp_path):
    store = BaselineStore(tmp_path / "baselines")
    store.save(write_run(tmp_path / "run", {"a": 0.01}), "main")
    with pytest.raises(PerfDataError, match="no baseline named 'nightly'.*known: main"):
        store.load("nightly")


# -- the gate's decision ----------------------------------------------------------------------------

def _cmp(base, head):
    return compare_runs(load_run(base), load_run(head), GatePolicy(noise_floor=0.03))


def test_decision_exit_codes(tmp_path):
    base = write_run(tmp_path / "base", {"a": 0.01, "b": 0.01})
    slow = write_run(tmp_path / "slow", {"a": 0.0125, "b": 0.01}, seed=1)
    same = write_run(tmp_path / "same", {"a": 0.01, "b": 0.01}, seed=2)
    regressed = decide(_cmp(base, slow), inconclusive="warn", base_machine="m1", head_machine="m1", force=False)
    assert regressed.exit_code == EXIT_REGRESSED and "a" in regressed.message and ", b" not in regressed.message
    unchanged = _cmp(base, same)
    assert {v.verdict for v in unchanged.verdicts} <= {"ok", "inconclusive"}
    assert decide(unchanged, inconclusive="warn", base_machine="m1", head_machine="m1", force=False).exit_code is None
    if unchanged.of("inconclusive"):
        assert decide(unchanged, inconclusive="fail", base_machine="m1", head_machine="m1", force=False).exit_code == EXIT_INCONCLUSIVE
    foreign = decide(_cmp(base, slow), inconclusive="warn", base_machine="m2", head_machine="m1", force=False)
    assert foreign.exit_code is None and not foreign.gated and "not comparable" in foreign.message
    assert decide(_cmp(base, slow), inconclusive="warn", base_machine="m2", head_machine="m1", force=True).exit_code == EXIT_REGRESSED


def test_compare_cli_on_two_runs_and_a_baseline(tmp_path, capsys):
    base = write_run(tmp_path / "out" / "runs" / "20260101-000000_s-cpu", {"a": 0.01, "b": 0.01})
    head = write_run(tmp_path / "out" / "runs" / "20260102-000000_s-cpu", {"a": 0.0125, "b": 0.01}, seed=3)
    verdicts = tmp_path / "verdicts.json"
    assert main(["compare", str(base), str(head), "--json", str(verdicts), "--markdown", str(tmp_path / "summary.md")]) == EXIT_REGRESSED
    out = capsys.readouterr().out
    assert "2 regressed" in out and "gate FAILED: 1 case(s) regressed: a" in out
    doc = json.loads(verdicts.read_text())
    assert doc["counts"]["regressed"] == 2 and {v["case"] for v in doc["verdicts"] if v["verdict"] == "regressed"} == {"a"}
    assert "🔴 regressed" in (tmp_path / "summary.md").read_text()
    assert main(["baseline", "save", "main", "--run", str(base), "--out", str(tmp_path / "out")]) == 0
    assert main(["compare", "--baseline", "main", "--out", str(tmp_path / "out")]) == EXIT_REGRESSED  # head: the newest run


def test_gate_config_errors_name_the_file_and_key(tmp_path, conf_dir):
    conf = conf_dir({"gate/strict.yaml": "alpha: 2\n", "gate/typo.yaml": "thresholds: {latncy: 0.1}\n", "gate/ok.yaml": "cases: [{match: 'bert*', metric: latency, threshold: 0.2}]\ninconclusive: fail\n"})
    with pytest.raises(PerfConfigError, match="strict.yaml.*'alpha'.*ratio"):
        load_gate("strict", (conf,))
    with pytest.raises(PerfConfigError, match="thresholds.latncy.*unknown key"):
        load_gate("typo", (conf,))
    with pytest.raises(PerfConfigError, match="unknown gate config.*default"):
        load_gate("nope", (conf,))
    spec = load_gate("ok", (conf,))
    assert spec.inconclusive == "fail" and spec.policy.threshold("bert.tiny-x", "latency") == 0.2


# -- paired A/B -------------------------------------------------------------------------------------

def test_wilcoxon_critical_values_match_the_published_table():
    # two-sided 5% critical values T (reject when W <= T) for n = 6..12: 0, 2, 3, 5, 8, 10, 13
    for n, table in zip(range(6, 13), (0, 2, 3, 5, 8, 10, 13)):
        assert wilcoxon_k(n, 0.95) == table + 1
    assert wilcoxon_k(5, 0.95) == 0 and min_pairs(0.95) == 6


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1.0), min_size=8, max_size=30), st.floats(min_value=1.3, max_value=3.0))
def test_paired_rounds_see_through_drift(base, factor):
    # Each pair shares the machine's speed of that moment (base values spread 1000x), B is `factor` slower.
    est = paired_ratio(base, [x * factor for x in base], confidence=0.99)
    assert est.ratio == pytest.approx(factor) and est.low == pytest.approx(factor)
    cmp = compare_pairs([PairedCase("c", "test_latency", tuple(base), tuple(x * factor for x in base))])
    assert cmp.of("regressed")


def test_paired_identical_rounds_never_regress():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = tuple(rng.lognormal(-5, 0.3, 10))
        b = tuple(x * rng.lognormal(0, 0.02) for x in a)
        assert not compare_pairs([PairedCase("c", "t", a, b)], GatePolicy(alpha=0.01)).regressed


def test_the_paired_policy_drops_only_the_noise_floor():
    policy = GatePolicy(alpha=0.02, noise_floor=0.03, statistic="median", gate_noisy=True, min_replicates=4,
                        thresholds={"latency": 0.02}, case_thresholds=(("*gpt2*", "latency", 0.05),))
    paired = policy.paired()
    assert paired.noise_floor == 0.0 and policy.noise_floor == 0.03
    assert (paired.alpha, paired.statistic, paired.gate_noisy, paired.min_replicates) == (0.02, "median", True, 4)
    assert paired.threshold("test_latency[gpt2.tiny]", "latency") == 0.05 and paired.threshold("x", "latency") == 0.02


def test_too_few_pairs_say_how_many_rounds_are_needed():
    cmp = compare_pairs([PairedCase("c", "t", (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))])
    (v,) = cmp.verdicts
    assert v.verdict == "inconclusive" and "run at least 7 rounds" in v.note


# -- the A/B loop, with fake pytest processes -------------------------------------------------------

def fake_pytest(medians_by_side, fail_at=None):
    calls = []

    def runner(cmd, cwd, env, capture_output, text):
        out = Path(cmd[cmd.index("--perf-out-dir") + 1])
        side = out.name
        calls.append(side)
        if fail_at is not None and len(calls) == fail_at:
            return subprocess.CompletedProcess(cmd, 4, "", "ERROR: bad config")
        write_run(out / "runs" / f"20260101-00000{len(calls)}_s-cpu", medians_by_side[side], seed=len(calls))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return runner, calls


def test_ab_alternates_and_keeps_every_finished_pair(tmp_path):
    runner, calls = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.012}})
    ab = run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=4, out_root=tmp_path / "out", runner=runner, log=lambda s: None)
    assert calls == ["a", "b"] * 4
    doc = json.loads((ab.folder / "ab.json").read_text())
    assert len(doc["rounds"]) == 4 and all(set(r["values"]) == {"a", "b"} for r in doc["rounds"])
    (a, b) = ab.pairs()["test_latency::x"]
    assert len(a) == len(b) == 4 and all(y > x for x, y in zip(a, b))


def test_ab_random_order_is_seeded(tmp_path):
    runner, calls = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.01}})
    run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=6, out_root=tmp_path / "o1", runner=runner, order="random", seed=3, log=lambda s: None)
    runner2, calls2 = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.01}})
    run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=6, out_root=tmp_path / "o2", runner=runner2, order="random", seed=3, log=lambda s: None)
    assert calls == calls2 and sorted(calls) == ["a"] * 6 + ["b"] * 6 and calls != ["a", "b"] * 6


def test_ab_duet_runs_both_sides_at_once_on_swapped_halves_of_the_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr("perfsuite.ab.available_cpus", lambda: (0, 1, 2, 3, 4))
    both_started = threading.Barrier(2, timeout=10)  # broken (an error) unless A and B run at the same time
    inner, calls = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.0102}})
    cores = []

    def runner(cmd, **kw):
        cores.append((Path(cmd[cmd.index("--perf-out-dir") + 1]).name, cmd[cmd.index("--perf-override") + 1]))
        both_started.wait()
        return inner(cmd, **kw)

    logged = []
    ab = run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=4, out_root=tmp_path / "out", runner=runner, order="duet",
                log=logged.append)
    doc = json.loads((ab.folder / "ab.json").read_text())
    assert [r["cores"] for r in doc["rounds"]] == [{"a": [0, 1], "b": [2, 3]}, {"a": [2, 3], "b": [0, 1]}] * 2  # CPU 4 left out: halves equal
    assert sorted(cores) == sorted([("a", "hardware.cores=[0,1]"), ("b", "hardware.cores=[2,3]"), ("a", "hardware.cores=[2,3]"),
                                    ("b", "hardware.cores=[0,1]")] * 2)
    assert len(ab.pairs()["test_latency::x"][0]) == 4 and "on CPUs [2, 3]" in logged[0] + logged[1]


def test_ab_duet_refuses_one_cpu_and_a_pinned_pytest_argument(tmp_path, monkeypatch):
    runner, calls = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.01}})
    monkeypatch.setattr("perfsuite.ab.available_cpus", lambda: (3,))
    with pytest.raises(PerfDataError, match=r"may use 1 CPU \(\[3\]\)\. Use --order alternate or random"):
        run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=2, out_root=tmp_path / "out", runner=runner, order="duet")
    monkeypatch.setattr("perfsuite.ab.available_cpus", lambda: (0, 1))
    with pytest.raises(PerfDataError, match="drop hardware.cores"):
        run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=2, out_root=tmp_path / "out", runner=runner, order="duet",
               pytest_args=["--perf-override", "hardware.cores=[0]"])
    assert calls == [] and not (tmp_path / "out" / "ab").exists()  # refused before anything ran or was written


def test_ab_duet_warns_when_a_side_runs_more_threads_than_its_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr("perfsuite.ab.available_cpus", lambda: (0, 1))
    inner, _ = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.01}})

    def runner(cmd, **kw):
        done = inner(cmd, **kw)
        out = Path(cmd[cmd.index("--perf-out-dir") + 1])
        for run in (out / "runs").iterdir():
            (run / "env.json").write_text(json.dumps({"threads": {"torch_threads": 2}}))
        return done

    logged = []
    run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=2, out_root=tmp_path / "out", runner=runner, order="duet", log=logged.append)
    warnings = [line for line in logged if "warning" in line]
    assert len(warnings) == 2 and "runs 2 torch threads on 1 CPU(s)" in warnings[0] and "hardware.threads to at most 1" in warnings[0]


def test_an_interrupted_ab_run_keeps_the_finished_pairs(tmp_path):
    runner, _ = fake_pytest({"a": {"x": 0.01}, "b": {"x": 0.01}}, fail_at=6)
    with pytest.raises(PerfDataError, match="(?s)round 3, side b .*exit 4.*bad config"):
        run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=5, out_root=tmp_path / "out", runner=runner, log=lambda s: None)
    (folder,) = (tmp_path / "out" / "ab").iterdir()
    doc = json.loads((folder / "ab.json").read_text())
    assert [len(r["values"]) for r in doc["rounds"]] == [2, 2, 1]


def test_a_side_whose_pytest_ended_in_a_usage_error_is_not_compared_even_with_a_run_folder(tmp_path):
    def runner(cmd, cwd, env, capture_output, text):  # a run folder is written, but pytest says it could not run
        out = Path(cmd[cmd.index("--perf-out-dir") + 1])
        write_run(out / "runs" / "20260101-000001_s-cpu", {"x": 0.01}, seed=1)
        return subprocess.CompletedProcess(cmd, 4, "", "ERROR: file or directory not found: benches")

    with pytest.raises(PerfDataError, match="(?s)round 1, side a .*did not run its cases.*exit 4.*not found: benches"):
        run_ab(Side("a", "A", tmp_path), Side("b", "B", tmp_path), rounds=2, out_root=tmp_path / "out", runner=runner, log=lambda s: None)


def test_ab_refuses_a_git_ref_that_does_not_exist(tmp_path, capsys):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    assert main(["ab", "--base", "no-such-ref", "--repo", str(tmp_path / "repo"), "--out", str(tmp_path / "out")]) == 2
    assert "git ref 'no-such-ref' does not exist" in capsys.readouterr().err


# -- sequential A/B: looks at the verdicts, alpha split over them -----------------------------------

def test_look_schedule_and_its_bad_input():
    assert look_schedule(24) == (24,)  # a fixed design: one look
    assert look_schedule(24, 48) == (24, 36, 48)
    assert look_schedule(24, 50, 10) == (24, 34, 44, 50)  # the last look is always --max-rounds
    assert look_schedule(10, 10, 3) == (10,)
    with pytest.raises(ValueError, match="--max-rounds .* must be >= --rounds"):
        look_schedule(24, 12)
    with pytest.raises(ValueError, match="--look-every must be >= 1"):
        look_schedule(24, 48, 0)
    with pytest.raises(ValueError, match="--rounds must be >= 1"):
        look_schedule(0, 48)


def test_each_look_is_judged_at_alpha_over_the_looks():
    rng = np.random.default_rng(5)
    a = tuple(rng.lognormal(-5, 0.01, 30))
    case = PairedCase("c", "t", a, tuple(x * 1.05 for x in a))
    one, three = compare_pairs([case]), compare_pairs([case], looks=3)
    assert one.verdicts[0].estimate.confidence == pytest.approx(1 - 2 * 0.01)
    assert three.verdicts[0].estimate.confidence == pytest.approx(1 - 2 * 0.01 / 3)
    assert three.verdicts[0].estimate.low <= one.verdicts[0].estimate.low  # a wider interval per look
    with pytest.raises(ValueError, match="looks must be >= 1"):
        compare_pairs([case], looks=0)


def _fake_sides(monkeypatch, tmp_path, factor_b):
    """`perfsuite ab --a/--b` with fake pytest processes: B's samples are A's times factor_b."""
    import perfsuite.ab as ab_module

    calls = []

    def run_side(side, benches, out, pytest_args, *, runner=None):
        calls.append(side.label)
        folder = out / "runs" / f"r{len(calls):03d}_s-cpu"
        write_run(folder, {"x": 0.01 * (factor_b if side.label == "b" else 1.0)}, seed=len(calls) // 2)
        return 0, folder, ""

    monkeypatch.setattr(ab_module, "run_side", run_side)
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    return calls


def test_sequential_ab_stops_at_the_first_look_that_decides(tmp_path, monkeypatch, capsys):
    calls = _fake_sides(monkeypatch, tmp_path, 1.5)
    code = main(["ab", "--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"), "--rounds", "10", "--max-rounds", "20",
                 "--look-every", "5", "--out", str(tmp_path / "out")])
    assert code == EXIT_REGRESSED and len(calls) == 20  # 10 rounds of 2 sides: decided at the first look
    assert "every case decided after 10 rounds" in capsys.readouterr().out
    (folder,) = (tmp_path / "out" / "ab").iterdir()
    doc = json.loads((folder / "verdicts.json").read_text())
    assert doc["gate"]["mode"] == "interleaved-sequential" and doc["gate"]["looks"] == [10, 15, 20] and doc["gate"]["rounds"] == 10
    lat = [v for v in doc["verdicts"] if v["metric"] == "latency"]
    assert [v["verdict"] for v in lat] == ["regressed"] and lat[0]["confidence"] == pytest.approx(1 - 2 * 0.01 / 3)


def test_sequential_ab_goes_on_while_a_case_is_inconclusive(tmp_path, monkeypatch, capsys):
    calls = _fake_sides(monkeypatch, tmp_path, 1.01)  # at the paired gate's 1% threshold: never decided
    code = main(["ab", "--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"), "--rounds", "10", "--max-rounds", "20",
                 "--look-every", "5", "--out", str(tmp_path / "out")])
    assert len(calls) == 40 and "decided after" not in capsys.readouterr().out
    (folder,) = (tmp_path / "out" / "ab").iterdir()
    doc = json.loads((folder / "verdicts.json").read_text())
    assert doc["gate"]["rounds"] == 20 and code == doc["gate"]["exit_code"]
    assert {v["verdict"] for v in doc["verdicts"]} == {"inconclusive"}


def test_sequential_ab_refuses_a_max_below_rounds(tmp_path, capsys):
    assert main(["ab", "--a", str(tmp_path), "--b", str(tmp_path), "--rounds", "24", "--max-rounds", "12"]) == 2
    assert "--max-rounds (12) must be >= --rounds (24)" in capsys.readouterr().err
