"""Compose the Hydra tree into a `SuitePlan`: one composed config per (model, dataset, runtime).

Hydra's compose API is used as its docs prescribe (`with initialize_config_dir(...)`, absolute
path). User conf dirs are searched before the built-in tree. Every Hydra or YAML failure is
turned into a `PerfConfigError` that names the file and key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.fields import DELETED
from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError

_ARCH_KEY = re.compile(r"^model/(?P<family>[^/@]+)/arch$")
_INFER_KEY = re.compile(r"^model/(?P<family>[^/@]+)/infer$")
OVERRIDE_HINT = "overrides are KEY=VALUE (lists as [1,4]), e.g. infer.batch_sizes=[1,4] or model=gpt2.tiny"


@dataclass(frozen=True)
class ModelRef:
    """A model selected by the suite or the command line, resolved to conf files."""

    id: str
    family: str
    arch_option: str
    infer_option: str
    path: str | None = None  # local snapshot (models/<name>)
    own_infer: bool = False  # the suite named the infer preset: its batch sizes beat the suite's


@dataclass(frozen=True)
class UserOverrides:
    """The command-line overrides, split into matrix selections and plain value overrides."""

    models: tuple[str, ...] | None
    infer_options: dict[str, str]  # family -> infer preset
    datasets: tuple[str, ...] | None
    runtimes: tuple[str, ...] | None
    hardware: str | None
    suite: str | None
    passthrough: tuple[str, ...]  # applied to every case composition, last
    keys: dict[str, str]  # dotted key -> value as typed, for error attribution

    @property
    def sets_batch_sizes(self) -> bool:
        return "infer.batch_sizes" in self.keys


def _as_names(value: Any, text: str) -> tuple[str, ...]:
    """The names an axis selection (`model=a` or `model=[a,b]`) picks; none, or an empty one, is an error."""
    names = tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)
    if not names or not all(n.strip() for n in names):
        raise PerfConfigError("a selection needs at least one non-empty name", key="--perf-override", value=text, hint=OVERRIDE_HINT)
    return names


def _one_name(value: Any, text: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PerfConfigError("expected one non-empty name", key="--perf-override", value=text, hint=OVERRIDE_HINT)
    return value


def parse_overrides(overrides: Sequence[str]) -> UserOverrides:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    models = datasets = runtimes = None
    hardware = suite = None
    infer_options: dict[str, str] = {}
    passthrough: list[str] = []
    keys: dict[str, str] = {}
    for text in overrides:
        try:
            (ov,) = parser.parse_overrides([text])
        except HydraException as exc:
            first = str(exc).splitlines()[0]
            raise PerfConfigError(
                f"cannot parse override: {first}", key="--perf-override", value=text, hint=OVERRIDE_HINT
            ) from None
        group, package = ov.key_or_group, ov.package
        if not group:
            raise PerfConfigError("an override needs a key before '='", key="--perf-override", value=text, hint=OVERRIDE_HINT)
        value = ov.value()
        if ov.is_delete():
            passthrough.append(text)
            keys[group if package is None else f"{package}.{group}"] = DELETED
            continue
        if group == "model" and package is None:
            models = _as_names(value, text)
        elif (m := _ARCH_KEY.match(group)) and package == "model":
            models = _as_names(value, text)
        elif (m := _INFER_KEY.match(group)) and package == "infer":
            infer_options[m.group("family")] = str(value)
        elif group == "dataset" and package is None:
            datasets = _as_names(value, text)
        elif group == "inference_runtime" and package is None:
            runtimes = _as_names(value, text)
        elif group == "hardware" and package is None:
            hardware = _one_name(value, text)
        elif group == "suite" and package is None:
            suite = _one_name(value, text)
        else:
            passthrough.append(text)
            keys[group if package is None else f"{package}.{group}"] = ov.get_value_string()
    return UserOverrides(models, infer_options, datasets, runtimes, hardware, suite, tuple(passthrough), keys)


class HydraComposer:
    """A live Hydra context over the conf dirs. Use as a context manager."""

    def __init__(self, sources: ConfSources) -> None:
        self.sources = sources
        self._ctx: Any = None

    def __enter__(self) -> HydraComposer:
        from hydra import initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
        builtin = self.sources.dirs[-1]
        self._ctx = initialize_config_dir(config_dir=str(builtin), version_base=None)
        self._ctx.__enter__()
        user_dirs = self.sources.dirs[:-1]
        if user_dirs:
            # Hydra appends `hydra.searchpath` entries after the primary dir; users must come
            # first, so prepend them and re-read the sources.
            loader = GlobalHydra.instance().config_loader()
            search_path = loader.get_search_path()
            for d in reversed(user_dirs):
                search_path.prepend("perfsuite-user", f"file://{d}")
            loader.repository.initialize_sources(search_path)  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    def compose(self, overrides: Sequence[str]) -> tuple[dict[str, Any], dict[str, str | None], dict[str, Any]]:
        """Compose; return the config as plain data, Hydra's group choices, and the copy to store.

        The stored copy (for run_config.yaml) keeps `${oc.env:...}` interpolations unresolved, so
        no environment secret is written into a run folder.
        """
        from hydra import compose
        from omegaconf import OmegaConf, open_dict

        from perfsuite.config.redact import stored_copy

        with translate_errors(self, overrides):
            cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
            choices = dict(cfg.hydra.runtime.choices)
            with open_dict(cfg):
                del cfg["hydra"]
            data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
            unresolved = OmegaConf.to_container(cfg, resolve=False)
        assert isinstance(data, dict) and isinstance(unresolved, dict)
        return data, choices, stored_copy(data, unresolved)


def _parent_keys(composer: HydraComposer, overrides: Sequence[str], bad: str, full_key: str) -> list[str]:
    """The keys that do exist next to `full_key`, for the error message."""
    from hydra import compose

    try:
        cfg = compose(config_name="config", overrides=[o for o in overrides if o != bad])
    except Exception:  # the base itself is broken: say nothing rather than guess
        return []
    node: Any = cfg
    for part in full_key.split(".")[:-1]:
        node = node.get(part) if hasattr(node, "get") else None
        if node is None:
            return []
    return sorted(str(k) for k in node.keys()) if hasattr(node, "keys") else []


@contextmanager
def translate_errors(composer: HydraComposer, overrides: Sequence[str]) -> Iterator[None]:
    import yaml
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        yield
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PerfConfigError(
            f"YAML syntax error{where}: {problem}",
            file=composer.sources.display(Path(mark.name)) if mark and mark.name else None,
            hint="fix the YAML (indentation, a ':' after every key, closed brackets)",
        ) from None
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None)
        raise PerfConfigError(
            "a required value is not set ('???' in the YAML)",
            key=key,
            hint=f"set it with --perf-override {key}=VALUE" if key else None,
        ) from None
    except MissingConfigException as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        options = []
        if "Available options" in str(exc):
            tail = str(exc).split("Available options", 1)[1].splitlines()[1:]
            options = [ln.strip() for ln in tail if ln.startswith("\t") and "=" not in ln]
        raise PerfConfigError(lines[0], allowed=options or None) from None
    except HydraException as exc:
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
            full_key = str(cause.full_key)
            bad = next((o for o in overrides if o.lstrip("+~").split("=", 1)[0].split("@")[0] == full_key), None)
            allowed = _parent_keys(composer, overrides, bad, full_key) if bad else None
            raise PerfConfigError(
                "no such key in the composed config" if "not in struct" in str(cause) else str(cause).splitlines()[0],
                file=f"--perf-override {bad}" if bad else None,
                key=full_key,
                allowed=[k for k in (allowed or []) if k] or None,
                hint=f"to add a new key use +{bad}" if bad else None,
            ) from None
        first = str(exc).splitlines()[0]
        if m := (re.match(r"Could not delete '([^']+)'", first) or re.match(r"Could not delete from config\. '([^']+)' does not exist", first)):
            raise PerfConfigError(
                f"cannot delete '{m.group(1)}' (Hydra: no match in the defaults list)",
                file=f"--perf-override ~{m.group(1)}",
                key=m.group(1),
                hint="required sections cannot be deleted; override single values inside them instead",
            ) from None
        raise PerfConfigError(f"cannot compose the config: {first}", hint=OVERRIDE_HINT) from None
    except ValueError as exc:  # Hydra rejects some overrides this way, e.g. a number for a config group
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PerfConfigError(f"cannot compose the config: {first}", hint=OVERRIDE_HINT) from None
