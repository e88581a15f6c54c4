"""Loading a dataset's samples and drawing fixed batches from them."""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import DatasetSpec, InferSpec, ModelSpec, SamplingSpec
from perfsuite.errors import PerfDataError
from perfsuite.registry import DATASETS, SOURCES


@dataclass(frozen=True)
class SampleSet:
    name: str
    samples: tuple[Any, ...]  # str (text), list[int] (token ids), or HxWx3 uint8 arrays (images)
    origin: str  # where they came from, for the record


# (dataset, model, infer) -> SampleSet
Loader = Callable[[DatasetSpec, ModelSpec, InferSpec], SampleSet]


def list_files(spec: DatasetSpec, default_patterns: Sequence[str]) -> list[Path]:
    """Files under spec.root matching spec.files (or the adapter's defaults), sorted."""
    assert spec.root is not None
    root = Path(spec.root)
    if not root.exists():
        raise PerfDataError(f"dataset {spec.name}: the folder {root} does not exist")
    patterns = spec.files or tuple(default_patterns)
    found: set[Path] = set()
    for pattern in patterns:
        found.update(Path(p) for p in glob.glob(str(root / pattern), recursive=True) if Path(p).is_file())
    return sorted(found)


def from_source(spec: DatasetSpec) -> SampleSet:
    loader: Callable[[DatasetSpec], SampleSet] = SOURCES.get(spec.source, key="dataset.source")
    return loader(spec)


def load_samples(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    """The dataset's usable samples (at most max_samples). Zero usable samples is an error."""
    loader: Loader = DATASETS.get(spec.adapter, key="dataset.adapter")
    found = loader(spec, model, infer)
    samples = found.samples[: spec.max_samples]
    if not samples:
        raise PerfDataError(
            f"dataset {spec.name} has zero usable samples (looked in {found.origin}); "
            "check dataset.root and dataset.files, and that the files are not empty"
        )
    return SampleSet(found.name, tuple(samples), found.origin)


def sample_order(n: int, sampling: SamplingSpec) -> list[int]:
    if sampling.strategy == "random":
        import numpy as np

        return [int(i) for i in np.random.default_rng(sampling.seed).permutation(n)]
    return list(range(n))


def make_batches(samples: Sequence[Any], batch_size: int, count: int, sampling: SamplingSpec) -> list[list[Any]]:
    """`count` batches of `batch_size`, walking the sampling order and wrapping around."""
    order = sample_order(len(samples), sampling)
    out, pos = [], 0
    for _ in range(count):
        batch = []
        for _ in range(batch_size):
            batch.append(samples[order[pos % len(order)]])
            pos += 1
        out.append(batch)
    return out
