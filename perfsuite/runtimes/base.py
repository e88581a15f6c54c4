"""A runtime turns a model adapter into `run(inputs)`: the exact call that the clock times."""

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


def build_runtime(spec: RuntimeSpec, model: TransformersModel) -> Runtime:
    factory: Callable[[RuntimeSpec, TransformersModel], Runtime] = RUNTIMES.get(spec.backend, key="inference_runtime.backend")
    return factory(spec, model)
