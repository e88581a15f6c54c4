"""Where config files live: the user's conf dirs first, then perfsuite's built-in `conf/` tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perfsuite.errors import PerfConfigError



def builtin_conf_dir(package_dir: Path = Path(__file__).resolve().parents[1]) -> Path:
    """perfsuite's own conf tree: inside the package when installed from a wheel (pyproject maps
    conf/ to perfsuite/_conf), else the top-level conf/ next to the package (a checkout, or an
    editable install, whose package is the checkout's folder)."""
    installed = package_dir / "_conf"
    if (installed / "config.yaml").is_file():
        return installed
    return package_dir.parent / "conf"


BUILTIN_CONF = builtin_conf_dir()


def is_plain_name(name: str) -> bool:
    """A name usable as one path component: no separator, not empty, not '.'/'..' or hidden."""
    return bool(name) and "/" not in name and "\\" not in name and "\0" not in name and not name.startswith(".")


def foreign_primary_config(folder: Path) -> bool:
    """Whether ``folder/config.yaml`` exists and is not a perfsuite primary config (a copy of conf/config.yaml).

    A user config directory may hold its own copy of perfsuite's primary config (its `defaults` list
    selects a suite); any other config.yaml there, such as a project's own Hydra app's, would
    replace perfsuite's and break every composition.
    """
    import yaml

    path = folder / "config.yaml"
    if not path.is_file():
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True
    defaults = data.get("defaults") if isinstance(data, dict) else None
    return not (isinstance(defaults, list) and any(isinstance(d, dict) and "suite" in d for d in defaults))


@dataclass(frozen=True)
class ConfSources:
    dirs: tuple[Path, ...]  # search order: user dirs first, then extensions' (perfsuite.extensions), built-in last

    @classmethod
    def create(cls, user_dirs: tuple[str | Path, ...] = (), builtin: Path = BUILTIN_CONF) -> ConfSources:
        resolved = []
        for d in user_dirs:
            path = Path(d).expanduser().resolve()
            if not path.is_dir():
                raise PerfConfigError(
                    "the user config directory does not exist",
                    key="--perf-conf-dir",
                    value=str(d),
                    hint="pass a folder laid out like conf/ (e.g. my_conf/model/<name>/arch/<name>.default.yaml)",
                )
            if foreign_primary_config(path):
                # searched before perfsuite's tree, it replaces perfsuite's primary config, and every
                # run would fail later with Hydra's "Could not override 'suite'"
                raise PerfConfigError(
                    f"{path / 'config.yaml'} would replace perfsuite's own primary config, and it is not one (its defaults "
                    "list has no suite): a user config directory adds presets (suite/, model/, dataset/, ...) to perfsuite's tree",
                    key="--perf-conf-dir",
                    value=str(d),
                    hint="keep perfsuite's presets in a folder of their own (e.g. perf_conf/, `perfsuite init --conf-dir perf_conf`); "
                         "a config.yaml there is a copy of perfsuite's conf/config.yaml",
                )
            resolved.append(path)
        if not (builtin / "config.yaml").is_file():
            raise PerfConfigError(f"perfsuite's built-in config tree is missing: {builtin}/config.yaml not found")
        from perfsuite.extensions import conf_dirs

        extra = tuple(d for d in conf_dirs() if d not in resolved)  # installed packages' and conftest.py's (perfsuite.extensions)
        return cls(tuple(resolved) + extra + (builtin,))

    def find(self, group: str, option: str) -> Path | None:
        """The YAML file of `group/option`, searching user dirs first; None for an unknown option.

        An option is a file name, never a path: `../x` or `a/b` finds nothing, so a name typed on
        the command line or written in a shared suite cannot reach outside the conf dirs.
        """
        if not is_plain_name(option):
            return None
        for d in self.dirs:
            path = d / group / f"{option}.yaml"
            if path.is_file():
                return path
        return None

    def options(self, group: str) -> list[str]:
        found: set[str] = set()
        for d in self.dirs:
            folder = d / group
            if folder.is_dir():
                found.update(p.stem for p in folder.glob("*.yaml"))
        return sorted(found)

    def model_families(self) -> list[str]:
        found: set[str] = set()
        for d in self.dirs:
            folder = d / "model"
            if folder.is_dir():
                found.update(p.name for p in folder.iterdir() if (p / "arch").is_dir())
        return sorted(found)

    def model_ids(self) -> list[str]:
        """Every selectable model id: '<family>.<preset>', and '<family>' where a default preset exists."""
        ids: set[str] = set()
        for family in self.model_families():
            if family == "local":  # a template filled by model=<name>, not a model of its own
                continue
            for option in self.options(f"model/{family}/arch"):
                ids.add(family if option == f"{family}.default" else option)
        return sorted(ids)

    def display(self, path: Path | None) -> str | None:
        """A path as a user would type it: relative to its conf dir's parent when that is shorter."""
        if path is None:
            return None
        for d in self.dirs:
            try:
                return str(Path(d.name) / path.relative_to(d))
            except ValueError:
                continue
        return str(path)
