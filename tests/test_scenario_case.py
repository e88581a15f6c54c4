"""Load scenarios as a suite axis: conf/scenario/ validation, the scenario cases, the summary in results.json."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import REPO
from perfsuite.config import build_plan
from perfsuite.config.schema import ScenarioSpec, SloSpec, SweepSpec
from perfsuite.errors import PerfConfigError
from perfsuite.measure.fakes import FakeTimer
from perfsuite.results.case import CaseDraft, CaseResult
from perfsuite.results.metrics import value_of
from perfsuite.results.reading import Doc
from perfsuite.results.scenario import ScenarioSummary
from perfsuite.scenarios import ArrivalSpec, Batch, ProbeResult, Slo, find_max_rate, load_metrics, run_load
from perfsuite.scenarios.case import Capacity, ScenarioOutcome, case_slo, run_scenario, scenario_cases, schedule_fingerprint

BASE = ["model=bert.tiny", "dataset=pydoc"]


def plan(*overrides: str):
    return build_plan(suite="smoke", overrides=[*BASE, *overrides])


# -- config ------------------------------------------------------------------------------------------------
def test_no_scenario_by_default_and_the_ids_stay_the_same():
    plain, server = plan(), plan("scenario=server", "scenario.rate=100")
    assert all(c.config.scenario is None for c in plain.cases) and scenario_cases(plain.cases) == ()
    assert [c.id for c in plain.cases] == [c.id for c in server.cases] == ["bert.tiny-pydoc-eager-bs1-cpu", "bert.tiny-pydoc-eager-bs4-cpu"]
    assert [c.id for c in scenario_cases(server.cases)] == ["bert.tiny-pydoc-eager-bs1-cpu-server", "bert.tiny-pydoc-eager-bs4-cpu-server"]


def test_each_preset_validates_with_its_own_keys():
    server = plan("scenario=server", "scenario.rate=120", "scenario.arrival=gamma", "scenario.shape=0.5", "scenario.slo.p90_ms=20").cases[0].config.scenario
    assert server == ScenarioSpec(name="server", kind="server", rate=120.0, arrival="gamma", shape=0.5, seed=0, concurrency=None, max_wait_ms=2.0,
                                  duration_s=10.0, min_queries=1024, max_drain_s=10.0, slo=SloSpec(latency_ms=20.0, attainment=0.9))
    sweep = plan("scenario=sweep").cases[0].config.scenario
    assert sweep.kind == "sweep" and sweep.slo.latency_ms == 50.0 and sweep.sweep == SweepSpec()
    assert plan("scenario=offline").cases[0].config.scenario.kind == "offline"
    single = plan("scenario=single_stream")
    assert [c.id for c in scenario_cases(single.cases)] == ["bert.tiny-pydoc-eager-bs1-cpu-single_stream"]  # one request at a time: one case


@pytest.mark.parametrize(("overrides", "key", "words"), [
    (["scenario=server", "scenario.arrival=bursty"], "scenario.arrival", ["bursty", "constant, poisson, gamma"]),
    (["scenario=server", "scenario.rate=-5"], "scenario.rate", ["-5", "numbers > 0"]),
    (["scenario=server", "scenario.rate=null", "scenario.rate_of_capacity=null"], "scenario.rate", ["rate_of_capacity"]),
    (["scenario=server", "scenario.shape=0.5"], "scenario.shape", ["gamma"]),
    (["scenario=server", "scenario.min_queries=0"], "scenario.min_queries", ["must be >= 1"]),
    (["scenario=server", "scenario.concurrency=many"], "scenario.concurrency", ["many", "integer"]),
    (["scenario=server", "scenario.slo.p90_ms=5", "scenario.slo.p99_ms=9"], "scenario.slo.p99_ms", ["one latency percentile"]),
    (["scenario=offline", "+scenario.rate=5"], "scenario.rate", ["offline", "duration_s, min_queries"]),
    (["scenario=sweep", "scenario.slo.p99_ms=null"], "scenario.slo", ["meets an SLO", "p99_ms"]),
    (["scenario=sweep", "scenario.sweep.growth=1"], "scenario.sweep.growth", ["numbers > 1"]),
    (["scenario=sweep", "scenario.sweep.max_attempts=0"], "scenario.sweep.max_attempts", ["must be >= 1"]),
    (["scenario=server", "scenario.kind=closed"], "scenario.kind", ["closed", "single_stream, offline, server, sweep"]),
])
def test_bad_values_name_the_key_the_value_and_what_is_allowed(overrides, key, words):
    with pytest.raises(PerfConfigError) as err:
        plan(*overrides)
    assert err.value.key == key
    for word in words:
        assert word in str(err.value)


def test_an_unknown_scenario_lists_the_presets():
    with pytest.raises(PerfConfigError) as err:
        plan("scenario=nope")
    assert "offline, server, single_stream, sweep" in str(err.value)


def test_ttft_and_tpot_apply_only_to_cases_that_generate():
    spec = ScenarioSpec(name="s", kind="server", rate=1.0, slo=SloSpec(latency_ms=None, ttft_ms=50.0, tpot_ms=10.0))
    assert case_slo(spec, tokens=True) == Slo(ttft_ms=50.0, tpot_ms=10.0, attainment=0.99)
    assert case_slo(spec, tokens=False) is None
    both = replace(spec, slo=SloSpec(latency_ms=80.0, attainment=0.9, ttft_ms=50.0))
    assert case_slo(both, tokens=False) == Slo(latency_ms=80.0, attainment=0.9)


def test_the_arrival_schedule_is_the_same_for_the_same_seed():
    a = ArrivalSpec("poisson", 200.0, seed=3).times(n=500)
    assert schedule_fingerprint(a) == schedule_fingerprint(ArrivalSpec("poisson", 200.0, seed=3).times(n=500))
    assert schedule_fingerprint(a) != schedule_fingerprint(ArrivalSpec("poisson", 200.0, seed=4).times(n=500))


# -- the run and its summary -------------------------------------------------------------------------------
def _server_outcome(slo: Slo) -> ScenarioOutcome:
    """A server run on a fake clock (inline sender): 200 requests/s, 3 ms per batch, tokens stamped."""
    timer = FakeTimer()

    def serve(batch: Batch) -> None:
        for _ in range(3):
            timer.advance(0.001)
            batch.token()

    arrivals = ArrivalSpec("poisson", 200.0, seed=1).times(n=800)
    result = run_load(serve, range(8), arrivals, max_batch=4, max_wait_s=0.001, sender="inline", clock=timer, sleep=timer.advance)
    spec = ScenarioSpec(name="server", kind="server", rate=200.0, slo=SloSpec(latency_ms=20.0, ttft_ms=10.0))
    return ScenarioOutcome(spec, 4, Capacity(4, 10, 0.003), slo, 200.0, load_metrics(result, slo=slo), schedule_fingerprint(arrivals))


def _round_trip(summary: ScenarioSummary) -> CaseResult:
    case = replace(plan("scenario=server", "scenario.rate=200").cases[1], scenario=ScenarioSpec(name="server", kind="server", rate=200.0))
    draft = CaseDraft(case, kind="scenario", scenario=summary)
    result = draft.finish("test_scenario", "passed", None)
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["case"]["id"].endswith("-server") and doc["kind"] == "scenario"
    return CaseResult.from_doc(Doc.root(doc, "results.json"))


def test_a_server_summary_survives_results_json():
    outcome = _server_outcome(Slo(latency_ms=20.0, ttft_ms=10.0))
    summary = ScenarioSummary.of(outcome)
    back = _round_trip(summary)
    assert back.scenario == summary
    s = back.scenario
    assert s.sent == s.completed == 800 and s.unserved == 0 and s.send_error is None  # inline sender: exact sends
    assert s.latency.p99_s is not None and s.latency.p99_s >= s.latency.p50_s >= s.service.p50_s
    assert s.ttft.p50_s is not None and s.tpot.p50_s == pytest.approx(0.001)
    assert set(s.batch_sizes) <= {1, 2, 3, 4} and sum(k * n for k, n in s.batch_sizes.items()) == 800
    assert s.attainment["verdict"] in ("pass", "fail", "inconclusive") and s.oversaturated is False
    assert value_of("scenario_goodput_per_s", back) == pytest.approx(s.goodput_per_s)
    assert value_of("scenario_latency_p99_s", back) == s.latency.p99_s and value_of("scenario_max_rate_per_s", back) is None


def test_percentiles_not_established_are_none_with_the_reason():
    timer = FakeTimer()
    result = run_load(lambda b: timer.advance(0.001), range(4), [0.01 * i for i in range(1, 101)], sender="inline", clock=timer,
                      sleep=timer.advance)
    spec = ScenarioSpec(name="server", kind="server", rate=100.0)
    s = _round_trip(ScenarioSummary.of(ScenarioOutcome(spec, 1, Capacity(1, 5, 0.001), None, 100.0, load_metrics(result), None))).scenario
    assert s.latency.p50_s is not None and s.latency.p90_s is not None and s.latency.p99_s is None
    assert "662" in s.latency.not_established["p99"] and s.goodput_per_s is None and s.attainment is None


def test_a_sweep_summary_keeps_its_points_interval_and_knee():
    def probe(rate: float, attempt: int) -> ProbeResult:  # capacity 400/s: everything below passes
        ok = rate <= 400
        return ProbeResult(rate, met=1000 if ok else 500, total=1000, oversaturated=not ok, latency_p50_s=0.002 * (1 + rate / 100),
                           latency_p99_s=0.01 * (1 + rate / 100))

    sweep = find_max_rate(probe, start_rate_per_s=100.0, knee_on="p50")
    spec = ScenarioSpec(name="sweep", kind="sweep", slo=SloSpec(latency_ms=50.0), sweep=SweepSpec())
    outcome = ScenarioOutcome(spec, 4, Capacity(4, 5, 0.01), Slo(latency_ms=50.0), sweep.max_rate_per_s, None, None, sweep)
    s = _round_trip(ScenarioSummary.of(outcome)).scenario
    assert s.sweep.status == "converged" and 380 <= s.sweep.max_rate_per_s <= 400 < s.sweep.interval[1]
    assert s.sweep.interval[1] / s.sweep.interval[0] - 1 <= 0.05 and len(s.sweep.points) == len(sweep.points)
    assert s.sweep.knee_rate_per_s == sweep.knee.rate_per_s is not None
    assert s.settings["sweep"]["rel_tol"] == 0.05 and s.settings["slo"]["latency_ms"] == 50.0
    assert s.sweep.drift is None and s.sweep.drift_interval == s.sweep.interval  # probed once: nothing to widen by


def test_a_sweep_interval_widens_by_the_machines_drift_during_it():
    def probe(rate: float, attempt: int) -> ProbeResult:
        return ProbeResult(rate, met=1000 if rate <= 400 else 500, total=1000, oversaturated=rate > 400)

    sweep = find_max_rate(probe, start_rate_per_s=100.0)
    spec = ScenarioSpec(name="sweep", kind="sweep", slo=SloSpec(latency_ms=50.0), sweep=SweepSpec())
    # capacity 400/s before the sweep, 380/s and 360/s during and after it: the machine slowed by 10/9 while the probes ran
    outcome = ScenarioOutcome(spec, 4, Capacity(4, 5, 0.01), Slo(latency_ms=50.0), sweep.max_rate_per_s, None, None, sweep,
                              capacities_during=(Capacity(4, 5, 0.04 / 3.6), Capacity(4, 5, 0.04 / 3.8)))
    s = _round_trip(ScenarioSummary.of(outcome)).scenario.sweep
    assert s.capacities_per_s == (pytest.approx(400), pytest.approx(360), pytest.approx(380))
    assert s.drift == pytest.approx(400 / 360)  # fastest / slowest, wherever in the sweep
    lo, hi = s.interval
    assert s.drift_interval == (pytest.approx(lo * 0.9), pytest.approx(hi / 0.9))  # both ends moved out by the drift
    assert s.to_dict()["drift_interval"] == [pytest.approx(lo * 0.9), pytest.approx(hi / 0.9)]


def test_run_scenario_sweep_probes_the_capacity_between_load_probes_and_after_the_last():
    case = scenario_cases([plan("scenario=sweep", "scenario.min_queries=40", "scenario.duration_s=0", "scenario.sweep.max_probes=2",
                                "scenario.max_drain_s=5").cases[1]])[0]
    outcome = run_scenario(case, lambda batch: None, disable_gc=False)
    assert len(outcome.probes) == 2 and len(outcome.capacities_during) == 2  # one between the two load probes, one after
    assert all(c.calls >= 5 for c in outcome.capacities_during)
    s = ScenarioSummary.of(outcome).sweep
    assert s.capacities_per_s == (outcome.capacity.rate_per_s, *(c.rate_per_s for c in outcome.capacities_during))


def test_run_scenario_offline_warms_every_size_then_serves_full_batches():
    calls: list[int] = []
    case = replace(plan("scenario=offline", "scenario.min_queries=64", "scenario.duration_s=0").cases[1])
    case = scenario_cases([case])[0]
    outcome = run_scenario(case, lambda batch: calls.append(len(batch)), disable_gc=False)
    assert calls[:4] == [1, 2, 3, 4] and outcome.max_batch == 4  # one untimed call per batch size first
    s = ScenarioSummary.of(outcome)
    assert s.sent == s.completed == 64 and s.batch_sizes == {4: 16} and s.oversaturated is None and "offline" in s.oversaturation_reason
    assert outcome.capacity.rate_per_s > 0 and len(outcome.latencies_s) == 64


def test_the_bench_runs_only_with_a_scenario():
    text = (REPO / "benches" / "test_scenario.py").read_text()
    assert "perf_scenario" in text and "perf.serve(" in text


def test_serve_generate_passes_the_cases_generate_kwargs():
    """A static KV cache or a compile runtime's compiled decoding step reaches every generate call of a scenario."""
    import torch

    from perfsuite.runner import generate_kwargs
    from perfsuite.scenarios.case import serve_generate

    seen: list[dict] = []

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Linear(1, 1)
            self.generation_config = type("G", (), {"pad_token_id": 0, "eos_token_id": 1})()

        def generate(self, **kwargs):
            seen.append(kwargs)
            return kwargs["input_ids"]

    inputs = {1: [{"input_ids": torch.ones(1, 3, dtype=torch.long), "attention_mask": torch.ones(1, 3, dtype=torch.long)}]}
    case = plan("model=llama.tiny", "inference_runtime=compile", "infer.batch_sizes=[1]").cases[0]
    serve = serve_generate(Decoder(), inputs, lambda: None, max_new_tokens=4, generate_kwargs=generate_kwargs(case))
    serve(Batch((0,), (0,), lambda: 0))
    assert seen[0]["cache_implementation"] == "static" and seen[0]["compile_config"]._compile_all_devices is True
    assert seen[0]["max_new_tokens"] == seen[0]["min_new_tokens"] == 4
    static = plan("model=llama.tiny", "infer.kv_cache=static", "infer.batch_sizes=[1]").cases[0]
    serve_generate(Decoder(), inputs, lambda: None, max_new_tokens=4, generate_kwargs=generate_kwargs(static))(Batch((0,), (0,), lambda: 0))
    assert seen[1]["cache_implementation"] == "static" and "compile_config" not in seen[1]
