"""Generation metrics of decoder models: TTFT (prefill), TPOT / inter-token latency, decode tokens/s.

Greedy `generate` with min_new_tokens == max_new_tokens, so every run decodes exactly
`infer.max_new_tokens` tokens. Each token is timestamped after a device synchronize. One
pytest-benchmark round = one end-to-end generate call.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.benchmark_fixture import benchmark_enabled, record_samples
from perfsuite.config.schema import Case
from perfsuite.runner import measure_generation_case
from perfsuite.results.case import CaseDraft, GenerationSummary

pytestmark = [pytest.mark.perf_stage("direct_inference"), pytest.mark.perf_generation]


def left_padded(inputs: dict[str, Any]) -> dict[str, Any]:
    """Decoders continue from the last position: move each row's padding to the left."""
    import torch

    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    lengths = mask.sum(dim=1)
    shift = ids.shape[1] - lengths
    index = (torch.arange(ids.shape[1], device=ids.device)[None, :] - shift[:, None]) % ids.shape[1]
    return {"input_ids": ids.gather(1, index), "attention_mask": mask.gather(1, index)}


def test_generation(benchmark: Any, perf_case: Case, built_model: Any, batch: Any, perf_record: CaseDraft) -> None:
    perf_record.kind = "generation"
    model = built_model.model
    batch = type(batch)((left_padded(batch.inputs[0]),), batch.batch_size, batch.real_tokens[:1], batch.truncated_samples, batch.origin)
    if not benchmark_enabled(benchmark):
        model.module.generate(**batch.inputs[0], max_new_tokens=2, min_new_tokens=2, do_sample=False)
        return
    result, outcome = measure_generation_case(perf_case, model, batch)
    perf_record.memory = outcome.memory
    perf_record.load_s = built_model.load_s
    perf_record.details["model"] = model.info().as_dict()
    if outcome.oom is not None:
        perf_record.oom = outcome.oom
        pytest.skip(f"OOM at batch size {perf_case.batch_size} while generating: {outcome.oom.message}")
    perf_record.generation = GenerationSummary.of(result)
    record_samples(
        benchmark,
        [r.e2e_s for r in result.runs],
        {"timer": "perf_counter_ns + device sync per token", "warmup": result.warmup_runs, "min_rounds": len(result.runs)},
    )
    benchmark.extra_info.update(perf_record.extra_info())
    assert result.ttft.n == perf_case.config.measure.generation_runs and result.ttft.min_s > 0
    assert all(len(r.token_times_s) == perf_case.config.infer.max_new_tokens for r in result.runs)
