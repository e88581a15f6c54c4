"""Expand composed (model, dataset, runtime) configs into benchmark cases. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable

from perfsuite.config.schema import Case, CaseConfig, Exclusion


def compatible(model_modality: str, dataset_modality: str) -> bool:
    return dataset_modality == "any" or dataset_modality == model_modality


def expand(configs: Iterable[CaseConfig], device: str) -> tuple[tuple[Case, ...], tuple[Exclusion, ...]]:
    """One case per compatible config and batch size, model-major; incompatible pairs are left out.

    An image model never meets a text dataset: such pairs are excluded here, not run and skipped.
    Duplicate case ids (the same combination listed twice) are kept once.
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
        for batch_size in cfg.infer.batch_sizes:
            case = Case(cfg, batch_size, device)
            if case.id not in seen:
                seen.add(case.id)
                cases.append(case)
    order = {key: i for i, key in enumerate(dict.fromkeys(c.model_key for c in cases))}
    cases.sort(key=lambda c: order[c.model_key])  # stable: keeps dataset/runtime/batch order
    return tuple(cases), tuple(dict.fromkeys(exclusions))
