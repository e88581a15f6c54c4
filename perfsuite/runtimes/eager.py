"""Eager PyTorch: the model's forward under torch.inference_mode(); the reference runtime."""

from __future__ import annotations

import time
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
        self._slowdown = spec.slowdown

    def __call__(self, inputs: dict[str, Any]) -> Any:
        if self._slowdown:
            return self._slowed(inputs)
        with self._inference_mode():
            return self.model.forward(inputs)

    def _slowed(self, inputs: dict[str, Any]) -> Any:
        """The call, then a host spin for `slowdown` times its duration (gate experiments only)."""
        start = time.perf_counter()
        with self._inference_mode():
            out = self.model.forward(inputs)
        until = start + (time.perf_counter() - start) * (1.0 + self._slowdown)
        while time.perf_counter() < until:
            pass
        return out

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "backend": "pytorch", "mode": "eager", "grad": "inference_mode"}
        if self._slowdown:
            out["injected_slowdown"] = self._slowdown
        return out


RUNTIMES.add("pytorch", EagerRuntime)
