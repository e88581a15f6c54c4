"""Deep profiling: per-layer time, memory timeline (CUDA through fakes), NVTX, Nsight commands, profiler failures."""

from __future__ import annotations

import csv
import errno
import gzip
import json
import pickle
from pathlib import Path

import pytest

from perfsuite.config.schema import TorchOutputSpec, TorchProfilerSpec
from perfsuite.errors import PerfProfileError
from perfsuite.measure.fakes import FakeCuda
from perfsuite.profile import ProfilerSettings, profile_case
from perfsuite.profile.layers import LAYER_COLUMNS, time_layers
from perfsuite.profile.memory_timeline import PHASE_COLUMNS, PhaseRun, record_timeline, track_load
from perfsuite.profile.nvtx import phase_ranges
from perfsuite.results.case import ProfileSummary
from perfsuite.results.deep import LayerSummary, MemoryTimelineSummary
from perfsuite.results.reading import Doc

torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.blocks = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
        self.act = torch.nn.ReLU()  # called twice per forward
        self.head = torch.nn.Linear(16, 4)
        self.unused = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.head(self.act(self.blocks(self.act(self.embed(x)))))


class StepClock:
    """A fake perf_counter: each read advances 1 ms, so every hooked interval is a whole number of ticks."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1e-3
        return self.t


# -- per-layer time ---------------------------------------------------------------------------------


def test_layer_table_columns_shares_calls_and_flops(tmp_path):
    model = Tiny().eval()
    x = torch.randn(3, 8)
    syncs = []
    timing = time_layers(model, lambda: model(x), out_dir=tmp_path, name="tiny", passes=3, warmup=1, sync=lambda: syncs.append(1))
    rows = list(csv.DictReader(timing.table_path.open()))
    assert timing.table_path == tmp_path / "tables" / "tiny.layers.csv"
    assert tuple(rows[0]) == LAYER_COLUMNS
    by_name = {r["module"]: r for r in rows}
    assert by_name[""]["type"] == "Tiny" and by_name[""]["depth"] == "0" and float(by_name[""]["share"]) == 1.0
    assert "unused" not in by_name  # never ran: no row
    assert by_name["act"]["calls"] == "2.0" and by_name["blocks.0"]["depth"] == "2"
    assert int(by_name["embed"]["params"]) == 8 * 16 + 16 and int(by_name[""]["params"]) == sum(p.numel() for p in model.parameters())
    assert int(by_name["embed"]["flops"]) == 2 * 3 * 8 * 16 and by_name["act"]["flops"] == ""  # ReLU: no FLOPs counted
    assert int(by_name[""]["flops"]) == 2 * 3 * (8 * 16 + 16 * 16 * 2 + 16 * 4)
    for r in rows[1:]:
        assert 0 <= float(r["share"]) <= 1 and float(r["time_s"]) <= float(by_name[""]["time_s"])
    # every hook waits for the device: 2 per module call, plus 1 per timed forward (warm-up, unhooked, hooked)
    module_calls = sum(float(r["calls"]) for r in rows) * 3
    assert len(syncs) == 2 * module_calls + 1 + 3 + 3
    assert timing.hooked_median_s > 0 and timing.unhooked_median_s > 0 and timing.hook_overhead is not None
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # all hooks removed


def test_layer_times_with_a_fake_clock_are_exact(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    x = torch.randn(1, 2)
    timing = time_layers(model, lambda: model(x), out_dir=tmp_path, name="s", passes=2, warmup=0, now=StepClock(), count_flops=False)
    root, child = timing.rows
    # root: pre read, child pre read, child post read, root post read -> root spans 3 ticks, the child 1
    assert root.time_s == pytest.approx(3e-3) and child.time_s == pytest.approx(1e-3) and child.share == pytest.approx(1 / 3)
    assert child.flops is None and timing.flops_note == "FLOPs not counted (count_flops off)"
    summary = LayerSummary.of(timing, top_n=5)
    again = LayerSummary.from_doc(Doc.root(json.loads(json.dumps(summary.to_dict())), "x"))
    assert again == summary and again.top[0]["module"] == "0"


def test_a_hook_that_raises_fails_the_layer_pass_and_removes_the_hooks(tmp_path):
    model = Tiny().eval()
    x = torch.randn(1, 8)

    seen = []

    def boom(module, args, output):
        seen.append(1)
        if len(seen) > 2:  # fine in the warm-up and unhooked forwards, raises once ours are on too
            raise RuntimeError("user hook exploded")

    mine = model.head.register_forward_hook(boom)
    with pytest.raises(PerfProfileError, match="layer pass failed: RuntimeError: user hook exploded"):
        time_layers(model, lambda: model(x), out_dir=tmp_path, name="t", passes=1, warmup=1)
    assert not (tmp_path / "tables" / "t.layers.csv").exists()
    mine.remove()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # ours are gone too


def test_our_sync_failing_inside_a_hook_names_the_module(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    x = torch.randn(1, 2)
    state = {"n": 0}

    def sync():
        state["n"] += 1
        if state["n"] > 3:  # warm-up and unhooked pass sync fine; the first hook's sync fails
            raise RuntimeError("CUDA error: device-side assert")

    with pytest.raises(PerfProfileError, match="module '<root>'.*device-side assert"):
        time_layers(model, lambda: model(x), out_dir=tmp_path, name="t", passes=1, warmup=2, sync=sync)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


# -- memory timeline --------------------------------------------------------------------------------


def test_cuda_memory_timeline_through_fakes(tmp_path):
    cuda = FakeCuda(devices=2)
    calls = []

    def fn():  # each call allocates 100 bytes of activations, peaks, frees them
        cuda.alloc(100, "cuda:1")
        cuda.free(100, "cuda:1")
        calls.append(1)

    cuda.alloc(1000, "cuda:1")  # weights

    def profiler():
        cuda.alloc(50, "cuda:1")  # the profiler's own buffers, kept
        from contextlib import nullcontext

        return nullcontext()

    phases = [PhaseRun("warm-up", 2), PhaseRun("timed", 3), PhaseRun("profiled", 2, profiler)]
    tl = record_timeline(fn, phases, device="cuda:1", out_dir=tmp_path, name="c", cuda=cuda, max_entries=77)
    assert len(calls) == 7 and cuda.memory.max_entries == 77 and cuda.memory.enabled is None  # history stopped after
    assert tl.device_kind == "cuda" and tl.snapshot_path == tmp_path / "traces" / "c.memory.pickle"
    snap = pickle.loads(tl.snapshot_path.read_bytes())
    assert [e["action"] for e in snap["device_traces"][0]][:2] == ["alloc", "free_completed"] and tl.samples == 15
    timed = tl.peak("timed")
    assert (timed.start_bytes, timed.peak_bytes, timed.end_bytes) == (1000, 1100, 1000)
    profiled = tl.peak("profiled")
    assert (profiled.start_bytes, profiled.peak_bytes, profiled.end_bytes) == (1000, 1150, 1050)
    assert {"reset_peak_memory_stats", "max_memory_allocated", "synchronize"} <= {n for n, d in cuda.calls if d == 1}
    assert not any(d == 0 for _, d in cuda.calls)  # every read on the case's device, none on the current one
    rows = list(csv.DictReader(tl.table_path.open()))
    assert tuple(rows[0]) == PHASE_COLUMNS and [r["phase"] for r in rows] == ["warm-up", "timed", "profiled"]
    assert "load: not tracked" in tl.notes[0]


def test_cuda_load_phase_is_tracked_on_the_device(tmp_path):
    cuda = FakeCuda()
    with track_load("cuda", cuda=cuda) as load:
        cuda.alloc(4096)
        cuda.alloc(1024)
        cuda.free(1024)
    (peak,) = load
    assert (peak.phase, peak.start_bytes, peak.peak_bytes, peak.end_bytes, peak.source) == ("load", 0, 5120, 4096, "cuda_allocated")
    tl = record_timeline(lambda: None, [PhaseRun("timed", 1)], device="cuda", out_dir=tmp_path, name="x", cuda=cuda, load=peak)
    assert [p.phase for p in tl.phases] == ["load", "timed"] and not tl.notes


def test_cpu_memory_timeline_samples_rss_per_phase(tmp_path):
    rss = {"v": 1000}

    def fn():
        rss["v"] += 10  # grows 10 bytes a call

    tl = record_timeline(fn, [PhaseRun("warm-up", 2), PhaseRun("timed", 3)], device="cpu", out_dir=tmp_path, name="p",
                         rss_bytes=lambda: rss["v"], period_s=0.001)
    assert tl.device_kind == "cpu" and tl.snapshot_path is None
    warm, timed = tl.phases
    assert (warm.start_bytes, warm.peak_bytes) == (1000, 1020) and (timed.start_bytes, timed.peak_bytes, timed.end_bytes) == (1020, 1050, 1050)
    samples = list(csv.DictReader(tl.timeline_path.open()))
    assert {"warm-up", "timed"} <= {s["phase"] for s in samples} and tl.samples == len(samples)
    ts = [float(s["t_s"]) for s in samples]
    assert ts == sorted(ts)
    summary = MemoryTimelineSummary.of(tl)
    assert MemoryTimelineSummary.from_doc(Doc.root(json.loads(json.dumps(summary.to_dict())), "x")) == summary
    assert summary.peak_bytes("timed") == 1050


def test_disk_full_while_writing_the_snapshot_removes_the_partial_file(tmp_path, monkeypatch):
    import perfsuite.profile.memory_timeline as mt

    def full(obj, fh):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mt.pickle, "dump", full)
    cuda = FakeCuda()
    with pytest.raises(PerfProfileError, match="disk is full.*partial file was removed"):
        record_timeline(lambda: None, [PhaseRun("timed", 1)], device="cuda", out_dir=tmp_path, name="f", cuda=cuda)
    assert not list((tmp_path / "traces").iterdir())
    assert cuda.memory.enabled is None


# -- torch.profiler: headline op, overhead, failures ----------------------------------------------


def test_headline_op_skips_profiler_step_wrappers_and_overhead_is_recorded(tmp_path):
    a = torch.randn(64, 64)
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=2), TorchOutputSpec(sort_by="cpu_time_total"))
    result = profile_case(lambda: a @ a, settings, device="cpu", out_dir=tmp_path, name="mm")
    assert result.top_ops[0]["name"].startswith("ProfilerStep")  # by total time the wrapper is on top...
    assert result.headline_op == "aten::matmul"  # ...but never the headline
    o = result.overhead
    assert o.unprofiled_calls == 5 and o.profiled_calls == 2 and o.ratio == pytest.approx(o.profiled_median_s / o.unprofiled_median_s)
    summary = ProfileSummary.of(result)
    assert summary.top_op == "aten::matmul" and summary.overhead_ratio == pytest.approx(o.ratio)
    # a results.json from before headline_op existed: derived from top_ops, wrappers skipped
    old = ProfileSummary(op_table="x", top_ops=({"name": "ProfilerStep*"}, {"name": "aten::addmm"}))
    assert old.top_op == "aten::addmm" and old.overhead_ratio is None


def test_disk_full_while_writing_the_trace_removes_the_partial_file(tmp_path, monkeypatch):
    import perfsuite.profile.torch_profiler as tp

    def full(raw, dest):
        dest.write_bytes(b"\x1f\x8b partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tp, "_gzip", full)
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1, with_flops=False))
    with pytest.raises(PerfProfileError, match=r"trace .*mm\.json\.gz failed \(the disk is full.*partial file was removed"):
        profile_case(lambda: torch.ones(2) + 1, settings, device="cpu", out_dir=tmp_path, name="mm")
    assert list((tmp_path / "traces").iterdir()) == []  # neither the raw trace nor the partial .gz


def test_a_failing_profiler_is_a_profile_error_with_the_reason(tmp_path, monkeypatch):
    import torch.profiler

    class Broken:
        def __init__(self, *a, **k):
            raise RuntimeError("Kineto not available")

    monkeypatch.setattr(torch.profiler, "profile", Broken)
    with pytest.raises(PerfProfileError, match="torch.profiler failed on this case: RuntimeError: Kineto not available"):
        profile_case(lambda: None, ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1)), device="cpu", out_dir=tmp_path, name="x")
    assert list((tmp_path / "traces").iterdir()) == []


def test_the_gzipped_trace_loads_as_json_with_trace_events(tmp_path):
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1, with_flops=False))
    result = profile_case(lambda: torch.ones(4) * 2, settings, device="cpu", out_dir=tmp_path, name="t")
    with gzip.open(result.trace_path, "rt") as fh:
        assert "traceEvents" in json.load(fh)


# -- NVTX -------------------------------------------------------------------------------------------


class FakeNvtx:
    def __init__(self) -> None:
        self.log: list[str] = []

    def range_push(self, name: str) -> None:
        self.log.append(f"push {name}")

    def range_pop(self) -> None:
        self.log.append("pop")


def test_nvtx_ranges_only_on_cuda_and_around_each_measure_phase():
    from perfsuite.measure import measure
    from perfsuite.measure.policy import StopPolicy, WarmupPolicy

    nvtx = FakeNvtx()
    ranged = phase_ranges("cuda:0", nvtx=nvtx)
    measure(lambda: None, warmup=WarmupPolicy(min_calls=2, window=1), stop=StopPolicy(min_time_s=0.001, min_rounds=3, max_time_s=0.05),
            phase=ranged)
    assert nvtx.log == ["push perfsuite:warm-up", "pop", "push perfsuite:timed", "pop"]  # once per phase, not per call
    with pytest.raises(ValueError, match="unknown phase"):
        with ranged("lunch"):
            pass
    cpu = FakeNvtx()
    with phase_ranges("cpu", nvtx=cpu)("timed"):
        pass
    assert cpu.log == []


def test_nvtx_range_is_popped_when_the_phase_raises():
    nvtx = FakeNvtx()
    with pytest.raises(KeyError):
        with phase_ranges("cuda", nvtx=nvtx)("load"):
            raise KeyError("x")
    assert nvtx.log == ["push perfsuite:load", "pop"]


# -- results and the headline -----------------------------------------------------------------------


def _result(test: str, outcome: str = "passed", reason: str | None = None, **parts):
    from perfsuite.results.case import CaseInfo, CaseResult

    info = CaseInfo(id="m-d-eager-bs1-cpu", model="m", model_family="gpt2", modality="text", dataset="d", runtime="eager",
                    batch_size=1, device="cpu", precision="fp32", seed=0)
    return CaseResult(test=test, kind="profile", case=info, outcome=outcome, finished="2026-01-01T00:00:00", reason=reason, **parts)


def test_deep_sections_round_trip_and_are_absent_when_not_measured():
    from perfsuite.results.case import CaseResult
    from perfsuite.results.deep import NsightSummary

    plain = _result("test_profile").to_dict()
    assert not {"layers", "memory_timeline", "nsight"} & set(plain)  # older readers never meet a new key
    nsight = NsightSummary(({"tool": "nsys", "command": "nsys profile x", "status": "skipped", "reason": "nsys not found on PATH"},))
    mt = MemoryTimelineSummary("cpu", "t.csv", ({"phase": "timed", "calls": 3, "peak_bytes": 10},), timeline="r.csv")
    full = _result("test_nsight", "skipped", "nsys not found", nsight=nsight, memory_timeline=mt)
    back = CaseResult.from_doc(Doc.root(json.loads(json.dumps(full.to_dict())), "results.json"))
    assert back.nsight == nsight and back.memory_timeline == mt and back.layers is None
    with pytest.raises(Exception, match="status"):
        CaseResult.from_doc(Doc.root({**full.to_dict(), "nsight": {"runs": [{"tool": "nsys", "command": "x"}]}}, "results.json"))


def test_headline_shows_deep_tables_and_a_failed_layer_pass_with_its_reason():
    from perfsuite.report.headline import Table, headline

    layers = LayerSummary("l.csv", 2, 0.02, 0.021, 0.02, top=({"module": "encoder", "type": "Enc", "time_s": 0.015, "share": 0.75,
                                                               "calls": 1.0, "params": 1000, "flops": 2e6},))
    results = [
        _result("test_profile", profile=ProfileSummary(op_table="o.csv", top_ops=({"name": "ProfilerStep*"}, {"name": "aten::mm"}),
                                                       overhead={"ratio": 1.25})),
        _result("test_layers", layers=layers),
        _result("test_layers", "failed", "layer pass failed: RuntimeError: boom"),
        _result("test_memory_timeline", memory_timeline=MemoryTimelineSummary("cpu", "t", (
            {"phase": "load", "peak_bytes": 2**20, "peak_increase_bytes": 2**19}, {"phase": "timed", "peak_bytes": 2**21, "peak_increase_bytes": 0}))),
    ]
    tables = {b.title.split(":")[0]: b for b in headline(results) if isinstance(b, Table)}
    assert set(tables) == {"profile", "layers", "memory timeline"}
    (prow,) = tables["profile"].rows
    assert [c.text for c in prow][3:5] == ["aten::mm", "+25.0%"]
    lrows = [[c.text for c in row] for row in tables["layers"].rows]
    assert lrows[0][:5] == ["m-d-eager-bs1-cpu", "encoder", "Enc", "15.0 ms", "75.0%"] and lrows[0][-1] == "hooks +5.0%"
    assert lrows[1][-1] == "failed: layer pass failed: RuntimeError: boom"
    (mrow,) = [[c.text for c in row] for row in tables["memory timeline"].rows]
    assert mrow[1:6] == ["host RSS", "1.00 MiB (+512 KiB)", "-", "2.00 MiB", "-"]


def test_disk_full_during_the_profilers_own_export_removes_the_partial_file(tmp_path, monkeypatch):
    """torch writes the raw chrome trace itself (export_chrome_trace): a full disk there is caught too."""
    import torch.profiler

    def full(self, path):
        Path(path).write_text('{"traceEvents": [')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.profiler.profile, "export_chrome_trace", full)
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1, with_flops=False))
    with pytest.raises(PerfProfileError, match=r"writing the trace .*x\.json failed \(the disk is full"):
        profile_case(lambda: torch.ones(2) + 1, settings, device="cpu", out_dir=tmp_path, name="x")
    assert list((tmp_path / "traces").iterdir()) == []
