"""Dataset adapters (text, images, synthetic), embedded sources, sampling and batching."""

from perfsuite.data.base import SampleSet, load_samples, make_batches

__all__ = ["SampleSet", "load_samples", "make_batches"]
