"""`perfsuite bootstrap models`: link local model snapshots as `models/<name>`.

`models/bootstrap.yaml` lists the models; each is looked up under the snapshot roots (the
folders named by environment variables, else the default roots) unless it names an explicit
`path:`. A model linked as `models/<name>` is what `--perf-override model=<name>` loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.bootstrap.links import plan_link
from perfsuite.bootstrap.paths import env_path, expand_path, is_simple_name
from perfsuite.bootstrap.plan import Plan, Problem, Step
from perfsuite.bootstrap.snapshots import FileRule, Snapshot, check_snapshot, find_snapshot, open_snapshot
from perfsuite.bootstrap.yamlfile import check_keys, get_bool, get_str, get_str_list, load_mapping
from perfsuite.errors import PerfConfigError, PerfDataError

DEFAULT_ROOT_ENV: tuple[str, ...] = ("HF_SNAPSHOTS_ROOT", "MODELS_ROOT", "HF_HUB_CACHE")
DEFAULT_ROOTS: tuple[str, ...] = ("~/.cache/huggingface/hub",)
# Names the models/ folder itself uses; a model may not shadow them.
RESERVED_NAMES = frozenset({"bootstrap.sh", "bootstrap.yaml", "README.md"})
_MODEL_KEYS = ("name", "repo_id", "revision", "path", "required_files", "tokenizer_files", "weights", "optional")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    repo_id: str | None = None
    revision: str | None = None
    path: str | None = None
    required_files: tuple[FileRule, ...] = ()
    tokenizer_files: tuple[FileRule, ...] = ()
    weights: bool = True
    optional: bool = False

    @property
    def subject(self) -> str:
        return f"model {self.name}"


@dataclass(frozen=True)
class ModelsBootstrap:
    file: Path
    root_env: tuple[str, ...] = DEFAULT_ROOT_ENV
    default_roots: tuple[str, ...] = DEFAULT_ROOTS
    models: tuple[ModelEntry, ...] = field(default_factory=tuple)


def _file_rules(entry: Mapping[str, Any], key: str, file: Path, where: str) -> tuple[FileRule, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise PerfConfigError("must be a list", file=str(file), key=f"{where}{key}", value=value)
    rules: list[FileRule] = []
    for item in value:
        if isinstance(item, str):
            rules.append(item)
        elif isinstance(item, list) and item and all(isinstance(i, str) for i in item):
            rules.append(tuple(item))
        else:
            raise PerfConfigError(
                "each entry must be a file name (glob) or a list of names of which any one will do",
                file=str(file), key=f"{where}{key}", value=item,
            )
    return tuple(rules)


def _model_spec(entry: Any, index: int, file: Path) -> ModelEntry:
    where = f"models[{index}]."
    if not isinstance(entry, dict):
        raise PerfConfigError("each model must be a mapping", file=str(file), key=f"models[{index}]", value=entry)
    check_keys(entry, _MODEL_KEYS, file=file, where=where)
    name = get_str(entry, "name", file=file, where=where)
    if not name or not is_simple_name(name) or name in RESERVED_NAMES:
        raise PerfConfigError(
            "must be a plain folder name (letters, digits, '.', '_', '-'), used as models/<name>",
            file=str(file), key=f"{where}name", value=name,
        )
    spec = ModelEntry(
        name=name,
        repo_id=get_str(entry, "repo_id", file=file, where=where),
        revision=get_str(entry, "revision", file=file, where=where),
        path=get_str(entry, "path", file=file, where=where),
        required_files=_file_rules(entry, "required_files", file, where),
        tokenizer_files=_file_rules(entry, "tokenizer_files", file, where),
        weights=get_bool(entry, "weights", file=file, where=where, default=True),
        optional=get_bool(entry, "optional", file=file, where=where, default=False),
    )
    return spec


def load_models_bootstrap(file: Path) -> ModelsBootstrap:
    """Read and validate `models/bootstrap.yaml`."""
    data = load_mapping(file)
    check_keys(data, ("roots", "models"), file=file)
    roots = data.get("roots") or {}
    if not isinstance(roots, dict):
        raise PerfConfigError("must be a mapping with `env` and `defaults`", file=str(file), key="roots", value=roots)
    check_keys(roots, ("env", "defaults"), file=file, where="roots.")
    root_env = get_str_list(roots, "env", file=file, where="roots.") if "env" in roots else DEFAULT_ROOT_ENV
    defaults = get_str_list(roots, "defaults", file=file, where="roots.") if "defaults" in roots else DEFAULT_ROOTS
    entries = data.get("models") or []
    if not isinstance(entries, list):
        raise PerfConfigError("must be a list of models", file=str(file), key="models", value=entries)
    specs = tuple(_model_spec(e, i, file) for i, e in enumerate(entries))
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.name in seen:
            raise PerfConfigError("duplicate model name", file=str(file), key=f"models[{i}].name", value=spec.name)
        seen.add(spec.name)
    return ModelsBootstrap(file=file, root_env=root_env, default_roots=defaults, models=specs)


@dataclass(frozen=True)
class Roots:
    """The snapshot roots in search order, and what was wrong with the ones that could not be used."""

    paths: tuple[Path, ...]
    problems: tuple[str, ...]
    described: str  # for the "no root" error: which env vars and defaults were considered


def snapshot_roots(config: ModelsBootstrap, env: Mapping[str, str]) -> Roots:
    paths: list[Path] = []
    problems: list[str] = []
    for var in config.root_env:
        path = env_path(var, env)
        if path is None:
            continue
        if path.is_dir():
            paths.append(path)
        else:
            problems.append(f"{var}={path} is not an existing folder; fix or unset it")
    for text in config.default_roots:
        path = expand_path(text, env)
        if path.is_dir():
            paths.append(path)
    described = (
        f"none of {', '.join(config.root_env) or '(no variables)'} is set to an existing folder and "
        f"the default root(s) {', '.join(str(expand_path(t, env)) for t in config.default_roots) or '(none)'} "
        "do not exist"
    )
    return Roots(tuple(dict.fromkeys(paths)), tuple(problems), described)


def locate(spec: ModelEntry, roots: Roots, env: Mapping[str, str], base: Path) -> Snapshot:
    """The snapshot folder of one model, checked for completeness."""
    if spec.path:
        path = expand_path(spec.path, env, base=base)
        if not path.is_dir():
            raise PerfDataError(f"the explicit path {path} of model {spec.name!r} is not an existing folder.")
        snap = open_snapshot(path, spec.revision, "explicit path")
    else:
        if not roots.paths:
            raise PerfDataError(
                f"no snapshot root to search for model {spec.name!r}: {roots.described}. Set HF_SNAPSHOTS_ROOT "
                "(or MODELS_ROOT) to the folder that holds your snapshots, or give the model an explicit `path:`."
            )
        snap = find_snapshot(spec.name, spec.repo_id, spec.revision, roots.paths)
    check_snapshot(snap.path, spec.required_files + spec.tokenizer_files, weights=spec.weights)
    return Snapshot(snap.path.absolute(), snap.how)


def plan_models(config: ModelsBootstrap, models_dir: Path, env: Mapping[str, str]) -> Plan:
    """The steps that make `models_dir/<name>` a symlink to each model's snapshot."""
    roots = snapshot_roots(config, env)
    items: list[Step | Problem] = [Problem("models", msg) for msg in roots.problems]
    for spec in config.models:
        try:
            snap = locate(spec, roots, env, config.file.parent)
        except PerfDataError as exc:
            if spec.optional:
                items.append(Problem(spec.subject, f"skipped (optional): {exc}", fatal=False))
            else:
                items.append(Problem(spec.subject, str(exc)))
            continue
        step = plan_link(spec.subject, models_dir / spec.name, snap.path)
        if isinstance(step, Step):
            step = Step(step.subject, step.verb, f"{step.detail} [{snap.how}]", step.changes, step.run)
        items.append(step)
    return Plan.of(items)
