"""Shape-only data: seeded random token ids or pixels, shaped for the model being benchmarked."""

from __future__ import annotations

from perfsuite.config.schema import DatasetSpec, InferSpec, ModelSpec
from perfsuite.data.base import SampleSet
from perfsuite.registry import DATASETS


@DATASETS.register("synthetic")
def load_synthetic(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    import numpy as np

    rng = np.random.default_rng(spec.sampling.seed)
    n = spec.max_samples
    if model.modality == "text":
        vocab = model.vocab_size or 1000
        samples = tuple(rng.integers(3, vocab, size=infer.seq_len).tolist() for _ in range(n))
        origin = f"random token ids in [3, {vocab}), seed {spec.sampling.seed}"
    else:
        assert model.preprocess is not None
        side = model.preprocess.resize
        samples = tuple(rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8) for _ in range(n))
        origin = f"random {side}x{side} RGB pixels, seed {spec.sampling.seed}"
    return SampleSet(spec.name, samples, origin)
