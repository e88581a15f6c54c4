"""From command-line choices to a `SuitePlan`: compose, validate, expand."""

from __future__ import annotations

import re

from collections.abc import Sequence
from pathlib import Path

from perfsuite.config import validate
from perfsuite.config.compose import HydraComposer, ModelRef, UserOverrides, parse_overrides
from perfsuite.config.matrix import expand
from perfsuite.config.schema import SuitePlan, SuiteSpec
from perfsuite.config.sources import ConfSources, is_plain_name
from perfsuite.errors import PerfConfigError


def _check_option(sources: ConfSources, group: str, name: str, *, key: str, file: str | None = None) -> None:
    if sources.find(group, name) is None:
        raise PerfConfigError(f"unknown {group.replace('_', ' ')}", file=file, key=key, value=name, allowed=sources.options(group))


def resolve_model(
    sources: ConfSources, models_dir: Path, model_id: str, infer: str | None, *, key: str, file: str | None
) -> ModelRef:
    """`gpt2.tiny` -> conf/model/gpt2/arch/gpt2.tiny.yaml; `minilm` -> minilm.default; else models/<id>."""
    family, _, preset = model_id.partition(".")
    option = model_id if preset else f"{family}.default"
    if sources.find(f"model/{family}/arch", option):
        infer_option = infer or f"{family}.default"
        _check_option(sources, f"model/{family}/infer", infer_option, key=f"{key} (infer preset)", file=file)
        return ModelRef(model_id, family, option, infer_option, own_infer=infer is not None)
    local = models_dir / model_id
    if is_plain_name(model_id) and (local.is_dir() or local.is_symlink()):
        infer_option = infer or "local.default"
        _check_option(sources, "model/local/infer", infer_option, key=f"{key} (infer preset)", file=file)
        return ModelRef(model_id, "local", "local.default", infer_option, str(local.absolute()), own_infer=infer is not None)
    local_names = sorted(p.name for p in models_dir.iterdir() if not p.name.startswith(".")) if models_dir.is_dir() else []
    local_names = [n for n in local_names if (models_dir / n).is_dir()]
    raise PerfConfigError(
        "unknown model",
        file=file,
        key=key,
        value=model_id,
        allowed=sources.model_ids() + [f"{n} (local)" for n in local_names],
        hint=f"add conf/model/{family}/arch/{option}.yaml (in --perf-conf-dir), or bootstrap a snapshot into {models_dir}/{model_id}",
    )


def hydra_quoted(value: str) -> str:
    """``value`` as a single-quoted Hydra override value that parses back to exactly ``value``.

    For every override perfsuite writes itself (a snapshot's folder may hold spaces, quotes, `<`,
    `,`, `]` or non-ASCII letters, which an unquoted override value cannot). In a quoted value Hydra
    reads a backslash as an escape only before a quote or at the end, so only those are doubled.
    """
    value = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value)
    return "'" + value.replace("'", "\\'") + "'"


def _case_overrides(ref: ModelRef, dataset: str, runtime: str, common: list[str], suite: SuiteSpec, user: UserOverrides, sources: ConfSources) -> list[str]:
    ovs = [
        *common,
        f"+model/{ref.family}/arch@model={ref.arch_option}",
        f"+model/{ref.family}/infer@infer={user.infer_options.get(ref.family, ref.infer_option)}",
        f"dataset={dataset}",
        f"inference_runtime={runtime}",
    ]
    for stage in ("direct", "torch"):
        if sources.find(f"model/{ref.family}/output/{stage}", "default"):
            ovs.append(f"+model/{ref.family}/output/{stage}@output.{stage}=default")
    if ref.path:
        ovs.append(f"model.path={hydra_quoted(str(ref.path))}")
    # Batch sizes: --perf-override infer.batch_sizes > an infer preset chosen on the command line
    # > an infer preset the suite names for the model > the suite's batch_sizes > the model's default infer preset.
    if suite.batch_sizes and not user.sets_batch_sizes and ref.family not in user.infer_options and not ref.own_infer:
        ovs.append(f"infer.batch_sizes=[{','.join(map(str, suite.batch_sizes))}]")
    return ovs + list(suite.overrides) + list(user.passthrough)


def build_plan(
    *,
    device: str = "cpu",
    suite: str | None = None,
    overrides: Sequence[str] = (),
    conf_dirs: Sequence[str | Path] = (),
    models_dir: Path | None = None,
    project_root: Path | None = None,
) -> SuitePlan:
    device = validate.check_device(device)
    sources = ConfSources.create(tuple(conf_dirs))
    project_root = project_root or sources.dirs[-1].parent
    models_dir = models_dir or project_root / "models"
    user = parse_overrides(overrides)
    if user.suite and suite and user.suite != suite:
        raise PerfConfigError(f"--perf-suite {suite} conflicts with --perf-override suite={user.suite}", hint="pick one")
    suite_name = user.suite or suite or "default"
    _check_option(sources, "suite", suite_name, key="--perf-suite")
    hardware = user.hardware or {"cuda": "single_gpu", "mps": "mps"}.get(device.split(":")[0], "cpu")
    _check_option(sources, "hardware", hardware, key="hardware")
    for name in user.datasets or ():
        _check_option(sources, "dataset", name, key="dataset")
    for name in user.runtimes or ():
        _check_option(sources, "inference_runtime", name, key="inference_runtime")

    common = [f"suite={suite_name}", f"hardware={hardware}"]
    # Value overrides of model./infer. only exist once a model is composed in.
    # Per-case sections: the root composition (suite only) has the default runtime, without compile:/onnxruntime: blocks.
    root_passthrough = [o for o in user.passthrough if o.lstrip("+~").split("=")[0].split(".")[0] not in ("model", "infer", "inference_runtime")]
    with HydraComposer(sources) as composer:
        root, choices, _ = composer.compose(common + root_passthrough)
        suite_file = sources.display(sources.find("suite", suite_name))
        spec = validate.suite_spec(root.get("suite"), file=suite_file, overridden=user.keys)
        if user.models is not None:
            refs = [resolve_model(sources, models_dir, m, None, key="model", file="--perf-override") for m in user.models]
        else:
            refs = [
                resolve_model(sources, models_dir, m.id, m.infer, key=f"suite.models[{i}]", file=suite_file)
                for i, m in enumerate(spec.models)
            ]
        datasets = user.datasets or spec.datasets
        runtimes = user.runtimes or spec.runtimes
        if user.datasets is None:
            for i, name in enumerate(datasets):
                _check_option(sources, "dataset", name, key=f"suite.datasets[{i}]", file=suite_file)
        if user.runtimes is None:
            for i, name in enumerate(runtimes):
                _check_option(sources, "inference_runtime", name, key=f"suite.runtimes[{i}]", file=suite_file)

        # A suite may pair a model with some of its datasets only (suite.models[i].datasets); the command line's
        # model= or dataset= choices lift that.
        only = {} if user.models is not None or user.datasets is not None else {r: m.datasets for r, m in zip(refs, spec.models) if m.datasets}
        configs = []
        raw_configs = {}
        for ref in dict.fromkeys(refs):
            for dataset in dict.fromkeys(datasets):
                if ref in only and dataset not in only[ref]:
                    continue
                for runtime in dict.fromkeys(runtimes):
                    data, choices, stored = composer.compose(_case_overrides(ref, dataset, runtime, common, spec, user, sources))
                    files = {
                        group: sources.display(sources.find(group.split("@")[0], option)) if option else None
                        for group, option in choices.items()
                        if not group.startswith("hydra/")
                    }
                    files["model"] = files.get(f"model/{ref.family}/arch@model")
                    files["infer"] = files.get(f"model/{ref.family}/infer@infer")
                    files["config"] = sources.display(sources.find("", "config"))
                    cfg = validate.case_config(
                        data,
                        model_id=ref.id,
                        family=ref.family,
                        device=device,
                        files=files,
                        overridden=user.keys,
                        project_root=project_root,
                        raw=stored,
                    )
                    configs.append(cfg)
                    raw_configs[f"{ref.id}-{cfg.dataset.name}-{cfg.runtime.name}"] = stored
    run = validate.run_spec(configs, file=suite_file)
    cases, exclusions = expand(configs, device)
    if not cases:
        pairs = "; ".join(f"{e.label}: {e.reason}" for e in exclusions)
        raise PerfConfigError(
            f"the suite '{spec.name}' expands to no benchmark case ({pairs})",
            hint="add a dataset whose modality matches the models (text, image, chat for decoders with a chat template, or the synthetic dataset), "
            "or a runtime this device can run (perfsuite list runtimes)",
        )
    return SuitePlan(
        suite=spec,
        device=device,
        cases=cases,
        exclusions=exclusions,
        overrides=tuple(overrides),
        conf_dirs=tuple(str(d) for d in sources.dirs),
        run=run,
        raw_configs=raw_configs,
    )
