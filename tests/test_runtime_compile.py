"""The torch.compile runtime on tiny modules: outputs vs eager, graph breaks, recompiles, failures,
and inductor's cache folder (cold, then warm; the environment restored).

Most tests use dynamo's `eager` backend (tracing only, about a second). The inductor test compiles
a single Linear layer, which inductor lowers to an extern matmul: no C++ kernel to build, so a
cold compile stays a few seconds on a 2-core box.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from perfsuite.config import build_plan
from perfsuite.config.schema import CompileOptions, RuntimeSpec
from perfsuite.runtimes.base import RuntimeContext, RuntimePrepError
from perfsuite.runtimes.cache import artifact_dir
from perfsuite.runtimes.compiled import CACHE_ENV, CompiledRuntime

torch = pytest.importorskip("torch")


@dataclass
class TinyAdapter:
    """The part of a model adapter a runtime uses: spec (cache key), module, dtype, device, forward."""

    module: Any
    spec: str = "tiny"
    dtype: Any = torch.float32
    device: str = "cpu"

    def forward(self, inputs: dict[str, Any]) -> Any:
        return self.module(inputs["x"])


class Breaks(torch.nn.Module):
    """One graph break between two halves: dynamo captures two graphs."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: Any) -> dict[str, Any]:
        y = self.lin(x)
        torch._dynamo.graph_break()
        return {"relu": y.relu(), "double": y * 2}


@pytest.fixture(scope="module")
def case():
    return build_plan(overrides=["model=bert.tiny", "infer.batch_sizes=[2]"]).cases[0]


@pytest.fixture
def context(case, tmp_path):
    return RuntimeContext(case=case, out_dir=tmp_path / "out", log_dir=tmp_path / "run" / "logs")


def compiled(module: Any, **options: Any) -> CompiledRuntime:
    torch.manual_seed(0)
    spec = RuntimeSpec(name="compile", backend="compile", compile=CompileOptions(**{"backend": "eager", **options}))
    return CompiledRuntime(spec, TinyAdapter(module.eval()))


def batches(*sizes: int) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(1)
    return [{"x": torch.randn(n, 8, generator=gen)} for n in sizes]


def test_outputs_match_eager_and_the_graph_break_is_counted(context):
    module = Breaks()
    rt = compiled(module)
    inputs = batches(2, 2)
    setup = rt.prepare(inputs, context)
    assert (setup.backend, setup.graphs, setup.graph_breaks, setup.recompiles) == ("compile", 2, 1, 0)
    assert sum(setup.break_reasons.values()) == 1
    out = rt(inputs[0])
    with torch.inference_mode():
        ref = module(inputs[0]["x"])
    assert set(out) == set(ref) and all(torch.allclose(out[k], ref[k]) for k in ref)
    assert rt.describe()["recompiles_after_prepare"] == 0 and rt.describe()["compile"]["backend"] == "eager"


def test_fullgraph_turns_the_break_into_a_case_failure_with_its_log(context):
    rt = compiled(Breaks(), fullgraph=True)
    with pytest.raises(RuntimePrepError) as err:
        rt.prepare(batches(2), context)
    msg = str(err.value)
    assert msg.startswith("torch.compile (backend eager, mode default, fullgraph True) failed:") and "full log:" in msg
    log = context.log_dir / f"{context.case.id}.compile.log"
    assert str(log) in msg and "Traceback" in log.read_text()
    assert len(msg) < 600  # the exporter's one line, not its whole report
    with pytest.raises(RuntimeError, match="before prepare"):
        rt(batches(2)[0])


def test_recompiles_happen_in_preparation_not_in_the_timed_rounds(context):
    rt = compiled(torch.nn.Linear(8, 4))
    inputs = batches(2, 3)  # two shapes, static compile: the second one recompiles
    setup = rt.prepare(inputs, context)
    assert setup.recompiles >= 1 and setup.recompile_reasons and setup.graphs >= 2
    for batch in inputs * 2:
        rt(batch)
    assert rt.recompiles_since_ready() == 0


def test_inductor_cache_folder_cold_then_warm_and_environment_restored(context, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "/somewhere/else")
    module = torch.nn.Linear(8, 4)
    rt = compiled(module, backend="inductor")
    inputs = batches(2)
    folder = artifact_dir(context.out_dir, "compile", rt.cache_parts(inputs, "cpu"))
    (folder / "stale").write_text("left by an earlier run")
    setup = rt.prepare(inputs, context)
    assert os.environ[CACHE_ENV] == "/somewhere/else"  # restored: nothing leaks to later cases
    assert setup.cache == "cold" and setup.cold_s > 0 and setup.warm_s > 0 and setup.artifact_dir == str(folder)
    assert not (folder / "stale").exists()  # cold_start emptied the case's cache first ...
    assert any(p.name != "key.json" for p in folder.iterdir())  # ... and inductor wrote into it
    with torch.inference_mode():
        assert torch.allclose(rt(inputs[0]), module(inputs[0]["x"]), atol=1e-5)

    again = compiled(module, backend="inductor", cold_start=False)
    warm = again.prepare(inputs, context)
    assert warm.cache == "warm" and warm.cold_s is None and warm.warm_s > 0 and warm.artifact_dir == str(folder)
    assert os.environ[CACHE_ENV] == "/somewhere/else"


def test_autocast_runs_inside_the_compiled_graph(context):
    """precision_mode autocast: the compiled forward runs under torch.autocast, as eager's does."""
    torch.manual_seed(0)
    module = torch.nn.Linear(8, 4).eval()
    spec = RuntimeSpec(name="compile_bf16", backend="compile", precision="bf16", precision_mode="autocast", compile=CompileOptions(backend="eager"))
    rt = CompiledRuntime(spec, TinyAdapter(module))
    inputs = batches(2)
    rt.prepare(inputs, context)
    out = rt(inputs[0])
    assert out.dtype == torch.bfloat16  # a Linear under CPU autocast computes in bf16; fp32 without it
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(out, module(inputs[0]["x"]))
    assert rt.describe()["autocast"] == {"device_type": "cpu", "dtype": "bfloat16"}


def test_environment_restored_when_it_was_unset(context, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    compiled(torch.nn.Linear(8, 4)).prepare(batches(2), context)
    assert CACHE_ENV not in os.environ


def test_real_model_output_matches_eager_structure_and_values(tmp_path):
    """tiny BERT through AOTAutograd (aot_eager: decompositions, no C++ build): the ModelOutput eager returns, within 1e-5."""
    from perfsuite.data.base import load_samples, make_batches
    from perfsuite.models.base import build_model

    case = build_plan(overrides=["model=bert.tiny", "infer.batch_sizes=[2]", "infer.seq_len=16"]).cases[0]
    model = build_model(case.model, precision="fp32", device="cpu", seed=0)
    samples = load_samples(case.dataset, case.model, case.config.infer).samples
    inputs = [model.prepare_input(b, seq_len=16) for b in make_batches(samples, 2, 2, case.dataset.sampling)]
    rt = CompiledRuntime(RuntimeSpec(name="compile", backend="compile", compile=CompileOptions(backend="aot_eager", cold_start=False)), model)
    setup = rt.prepare(inputs, RuntimeContext(case=case, out_dir=tmp_path, log_dir=tmp_path / "logs"))
    assert setup.graph_breaks == 0 and setup.recompiles == 0
    for batch in inputs:
        out = rt(batch)
        with torch.inference_mode():
            ref = model.forward(batch)
        assert type(out) is type(ref) and list(out.keys()) == list(ref.keys())
        assert all(torch.allclose(out[k], ref[k], atol=1e-5) for k in ref.keys())
