"""perfsuite: a pytest-native performance test suite for ML model inference.

The public API (docs/api.md); everything else is internal and may change between releases:

    Perf          the `perf` fixture's type: perf.measure(fn, *args), perf.generate(model, inputs), perf.metric(...)
    Case          a benchmark case (perf.case): id, device, batch_size, config
    Measurement   what perf.measure returns: samples_s, stats, noise flags
    GenerationSummary  what perf.generate returns: ttft, tpot, e2e, decode_tokens_per_s
    OwnMetric     a figure recorded with perf.metric
    PerfError, PerfUsageError  errors perfsuite raises for bad input and API misuse
    Extension, register  models, datasets, runtimes and conf trees from packages and conftest.py (perfsuite.extensions)
    ModelSpec, Built     what a model factory of an extension receives and returns

The names load on first use, so `import perfsuite` stays cheap (no torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Perf": "perfsuite.api",
    "Case": "perfsuite.config.schema",
    "Measurement": "perfsuite.measure.record",
    "GenerationSummary": "perfsuite.results.case",
    "OwnMetric": "perfsuite.results.own_metrics",
    "PerfError": "perfsuite.errors",
    "PerfUsageError": "perfsuite.errors",
    "Extension": "perfsuite.extensions",
    "register": "perfsuite.extensions",
    "ModelSpec": "perfsuite.config.schema",
    "Built": "perfsuite.models.base",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from perfsuite.api import Perf
    from perfsuite.config.schema import Case, ModelSpec
    from perfsuite.extensions import Extension, register
    from perfsuite.models.base import Built
    from perfsuite.errors import PerfError, PerfUsageError
    from perfsuite.measure.record import Measurement
    from perfsuite.results.case import GenerationSummary
    from perfsuite.results.own_metrics import OwnMetric


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perfsuite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
