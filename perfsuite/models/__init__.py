"""Model adapters: build a model from a ModelSpec and turn raw samples into its inputs."""

from perfsuite.models.base import ModelAdapter, ModelInfo, build_model

__all__ = ["ModelAdapter", "ModelInfo", "build_model"]
