"""The compile and onnxruntime presets as config, their typed results, and the pure helpers around
them (speed-ups vs eager, the comparison table, execution-provider choice). No torch.compile here."""

from __future__ import annotations

import dataclasses
import json

import pytest

from perfsuite.compare.speedup import speedups
from perfsuite.config import build_plan
from perfsuite.config.schema import CompileOptions, OnnxOptions
from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.measure.stats import summarize
from perfsuite.report.headline import headline, runtime_table
from perfsuite.report.markdown import render
from perfsuite.report.terminal import summary_lines
from perfsuite.results import load_run
from perfsuite.results.case import CaseInfo, CaseResult
from perfsuite.results.run import ResultsWriter
from perfsuite.results.runtime_setup import RuntimeSetup
from perfsuite.runtimes.onnxrt import NO_AUTOCAST, resolve_providers
from perfsuite.runtimes.parity import ParityResult
from perfsuite.runtimes.reference import IS_REFERENCE


def runtime_of(*overrides: str, conf=None):
    plan = build_plan(overrides=["model=bert.tiny", "infer.batch_sizes=[1]", *overrides], conf_dirs=[conf] if conf else [])
    return plan.cases[0].runtime


class TestPresets:
    def test_compile_preset(self):
        spec = runtime_of("inference_runtime=compile")
        assert (spec.name, spec.backend) == ("compile", "compile")
        assert spec.compile == CompileOptions(mode="default", backend="inductor", dynamic=False, fullgraph=False, cold_start=True)
        assert spec.onnxruntime is None

    def test_max_autotune_preset_and_overrides(self):
        spec = runtime_of("inference_runtime=compile_max_autotune", "inference_runtime.compile.dynamic=null")
        assert spec.compile.mode == "max-autotune" and spec.compile.dynamic is None

    def test_onnxruntime_preset(self):
        spec = runtime_of("inference_runtime=onnxruntime", "inference_runtime.onnxruntime.providers=[CPUExecutionProvider]")
        assert spec.backend == "onnxruntime" and spec.compile is None
        assert spec.onnxruntime == OnnxOptions(providers=("CPUExecutionProvider",))

    def test_eager_has_no_blocks(self):
        spec = runtime_of()
        assert spec.backend == "pytorch" and spec.compile is None and spec.onnxruntime is None

    def test_runtimes_suite_expands(self):
        plan = build_plan(suite="runtimes")
        ids = {c.id for c in plan.cases}
        for model in ("gpt2.tiny", "bert.tiny", "minilm"):
            for runtime in ("eager", "eager_bf16_autocast", "compile", "onnxruntime"):
                assert f"{model}-pydoc-{runtime}-bs1-cpu" in ids and f"{model}-pydoc-{runtime}-bs4-cpu" in ids
        # generate() runs the model itself: eager cast cases, and compile through transformers' compiled generate
        assert {c.runtime.name for c in plan.cases if c.runtime.generates} == {"eager", "compile"}

    def test_compile_takes_the_shared_precision_keys(self):
        spec = runtime_of("inference_runtime=compile", "inference_runtime.precision=bf16", "inference_runtime.precision_mode=autocast")
        assert (spec.backend, spec.precision, spec.precision_mode) == ("compile", "bf16", "autocast") and spec.compile is not None

    def test_onnxruntime_with_autocast_is_left_out_with_the_reason(self, conf_dir):
        conf = conf_dir({"inference_runtime/ort_autocast.yaml": "name: ort_autocast\nbackend: onnxruntime\nprecision: bf16\nprecision_mode: autocast\n"})
        plan = build_plan(overrides=["model=bert.tiny", "infer.batch_sizes=[1]", "inference_runtime=[pytorch,ort_autocast]"], conf_dirs=[conf])
        assert {c.runtime.name for c in plan.cases} == {"eager"}
        assert [(e.runtime, e.reason) for e in plan.exclusions if e.runtime is not None] == [("ort_autocast", NO_AUTOCAST)]


class TestBadValues:
    @pytest.mark.parametrize(
        ("override", "key", "shown"),
        [
            ("inference_runtime.compile.mode=fast", "inference_runtime.compile.mode", "max-autotune"),
            ("inference_runtime.compile.backend=tvm", "inference_runtime.compile.backend", "aot_eager"),
            ("inference_runtime.compile.dynamic=sometimes", "inference_runtime.compile.dynamic", "null"),
            ("inference_runtime.compile.fullgraph=1", "inference_runtime.compile.fullgraph", "true, false"),
            ("+inference_runtime.compile.speed=11", "inference_runtime.compile.speed", "cold_start"),
        ],
    )
    def test_compile_block(self, override, key, shown):
        with pytest.raises(PerfConfigError) as err:
            runtime_of("inference_runtime=compile", override)
        msg = str(err.value)
        assert f"'{key}'" in msg and shown in msg and "--perf-override" in msg

    def test_mode_needs_inductor(self):
        with pytest.raises(PerfConfigError, match="inductor backend only"):
            runtime_of("inference_runtime=compile", "inference_runtime.compile.backend=aot_eager", "inference_runtime.compile.mode=max-autotune")

    @pytest.mark.parametrize(
        ("override", "key", "shown"),
        [
            ("inference_runtime.onnxruntime.graph_optimization_level=max", "graph_optimization_level", "extended"),
            ("inference_runtime.onnxruntime.providers=[CUDA]", "providers[0]", "CPUExecutionProvider"),
            ("inference_runtime.onnxruntime.exporter=tf2onnx", "exporter", "torchscript"),
            ("inference_runtime.onnxruntime.intra_op_threads=0", "intra_op_threads", "1..1024"),
            ("inference_runtime.onnxruntime.model_file=model.pt", "model_file", ".onnx"),
        ],
    )
    def test_onnx_block(self, override, key, shown):
        with pytest.raises(PerfConfigError) as err:
            runtime_of("inference_runtime=onnxruntime", override)
        assert f"'inference_runtime.onnxruntime.{key}'" in str(err.value) and shown in str(err.value)

    def test_block_of_another_backend_names_its_file(self, conf_dir):
        conf = conf_dir({"inference_runtime/mixed.yaml": "name: mixed\nbackend: pytorch\ncompile:\n  mode: default\n"})
        with pytest.raises(PerfConfigError) as err:
            runtime_of("inference_runtime=mixed", conf=conf)
        msg = str(err.value)
        assert "mixed.yaml" in msg and "'inference_runtime.compile'" in msg and "backend 'compile'" in msg and "'pytorch'" in msg


def _result(runtime: str, p50_ms: float | None, *, bs: int = 1, outcome: str = "passed", model: str = "bert.tiny", setup=None, parity=None) -> CaseResult:
    case = CaseInfo(
        id=f"{model}-pydoc-{runtime}-bs{bs}-cpu", model=model, model_family="bert", modality="text", dataset="pydoc",
        runtime=runtime, batch_size=bs, device="cpu", precision="fp32", seed=0, seq_len=128,
    )
    stats = None if p50_ms is None else summarize([p50_ms / 1e3] * 20)
    return CaseResult(test="test_latency", kind="latency", case=case, outcome=outcome, finished="2026-01-01T00:00:00", summary=stats, runtime_setup=setup, parity=parity)


COMPILE_SETUP = RuntimeSetup(backend="compile", cache="cold", cold_s=21.5, warm_s=0.9, graphs=2, graph_breaks=1, break_reasons={"print": 1}, recompiles=0)
ORT_SETUP = RuntimeSetup(backend="onnxruntime", cache="warm", cold_s=4.0, warm_s=0.02, exporter="torchscript", fallback_reason="dynamo exporter failed: X", providers=("CPUExecutionProvider",))


class TestSpeedups:
    def test_ratio_against_the_eager_case_of_the_same_model_dataset_batch(self):
        results = [_result("eager", 8.0), _result("compile", 4.0), _result("eager", 20.0, bs=4), _result("compile", 10.0, bs=4), _result("onnxruntime", 16.0)]
        ratios = speedups(results)
        assert ratios["test_latency::bert.tiny-pydoc-compile-bs1-cpu"] == pytest.approx(2.0)
        assert ratios["test_latency::bert.tiny-pydoc-compile-bs4-cpu"] == pytest.approx(2.0)
        assert ratios["test_latency::bert.tiny-pydoc-onnxruntime-bs1-cpu"] == pytest.approx(0.5)
        assert not any("eager" in key for key in ratios)

    def test_no_ratio_without_a_usable_reference(self):
        results = [
            _result("eager", 8.0, outcome="failed"), _result("compile", 4.0),  # failed eager
            _result("compile", 4.0, model="gpt2.tiny"),  # no eager case at all
            _result("eager", 8.0, bs=4), _result("compile", None, bs=4),  # median not established
        ]
        assert set(speedups(results).values()) == {None}

    def test_table_side_by_side(self):
        checked = ParityResult(checked=True, passed=True, precision="fp32", atol=1e-3, rtol=1e-3, max_abs=2.5e-6)
        results = [
            _result("eager", 8.0, parity=ParityResult(checked=False, passed=True, reason=IS_REFERENCE)),
            _result("compile", 4.0, setup=COMPILE_SETUP, parity=checked),
            _result("onnxruntime", 16.0, setup=ORT_SETUP),
        ]
        table = runtime_table(results)
        assert table is not None and "speed-up = eager p50 / this p50" in table.title
        rows = {row[1].text: [c.text for c in row] for row in table.rows}
        assert rows["compile"][:9] == ["bert.tiny-pydoc-bs1", "compile", "fp32", "4.00 ms", "2.00x", "21.5 s", "900 ms", "cold", "ok, max abs 2.5e-06"]
        assert rows["compile"][9] == "2 graph(s), 1 break(s), 0 recompile(s)"
        assert rows["onnxruntime"][4] == "0.50x" and rows["onnxruntime"][9] == "torchscript export (fallback), CPUExecutionProvider"
        assert rows["eager"][4] == "1.00x (ref)" and rows["eager"][5:9] == ["-", "-", "-", "reference"]
        # the terminal summary and summary.md both show it, right after the latency table
        assert any(line.startswith("runtimes vs eager") for line in summary_lines(results))
        assert any(line.startswith("### runtimes vs eager") for line in render(headline(results)))

    def test_a_failed_case_shows_its_outcome_and_reason(self):
        failed = dataclasses.replace(_result("compile", None, setup=COMPILE_SETUP), outcome="failed", reason="outputs differ from the eager fp32 reference")
        row = next(r for r in runtime_table([_result("eager", 8.0), failed]).rows if r[1].text == "compile")
        assert (row[3].text, row[3].tone, row[4].text) == ("failed", "bad", "-") and "outputs differ" in row[9].text

    def test_rows_keep_prompt_lengths_apart_each_eager_row_above_its_runtimes(self):
        def at(runtime: str, seq: int, p50_ms: float) -> CaseResult:
            r = _result(runtime, p50_ms)
            case = dataclasses.replace(r.case, id=f"bert.tiny-pydoc-{runtime}-bs1-s{seq}-cpu", seq_len=seq)
            return dataclasses.replace(r, case=case)

        table = runtime_table([at("compile", 512, 10.0), at("eager", 512, 20.0), at("compile", 128, 4.0), at("eager", 128, 8.0)])
        assert [(row[0].text, row[1].text, row[4].text) for row in table.rows] == [
            ("bert.tiny-pydoc-bs1-s128", "eager", "1.00x (ref)"), ("bert.tiny-pydoc-bs1-s128", "compile", "2.00x"),
            ("bert.tiny-pydoc-bs1-s512", "eager", "1.00x (ref)"), ("bert.tiny-pydoc-bs1-s512", "compile", "2.00x"),
        ]

    def test_no_table_for_a_single_runtime(self):
        assert runtime_table([_result("eager", 8.0), _result("eager", 9.0, bs=4)]) is None
        assert not any(line.startswith("runtimes vs") for line in summary_lines([_result("eager", 8.0)]))


class TestSetupInResults:
    def _write(self, tmp_path, results):
        writer = ResultsWriter(tmp_path / "results.json", suite="runtimes", device="cpu", started="20260101-000000")
        for r in results:
            writer.record(r)
        return tmp_path / "results.json"

    def test_round_trip(self, tmp_path):
        self._write(tmp_path, [_result("compile", 4.0, setup=COMPILE_SETUP), _result("onnxruntime", 5.0, setup=ORT_SETUP), _result("eager", 8.0)])
        cases = load_run(tmp_path).cases
        assert [c.runtime_setup for c in cases] == [COMPILE_SETUP, ORT_SETUP, None]

    @pytest.mark.parametrize(
        ("key", "value", "expected"),
        [("cache", "lukewarm", "one of cold, warm"), ("cold_s", -1.0, "a duration >= 0"), ("break_reasons", {"x": 1.5}, "counts"), ("providers", "CPU", "a list of strings"), ("graphs", -2, "a count >= 0")],
    )
    def test_load_run_rejects_a_bad_value(self, tmp_path, key, value, expected):
        path = self._write(tmp_path, [_result("compile", 4.0, setup=COMPILE_SETUP)])
        doc = json.loads(path.read_text())
        doc["results"][0]["runtime_setup"][key] = value
        path.write_text(json.dumps(doc))
        with pytest.raises(PerfDataError) as err:
            load_run(tmp_path)
        assert f"runtime_setup.{key}" in str(err.value) and expected in str(err.value)

    def test_extra_info_carries_it(self):
        info = _result("compile", 4.0, setup=COMPILE_SETUP).extra_info()
        assert info["runtime_setup"]["cold_s"] == 21.5 and info["runtime_setup"]["graph_breaks"] == 1

    def test_setup_checks_its_cache_state(self):
        with pytest.raises(ValueError, match="cold"):
            dataclasses.replace(COMPILE_SETUP, cache="hot")


class TestProviders:
    def test_cpu_default(self):
        assert resolve_providers((), "cpu", ["CPUExecutionProvider"]) == (("CPUExecutionProvider",), ())

    def test_cuda_default_with_gpu_build(self):
        chosen, notes = resolve_providers((), "cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"])
        assert chosen == ("CUDAExecutionProvider", "CPUExecutionProvider") and notes == ()

    def test_cuda_without_gpu_build_says_so(self):
        chosen, notes = resolve_providers((), "cuda:0", ["CPUExecutionProvider"])
        assert chosen == ("CPUExecutionProvider",)
        assert "onnxruntime-gpu" in notes[0] and "CPU timings" in notes[-1]

    def test_nothing_available_falls_back_to_cpu(self):
        chosen, notes = resolve_providers(("TensorrtExecutionProvider",), "cpu", ["CPUExecutionProvider"])
        assert chosen == ("CPUExecutionProvider",) and len(notes) == 2 and "TensorrtExecutionProvider" in notes[0]
