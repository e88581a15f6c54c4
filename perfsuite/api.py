"""`Perf`: what a benchmark test measures with (the `perf` fixture). docs/api.md is its guide.

    def test_pipeline(perf):
        perf.measure(my_pipeline, texts)              # latency, throughput, memory, noise flags
        perf.metric("accuracy", acc, better="higher")  # a figure of your own, gated too

One call times a callable with perfsuite's engine (warm-up until the median settles, adaptive
stopping, the case's device clock, a memory pass after the timed rounds, noise flags) and records
everything into the case's result: results.json, the terminal table, report.html, tables/, the
history, the gate and pytest-benchmark's table and JSON all read it from there.

In a suite bench (a test that takes `perf_case` or a fixture built from it: `model`, `runtime`,
`batch`), the case is the suite's (model, dataset, runtime, batch size); what those fixtures
built (load time, the parity check, compile / export time, the data's origin) joins the result
without further code. In any other test the case is the test itself: its name with its
parameters, and the device (`test_pipeline-cpu`, `test_pipeline[8]-cpu`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.errors import PerfError, PerfUsageError
from perfsuite.measure.record import Measurement
from perfsuite.results.case import CaseDraft, GenerationSummary
from perfsuite.results.own_metrics import own_metric

__all__ = ["Perf"]


class Perf:
    """The `perf` fixture of one test: its case, and the calls that measure it."""

    def __init__(self, request: pytest.FixtureRequest, case: Case, draft: CaseDraft, session: Any) -> None:
        self._request = request
        self._draft = draft
        self._case = case
        self._session = session

    # -- what the test runs on ---------------------------------------------------------------------
    @property
    def case(self) -> Case:
        """The case this test measures (suite case, or the test's own: `case.id`, `case.device`, `case.config`)."""
        return self._draft.case

    @property
    def draft(self) -> CaseDraft:
        """The case's result as this test fills it (typed parts; the plugin finishes it when the test ends)."""
        return self._draft

    @property
    def session(self) -> Any:
        """The benchmark session: its plan (suite, cases), run folder (`run_dir`) and output folder (`out_dir`)."""
        return self._session

    @property
    def device(self) -> str:
        """Where the case runs: "cpu", "cuda", "cuda:1", "mps" (--device)."""
        return self._case.device

    def sync(self) -> None:
        """Wait until the device has finished queued work (torch.cuda / torch.mps synchronize; nothing on CPU)."""
        from perfsuite.measure.sync import synchronizer

        synchronizer(self._case.device)()

    @property
    def enabled(self) -> bool:
        """False under --benchmark-disable: `measure` and `generate` then call once, untimed (a smoke test)."""
        from perfsuite.benchmark_fixture import benchmark_enabled

        return benchmark_enabled(self._benchmark)

    @property
    def _benchmark(self) -> Any:
        """pytest-benchmark's fixture, taken when a timing needs it (an unused one would warn)."""
        return self._request.getfixturevalue("benchmark")

    # -- measuring -----------------------------------------------------------------------------------
    def measure(
        self, fn: Callable[..., Any], *args: Any, batch_size: int | None = None, tokens: int | None = None, weights_of: Any = None
    ) -> Measurement | None:
        """Time ``fn(*args)`` and record latency, throughput, memory and noise flags as this test's result.

        ``batch_size``: items per call (samples/s; default the suite case's batch size, else 1).
        ``tokens``: tokens per call (tokens/s). ``weights_of``: a torch module whose weights' size
        to record (a suite case's model is known already). An argument that is the suite's
        prepared `batch` is not passed whole: each call gets its next batch of inputs, and its
        batch size and tokens count. Returns the measurement (None under --benchmark-disable).
        A test measures one case: a second `measure` or `generate` call is an error.
        """
        from perfsuite.benchmark_fixture import record_measurement
        from perfsuite.measure import weights_bytes
        from perfsuite.runner import measure_callable

        self._first_timing("measure")
        if not callable(fn):
            raise PerfUsageError(f"perf.measure needs a callable first, got {type(fn).__name__}")
        batch_size, tokens = _positive(batch_size, "batch_size"), _positive(tokens, "tokens")
        call, prepared = _call_of(fn, args)
        built = self._fixture("built_model")
        self._before_timing()
        if prepared is not None:
            batch_size = batch_size or prepared.batch_size
            tokens = tokens or (round(prepared.tokens_per_batch) or None)
            self._draft.details["data"] = {"origin": prepared.origin, "truncated_samples": prepared.truncated_samples,
                                           "tokens_per_batch": prepared.tokens_per_batch}
        batch_size = batch_size or self._case.batch_size
        if batch_size != self._draft.case.batch_size:
            from dataclasses import replace

            from perfsuite.config.own import is_own

            if not is_own(self._case):
                raise PerfUsageError(f"perf.measure: a suite case's batch size is the suite's ({self._case.batch_size}, in its id "
                                     f"{self._case.id}), got batch_size={batch_size}; set the suite's batch_sizes instead")
            self._draft.case = replace(self._draft.case, batch_size=batch_size)
        if weights_of is not None and not callable(getattr(weights_of, "parameters", None)):
            raise PerfUsageError(f"perf.measure: weights_of takes a torch module, got {type(weights_of).__name__}")
        if not self.enabled:
            call()
            self.sync()
            return None
        module = weights_of if weights_of is not None else (built.model.module if built is not None else None)
        outcome = measure_callable(self._case, call, batch_size=batch_size, tokens_per_call=tokens,
                                   weights=weights_bytes(module) if module is not None else None)
        draft = self._draft
        draft.memory = outcome.memory
        draft.details.update(_context(built, self._fixture("runtime")))
        if outcome.oom is not None:
            draft.oom = outcome.oom
            pytest.skip(f"OOM at batch size {batch_size}: {outcome.oom.message} (recorded as oom; caches freed)")
        m = outcome.measurement
        assert m is not None
        draft.measurement = m
        draft.throughput = outcome.throughput
        draft.device_state = outcome.device_state(samples=(m.warmup_calls + m.calls) * batch_size)
        draft.keep_samples = self._case.config.output.direct.save_raw_samples
        if self._case.config.output.direct.record_output_shapes:
            draft.details["output_shapes"] = _shapes(call())
        # --benchmark-cprofile: a few more calls under cProfile, after the timed samples.
        record_measurement(self._benchmark, m, profile_call=lambda: (call(), self.sync()))
        self._benchmark.extra_info.update(draft.extra_info())
        return m

    def generate(self, model: Any, inputs: Any, *, max_new_tokens: int | None = None) -> GenerationSummary | None:
        """Time ``model.generate(**inputs)`` token by token: TTFT, TPOT, inter-token latency, decode tokens/s.

        Greedy, exactly ``max_new_tokens`` new tokens per run (default: the suite case's
        `infer.max_new_tokens`); each token is timestamped after a device synchronize. ``inputs``
        is a mapping of tensors (input_ids, attention_mask) or the suite's prepared `batch` (its
        first batch); right-padded rows are moved to the left first (a decoder continues from the
        last position). Returns the summary (None under --benchmark-disable).
        """
        from perfsuite.benchmark_fixture import record_samples
        from perfsuite.runner import measure_generate
        from perfsuite.session import PreparedBatches

        self._first_timing("generate")
        module = getattr(model, "module", model)  # a suite model wraps its torch module
        built = self._fixture("built_model")
        suite_model = built is not None and model is built.model
        if suite_model and self._case.runtime.backend not in ("pytorch", "compile"):
            # a runtime that generates with a module of its own (int8: the quantized copy); compile generates with
            # the model's own module through transformers' compiled generate (prepared below, not the forward's compile)
            module = getattr(self._request.getfixturevalue("runtime"), "generation_module", None) or module
        if not callable(getattr(module, "generate", None)):
            raise PerfUsageError(f"perf.generate needs a model with a generate() method, got {type(model).__name__}")
        if isinstance(inputs, PreparedBatches):
            inputs = inputs.inputs[0]
        if not hasattr(inputs, "keys") or "input_ids" not in inputs:
            got = f"a mapping of {sorted(map(str, inputs.keys()))}" if hasattr(inputs, "keys") else type(inputs).__name__
            raise PerfUsageError(f"perf.generate needs inputs as a mapping with 'input_ids' (and 'attention_mask'), got {got}")
        inputs = left_padded(inputs)
        tokens = max_new_tokens if max_new_tokens is not None else self._case.max_new_tokens
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise PerfUsageError(f"perf.generate needs max_new_tokens >= 1, got {tokens!r}")
        draft = self._draft
        draft.kind = "generation"
        # A decoder's parity is its greedy tokens against eager fp32's (the match length), not its logits' tolerance
        self._before_timing(logits_parity=False)
        if suite_model and self.enabled and self._case.runtime.backend == "compile":
            draft.runtime_setup = self._compile_generate(module, inputs, tokens)
        if suite_model and self.enabled:
            self._check_tokens(module, inputs)
        if not self.enabled:
            module.generate(**inputs, max_new_tokens=min(tokens, 2), min_new_tokens=min(tokens, 2), do_sample=False)
            return None
        result, outcome = measure_generate(self._case, module, inputs, max_new_tokens=tokens)
        draft.memory = outcome.memory
        draft.details.update(_context(built, None))
        if outcome.oom is not None:
            draft.oom = outcome.oom
            pytest.skip(f"OOM at batch size {self._case.batch_size} while generating: {outcome.oom.message}")
        draft.generation = summary = GenerationSummary.of(
            result, output_text=_decoded(getattr(model, "tokenizer", None), result), kv_cache=_kv_cache(module, result)
        )
        record_samples(
            self._benchmark,
            [r.e2e_s for r in result.runs],
            {"timer": "perf_counter_ns + device sync per token", "warmup": result.warmup_runs, "min_rounds": len(result.runs)},
        )
        self._benchmark.extra_info.update(draft.extra_info())
        return summary

    def metric(self, name: str, value: float, *, unit: str = "", better: str = "lower", threshold: float | None = None) -> None:
        """Record a figure of your own (``better`` "lower" or "higher") as part of this test's result.

        The gate compares it with the baseline's: a change for the worse beyond ``threshold``
        (default: the gate's `thresholds.own`, 5%) regresses. Calling it again with the same
        name replaces the value.
        """
        try:
            m = own_metric(name, value, unit=unit, better=better, threshold=threshold)
        except (TypeError, ValueError) as exc:
            raise PerfUsageError(f"perf.metric: {exc}") from None
        self._draft.metrics[m.name] = m

    # -- load scenarios (perfsuite.scenarios; conf/scenario/, selected with scenario=NAME) --------------
    def serve(self, runtime: Any, batch: Any, *, model: Any = None) -> Any:
        """Run the case's load scenario over ``runtime``: per-request latency (queueing + service), rates, goodput, SLO.

        A request is one sample; the dynamic batcher serves up to the case's batch size per call, on
        inputs prepared for every batch size 1..max before the load starts. ``model``: the suite's
        model; a decoder case (infer.max_new_tokens > 0, a runtime that generates) is then served by
        ``generate``, its tokens stamped (TTFT, TPOT). Returns the `ScenarioSummary` (None under
        --benchmark-disable, where each batch size runs once, untimed).
        """
        from dataclasses import replace

        from perfsuite.benchmark_fixture import record_samples
        from perfsuite.measure.sync import synchronizer
        from perfsuite.results.scenario import ScenarioSummary
        from perfsuite.runner import generate_kwargs
        from perfsuite.scenarios.case import generates, run_scenario, serve_forward, serve_generate, spare_cores, warm_up
        from perfsuite.session import PreparedBatches

        case = self._case
        if case.scenario is None:
            raise PerfUsageError("perf.serve runs a load scenario: mark the test perf_scenario and select one (--perf-override scenario=server)")
        if not isinstance(batch, PreparedBatches):
            raise PerfUsageError(f"perf.serve takes the suite's prepared `batch` fixture, got {type(batch).__name__}")
        self._first_timing("serve")
        self._draft.kind = "scenario"
        self._before_timing()
        max_batch = 1 if case.scenario.kind == "single_stream" else case.batch_size
        by_size = {k: batch.inputs if k == batch.batch_size else self._session.batches(replace(case, batch_size=k)).inputs
                   for k in range(1, max_batch + 1)}  # before the load: never inside the timed path
        sync = synchronizer(case.device)
        tokens = model is not None and generates(case)
        if tokens:
            module = getattr(model, "module", model)
            if case.runtime.backend != "pytorch":  # a runtime that generates with a module of its own (int8: the quantized copy)
                module = getattr(runtime, "generation_module", None) or module
            by_size = {k: tuple(left_padded(i) for i in v) for k, v in by_size.items()}
            serve = serve_generate(module, by_size, sync, max_new_tokens=case.config.infer.max_new_tokens, generate_kwargs=generate_kwargs(case))
            if case.runtime.backend == "compile" and self.enabled:
                self._compiled_warm_up(serve, max_batch)  # the compiled decoding step for every batch size, in the case's cache
        else:
            serve = serve_forward(runtime, by_size, sync)
        if not self.enabled:
            warm_up(serve, max_batch)
            return None
        outcome = run_scenario(case, serve, tokens=tokens, disable_gc=case.config.measure.disable_gc, sender_cores=spare_cores())
        built = self._fixture("built_model")
        self._draft.details.update(_context(built, runtime))
        self._draft.scenario = summary = ScenarioSummary.of(outcome)
        if outcome.latencies_s:  # pytest-benchmark's rounds: the completed requests' latencies
            record_samples(self._benchmark, outcome.latencies_s, {"timer": "perf_counter_ns, per request (sent to served)",
                                                                  "scenario": case.scenario.name, "min_rounds": len(outcome.latencies_s)})
        self._benchmark.extra_info.update(self._draft.extra_info())
        return summary

    # -- the deep stages of a suite case (perfsuite.stages), each in a test of its own --------------------
    def profile(self, runtime: Any, batch: Any) -> Any:
        """torch.profiler around a few calls of ``runtime`` (traces/<case>.json.gz, tables/<case>.ops.csv)."""
        from perfsuite import stages

        self._stage("profile")
        return stages.profile(self, runtime, batch)

    def layers(self, model: Any, runtime: Any, batch: Any) -> Any:
        """Per-module time from forward hooks, in forwards of their own (tables/<case>.layers.csv)."""
        from perfsuite import stages

        self._stage("layers")
        return stages.layers(self, model, runtime, batch)

    def memory_timeline(self, runtime: Any, batch: Any) -> Any:
        """Peak memory per phase (load, warm-up, timed, profiled), replayed under memory trackers."""
        from perfsuite import stages

        self._stage("memory_timeline")
        built = self._fixture("built_model")
        return stages.memory_timeline(self, runtime, batch, load=built.load_memory if built is not None else None)

    def static(self, model: Any, batch: Any) -> Any:
        """Parameters, weight bytes, FLOPs and bytes moved per call, and the device's roofs (nothing timed)."""
        from perfsuite import stages

        self._stage("static")
        return stages.static(self, model, batch)

    def nsight(self) -> Any:
        """Nsight Systems / Compute over this case's `test_latency` (next to this test's file), where the tools exist."""
        from pathlib import Path

        from perfsuite import stages

        self._stage("nsight")
        return stages.nsight(self, Path(self._request.path).parent / "test_latency.py")

    def _stage(self, what: str) -> None:
        from perfsuite.config.own import is_own

        if is_own(self._case):
            raise PerfUsageError(f"perf.{what} profiles a suite case: take `model`, `runtime` and `batch` (or `perf_case`) in this test")
        self._first_timing(what)
        self._check_parity()

    # -- plumbing --------------------------------------------------------------------------------------
    def _first_timing(self, what: str) -> None:
        d = self._draft
        if any(part is not None for part in (d.measurement, d.generation, d.oom, d.profile, d.static, d.layers, d.memory_timeline, d.nsight)):
            raise PerfUsageError(
                f"perf.{what}: this test has measured already; one test measures one case (parametrize the test, "
                "or split it, to measure more)"
            )

    def _fixture(self, name: str) -> Any:
        """A suite fixture's value when this test uses it (never builds one the test did not ask for)."""
        return self._request.getfixturevalue(name) if name in self._request.fixturenames else None

    def _before_timing(self, *, logits_parity: bool = True) -> None:
        """What a suite case settles before its first timed call: compile / export time, the parity check, load time."""
        built_runtime = self._fixture("built_runtime")
        if built_runtime is not None:
            self._draft.runtime_setup = built_runtime.setup
        if logits_parity:
            self._check_parity()
        built = self._fixture("built_model")
        if built is not None:
            self._draft.load_s = built.load_s

    def _compiled_warm_up(self, serve: Any, max_batch: int) -> None:
        """A compile runtime's scenario: one generate call per batch size with the case's inductor cache folder, before the load."""
        from perfsuite.runtimes.cache import artifact_dir
        from perfsuite.runtimes.compiled import inductor_cache
        from perfsuite.scenarios.case import warm_up

        folder = artifact_dir(self._session.out_dir, "compile", {"scenario": self._case.id, "options": repr(self._case.runtime.compile)})
        with inductor_cache(folder):
            warm_up(serve, max_batch)

    def _compile_generate(self, module: Any, inputs: Any, tokens: int) -> Any:
        """A compile case's generate compiled before timing (cold, then warm): its setup record; skipped where it cannot be."""
        from perfsuite.runtimes.base import RuntimeContext, RuntimeUnavailable
        from perfsuite.runtimes.compiled import prepare_generate

        from perfsuite.runner import generate_kwargs

        context = RuntimeContext(case=self._case, out_dir=self._session.out_dir, log_dir=self._session.run_dir / "logs")
        try:
            return prepare_generate(context, module, inputs, max_new_tokens=tokens, generate_kwargs=generate_kwargs(self._case))
        except RuntimeUnavailable as exc:
            pytest.skip(f"{self._case.id}: {exc}")
        except PerfError as exc:
            pytest.fail(f"{self._case.id}: {exc}", pytrace=False)

    def _check_tokens(self, module: Any, inputs: Any) -> None:
        """A generating suite case's first greedy tokens against eager fp32's, before timing (perfsuite.runtimes.token_parity)."""
        from perfsuite.runtimes.reference import reference_case
        from perfsuite.runtimes.token_parity import token_parity

        from perfsuite.runner import generate_kwargs

        spec, reference, kwargs = self._case.runtime.parity, reference_case(self._case), generate_kwargs(self._case)
        if (reference is None and not kwargs) or not spec.enabled or spec.tokens == 0:
            return  # eager fp32 with the dynamic cache is the reference itself; with a static cache it is checked against it
        ref_module = module if reference is None else self._request.getfixturevalue("perf_session_state").model(reference).model.module
        result = token_parity(module, ref_module, inputs, tokens=spec.tokens, exact_required=self._case.precision in spec.exact_tokens,
                              generate_kwargs=kwargs)
        self._draft.details["token_parity"] = result.to_dict()
        if not result.passed:
            pytest.fail(result.message(self._case.id), pytrace=False)

    def _check_parity(self) -> None:
        """A suite runtime's outputs against eager fp32, before it is timed or profiled (whether or not the test took `parity`)."""
        from perfsuite.runtimes.parity import require_parity

        if "built_runtime" in self._request.fixturenames:
            require_parity(self._request.getfixturevalue("parity"), self._case.id)  # a mismatch fails the case untimed


def _decoded(tokenizer: Any, result: Any) -> str | None:
    """The first prompt's generated text, by the model's own tokenizer (none with the hash tokenizer: its ids name no words)."""
    if tokenizer is None or result.output is None or not callable(getattr(tokenizer, "decode", None)):
        return None
    try:
        return str(tokenizer.decode(list(result.output.first_row_tokens), skip_special_tokens=True))
    except Exception:  # noqa: BLE001 - a display nicety never fails a measured case
        return None


def _kv_cache(module: Any, result: Any) -> dict[str, Any] | None:
    """The KV cache at the end of a call (prompt + new tokens): computed from the config, and what the cache held."""
    from perfsuite.errors import PerfDataError
    from perfsuite.measure.kv_cache import kv_cache_bytes

    first = result.runs[0]
    measured = result.output.kv_cache_bytes if result.output is not None else None
    try:
        dtype = next(module.parameters()).dtype
        # generate stops before feeding its last token back, so the cache ends at prompt + new - 1 positions
        size = kv_cache_bytes(module.config, batch_size=first.batch_size, seq_len=first.prompt_tokens + first.new_tokens - 1, dtype_bytes=dtype.itemsize)
    except (PerfDataError, StopIteration, AttributeError, TypeError):
        return None if measured is None else {"measured_bytes": measured}
    return {**size.to_dict(), "measured_bytes": measured}


def left_padded(inputs: Any) -> dict[str, Any]:
    """``inputs`` with each row's padding moved to the left (decoders continue from the last position)."""
    import torch

    out = dict(inputs)
    mask = out.get("attention_mask")
    if mask is None:
        return out
    ids = out["input_ids"]
    shift = ids.shape[1] - mask.sum(dim=1)
    index = (torch.arange(ids.shape[1], device=ids.device)[None, :] - shift[:, None]) % ids.shape[1]
    out["input_ids"], out["attention_mask"] = ids.gather(1, index), mask.gather(1, index)
    return out


def _positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PerfUsageError(f"perf.measure: {name} must be a whole number >= 1, got {value!r}")
    return value


def _call_of(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Callable[[], Any], Any]:
    """A no-argument call of ``fn(*args)``; a prepared suite batch among ``args`` gives its batches in turn."""
    from perfsuite.session import PreparedBatches

    found = [i for i, a in enumerate(args) if isinstance(a, PreparedBatches)]
    if not found:
        return (lambda: fn(*args)), None
    if len(found) > 1:
        raise PerfUsageError("perf.measure: pass the suite's batch once")
    i = found[0]
    prepared: Any = args[i]
    cycle = itertools.cycle(prepared.inputs)
    head, tail = args[:i], args[i + 1:]
    return (lambda: fn(*head, next(cycle), *tail)), prepared


def _shapes(output: Any) -> dict[str, list[int]]:
    """The shapes of a model output's main tensors (output.direct.record_output_shapes)."""
    found = {}
    for name in ("logits", "last_hidden_state", "pooler_output"):
        value = getattr(output, name, None)
        if value is not None and hasattr(value, "shape"):
            found[name] = list(value.shape)
    return found


def _context(built: Any, runtime: Any) -> dict[str, Any]:
    """Display details of a suite case: the model's description, the runtime's, the threads in force."""
    from perfsuite.pinning import threads_in_force

    out: dict[str, Any] = {"threads_in_force": threads_in_force()}
    if built is not None:
        out["model"] = built.model.info().as_dict()
    if runtime is not None and hasattr(runtime, "describe"):
        out["runtime"] = runtime.describe()
    return out
