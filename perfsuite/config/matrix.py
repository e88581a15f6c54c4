"""Expand composed (model, dataset, runtime) configs into benchmark cases. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from perfsuite import registry
from perfsuite.config.schema import Case, CaseConfig, Exclusion

RuntimeCheck = Callable[[CaseConfig, str], "str | None"]

FP16_ON_CPU = (
    "fp16 is not benchmarked on CPU: most CPU kernels have no fast fp16 path (they upcast or run "
    "reference code), so the figure would mislead; use bf16 on CPU (pytorch_bf16_*), fp16 on CUDA or MPS"
)
CHANNELS_LAST_TEXT = "channels_last applies to image models (4-D pixel inputs); a text model has no channel dimension"


def compatible(model_modality: str, dataset_modality: str) -> bool:
    return dataset_modality == "any" or dataset_modality == model_modality or (dataset_modality, model_modality) == ("chat", "text")


def chat_exclusion(cfg: CaseConfig) -> str | None:
    """Why a chat dataset cannot feed `cfg`'s model: it must generate and have a chat template to render with."""
    if cfg.dataset.modality != "chat":
        return None
    if not cfg.model.generative:
        return f"chat prompts are for decoder LMs; {cfg.model.id} has no LM head to answer with (use a plain text dataset, e.g. pydoc)"
    if not cfg.model.chat_template:
        return (
            f"{cfg.model.id} has no chat template to render chat prompts with (random-init presets and snapshots without one); "
            "use a model whose tokenizer has one (e.g. smollm2) or a plain text dataset (e.g. pydoc)"
        )
    return None


def shared_exclusion(cfg: CaseConfig, device: str) -> str | None:
    """Why no backend can run `cfg` on `device` as configured (precision, memory layout), else None."""
    runtime = cfg.runtime
    precision = runtime.precision if runtime.precision != "fp32" else cfg.infer.precision
    if precision == "fp16" and device == "cpu":
        return FP16_ON_CPU
    if runtime.channels_last and cfg.model.modality != "image":
        return CHANNELS_LAST_TEXT
    return None


def runtime_exclusion(cfg: CaseConfig, device: str) -> str | None:
    """Why `cfg`'s runtime cannot run on `device`: the shared checks, then the backend's own.

    A backend's factory (perfsuite.registry.RUNTIMES) may have `unsupported(cfg, device) -> str | None`;
    it must be cheap and must not import torch (it runs while the plan is built).
    """
    reason = shared_exclusion(cfg, device)
    if reason is not None:
        return reason
    check = getattr(registry.RUNTIMES.get(cfg.runtime.backend, key="inference_runtime.backend"), "unsupported", None)
    return None if check is None else check(cfg, device)


def expand(
    configs: Iterable[CaseConfig], device: str, *, runtime_check: RuntimeCheck = runtime_exclusion
) -> tuple[tuple[Case, ...], tuple[Exclusion, ...]]:
    """One case per compatible config and batch size, model-major; what cannot run is left out, with why.

    An image model never meets a text dataset, and a runtime never meets a case it cannot run
    (`runtime_check`, e.g. CUDA graphs on a CPU): such combinations are excluded here, not run and
    skipped. Duplicate case ids (the same combination listed twice) are kept once.
    """
    cases: list[Case] = []
    exclusions: list[Exclusion] = []
    seen: set[str] = set()
    for cfg in configs:
        if not compatible(cfg.model.modality, cfg.dataset.modality):
            exclusions.append(
                Exclusion(
                    cfg.model.id,
                    cfg.dataset.name,
                    f"{cfg.model.modality} model with {cfg.dataset.modality} data",
                )
            )
            continue
        reason = chat_exclusion(cfg)
        if reason is not None:
            exclusions.append(Exclusion(cfg.model.id, cfg.dataset.name, reason))
            continue
        reason = runtime_check(cfg, device)
        if reason is not None:
            exclusions.append(Exclusion(cfg.model.id, cfg.dataset.name, reason, runtime=cfg.runtime.name))
            continue
        lengths = [replace(cfg, infer=replace(cfg.infer, seq_len=n)) for n in cfg.infer.seq_lens] or [cfg]
        for batch_size in cfg.infer.batch_sizes:
            for length_cfg in lengths:
                case = Case(length_cfg, batch_size, device)
                if case.id not in seen:
                    seen.add(case.id)
                    cases.append(case)
    order = {key: i for i, key in enumerate(dict.fromkeys(c.model_key for c in cases))}
    cases.sort(key=lambda c: order[c.model_key])  # stable: keeps dataset/runtime/batch order
    return tuple(cases), tuple(dict.fromkeys(exclusions))
