from __future__ import annotations

import pytest

from perfsuite.config.schema import TorchOutputSpec, TorchProfilerSpec
from perfsuite.profile import ProfilerSettings, profile_case

torch = pytest.importorskip("torch")


def test_profile_small_op(tmp_path):
    a = torch.randn(64, 64)
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=2), TorchOutputSpec(op_table_rows=3))
    result = profile_case(lambda: a @ a, settings, device="cpu", out_dir=tmp_path, name="mm")
    assert result.trace_path == tmp_path / "traces" / "mm.json.gz" and result.trace_path.is_file()
    assert not (tmp_path / "traces" / "mm.json").exists()  # only the gzipped trace is kept
    assert result.total_flops == 2 * 2 * 64**3 and result.flops_per_call == 2 * 64**3
    assert len(result.top_ops) == 3 and result.activities == ("cpu",)


def test_no_trace_when_disabled(tmp_path):
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1, with_flops=False), TorchOutputSpec(export_trace=False))
    result = profile_case(lambda: torch.ones(3) + 1, settings, device="cpu", out_dir=tmp_path, name="x")
    assert result.trace_path is None and result.total_flops is None and result.table_path.is_file()


def test_bad_sort_key(tmp_path):
    with pytest.raises(ValueError, match="unknown op table sort key"):
        profile_case(lambda: None, ProfilerSettings(output=TorchOutputSpec(sort_by="speed")), device="cpu", out_dir=tmp_path, name="x")


def test_only_cuda_on_cpu_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no profiler activity"):
        profile_case(lambda: None, ProfilerSettings(TorchProfilerSpec(activities=("cuda",))), device="cpu", out_dir=tmp_path, name="x")


def test_static_analysis_counts_linear_flops():
    from perfsuite.profile.static import analyze

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    x = torch.randn(5, 8)
    result = analyze(model, lambda: model(x))
    assert result["params"] == 8 * 16 + 16 + 16 * 4 + 4
    assert result["flops_per_call"] == 2 * 5 * (8 * 16 + 16 * 4)
    assert result["weights_bytes"] == result["params"] * 4 and result["params_by_dtype"] == {"float32": result["params"]}
    assert set(result["params_by_child"]) == {"0", "1", "2"}
