"""FLOPs that count attention, bytes moved, device peaks (datasheet table, CPU probe cache) and roofline points."""

from __future__ import annotations

import dataclasses
import json

import pytest

from perfsuite.measure import cpu_peaks
from perfsuite.measure.peaks import GPU_PEAKS, DevicePeak, lookup_gpu, peak_dtype
from perfsuite.measure.roofline import roofline_point
from perfsuite.profile.attention import sdpa_flops
from perfsuite.results.case import StaticSummary
from perfsuite.results.reading import Doc
from synthetic_runs import TEXT, fake_measurement, result, write_run

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def test_sdpa_formula_counts_both_matmuls_per_query_head():
    # q (B=2, H=4, Lq=8, E=16), k/v with 2 heads (GQA) and Lk=10, Ev=32
    assert sdpa_flops((2, 4, 8, 16), (2, 2, 10, 16), (2, 2, 10, 32)) == 2 * 8 * 8 * 10 * 16 + 2 * 8 * 8 * 10 * 32
    assert sdpa_flops((8, 16), (10, 16), (10, 16)) == 2 * 2 * 8 * 10 * 16  # no batch dims
    with pytest.raises(ValueError, match="at least 2 dims"):
        sdpa_flops((16,), (10, 16), (10, 16))


def _bert(impl: str):
    from perfsuite.profile.static import analyze

    torch.manual_seed(0)
    cfg = transformers.BertConfig(num_hidden_layers=2, num_attention_heads=2, hidden_size=64, intermediate_size=128, vocab_size=512,
                                  attn_implementation=impl)
    model = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, 512, (2, 24))
    mask = torch.ones_like(ids)
    mask[1, 16:] = 0  # padding: SDPA gets a mask, the path FlopCounterMode used to miss on CPU
    return analyze(model, lambda: model(input_ids=ids, attention_mask=mask))


def test_bert_tiny_counts_the_same_flops_with_sdpa_and_eager_attention():
    sdpa, eager = _bert("sdpa"), _bert("eager")
    attention = 2 * 2 * (2 * 2 * 2 * 24 * 24 * 32)  # 2 layers x 2 matmuls (QK^T, PV) x 2·B·H·L·L·d, B=H=2, L=24, d=32
    assert sdpa["flops_per_call"] == eager["flops_per_call"]
    assert sdpa["sdpa_flops"] == attention and eager["sdpa_flops"] == 0
    assert eager["flops_by_op"]["aten.bmm"] == attention
    assert sdpa["attention_not_counted"] is None and eager["attention_not_counted"] is None
    # the same weights are read; eager attention writes and reads its score matrices too
    assert sdpa["bytes_moved"]["weights_read"] == eager["bytes_moved"]["weights_read"]
    assert sdpa["bytes_per_call"] < eager["bytes_per_call"]
    assert sdpa["flops_per_byte"] == pytest.approx(sdpa["flops_per_call"] / sdpa["bytes_per_call"])


def test_an_attention_op_without_a_formula_is_reported_not_counted():
    from perfsuite.profile.static import analyze

    @torch.library.custom_op("perfsuite_test::my_attention", mutates_args=())
    def my_attention(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return (q @ k.transpose(-1, -2)).softmax(-1)

    @my_attention.register_fake
    def _(q, k):
        return q.new_empty(q.shape[:-1] + (k.shape[-2],))

    q = torch.randn(1, 8, 4)
    result = analyze(torch.nn.Identity(), lambda: my_attention(q, q))
    assert "perfsuite_test.my_attention" in result["attention_not_counted"]
    assert "not in flops_per_call" in result["attention_not_counted"]


def test_bytes_moved_counts_weights_once_views_never_and_embedding_rows_only():
    from perfsuite.profile.static import analyze

    emb = torch.nn.Embedding(1000, 16)
    lin = torch.nn.Linear(16, 8)
    model = torch.nn.ModuleDict({"emb": emb, "lin": lin})
    ids = torch.tensor([[1, 2, 3]])

    def call():
        x = emb(ids)  # reads 3 rows of 16 floats, writes them
        y = lin(x)  # t() of the weight is a view: the weight counts once, as a weight
        return lin(y.view(1, 3, 8).expand(1, 3, 8).reshape(3, 8) @ torch.zeros(8, 16))

    moved = analyze(model, call)["bytes_moved"]
    assert moved["weights_read"] == (16 * 8 + 8) * 4  # the Linear's weight and bias, once (used twice); not the 64 KB table
    rows = 3 * 16 * 4
    assert moved["activations_read"] >= rows + rows  # the embedding's rows, then x into the Linear
    assert moved["activations_read"] < 1000 * 16 * 4


@pytest.mark.parametrize(("name", "entry"), [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA H200 NVL", "H200 NVL"), ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
    ("NVIDIA A100-SXM4-80GB", "A100 80GB SXM"), ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe"), ("NVIDIA L4", "L4"),
    ("NVIDIA L40S", "L40S"), ("Tesla T4", "T4"), ("NVIDIA A10", "A10"), ("Tesla V100-SXM2-16GB", "V100 SXM2"),
    ("Tesla V100-PCIE-32GB", "V100 PCIe"), ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"),
])
def test_gpu_names_match_their_datasheet_entry(name, entry):
    peak = lookup_gpu(name, "fp32")
    expected = next(e for e in GPU_PEAKS if e.name == entry)
    assert peak.omitted is None and peak.flops_per_s == expected.flops["fp32"] and peak.bytes_per_s == expected.bandwidth
    assert peak.source == f"{entry}: {expected.source}"


def test_every_entry_names_its_source_and_sane_figures():
    for e in GPU_PEAKS:
        assert e.source and ("nvidia" in e.source.lower())
        assert 1e12 < e.flops["fp32"] < 1e14 and 1e11 < e.bandwidth < 1e13
        assert all(v >= e.flops["fp32"] for v in e.flops.values())  # tensor-core rates are never below FP32


@pytest.mark.parametrize("name", ["NVIDIA A10G", "NVIDIA GH200 480GB", "NVIDIA RTX A1000", "NVIDIA L40", "NVIDIA H800", ""])
def test_names_are_matched_by_whole_words_never_borrowing_a_neighbours_peak(name):
    peak = lookup_gpu(name, "fp32")
    assert peak.flops_per_s is None and peak.bytes_per_s is None and "not in perfsuite's peak table" in peak.omitted


def test_unknown_gpu_or_dtype_gets_no_peak_and_says_why():
    unknown = lookup_gpu("NVIDIA A10G", "fp32")  # AWS's A10G: no public datasheet, so not in the table
    assert unknown.flops_per_s is None and unknown.bytes_per_s is None and "not in perfsuite's peak table" in unknown.omitted
    t4 = lookup_gpu("Tesla T4", "bf16")
    assert t4.flops_per_s is None and "no bf16 peak" in t4.omitted
    assert peak_dtype("fp32") == "fp32" and peak_dtype("fp32", float32_matmul_precision="high") == "tf32" and peak_dtype("bf16") == "bf16"


def test_roofline_point_memory_and_compute_bound():
    peak = DevicePeak("gpu", "fp32", flops_per_s=100e12, bytes_per_s=1e12, source="test")  # ridge at 100 FLOP/byte
    low = roofline_point("a", flops_per_call=1e9, bytes_per_call=1e8, median_s=1e-3, peak=peak)  # I = 10
    assert low.bound == "memory" and low.intensity == pytest.approx(10)
    assert low.achieved_flops_per_s == pytest.approx(1e12) and low.pct_of_peak_flops == pytest.approx(1.0)
    assert low.roof_flops_per_s == pytest.approx(10e12) and low.pct_of_roof == pytest.approx(10.0)
    assert low.pct_of_peak_bandwidth == pytest.approx(10.0)
    high = roofline_point("b", flops_per_call=1e12, bytes_per_call=1e9, median_s=0.02, peak=peak)  # I = 1000
    assert high.bound == "compute" and high.roof_flops_per_s == 100e12 and high.pct_of_roof == pytest.approx(50.0)
    assert type(high).from_dict(json.loads(json.dumps(high.to_dict()))) == high
    with pytest.raises(ValueError, match="median > 0"):
        roofline_point("c", 1e9, 1e8, 0.0, peak)


def test_roofline_point_without_a_peak_keeps_achieved_figures_only():
    omitted = lookup_gpu("Mystery GPU 9000", "fp32")
    p = roofline_point("a", 1e9, 1e8, 1e-3, omitted)
    assert p.achieved_flops_per_s == pytest.approx(1e12) and p.intensity == pytest.approx(10)
    assert p.pct_of_peak_flops is None and p.bound is None and p.pct_of_roof is None and "Mystery GPU 9000" in p.omitted


def test_cpu_probes_measure_positive_rates():
    assert cpu_peaks.probe_matmul("fp32", n=64) > 0
    stream = cpu_peaks.probe_stream(elements=1 << 16)
    assert stream["copy"] > 0 and stream["triad"] > 0


def test_cpu_peak_is_cached_per_machine_id_and_a_corrupt_cache_is_measured_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cpu_peaks, "probe_matmul", lambda dtype, n: calls.append(("mm", dtype)) or 5e10)
    monkeypatch.setattr(cpu_peaks, "probe_stream", lambda elements: calls.append(("stream",)) or {"copy": 2e10, "triad": 1.5e10})
    peak = cpu_peaks.cpu_peak(tmp_path, "abc123", "AMD EPYC", "fp32")
    assert (peak.flops_per_s, peak.bytes_per_s, peak.omitted) == (5e10, 1.5e10, None) and "measured on this machine" in peak.source
    assert calls == [("mm", "fp32"), ("stream",)]
    again = cpu_peaks.cpu_peak(tmp_path, "abc123", "AMD EPYC", "fp32")
    assert again == peak and len(calls) == 2  # from the cache
    cpu_peaks.cpu_peak(tmp_path, "abc123", "AMD EPYC", "bf16")
    assert calls[2:] == [("mm", "bf16")]  # a new dtype: only its matmul is probed
    other = cpu_peaks.cpu_peak(tmp_path, "other-machine", "AMD EPYC", "fp32")
    assert other.flops_per_s == 5e10 and len(calls) == 5
    cpu_peaks.cache_path(tmp_path, "abc123").write_text("{not json")
    cpu_peaks.cpu_peak(tmp_path, "abc123", "AMD EPYC", "fp32")
    assert len(calls) == 7


def test_an_unwritable_cache_or_a_failing_probe_loses_nothing(tmp_path, monkeypatch):
    from perfsuite.measure.roofs import device_peak

    monkeypatch.setattr(cpu_peaks, "probe_matmul", lambda dtype, n: 5e10)
    monkeypatch.setattr(cpu_peaks, "probe_stream", lambda elements: {"copy": 2e10, "triad": 1.5e10})
    blocker = tmp_path / "out"
    blocker.write_text("a file where the out folder should be")
    peak = cpu_peaks.cpu_peak(blocker, "abc", "cpu", "fp32")  # measured, not cached: no crash
    assert peak.flops_per_s == 5e10 and not cpu_peaks.cache_path(blocker, "abc").exists()

    def broken(dtype, n):
        raise RuntimeError("mm not implemented for 'Half'")

    monkeypatch.setattr(cpu_peaks, "probe_matmul", broken)
    failed = device_peak("cpu", "fp16", out_dir=tmp_path, machine_id="abc", cpu_name="AMD EPYC")
    assert failed.flops_per_s is None and "probe failed" in failed.omitted and "Half" in failed.omitted


def test_device_peak_on_cuda_looks_the_name_up(monkeypatch):
    from perfsuite.measure.roofs import device_peak

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA L4" if index == 1 else "unexpected")
    peak = device_peak("cuda:1", "bf16", out_dir=None, machine_id="x", cpu_name="cpu")
    assert peak.device == "NVIDIA L4" and peak.dtype == "bf16" and peak.flops_per_s == 121e12
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "high")
    assert device_peak("cuda:1", "fp32", out_dir=None, machine_id="x", cpu_name="cpu").dtype == "tf32"
    assert "only cuda and cpu" in device_peak("mps", "fp32", out_dir=None, machine_id="x", cpu_name="cpu").omitted
    assert "no machine id" in device_peak("cpu", "fp32", out_dir=None, machine_id=None, cpu_name="cpu").omitted


def test_static_results_of_older_runs_still_read():
    old = {"params": 10, "weights_bytes": 40, "flops_per_call": 100, "flops_by_op": {"aten.mm": 100}}
    s = StaticSummary.from_doc(Doc.root(old, "old results"))
    assert s.bytes_per_call is None and s.peak is None and s.sdpa_flops is None and dict(s.bytes_moved) == {}
    bad = {**old, "peak": {"device": "x"}}
    with pytest.raises(Exception, match="dtype"):
        StaticSummary.from_doc(Doc.root(bad, "bad results"))


def test_run_carries_roofline_points_and_the_report_draws_the_roof(tmp_path):
    from perfsuite.report.headline import roofline_blocks
    from perfsuite.report.html import write_report

    peak = DevicePeak("NVIDIA L4", "fp32", 30.3e12, 300e9, "L4: datasheet")
    static = StaticSummary(params=10, weights_bytes=40, flops_per_call=3_000_000_000, bytes_per_call=30_000_000, flops_per_byte=100.0,
                           peak=peak)
    unknown = dataclasses.replace(TEXT, id="gpt2.tiny-pydoc-eager-bs4-cpu", batch_size=4)
    m = fake_measurement()
    run = write_run(tmp_path / "run", [
        result(TEXT, measurement=m), result(TEXT, kind="static", static=static),
        result(unknown, measurement=m),
        result(unknown, kind="static", static=dataclasses.replace(static, peak=lookup_gpu("Mystery GPU", "fp32"))),
    ])
    points = {p.case: p for p in run.roofline}
    assert points[TEXT.id].pct_of_peak_flops == pytest.approx(100 * 3e9 / m.stats.p50_s / 30.3e12)
    assert points[unknown.id].pct_of_peak_flops is None and "Mystery GPU" in points[unknown.id].omitted
    stored = json.loads((tmp_path / "run" / "results.json").read_text())["roofline"]
    assert {p["case"] for p in stored} == {TEXT.id, unknown.id}
    table, note = roofline_blocks(run.cases)  # the terminal's and summary.md's roofline table
    assert [r[0].text for r in table.rows] == [TEXT.id, unknown.id] and "NVIDIA L4 fp32" in table.title
    assert table.rows[1][3].text == "-" and "Mystery GPU" in note.text
    path, _ = write_report(tmp_path / "run")
    html = path.read_text(encoding="utf-8")
    assert 'class="roof"' in html and "NVIDIA L4 fp32" in html
    assert "No roof for 1 case(s)" in html and "not in perfsuite&#39;s peak table" in html
    assert "NVIDIA L4 fp32 30.3 TFLOP/s" in html and "-bound)" in html
