"""Matrix expansion properties (hypothesis): every compatible pair x batch size, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from perfsuite.config.matrix import compatible, expand
from perfsuite.measure.policy import StopPolicy, WarmupPolicy
from perfsuite.config.schema import (
    CaseConfig,
    DatasetSpec,
    HardwareSpec,
    InferSpec,
    MeasureSpec,
    ModelSpec,
    RuntimeSpec,
    SamplingSpec,
)

HW = HardwareSpec("cpu", 1, 1, False, None)
MEASURE = MeasureSpec(WarmupPolicy(), StopPolicy(), "isolated", 10, 0.01, 11, 1)


def make_config(model_i: int, modality: str, dataset: str, ds_modality: str, runtime: str, sizes: tuple[int, ...]) -> CaseConfig:
    return CaseConfig(
        model=ModelSpec(id=f"m{model_i}", family=f"m{model_i}", adapter="bert", modality=modality),
        infer=InferSpec(sizes, 8, 0, "fp32", 1),
        dataset=DatasetSpec(dataset, "text", ds_modality, "pydoc_topics", None, (), "text", 4, SamplingSpec("sequential", 0)),
        runtime=RuntimeSpec(runtime, "pytorch"),
        hardware=HW,
        measure=MEASURE,
        stages=("direct_inference",),
        seed=0,
    )


models = st.lists(st.sampled_from(["text", "image"]), min_size=1, max_size=4)
datasets = st.lists(st.sampled_from(["text", "image", "any"]), min_size=1, max_size=3)
sizes = st.lists(st.integers(1, 64), min_size=1, max_size=4).map(lambda xs: tuple(dict.fromkeys(xs)))


@given(models, datasets, st.lists(st.sampled_from(["eager", "compile"]), min_size=1, max_size=2, unique=True), sizes)
def test_expansion_counts_and_exclusions(model_mods, ds_mods, runtimes, batch_sizes):
    configs = [
        make_config(i, mm, f"d{j}", dm, rt, batch_sizes)
        for i, mm in enumerate(model_mods)
        for j, dm in enumerate(ds_mods)
        for rt in runtimes
    ]
    cases, exclusions = expand(configs, "cpu")
    n_compatible = sum(compatible(c.model.modality, c.dataset.modality) for c in configs)
    assert len(cases) == n_compatible * len(batch_sizes)
    assert len({c.id for c in cases}) == len(cases)
    assert all(compatible(c.model.modality, c.dataset.modality) for c in cases)
    assert {(e.model, e.dataset) for e in exclusions} == {
        (c.model.id, c.dataset.name) for c in configs if not compatible(c.model.modality, c.dataset.modality)
    }
    # model-major: once a model's cases end, it never comes back
    seen, previous = set(), None
    for c in cases:
        if c.model.id != previous:
            assert c.model.id not in seen
            seen.add(c.model.id)
            previous = c.model.id


@given(st.integers(1, 512), st.sampled_from(["cpu", "cuda", "cuda:1"]))
def test_case_id_is_readable(bs, device):
    cfg = make_config(0, "text", "pydoc", "text", "eager", (bs,))
    (case,), _ = expand([cfg], device)
    assert case.id == f"m0-pydoc-eager-bs{bs}-{device}"
    assert case.describe()["batch_size"] == bs


def test_duplicates_kept_once():
    cfg = make_config(0, "text", "pydoc", "text", "eager", (1, 2))
    cases, _ = expand([cfg, cfg], "cpu")
    assert [c.batch_size for c in cases] == [1, 2]
