"""Profile diff of regressed cases: ranking, finding both sides' tables, clear reasons, and the gate end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import REPO
from perfsuite.errors import PerfDataError
from perfsuite.profile.diff import DIFF_COLUMNS, diff_layers, diff_ops, read_table, write_diff
from perfsuite.profile.torch_profiler import OP_COLUMNS
from perfsuite.results.case import ProfileSummary
from perfsuite.results.profile_diff import diff_case, read_diff
from synthetic_runs import TEXT, result, write_run


def op(name: str, self_cpu: float, count: int = 1, device: float = 0.0) -> dict[str, str]:
    return {"name": name, "count": str(count), "self_cpu_us": str(self_cpu), "cpu_total_us": str(self_cpu),
            "self_device_us": str(device), "device_total_us": str(device), "flops": "0", "self_cpu_memory_bytes": "0"}


def write_ops(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=OP_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def test_ops_ranked_by_change_in_self_time_per_step():
    base = [op("aten::mm", 300, 3), op("aten::add", 90, 6), op("ProfilerStep#2", 999), op("aten::gone", 30, 3)]
    head = [op("aten::mm", 330, 3), op("aten::add", 90, 6), op("ProfilerStep#5", 5000), op("my::slow", 600, 3)]
    rows = diff_ops(base, head, base_steps=3, head_steps=3)
    assert [r.name for r in rows] == ["my::slow", "aten::mm", "aten::add", "aten::gone"]  # the step wrapper left out
    top = rows[0]
    assert (top.base_self_us, top.head_self_us, top.delta_self_us, top.ratio, top.delta_count) == (0.0, 200.0, 200.0, None, 1.0)
    assert rows[1].delta_self_us == pytest.approx(10.0) and rows[1].ratio == pytest.approx(1.1) and rows[1].time_basis == "cpu"
    assert rows[-1].delta_self_us == pytest.approx(-10.0) and rows[-1].delta_count == -1.0


def test_steps_normalise_and_each_op_is_timed_where_it_ran():
    base = [op("k", 100, 2, device=40)]
    head = [op("k", 100, 4, device=160)]  # 4 steps on the head side: per step 20 -> 40 µs of device time
    rows = diff_ops(base, head, base_steps=2, head_steps=4)
    assert rows[0].time_basis == "device" and rows[0].base_self_us == 20.0 and rows[0].head_self_us == 40.0
    # CUDA: a host-side slowdown (no device time) still ranks by its CPU time; the host's waits on
    # the device (which grow with any slower kernel) come last
    base = [op("aten::mm", 50, 1, device=300), op("cudaDeviceSynchronize", 310, 1)]
    head = [op("aten::mm", 50, 1, device=320), op("cudaDeviceSynchronize", 900, 1), op("perfsuite::injected_slowdown", 500, 1)]
    rows = diff_ops(base, head, base_steps=1, head_steps=1)
    assert [(r.name, r.time_basis) for r in rows] == [("perfsuite::injected_slowdown", "cpu"), ("aten::mm", "device"),
                                                      ("cudaDeviceSynchronize", "cpu-wait")]
    with pytest.raises(ValueError, match="steps"):
        diff_ops(base, head, base_steps=0, head_steps=1)


def test_layers_and_round_trip(tmp_path):
    rows = diff_layers([{"module": "h.0", "calls": "3", "time_s": "0.001"}], [{"module": "h.0", "calls": "3", "time_s": "0.003"}])
    assert rows[0].kind == "layer" and rows[0].delta_self_us == pytest.approx(2000.0)
    path = write_diff(tmp_path / "x.diff.csv", diff_ops([op("a", 1)], [op("a", 5)], base_steps=1, head_steps=1) + rows)
    with path.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == DIFF_COLUMNS
        assert [(r["kind"], r["name"]) for r in reader] == [("op", "a"), ("layer", "h.0")]
    back = read_diff(path, "case")
    assert back.reason is None and [r.name for r in back.top] == ["a"] and back.top[0].delta_self_us == 4.0


def test_bad_tables_are_clear_errors(tmp_path):
    with pytest.raises(PerfDataError, match="does not exist"):
        read_table(tmp_path / "nope.csv", ("name",))
    (tmp_path / "bad.csv").write_text("who,what\n1,2\n")
    with pytest.raises(PerfDataError, match="lacks the column"):
        read_table(tmp_path / "bad.csv", ("name", "count"))
    with pytest.raises(PerfDataError, match="not a number"):
        diff_ops([op("a", 1)], [{**op("a", 1), "self_cpu_us": "fast"}], base_steps=1, head_steps=1, head_name="head.csv")
    (tmp_path / "x.diff.csv").write_text("kind,name\nop,a\n")
    assert "could not be read" in read_diff(tmp_path / "x.diff.csv", "c").reason


def _profile_result(table: Path | str, steps: int = 2):
    return result(TEXT, kind="profile", profile=ProfileSummary(op_table=str(table), active_steps=steps, top_ops=({"name": "a"},)))


def test_diff_case_finds_both_tables_or_says_why(tmp_path, monkeypatch):
    base_dir, head_dir = tmp_path / "base", tmp_path / "head"
    base_ops = write_ops(base_dir / "tables" / f"{TEXT.id}.ops.csv", [op("aten::mm", 200, 2)])
    head_ops = write_ops(head_dir / "tables" / f"{TEXT.id}.ops.csv", [op("aten::mm", 200, 2), op("slow", 400, 2)])
    head = write_run(head_dir, [result(TEXT), _profile_result(head_ops)])
    latency_only = write_run(tmp_path / "lat", [result(TEXT)])
    moved = write_run(tmp_path / "moved", [result(TEXT), _profile_result("/elsewhere/gone/" + base_ops.name)])

    assert "baseline has no profile" in diff_case(TEXT.id, latency_only, tmp_path / "lat", head, head_dir).reason
    assert "did not profile" in diff_case(TEXT.id, head, base_dir, latency_only, tmp_path / "lat").reason
    assert "op table is gone" in diff_case(TEXT.id, moved, tmp_path / "moved", head, head_dir).reason

    # the stored path moved, but the source run folder holds the same file name: found there
    d = diff_case(TEXT.id, moved, base_dir, head, head_dir)
    assert d.reason is None and d.path == head_dir / "tables" / f"{TEXT.id}.diff.csv" and d.path.is_file()
    assert d.top[0].name == "slow" and d.top[0].delta_self_us == 200.0

    # layer tables on both sides add layer rows after the ops
    for folder, t in ((base_dir, "0.001"), (head_dir, "0.004")):
        (folder / "tables" / f"{TEXT.id}.layers.csv").write_text(f"module,type,depth,calls,time_s,share,params,flops\nh.0,Block,1,2,{t},1,10,10\n")
    d = diff_case(TEXT.id, moved, base_dir, head, head_dir)
    kinds = [r["kind"] for r in csv.DictReader(d.path.open(encoding="utf-8"))]
    assert kinds == ["op", "op", "layer"]

    # a diff that cannot be written (full disk, read-only folder) keeps its top rows and says why
    def full(path, text):
        raise OSError(28, "No space left on device")

    import perfsuite.results.layout as layout

    monkeypatch.setattr(layout, "atomic_write_text", full)
    d = diff_case(TEXT.id, moved, base_dir, head, head_dir)
    assert d.path is None and d.top[0].name == "slow" and "No space left on device" in d.reason


SUITE = """
name: one
description: one tiny case
models: [gpt2.tiny]
datasets: [pydoc]
batch_sizes: [1]
overrides: [measure.stop.min_time_s=0.3, measure.stop.max_time_s=1.0, measure.warmup.max_time_s=0.5, profiling.torch.active=2]
"""


def test_injected_slowdown_is_the_top_row_of_the_regressed_case_diff(pytester: pytest.Pytester, conf_dir, tmp_path):
    """pipeline=full baseline, then the same case with `inference_runtime.slowdown` under the gate."""
    median_gate = (REPO / "conf/gate/median.yaml").read_text()
    assert "gate_noisy: false" in median_gate
    # The medians, and gate_noisy: a loaded test machine flags most timings noisy and moves its fastest
    # times between blocks by +-50%; a 3x slowdown of every call is far beyond that.
    conf = conf_dir({"suite/one.yaml": SUITE, "gate/noisy.yaml": median_gate.replace("gate_noisy: false", "gate_noisy: true")})
    out = tmp_path / "out"
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "-k", "not generation", "--perf-suite", "one", "--perf-conf-dir", str(conf),
            "--perf-out-dir", str(out), "--perf-override", "pipeline=full"]
    base = pytester.runpytest_subprocess(*argv, "--perf-baseline-save", "main")
    base.assert_outcomes(passed=3)
    base_run = sorted((out / "runs").iterdir())[-1]
    doc = json.loads((base_run / "results.json").read_text())
    (point,) = doc["roofline"]  # static analysis + latency median -> a roofline point against the measured CPU roofs
    assert point["case"] == "gpt2.tiny-pydoc-eager-bs1-cpu" and point["pct_of_peak_flops"] > 0 and point["peak"]["omitted"] is None
    assert "class=\"roof\"" in (base_run / "report.html").read_text(encoding="utf-8")
    assert len(list((out / "cache" / "peaks").glob("*.json"))) == 1

    slowed = pytester.runpytest_subprocess(*argv, "--perf-override", "inference_runtime.slowdown=2.0", "--perf-compare", "main", "--perf-confirm", "1",
                                           "--perf-gate", "--perf-gate-config", "noisy", "--perf-confirm-budget", "0")  # no paired rounds: the diff is the point
    assert slowed.ret == 1, slowed.stdout.str()
    slowed.stdout.fnmatch_lines(["*gate FAILED: 1 case(s) regressed*", "profile diff of gpt2.tiny-pydoc-eager-bs1-cpu (head - base*",
                                 "  perfsuite::injected_slowdown +* µs/step cpu self time (0.0 -> *, new), calls +1"])
    head_run = sorted((out / "runs").iterdir())[-1]
    with (head_run / "tables" / "gpt2.tiny-pydoc-eager-bs1-cpu.diff.csv").open(encoding="utf-8") as fh:
        top = next(csv.DictReader(fh))
    assert top["name"] == "perfsuite::injected_slowdown" and float(top["delta_self_us"]) > 0
    (listed,) = json.loads((head_run / "verdicts.json").read_text())["profile_diffs"]
    assert listed["top"][0]["name"] == "perfsuite::injected_slowdown" and listed["path"].endswith(".diff.csv")
    report = (head_run / "report.html").read_text(encoding="utf-8")
    assert 'id="profile-diffs"' in report and "perfsuite::injected_slowdown" in report


def test_report_shows_stored_diffs_and_the_gate_prints_reasons(tmp_path):
    from perfsuite.gate_plugin import GatePlugin
    from perfsuite.report.html import write_report
    from perfsuite.results.profile_diff import CaseDiff

    run_dir = tmp_path / "run"
    write_run(run_dir, [result(TEXT)])
    rows = diff_ops([op("aten::mm", 10)], [op("aten::mm", 10), op("my::slow_op", 50)], base_steps=1, head_steps=1)
    write_diff(run_dir / "tables" / f"{TEXT.id}.diff.csv", rows)
    path, _ = write_report(run_dir)  # `perfsuite report --html RUN`: no gate in memory, the CSV on disk
    html = path.read_text(encoding="utf-8")
    assert 'id="profile-diffs"' in html and "my::slow_op" in html and f'href="tables/{TEXT.id}.diff.csv"' in html

    lines: list[str] = []

    class Reporter:
        def write_line(self, line: str, **markup: bool) -> None:
            lines.append(line)

    gate = GatePlugin(session=None, store=None, save_as=None, compare_to="main", gate=True, force=False)
    gate.diffs = [CaseDiff("a", None, reason="the baseline has no profile of the case: save ..."),
                  CaseDiff("b", run_dir / "x.diff.csv", tuple(rows[:1]))]
    gate._write_diffs(Reporter())
    assert lines[0] == "profile diff of a: none, the baseline has no profile of the case: save ..."
    assert lines[1].startswith("profile diff of b (head - base, per profiled step;")
    assert lines[2].startswith("  my::slow_op +50.0 µs/step cpu self time (0.0 -> 50.0, new), calls +1")
