"""A runtime turns a model adapter into `run(inputs)`: the exact call that the clock times.

A backend registers a factory ``(RuntimeSpec, model) -> Runtime`` in `perfsuite.registry.RUNTIMES`.
The factory may also offer ``unsupported(cfg: CaseConfig, device: str) -> str | None`` (cheap, no
torch import): the matrix expansion leaves a case out, with that reason, when it says why the
backend cannot run it (`perfsuite.config.matrix.runtime_exclusion`). A runtime with work to do
before timing (compile, export) offers ``prepare(inputs, context) -> RuntimeSetup`` (`PreparedRuntime`):
the session calls it once per case. Every runtime's outputs, prepared, are checked against eager
fp32 before it is timed (`perfsuite.runtimes.parity`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from perfsuite.config.schema import Case, RuntimeSpec
from perfsuite.errors import PerfError
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES

if TYPE_CHECKING:
    from perfsuite.results.runtime_setup import RuntimeSetup


class Runtime(Protocol):
    name: str

    def __call__(self, inputs: dict[str, Any]) -> Any: ...
    def describe(self) -> dict[str, Any]: ...


def input_signature(inputs: dict[str, Any]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """What a shape-specialised runtime (CUDA graphs, TensorRT) builds once for: names, shapes, dtypes."""
    return tuple((name, tuple(t.shape), str(t.dtype)) for name, t in sorted(inputs.items()))


def batch_signatures(batches: Sequence[dict[str, Any]]) -> list[tuple[tuple[str, tuple[int, ...], str], ...]]:
    """The distinct `input_signature`s of the prepared batches, in order: what a compiled graph or an
    exported file is specialised on (part of its cache key, perfsuite.runtimes.cache)."""
    return list(dict.fromkeys(input_signature(b) for b in batches))


def shapes_label(inputs: dict[str, Any]) -> str:
    """``"attention_mask (2, 128), input_ids (2, 128)"``: how a built artifact is named in `describe()`."""
    return ", ".join(f"{name} {tuple(t.shape)}" for name, t in sorted(inputs.items()))


@dataclass(frozen=True)
class RuntimeContext:
    """What a runtime needs beyond its model to prepare: the case, the out/ folder, a place for logs."""

    case: Case
    out_dir: Path  # the run's out/ folder: artifacts go to out/cache/<runtime>/ (perfsuite.runtimes.cache)
    log_dir: Path  # the run folder's logs/: a failed compile or export leaves its full log here

    def log_file(self, what: str) -> Path:
        from perfsuite.results.layout import path_inside

        self.log_dir.mkdir(parents=True, exist_ok=True)
        return path_inside(self.log_dir, f"{self.case.id}.{what}", ".log")


@runtime_checkable
class PreparedRuntime(Protocol):
    """A runtime with work to do before it is timed (compile, export): done once per case, outside
    the timed rounds, with every prepared batch run once so that no recompile is left for them."""

    def prepare(self, inputs: Sequence[dict[str, Any]], context: RuntimeContext) -> RuntimeSetup: ...


class RuntimeUnavailable(PerfError):
    """The runtime cannot run here (a missing optional package): the case is skipped with this reason."""


class RuntimePrepError(PerfError):
    """Compiling or exporting failed: the case fails with the tool's own error; the suite goes on."""


def build_runtime(spec: RuntimeSpec, model: TransformersModel) -> Runtime:
    factory: Callable[[RuntimeSpec, TransformersModel], Runtime] = RUNTIMES.get(spec.backend, key="inference_runtime.backend")
    return factory(spec, model)


def prepare_runtime(runtime: Runtime, inputs: Sequence[dict[str, Any]], context: RuntimeContext) -> RuntimeSetup | None:
    """Compile/export `runtime` before timing; None for runtimes with nothing to prepare (eager)."""
    return runtime.prepare(inputs, context) if isinstance(runtime, PreparedRuntime) else None


def prep_failure(what: str, exc: BaseException, log: Path, captured: str = "") -> RuntimePrepError:
    """The one-paragraph failure of a compile or export: the tool's own error, short, and the log path.

    The full traceback (and whatever the tool printed) goes to `log`.
    """
    detail = f"{type(exc).__name__}: {exc}".strip()
    first = next((line.strip() for line in detail.splitlines() if line.strip()), type(exc).__name__)
    short = first if len(first) <= 300 else first[:297] + "..."
    try:
        log.write_text(f"{what} failed\n\n{''.join(traceback.format_exception(exc))}\n{captured}", encoding="utf-8")
        where = f"full log: {log}"
    except OSError as err:
        where = f"the log could not be written to {log}: {err}"
    return RuntimePrepError(f"{what} failed: {short} ({where})")
