"""Name -> factory tables for the pluggable axes. YAML names entries here, never import paths.

Registering must stay cheap: factories import torch/transformers only when called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from perfsuite.errors import PerfConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        self.register(name)(obj)

    def get(self, name: str, *, key: str | None = None, file: str | None = None) -> T:
        _load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise PerfConfigError(
                f"unknown {self.kind}", file=file, key=key, value=name, allowed=self.names()
            ) from None

    def names(self) -> list[str]:
        _load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        _load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS: Registry = Registry("model adapter")
DATASETS: Registry = Registry("dataset adapter")
SOURCES: Registry = Registry("embedded data source")
RUNTIMES: Registry = Registry("inference runtime backend")
WEIGHTS: Registry = Registry("weights provider")

_loaded = False


def _load_builtins() -> None:
    """Import the modules that register perfsuite's own entries (cheap: no torch at import)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import perfsuite.data.chat  # noqa: F401
    import perfsuite.data.images  # noqa: F401
    import perfsuite.data.synthetic  # noqa: F401
    import perfsuite.data.text  # noqa: F401
    import perfsuite.models.causal  # noqa: F401
    import perfsuite.models.hf  # noqa: F401
    import perfsuite.models.weights  # noqa: F401
    import perfsuite.runtimes.compiled  # noqa: F401
    import perfsuite.runtimes.cuda_graphs  # noqa: F401
    import perfsuite.runtimes.eager  # noqa: F401
    import perfsuite.runtimes.onnxrt  # noqa: F401
    import perfsuite.runtimes.quantized  # noqa: F401
    import perfsuite.runtimes.tensorrt  # noqa: F401
    from perfsuite.extensions import load_entry_points

    load_entry_points()  # other packages' models, datasets and runtimes (perfsuite.extensions)
