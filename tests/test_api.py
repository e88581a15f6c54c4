"""The public API: `perf.measure` / `perf.generate` / `perf.metric`, tests that are their own case, and what is public."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.compare.verdict import GatePolicy, compare_runs
from perfsuite.results import load_run
from perfsuite.results.case import CaseInfo, CaseResult
from perfsuite.results.own_metrics import OwnMetric, own_metric
from perfsuite.results.reading import Doc
from perfsuite.results.run import RunResult

OWN_BENCH = '''
import os

import pytest


@pytest.mark.parametrize("n", [2000, 8000])
def test_work(perf, n):
    perf.measure(lambda k: sum(range(k)), n, batch_size=2)
    perf.metric("quality", float(os.environ.get("QUALITY", "0.9")), better="higher", unit="acc")


def test_plain(perf):
    m = perf.measure(sorted, list(range(500, 0, -1)))
    assert m is not None and m.rounds >= 1
    assert perf.case.id == "test_plain-cpu" and perf.device == "cpu"


def test_only_figure(perf):
    perf.metric("score", 3.0, threshold=0.5)
'''

MISUSE = '''
def test_twice(perf):
    perf.measure(len, "abc")
    perf.measure(len, "abc")


def test_not_callable(perf):
    perf.measure(42)


def test_bad_metric(perf):
    perf.metric("latency", 1.0)


def test_nan_metric(perf):
    perf.metric("score", float("nan"))


def test_generate_without_generate(perf):
    perf.generate(object(), {"input_ids": None})


def test_bad_batch_size(perf):
    perf.measure(len, "abc", batch_size=0)


def test_weights_of_not_a_module(perf):
    perf.measure(len, "abc", weights_of=3)


class Decoder:
    def generate(self, **kwargs):
        return None


def test_generate_without_input_ids(perf):
    perf.generate(Decoder(), {"ids": [1, 2]})


def test_generate_without_new_tokens(perf):
    import torch

    perf.generate(Decoder(), {"input_ids": torch.ones(1, 3, dtype=torch.long)})  # a test's own case has no infer.max_new_tokens
'''

SUITE_MISUSE = '''
def test_suite_batch_size(perf, runtime, batch):
    perf.measure(runtime, batch, batch_size=99)


def test_profile_own_case(perf):
    perf.profile(None, None)
'''


def _run(pytester: pytest.Pytester, out: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("benches", "-p", "no:cacheprovider", "--device", "cpu", "--perf-suite", "smoke",
                                         "--perf-out-dir", str(out), *as_overrides(list(FAST_POLICY)), *args)


def test_own_case_lands_in_results_tables_report_history_and_gate(pytester: pytest.Pytester, tmp_path: Path, monkeypatch) -> None:
    pytester.mkpydir("benches")
    (pytester.path / "benches" / "test_own.py").write_text(OWN_BENCH)
    out = tmp_path / "out"
    first = _run(pytester, out, "--perf-baseline-save", "main")
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(["latency: 3 cases", "*test_work?2000?-cpu*passed*", "own metrics: 3", "*test_work?8000?-cpu*quality*0.9 acc*higher*"])
    assert "median not established" not in first.stdout.str()  # a test of figures only is not a latency case short of samples
    assert "left out by the matrix" not in first.stdout.str()  # no suite case ran: the suite's matrix is not this run's
    (run_dir,) = sorted((out / "runs").iterdir())
    run = load_run(run_dir)
    keys = {r.key: r for r in run.cases}
    assert set(keys) == {"test_work::test_work[2000]-cpu", "test_work::test_work[8000]-cpu", "test_plain::test_plain-cpu",
                         "test_only_figure::test_only_figure-cpu"}
    assert keys["test_only_figure::test_only_figure-cpu"].metrics_only
    work = keys["test_work::test_work[2000]-cpu"]
    assert work.kind == "latency" and work.measurement is not None and work.case.batch_size == 2 and work.case.model_family == "own"
    assert work.throughput is not None and work.throughput.batch_size == 2
    assert work.metrics == (OwnMetric("quality", 0.9, "acc", "higher", None),)
    assert work.memory is not None and work.memory.host is not None and work.memory.host.own_peak_bytes is not None
    cases_csv = (run_dir / "tables" / "cases.csv").read_text()
    assert "own.quality" in cases_csv.splitlines()[0]
    assert "Own metrics" in (run_dir / "report.html").read_text()
    import sqlite3

    with sqlite3.connect(out / "history" / "history.sqlite") as db:
        assert db.execute("select count(*) from perfsuite_metrics where metric = 'own.quality'").fetchone()[0] == 2

    # The figure drops by a third: the gate fails on it, whatever the timings say.
    monkeypatch.setenv("QUALITY", "0.6")
    second = _run(pytester, out, "--perf-compare", "main", "--perf-gate", "--perf-confirm", "0", "--perf-confirm-budget", "0")
    assert second.ret == 1, second.stdout.str()
    second.stdout.fnmatch_lines(["*test_work?2000?-cpu*quality*regressed*-33.3%*"])
    verdicts = json.loads((sorted((out / "runs").iterdir())[-1] / "verdicts.json").read_text())
    quality = [v for v in verdicts["verdicts"] if v["metric"] == "quality"]
    assert len(quality) == 2 and all(v["verdict"] == "regressed" and v["threshold"] == 0.05 for v in quality)


def test_api_misuse_fails_the_test_with_its_reason(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.mkpydir("benches")
    (pytester.path / "benches" / "test_misuse.py").write_text(MISUSE)
    result = _run(pytester, tmp_path / "out")
    result.assert_outcomes(failed=9)
    text = result.stdout.str()
    for expected in (
        "perf.measure: this test has measured already; one test measures one case",
        "perf.measure needs a callable first, got int",
        "'latency' is a built-in metric of perfsuite",
        "the value must be finite",
        "perf.generate needs a model with a generate() method",
        "batch_size must be a whole number >= 1, got 0",
        "weights_of takes a torch module, got int",
        "perf.generate needs inputs as a mapping with 'input_ids' (and 'attention_mask'), got a mapping of ['ids']",
        "perf.generate needs max_new_tokens >= 1, got 0",
    ):
        assert expected in text, expected


def test_suite_case_misuse_fails_with_its_reason(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.mkpydir("benches")
    (pytester.path / "benches" / "test_misuse.py").write_text(SUITE_MISUSE)
    result = _run(pytester, tmp_path / "out", *as_overrides(["model=bert.tiny", "dataset=pydoc"]))
    result.assert_outcomes(failed=3)  # the smoke suite's batch sizes 1 and 4, and the own case
    text = result.stdout.str()
    assert "a suite case's batch size is the suite's (1, in its id bert.tiny-pydoc-eager-bs1-cpu), got batch_size=99" in text
    assert "perf.profile profiles a suite case" in text


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "", "value": 1}, "a metric name is"),
        ({"name": "has space", "value": 1}, "a metric name is"),
        ({"name": "x" * 61, "value": 1}, "a metric name is"),
        ({"name": "ttft", "value": 1}, "built-in metric"),
        ({"name": "ok", "value": "1"}, "must be a number"),
        ({"name": "ok", "value": True}, "must be a number"),
        ({"name": "ok", "value": float("inf")}, "must be finite"),
        ({"name": "ok", "value": 1, "better": "up"}, "better must be"),
        ({"name": "ok", "value": 1, "unit": 3}, "unit must be a string"),
        ({"name": "ok", "value": 1, "threshold": -0.1}, "threshold is a relative change"),
        ({"name": "ok", "value": 1, "threshold": True}, "threshold is a relative change"),
    ],
)
def test_own_metric_rejects(kwargs: dict, error: str) -> None:
    name, value = kwargs.pop("name"), kwargs.pop("value")
    with pytest.raises((TypeError, ValueError), match=re.escape(error)):
        own_metric(name, value, **kwargs)


def _result(metrics: tuple[OwnMetric, ...]) -> CaseResult:
    info = CaseInfo(id="test_x-cpu", model="test_x", model_family="own", modality="any", dataset="own", runtime="own",
                    batch_size=1, device="cpu", precision="fp32", seed=0)
    return CaseResult(test="test_x", kind="latency", case=info, outcome="passed", finished="2026-12-04T00:00:00", metrics=metrics)


def _run_of(*results: CaseResult) -> RunResult:
    return RunResult(run_dir=Path("r"), status="finished", suite=None, device="cpu", started=None, cases=results)


def test_own_metrics_round_trip_through_results_json() -> None:
    r = _result((OwnMetric("acc", 0.91, "ratio", "higher", 0.02), OwnMetric("tokens", 12.0)))
    back = CaseResult.from_doc(Doc.root(json.loads(json.dumps(r.to_dict())), "results.json"))
    assert back.metrics == r.metrics
    assert "metrics" not in _result(()).to_dict()  # results without own figures keep their shape


def test_gate_judges_own_metrics_by_direction_and_threshold() -> None:
    base = _run_of(_result((OwnMetric("acc", 0.90, better="higher"), OwnMetric("cost", 10.0), OwnMetric("loose", 1.0, threshold=0.5))))
    head = _run_of(_result((OwnMetric("acc", 0.80, better="higher"), OwnMetric("cost", 9.0), OwnMetric("loose", 1.4, threshold=0.5))))
    verdicts = {v.metric: v for v in compare_runs(base, head, GatePolicy()).verdicts}
    assert verdicts["acc"].verdict == "regressed"  # higher is better and it fell 11%
    assert verdicts["cost"].verdict == "ok" and verdicts["cost"].improved
    assert verdicts["loose"].verdict == "ok" and verdicts["loose"].threshold == 0.5  # the test's own threshold
    strict = compare_runs(base, head, GatePolicy(thresholds={**GatePolicy().thresholds, "own": 0.2})).verdicts
    assert {v.metric: v.verdict for v in strict}["acc"] == "ok"  # the gate's `own` threshold


def test_import_perfsuite_is_cheap_and_exports_its_api() -> None:
    code = "import sys, perfsuite; assert 'torch' not in sys.modules; print(sorted(perfsuite.__all__)); assert 'perfsuite.api' not in sys.modules; perfsuite.Perf; print('perfsuite.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "Perf" in out[0] and "OwnMetric" in out[0] and out[1] == "True"
    import perfsuite

    with pytest.raises(AttributeError):
        perfsuite.not_a_name  # noqa: B018


def _perfsuite_imports(source: str) -> list[str]:
    """Every perfsuite name a Python source imports: 'perfsuite.X' for `from perfsuite.X import`, 'perfsuite:Name' for public."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "perfsuite":
            found += [f"{node.module}:{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "perfsuite"]
    return found


def test_benches_and_templates_use_only_the_public_api() -> None:
    import perfsuite

    sources = sorted((REPO / "benches").glob("*.py")) + sorted((REPO / "perfsuite" / "scaffold" / "templates").rglob("*.py.j2"))
    assert sources
    offenders = {}
    for path in sources:
        names = _perfsuite_imports(re.sub(r"\[=.*?=\]", "x", path.read_text()))
        bad = [n for n in names if not (n.startswith("perfsuite:") and n.split(":")[1] in perfsuite.__all__)]
        if bad:
            offenders[path.relative_to(REPO).as_posix()] = bad
    assert not offenders, f"non-public perfsuite names imported (use `from perfsuite import ...`): {offenders}"
