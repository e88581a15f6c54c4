"""Eager PyTorch: the model's forward under torch.inference_mode(); the reference runtime."""

from __future__ import annotations

from typing import Any

from perfsuite.config.schema import RuntimeSpec
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES


class EagerRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel) -> None:
        import torch

        self.name = spec.name
        self.model = model
        self._inference_mode = torch.inference_mode

    def __call__(self, inputs: dict[str, Any]) -> Any:
        with self._inference_mode():
            return self.model.forward(inputs)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "backend": "pytorch", "mode": "eager", "grad": "inference_mode"}


RUNTIMES.add("pytorch", EagerRuntime)
