"""Inference runtimes: wrap a model adapter into the callable that is timed."""

from perfsuite.runtimes.base import Runtime, build_runtime

__all__ = ["Runtime", "build_runtime"]
