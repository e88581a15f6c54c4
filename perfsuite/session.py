"""One benchmark session: the plan, the run folder, and the objects cases share.

Models and datasets are built once per session per case key and dropped right after the last
test that needs them, so a long matrix never holds more than one model in memory at a time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfsuite.config.schema import Case, SuitePlan
from perfsuite.data.base import SampleSet
from perfsuite.measure.memory import ModelLevel, file_backed_bytes, settled_level
from perfsuite.results.case import CaseDraft, CaseResult, MemoryResult

if TYPE_CHECKING:
    from perfsuite.results.run import SweepResult


@dataclass
class BuiltModel:
    model: Any  # perfsuite.models.base.TransformersModel
    load_s: float  # build + move to device, seconds
    load_memory: Any = None  # perfsuite.profile.memory_timeline.PhasePeak, when the memory_timeline stage runs
    level: ModelLevel | None = None  # host memory right before the build: what its cases' own memory counts from


@dataclass
class BuiltRuntime:
    runtime: Any  # perfsuite.runtimes.Runtime, prepared (compiled / exported) for its case
    setup: Any = None  # perfsuite.results.runtime_setup.RuntimeSetup; None for eager


@dataclass(frozen=True)
class PreparedBatches:
    """Inputs ready on the device, prepared before any timing."""

    inputs: tuple[dict[str, Any], ...]
    batch_size: int
    real_tokens: tuple[int, ...]  # per batch; 0 for image models
    truncated_samples: int  # samples cut to seq_len, over all prepared batches
    origin: str

    @property
    def tokens_per_batch(self) -> float:
        return sum(self.real_tokens) / len(self.real_tokens) if self.real_tokens else 0.0


@dataclass
class PerfSession:
    plan: SuitePlan
    run_dir: Path
    threads: dict[str, Any]
    skip_reason: str | None = None  # set when the device is missing and the user asked to skip
    results: Any = None  # perfsuite.results.run.ResultsWriter
    sweep_points: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # perfsuite's own failures, reported at the end
    output_errors: list[str] = field(default_factory=list)  # an output the user asked for (--benchmark-json) not written: the run fails
    shard_basis: str | None = None  # --perf-shard: what the split was balanced by
    nodeids: dict[str, list[str]] = field(default_factory=dict)  # result key -> the test node ids that measured it
    _models: dict[Any, BuiltModel] = field(default_factory=dict)
    _samples: dict[Any, SampleSet] = field(default_factory=dict)
    _runtimes: dict[Any, BuiltRuntime] = field(default_factory=dict)  # ("runtime", case id) -> the prepared runtime
    _references: dict[Any, dict[str, Any]] = field(default_factory=dict)  # eager fp32 outputs, on the host
    _parity: dict[str, Any] = field(default_factory=dict)  # case id -> ParityResult (one check per case)
    _last_use: dict[Any, int] = field(default_factory=dict)
    _model_levels: dict[Any, ModelLevel | None] = field(default_factory=dict)  # kept after the model is dropped
    on_result: Any = None  # called with each final CaseResult (the plugin's pytest_perf_case_result hook)
    _index: dict[str, int] = field(default_factory=dict)

    # -- lifetime of shared objects ---------------------------------------------------------------
    def schedule(self, items: Sequence[tuple[str, Case | None]]) -> None:
        """Remember, for each model key, the last test (in run order) that uses it."""
        self._index = {nodeid: i for i, (nodeid, _) in enumerate(items)}
        from perfsuite.runtimes.reference import reference_case

        for i, (_, case) in enumerate(items):
            if case is not None:
                for used in (case, reference_case(case)):  # the parity check's reference is used too
                    if used is not None:
                        self._last_use[used.model_key] = i
                        self._last_use[self._data_key(used)] = i
                        self._last_use[self._reference_key(used)] = i
                self._last_use[self._runtime_key(case)] = i

    def release_after(self, nodeid: str) -> None:
        i = self._index.get(nodeid)
        if i is None:
            return
        dropped = False
        for cache in (self._runtimes, self._models, self._samples, self._references):
            for key in [k for k in cache if self._last_use.get(k, -1) <= i]:
                del cache[key]
                dropped = True
        if dropped:
            gc.collect()
            _empty_device_cache(self.plan.device)

    def close(self) -> None:
        self._runtimes.clear()
        self._models.clear()
        self._samples.clear()
        self._references.clear()
        gc.collect()

    # -- perfsuite's own failures ----------------------------------------------------------------
    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Run perfsuite's own bookkeeping so that a bug in it never takes the pytest session down.

        The failure becomes one line in `problems` (printed at the end, and the run's final status
        is `error` with it), and its traceback goes to perfsuite-error.log in the run folder.
        """
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - perfsuite's bookkeeping must not end the session
            self.problems.append(f"{doing} failed: {type(exc).__name__}: {exc}")
            try:
                with open(self.run_dir / "perfsuite-error.log", "a", encoding="utf-8") as log:
                    log.write(f"--- {doing}\n{traceback.format_exc()}\n")
            except OSError:
                pass

    def save_elsewhere(self) -> Path | None:
        """After results.json could not be written: save the in-memory results to a temp file."""
        import json
        import tempfile

        from perfsuite.results.run import json_safe

        try:
            fd, name = tempfile.mkstemp(prefix=f"perfsuite-{self.run_dir.name}-", suffix=".results.json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(json_safe(self.results.to_dict()), fh, indent=1)
            return Path(name)
        except OSError:
            return None

    # -- results ------------------------------------------------------------------------------------
    def record(self, test: str, draft: CaseDraft | None, case: Case, outcome: str, reason: str | None, nodeid: str | None = None) -> CaseResult:
        """Turn what a test measured into its typed result and write results.json."""
        from perfsuite.results.case import unrecorded

        if draft is not None:
            draft.memory = self.own_memory(case, draft.memory)
            if draft.generation is not None and draft.generation.prefill_memory is not None:
                draft.generation = replace(draft.generation, prefill_memory=self.own_memory(case, draft.generation.prefill_memory))
        result = draft.finish(test, outcome, reason) if draft is not None else unrecorded(case, test, outcome, reason)
        self.add(result, nodeid)
        return result

    def add(self, result: CaseResult, nodeid: str | None = None) -> None:
        """Keep a finished case's result (measured here, or by an xdist worker) and write results.json."""
        if nodeid is not None:  # the gate re-runs a suspect case by its node id (perfsuite.confirm)
            self.nodeids.setdefault(result.key, []).append(nodeid)
        if result.kind == "latency":
            point = result.measurement if result.measurement is not None else result.oom
            if point is not None:
                self.sweep_points.setdefault((result.test, result.case.group), []).append((result.case.batch_size, point))
        self.results.record(result)
        if self.on_result is not None:
            self.on_result(result)

    def sweeps(self) -> list[SweepResult]:
        """Throughput/latency curve and knee for every case group measured at two or more batch sizes."""
        from perfsuite.measure import analyze_sweep
        from perfsuite.results.run import SweepResult

        out = []
        for (test, group), points in self.sweep_points.items():
            if len({bs for bs, _ in points}) < 2:
                continue
            out.append(SweepResult(group=group, test=test, analysis=analyze_sweep(points)))
        return out

    # -- shared objects -------------------------------------------------------------------------
    def does_not_fit(self, case: Case) -> str | None:
        """Why `case` cannot fit in the memory its device has free (an estimate before building, perfsuite.measure.fits)."""
        from perfsuite.measure.fits import does_not_fit, free_device_bytes
        from perfsuite.registry import MODELS

        built = case.model_key in self._models
        factory = MODELS.get(case.model.adapter, key="model.adapter")
        try:
            return does_not_fit(case, free_device_bytes(case.device), None if built else factory(case.model), weights=not built)
        except Exception:  # noqa: BLE001 - an estimate that cannot be made never stops a case: the allocator still reports OOM
            return None

    def model(self, case: Case) -> BuiltModel:
        built = self._models.get(case.model_key)
        if built is None:
            from perfsuite.models.base import build_model
            from perfsuite.pinning import seed_everything
            from perfsuite.profile.nvtx import phase_ranges

            seed_everything(case.config.seed)
            with contextlib.ExitStack() as stack:
                stack.enter_context(phase_ranges(case.device)("load"))  # an NVTX range on CUDA, for Nsight's timeline
                load: list[Any] = []
                if "memory_timeline" in case.config.stages:  # the load phase of the memory timeline
                    from perfsuite.profile.memory_timeline import track_load

                    load = stack.enter_context(track_load(case.device))
                before: list[tuple[int, str]] = []

                def level_before() -> None:
                    _start_device(case.device)
                    before.append(settled_level())

                model = build_model(
                    case.model,
                    precision=case.weights_precision,
                    device=case.device,
                    seed=case.config.seed,
                    channels_last=case.runtime.channels_last,
                    imported=level_before,
                )
            level = ModelLevel(before[0][0], file_backed_bytes(model.module), before[0][1]) if before else None
            built = self._models[case.model_key] = BuiltModel(model, model.load_s, load[0] if load else None, level)
        self._model_levels[case.model_key] = built.level
        return built

    def own_level(self, case: Case) -> None:
        """The level a test's own case counts its memory from: now, before it measures (once per case)."""
        if case.model_key not in self._model_levels:
            private, method = settled_level()
            self._model_levels[case.model_key] = ModelLevel(private, 0, method)

    def own_memory(self, case: Case, memory: MemoryResult | None) -> MemoryResult | None:
        """`memory` with the level its case's model was built from, so that it has an own figure.

        Every case of a model (its batch sizes, its runtimes) counts from the level before that model
        was built: what the model holds is each case's own, as it would be were the case run alone.
        """
        level = self._model_levels.get(case.model_key)
        host = memory.host if memory is not None else None
        if memory is None or level is None or host is None or host.private_before_model_bytes is not None:
            return memory
        own = replace(host, private_before_model_bytes=level.private_bytes, mapped_weights_bytes=level.mapped_weights_bytes, own_method=level.method)
        return replace(memory, host=own)

    @staticmethod
    def _runtime_key(case: Case) -> tuple[str, str]:
        return ("runtime", replace(case, scenario=None).id)  # a scenario's case serves the runtime its suite case prepared

    @property
    def out_dir(self) -> Path:
        """The out/ folder this run's folder lives in (out/runs/<run>): out/cache/ is beside runs/."""
        return self.run_dir.parent.parent

    def runtime(self, case: Case, batches: PreparedBatches) -> BuiltRuntime:
        """The case's runtime, compiled or exported (before any timing) once per case, for all its tests."""
        built = self._runtimes.get(self._runtime_key(case))
        if built is None:
            from perfsuite.runtimes.base import RuntimeContext, build_runtime, prepare_runtime

            runtime = build_runtime(case.runtime, self.model(case).model)
            context = RuntimeContext(case=case, out_dir=self.out_dir, log_dir=self.run_dir / "logs")
            built = self._runtimes[self._runtime_key(case)] = BuiltRuntime(runtime, prepare_runtime(runtime, batches.inputs, context))
        return built

    @staticmethod
    def _data_key(case: Case) -> tuple[Any, ...]:
        from dataclasses import replace

        return (case.dataset, case.model, replace(case.config.infer, precision="fp32"))  # samples never depend on the dtype

    @classmethod
    def _reference_key(cls, case: Case) -> tuple[Any, ...]:
        return ("reference", case.model_key, cls._data_key(case), case.batch_size)

    # -- the parity check -------------------------------------------------------------------------
    def parity(self, case: Case, runtime: Any, batches: PreparedBatches) -> Any:
        """The case's parity result (perfsuite.runtimes.parity), checked once per case before it is timed."""
        found = self._parity.get(case.id)
        if found is None:
            from perfsuite.runtimes.reference import check_case

            found = self._parity[case.id] = check_case(case, runtime, batches.inputs[0], self.reference_output)
        return found

    def reference_output(self, reference: Case) -> dict[str, Any]:
        """Eager fp32's output on the first batch of `reference` (a reference case), computed once, kept on the host."""
        key = self._reference_key(reference)
        found = self._references.get(key)
        if found is None:
            from perfsuite.runtimes.reference import eager_output

            found = self._references[key] = eager_output(self.model(reference).model, self.batches(reference).inputs[0])
        return found

    def samples(self, case: Case) -> SampleSet:
        key = self._data_key(case)
        found = self._samples.get(key)
        if found is None:
            from perfsuite.data.base import load_samples

            found = self._samples[key] = load_samples(case.dataset, case.model, case.config.infer)
        return found

    def batches(self, case: Case) -> PreparedBatches:
        from perfsuite.data.base import make_batches

        model = self.model(case).model
        samples = self.samples(case)
        infer = case.config.infer
        raw = make_batches(samples.samples, case.batch_size, infer.num_batches, case.dataset.sampling)
        inputs, tokens, truncated = [], [], 0
        for batch in raw:
            inputs.append(model.prepare_input(batch, seq_len=infer.seq_len, spread=infer.prompt_spread))
            tokens.append(model.last_real_tokens if case.model.modality == "text" else 0)
            truncated += model.last_truncated if case.model.modality == "text" else 0
        _synchronize(case.device)
        return PreparedBatches(tuple(inputs), case.batch_size, tuple(tokens), truncated, samples.origin)


def _synchronize(device: str) -> None:
    """Wait for `device` itself ("cuda:1" waits for GPU 1, not for the current device)."""
    from perfsuite.measure.sync import synchronize

    synchronize(device)


def _start_device(device: str) -> None:
    """Create `device`'s context before a model's level is read: a CUDA context holds hundreds of MiB of
    host memory, the process's and not the first case's. Nothing on CPU."""
    if device == "cpu":
        return
    import torch

    torch.empty(1, device=device)


def _empty_device_cache(device: str) -> None:
    """Return `device`'s cached blocks to the driver; a no-op off CUDA or before CUDA started.

    `torch.cuda.empty_cache()` frees only the *current* device's cache, so it runs under
    `torch.cuda.device(device)`: dropping a model on cuda:1 frees cuda:1.
    """
    from perfsuite.measure.oom import empty_device_cache  # never imports torch itself

    empty_device_cache(device=device)
