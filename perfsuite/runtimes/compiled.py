"""torch.compile: the model's forward compiled with the preset's mode/backend/dynamic/fullgraph.

Compilation happens in `prepare`, before timing and outside the timed rounds, with every prepared
batch run once so that any recompile (a new shape) happens there too. Inductor's on-disk cache
is the case's own folder, `out/cache/compile/<hash of model, shapes, options, versions>`: the
`TORCHINDUCTOR_CACHE_DIR` environment variable points there only while compiling and is restored
afterwards, so no other case (or a process it starts later) inherits it.

Compile time is recorded twice when `cold_start` is on (the default): *cold*, the first call with
the case's cache emptied and inductor's in-memory caches cleared, and *warm*, the same again after
`torch._dynamo.reset()` with the on-disk cache now populated: what a second process pays. Both
are "time to the first result", the call itself included. Graph breaks, captured graphs and
recompiles are counted from dynamo's counters around the cold pass.

Precision is eager's (`inference_runtime.precision` / `precision_mode`): a cast model is built in
its dtype by the session and compiled as is; under ``autocast`` the compiled function enters
`torch.autocast` itself, so dynamo traces the autocast region into the graph. The parity check
then compares the compiled runtime's outputs with eager fp32, before timing.

`torch._dynamo.reset()` drops every compiled function of the process, so another compile case's
runtime that is used again later (a profile pass) recompiles then, from its warm cache.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import CompileOptions, RuntimeSpec
from perfsuite.measure.sync import synchronizer
from perfsuite.models.base import TransformersModel
from perfsuite.registry import RUNTIMES
from perfsuite.results.runtime_setup import RuntimeSetup
from perfsuite.runtimes.base import RuntimeContext, RuntimePrepError, RuntimeUnavailable, batch_signatures, prep_failure
from perfsuite.runtimes.cache import KEY_FILE, artifact_dir
from perfsuite.runtimes.eager import autocast_for, describe_precision

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


@dataclass(frozen=True)
class DynamoCounts:
    """Dynamo's process-wide records at one moment (they only grow, except on `torch._dynamo.reset`).

    A graph break is one place in the user's code (reason + innermost frame): dynamo records a break
    inside an inlined call twice (once in the caller, again when it traces the callee as its own
    frame), which its raw counter would count twice.
    """

    graphs: int = 0
    break_sites: tuple[tuple[str, str], ...] = ()  # (reason, "file:line"), in the order seen
    recompile_reasons: tuple[str, ...] = ()

    @classmethod
    def now(cls) -> DynamoCounts:
        from torch._dynamo.utils import counters, graph_break_reasons, guard_failures

        sites = []
        for r in graph_break_reasons:
            reason = next((ln.strip() for ln in str(r.reason).splitlines() if ln.strip()), "graph break")
            frame = r.user_stack[-1] if r.user_stack else None
            sites.append((reason, f"{frame.filename}:{frame.lineno}" if frame is not None else "?"))
        reasons = tuple(str(r) for failures in guard_failures.values() for r in failures)
        return cls(graphs=int(counters["stats"]["unique_graphs"]), break_sites=tuple(sites), recompile_reasons=reasons)

    def since(self, before: DynamoCounts) -> DynamoCounts:
        """What happened between `before` and this snapshot (no reset in between)."""
        return DynamoCounts(
            self.graphs - before.graphs,
            self.break_sites[len(before.break_sites) :],
            self.recompile_reasons[len(before.recompile_reasons) :],
        )

    @property
    def breaks(self) -> dict[str, int]:
        """Graph breaks per reason, each place in the code counted once."""
        return dict(Counter(reason for reason, _ in dict.fromkeys(self.break_sites)))


def _cache_entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name != KEY_FILE]


def _empty(folder: Path) -> None:
    """Remove the cached artifacts (keeping key.json), so that the next compile is a cold one."""
    for entry in _cache_entries(folder):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextlib.contextmanager
def inductor_cache(folder: Path) -> Iterator[None]:
    """TORCHINDUCTOR_CACHE_DIR=folder while compiling (in-memory caches cleared on entry and exit), then restored."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    _clear_inductor_memory()
    try:
        yield
    finally:
        _clear_inductor_memory()
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous


def _clear_inductor_memory() -> None:
    """Inductor's in-memory code caches: without this a 'cold' compile reuses kernels an earlier case built."""
    try:
        from torch._inductor.utils import clear_caches
    except ImportError:  # older torch: nothing registered to clear
        return
    clear_caches()


def compile_cold_then_warm(folder: Path, opts: CompileOptions, what: str, first_result: Callable[[], float], log: Path,
                           notes: tuple[str, ...] = ()) -> RuntimeSetup:
    """Time `first_result` (a call that compiles on first use) cold, with `folder` as inductor's cache (emptied
    first under `cold_start`), then warm after `torch._dynamo.reset()`: what a second process pays. Graphs,
    graph breaks and recompiles are counted around the cold call; any error becomes the case's `prep_failure`."""
    import torch

    if opts.cold_start:
        _empty(folder)
    cache = "warm" if _cache_entries(folder) else "cold"
    warm_s = None
    try:
        with inductor_cache(folder):
            torch._dynamo.reset()
            before = DynamoCounts.now()
            first_s = first_result()
            seen = DynamoCounts.now().since(before)
            if opts.cold_start:
                torch._dynamo.reset()  # as if in a new process; the on-disk cache stays
                _clear_inductor_memory()
                warm_s = first_result()
    except Exception as exc:  # noqa: BLE001 - any compile error fails this case only, with its message
        raise prep_failure(what, exc, log) from None
    return RuntimeSetup(
        backend="compile",
        cache=cache,
        artifact_dir=str(folder),
        cold_s=first_s if cache == "cold" else None,
        warm_s=warm_s if cache == "cold" else first_s,
        graphs=seen.graphs,
        graph_breaks=sum(seen.breaks.values()),
        break_reasons=seen.breaks,
        recompiles=len(seen.recompile_reasons),
        recompile_reasons=seen.recompile_reasons,
        notes=notes,
    )


class CompiledRuntime:
    def __init__(self, spec: RuntimeSpec, model: TransformersModel) -> None:
        import torch

        self.name = spec.name
        self.model = model
        self.spec = spec
        self.options = spec.compile or CompileOptions()
        self._torch = torch
        self._autocast = autocast_for(spec, model.device)
        self._sync = synchronizer(str(model.device))
        self._compiled: Any = None
        self._recompiles_at_ready = 0

    def __call__(self, inputs: dict[str, Any]) -> Any:
        if self._compiled is None:
            raise RuntimeError(f"runtime {self.name!r} was called before prepare(): it compiles there, outside the timed rounds")
        with self._torch.inference_mode():
            return self._compiled(inputs)

    def _forward(self, inputs: dict[str, Any]) -> Any:
        """What is compiled: the model's forward, under autocast for ``precision_mode: autocast``
        (dynamo traces the autocast region into the graph), as is for a cast model."""
        if self._autocast is None:
            return self.model.forward(inputs)
        with self._autocast():
            return self.model.forward(inputs)

    def _first_result(self, inputs: Sequence[dict[str, Any]]) -> float:
        """Seconds to the first result (compile included), then one call per other prepared batch."""
        start = time.perf_counter()
        self(inputs[0])
        self._sync()
        took = time.perf_counter() - start
        for batch in inputs[1:]:
            self(batch)
        self._sync()
        return took

    def cache_parts(self, inputs: Sequence[dict[str, Any]], device: str) -> dict[str, Any]:
        options = {k: v for k, v in asdict(self.options).items() if k != "cold_start"}
        return {
            "model": repr(self.model.spec),
            "dtype": str(self.model.dtype),
            "device": device,
            "inputs": batch_signatures(inputs),
            "precision": {"precision": self.spec.precision, "precision_mode": self.spec.precision_mode},
            "options": options,
        }

    def prepare(self, inputs: Sequence[dict[str, Any]], context: RuntimeContext) -> RuntimeSetup:
        opts = self.options
        folder = artifact_dir(context.out_dir, "compile", self.cache_parts(inputs, context.case.device))
        what = f"torch.compile (backend {opts.backend}, mode {opts.mode}, fullgraph {opts.fullgraph})"
        self._compiled = None

        def first_result() -> float:
            if self._compiled is None:  # made inside inductor's cache context: making it may set the cache variable
                self._compiled = self._torch.compile(
                    self._forward,
                    backend=opts.backend,
                    mode=opts.mode if opts.backend == "inductor" else None,
                    dynamic=opts.dynamic,
                    fullgraph=opts.fullgraph,
                )
            return self._first_result(inputs)

        try:
            setup = compile_cold_then_warm(folder, opts, what, first_result, context.log_file("compile"))
        except RuntimePrepError:
            self._compiled = None
            raise
        self._recompiles_at_ready = len(DynamoCounts.now().recompile_reasons)
        return setup

    def recompiles_since_ready(self) -> int:
        """Recompiles after `prepare` (during warm-up and timing): 0 when preparation covered every shape."""
        return max(0, len(DynamoCounts.now().recompile_reasons) - self._recompiles_at_ready)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": "compile", "grad": "inference_mode", "compile": asdict(self.options)}
        out.update(describe_precision(self.spec, self.model))
        if self._compiled is not None:
            out["recompiles_after_prepare"] = self.recompiles_since_ready()
        return out


RUNTIMES.add("compile", CompiledRuntime)


# -- torch.compile of generate (a decoder's generation cases under a compile runtime) -------------------
NO_COMPILE_CONFIG = ("torch.compile of generate needs transformers' CompileConfig with compile on every device "
                     "(transformers >= 4.52); this transformers has none: upgrade it, or run the case's generation under eager")


def generate_compile_kwargs(options: CompileOptions | None) -> dict[str, Any]:
    """What `generate` takes to compile its decoding step: transformers' own torch.compile of generate.

    A static KV cache (every decoding step has the same shapes, so one graph serves them all) and a
    `CompileConfig` with the preset's backend / mode / dynamic / fullgraph, allowed on every device
    (transformers compiles only on accelerators unless told). The prefill stays eager, as in
    transformers: TTFT is the eager prompt pass, TPOT the compiled step.
    """
    try:
        from transformers import CompileConfig
    except ImportError:
        raise RuntimeUnavailable(NO_COMPILE_CONFIG) from None
    if not hasattr(CompileConfig, "_compile_all_devices"):
        raise RuntimeUnavailable(NO_COMPILE_CONFIG)
    opts = options or CompileOptions()
    config = CompileConfig(fullgraph=opts.fullgraph, dynamic=opts.dynamic, backend=opts.backend,
                           mode=opts.mode if opts.backend == "inductor" else None)
    config._compile_all_devices = True
    return {"cache_implementation": "static", "compile_config": config}


def prepare_generate(context: RuntimeContext, module: Any, inputs: dict[str, Any], *, max_new_tokens: int,
                     generate_kwargs: dict[str, Any]) -> RuntimeSetup:
    """Compile a decoder's generate before timing: the first greedy call cold (the case's inductor cache
    emptied), then, with `cold_start`, again after `torch._dynamo.reset()` from the populated cache.

    Both times are "time to the first result" of a whole generate call; graphs, graph breaks and
    recompiles are counted around the cold call. A failure fails the case with the compiler's error.
    """
    import torch

    from perfsuite.measure.generation import pad_token_id

    opts = context.case.runtime.compile or CompileOptions()
    parts = {"model": repr(context.case.model), "dtype": str(next(module.parameters()).dtype), "device": context.case.device,
             "inputs": batch_signatures([inputs]), "generate": {"max_new_tokens": max_new_tokens, "cache": "static"},
             "options": {k: v for k, v in asdict(opts).items() if k != "cold_start"}}
    sync = synchronizer(context.case.device)

    def first_result() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            module.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                            pad_token_id=pad_token_id(module), **generate_kwargs)
        sync()
        return time.perf_counter() - start

    what = f"torch.compile of generate (backend {opts.backend}, mode {opts.mode}, fullgraph {opts.fullgraph}, static KV cache)"
    return compile_cold_then_warm(artifact_dir(context.out_dir, "compile", parts), opts, what, first_result, context.log_file("compile"),
                                  notes=("generate: the decoding step compiled (static KV cache), the prefill eager",))
