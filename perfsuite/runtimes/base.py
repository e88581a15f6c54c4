"""A runtime turns a model adapter into `run(inputs)`: the exact call that the clock times.

A backend registers a factory ``(RuntimeSpec, model) -> Runtime`` in `perfsuite.registry.RUNTIMES`.
The factory may also offer ``unsupported(cfg: CaseConfig, device: str) -> str | None`` (cheap, no
torch import): the matrix expansion leaves a case out, with that reason, when it says why the
backend cannot run it (`perfsuite.config.matrix.runtime_exclusion`). Every runtime's outputs are
checked against eager fp32 before it is timed (`perfsuite.runtimes.parity`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from perfsuite.config.schema import RuntimeSpec
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES


class Runtime(Protocol):
    name: str

    def __call__(self, inputs: dict[str, Any]) -> Any: ...
    def describe(self) -> dict[str, Any]: ...


def input_signature(inputs: dict[str, Any]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """What a shape-specialised runtime (CUDA graphs, TensorRT) builds once for: names, shapes, dtypes."""
    return tuple((name, tuple(t.shape), str(t.dtype)) for name, t in sorted(inputs.items()))


def shapes_label(inputs: dict[str, Any]) -> str:
    """``"attention_mask (2, 128), input_ids (2, 128)"``: how a built artifact is named in `describe()`."""
    return ", ".join(f"{name} {tuple(t.shape)}" for name, t in sorted(inputs.items()))


def build_runtime(spec: RuntimeSpec, model: TransformersModel) -> Runtime:
    factory: Callable[[RuntimeSpec, TransformersModel], Runtime] = RUNTIMES.get(spec.backend, key="inference_runtime.backend")
    return factory(spec, model)
