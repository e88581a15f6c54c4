"""Models, datasets and runtimes from other packages (entry points) and from a project's conftest.py.

A package adds to perfsuite by declaring an entry point in one of the groups `perfsuite.models`,
`perfsuite.datasets`, `perfsuite.runtimes` (the group says what it is about; one extension may
bring several kinds) whose object is an `Extension`, or a callable that returns one:

    # pyproject.toml of the package
    [project.entry-points."perfsuite.models"]
    mymodels = "mymodels.perfsuite_ext:extension"

    # mymodels/perfsuite_ext.py
    from pathlib import Path
    from perfsuite import Extension
    extension = Extension(models={"mymodel": build}, conf_dir=Path(__file__).parent / "conf")

`models` maps an adapter name (the `adapter:` of a model's arch YAML) to a factory
``build(spec) -> () -> perfsuite.BuiltModule``; `datasets` and `runtimes` map adapter and backend
names to theirs (as perfsuite's own, perfsuite.data / perfsuite.runtimes). `conf_dir` is a folder
laid out like perfsuite's conf/ (model/<family>/arch/<id>.yaml, infer/, dataset/, ...): it is
searched after the user's --perf-conf-dir folders and before perfsuite's own, so
`pytest benches --perf-override model=<its id>` finds the package's models.

A project's conftest.py registers the same way at import: ``perfsuite.register(Extension(...))``.
Entry points load once per process, the first time perfsuite looks a name up or composes a config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfConfigError

ENTRY_GROUPS = ("perfsuite.models", "perfsuite.datasets", "perfsuite.runtimes")


@dataclass(frozen=True)
class Extension:
    """What a package or a project adds: adapters by name, and a conf tree that names them."""

    models: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    datasets: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    runtimes: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    conf_dir: str | Path | None = None


_conf_dirs: list[Path] = []
_origins: dict[tuple[str, str], str] = {}  # (kind, name) -> who registered it
_loaded = False


def register(extension: Extension, *, origin: str | None = None) -> None:
    """Add ``extension``'s adapters to perfsuite's registries and its conf dir to the config search.

    ``origin`` names who registers (an entry point, a conftest.py) in error messages. A name that
    is registered already, a factory that is not callable or a conf dir that does not exist is a
    PerfConfigError that says which.
    """
    from perfsuite.registry import DATASETS, MODELS, RUNTIMES

    if not isinstance(extension, Extension):
        raise PerfConfigError(f"perfsuite.register takes a perfsuite.Extension, got {type(extension).__name__}", file=origin)
    origin = origin or _caller()
    conf = None
    if extension.conf_dir is not None:
        conf = Path(extension.conf_dir).expanduser().resolve()
        if not conf.is_dir():
            raise PerfConfigError("an extension's conf_dir does not exist", file=origin, value=str(extension.conf_dir),
                                  hint="a folder laid out like perfsuite's conf/ (model/<family>/arch/<id>.yaml, ...)")
    tables = (("model adapter", MODELS, extension.models), ("dataset adapter", DATASETS, extension.datasets),
              ("runtime backend", RUNTIMES, extension.runtimes))
    for kind, registry, entries in tables:
        for name, factory in entries.items():
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
                raise PerfConfigError(f"an extension's {kind} names must be plain names", file=origin, value=name)
            if not callable(factory):
                raise PerfConfigError(f"the {kind} {name!r} is not callable", file=origin, value=type(factory).__name__)
            if name in registry:
                first = _origins.get((kind, name), "perfsuite")
                raise PerfConfigError(f"the {kind} {name!r} is registered already (by {first})", file=origin,
                                      hint="give it another name")
    for kind, registry, entries in tables:
        for name, factory in entries.items():
            registry.add(name, factory)
            _origins[(kind, name)] = origin
    if conf is not None and conf not in _conf_dirs:
        _conf_dirs.append(conf)


def load_entry_points() -> None:
    """Load every installed package's perfsuite extension (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from importlib.metadata import entry_points

    for group in ENTRY_GROUPS:
        for ep in entry_points(group=group):
            dist = getattr(ep.dist, "name", None) or "an installed package"
            origin = f"entry point {group}:{ep.name} = {ep.value} ({dist})"
            try:
                found = ep.load()
                extension = found() if callable(found) and not isinstance(found, Extension) else found
            except Exception as exc:  # noqa: BLE001 - a broken plugin package is a message, not a traceback
                raise PerfConfigError(f"loading a perfsuite extension failed: {type(exc).__name__}: {exc}", file=origin,
                                      hint=f"fix or uninstall {dist}") from None
            if not isinstance(extension, Extension):
                raise PerfConfigError(f"a perfsuite extension entry point must name a perfsuite.Extension (or a function returning one), "
                                      f"got {type(extension).__name__}", file=origin)
            register(extension, origin=origin)


def conf_dirs() -> tuple[Path, ...]:
    """The conf folders extensions brought, in registration order (searched after the user's, before perfsuite's)."""
    load_entry_points()
    return tuple(_conf_dirs)


def _caller() -> str:
    import inspect

    frame = inspect.stack()[2] if len(inspect.stack()) > 2 else None
    return f"{frame.filename}:{frame.lineno}" if frame is not None else "perfsuite.register"
