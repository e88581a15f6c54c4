"""`perfsuite bootstrap datasets`: make `datasets/<name>/source-data` point at the data on this host.

`datasets/<name>/bootstrap.yaml` says where the data lives (an environment variable naming the
data root, else a default root), which zips under the root to extract once, and which folder
under the root the `source-data` link points at. Datasets without a bootstrap.yaml are embedded
(read from an installed package) and need nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsuite.bootstrap.links import plan_link
from perfsuite.bootstrap.paths import display_path, env_path, expand_path, is_inside_relative, is_simple_name
from perfsuite.bootstrap.plan import Plan, Problem, Step
from perfsuite.bootstrap.unzip import extract_zip, extraction_state, marker_path
from perfsuite.bootstrap.yamlfile import check_keys, get_bool, get_str, get_str_list, load_mapping
from perfsuite.errors import PerfConfigError, PerfDataError

CONFIG_NAME = "bootstrap.yaml"
DEFAULT_LINK_NAME = "source-data"
_KEYS = ("root_env", "default_root", "source_subdir", "repo_link_name", "zips", "unzip_targets", "sample", "optional")


@dataclass(frozen=True)
class DatasetBootstrap:
    """One dataset's bootstrap.yaml, validated. Relative paths are relative to the data root."""

    name: str
    dataset_dir: Path
    root_env: str | None = None
    default_root: str | None = None
    source_subdir: str = "."
    repo_link_name: str = DEFAULT_LINK_NAME
    zips: tuple[str, ...] = ()
    unzip_targets: tuple[str, ...] = ()
    sample: str | None = None  # relative to dataset_dir: a zip that `--use-sample` copies into the root
    optional: bool = False

    @property
    def subject(self) -> str:
        return f"dataset {self.name}"

    @property
    def link(self) -> Path:
        return self.dataset_dir / self.repo_link_name


def bootstrap_command(dataset_dir: Path) -> str:
    """The command a user runs to bootstrap this dataset, as it should appear in a message."""
    script = dataset_dir / "bootstrap.sh"
    if script.exists():
        return f"{display_path(script)} --yes"
    return f"perfsuite bootstrap datasets {dataset_dir.name} --yes --datasets-dir {display_path(dataset_dir.parent)}"


def load_dataset_bootstrap(dataset_dir: Path) -> DatasetBootstrap | None:
    """The dataset's bootstrap config, or None for an embedded dataset (no bootstrap.yaml)."""
    file = dataset_dir / CONFIG_NAME
    if not file.exists():
        return None
    data = load_mapping(file)
    check_keys(data, _KEYS, file=file)
    root_env = get_str(data, "root_env", file=file)
    default_root = get_str(data, "default_root", file=file)
    if not root_env and not default_root:
        raise PerfConfigError(
            "needs `root_env` (an environment variable naming the data root) and/or `default_root`",
            file=str(file), key="root_env",
        )
    source_subdir = get_str(data, "source_subdir", file=file, default=".") or "."
    link_name = get_str(data, "repo_link_name", file=file, default=DEFAULT_LINK_NAME) or DEFAULT_LINK_NAME
    zips = get_str_list(data, "zips", file=file)
    targets = get_str_list(data, "unzip_targets", file=file) or tuple("." for _ in zips)
    if len(targets) == 1 and len(zips) > 1:
        targets = targets * len(zips)
    if len(targets) != len(zips):
        raise PerfConfigError(
            f"must have one entry per zip ({len(zips)}), or a single entry for all",
            file=str(file), key="unzip_targets", value=list(targets),
        )
    for key, values in (("source_subdir", [source_subdir]), ("zips", zips), ("unzip_targets", targets)):
        for value in values:
            if not is_inside_relative(value):
                raise PerfConfigError(
                    "must be a path relative to the data root, without '..'", file=str(file), key=key, value=value
                )
    if not is_simple_name(link_name):
        raise PerfConfigError("must be a plain file name", file=str(file), key="repo_link_name", value=link_name)
    sample = get_str(data, "sample", file=file)
    if sample is not None and not is_inside_relative(sample):
        raise PerfConfigError("must be a path relative to the dataset folder", file=str(file), key="sample", value=sample)
    return DatasetBootstrap(
        name=dataset_dir.name,
        dataset_dir=dataset_dir,
        root_env=root_env,
        default_root=default_root,
        source_subdir=source_subdir,
        repo_link_name=link_name,
        zips=zips,
        unzip_targets=targets,
        sample=sample,
        optional=get_bool(data, "optional", file=file, default=False),
    )


def intended_root(cfg: DatasetBootstrap, env: Mapping[str, str]) -> Path:
    """The data root this host should use: the env variable when set, else the default root."""
    from_env = env_path(cfg.root_env, env) if cfg.root_env else None
    if from_env is not None:
        return from_env.absolute()
    assert cfg.default_root is not None  # load_dataset_bootstrap guarantees one of the two
    return expand_path(cfg.default_root, env).absolute()


def missing_root_message(cfg: DatasetBootstrap, env: Mapping[str, str]) -> str:
    root = intended_root(cfg, env)
    if cfg.root_env and env_path(cfg.root_env, env) is not None:
        why = f"{cfg.root_env}={root} does not exist or is not a folder"
    elif cfg.root_env and cfg.default_root:
        why = f"{cfg.root_env} is not set and the default root {root} does not exist"
    elif cfg.root_env:
        why = f"{cfg.root_env} is not set (and there is no default root)"
    else:
        why = f"the data root {root} does not exist"
    holds = f" (it should hold {', '.join(cfg.zips)})" if cfg.zips else ""
    fix = f"Put the data in {root}{holds}"
    if cfg.root_env:
        fix += f", or set {cfg.root_env}=/path/to/the/data"
    if cfg.sample:
        fix += f", or re-run with --use-sample to start from the small sample shipped in {display_path(cfg.dataset_dir / cfg.sample)}"
    return f"no data root: {why}. {fix}. See {display_path(cfg.dataset_dir / 'README.md')}."


def _seed_step(cfg: DatasetBootstrap, sample: Path, dest: Path) -> Step:
    def run() -> str | None:
        if dest.exists():
            return "already there, left as is"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        shutil.copyfile(sample, tmp)
        tmp.replace(dest)
        return None

    return Step(cfg.subject, "seed", f"copy the shipped sample {display_path(sample)} to {dest}", True, run)


def _extract_step(cfg: DatasetBootstrap, zip_path: Path, dest: Path, marker: Path, verb: str) -> Step:
    def run() -> str:
        if not zip_path.is_file():
            raise PerfDataError(f"{zip_path} not found: it should sit in the data root of {cfg.name}.")
        result = extract_zip(zip_path, dest, marker)
        return f"{result.written} file(s) written, {result.skipped} already in place"

    return Step(cfg.subject, verb, f"{zip_path.name} -> {dest}", True, run)


def plan_dataset(cfg: DatasetBootstrap, env: Mapping[str, str], *, use_sample: bool = False, explicit: bool = True) -> Plan:
    """Seed (optional), extract each zip once, then link `source-data` to the data under the root."""
    root = intended_root(cfg, env)
    items: list[Step | Problem] = []
    sample = cfg.dataset_dir / cfg.sample if cfg.sample else None
    if use_sample and (sample is None or not cfg.zips):
        if explicit:
            return Plan.of([Problem(cfg.subject, "--use-sample was given but bootstrap.yaml names no `sample` zip")])
        use_sample = False  # bootstrapping every dataset: the flag is for those that ship a sample
    first = cfg.zips[0] if cfg.zips else None
    seeding = bool(
        use_sample and first
        and not (root / first).exists()
        and extraction_state(root / first, marker_path(root, first)) != "done"
    )
    if seeding:
        assert sample is not None and first is not None
        if not sample.is_file():
            return Plan.of([Problem(cfg.subject, f"the shipped sample {sample} is missing from the checkout")])
        items.append(_seed_step(cfg, sample, root / first))
    elif not root.is_dir():
        fatal = explicit or not cfg.optional
        message = missing_root_message(cfg, env)
        return Plan.of([Problem(cfg.subject, message if fatal else f"skipped (optional): {message}", fatal=fatal)])
    extracting = seeding
    for zip_rel, target_rel in zip(cfg.zips, cfg.unzip_targets):
        zip_path, dest, marker = root / zip_rel, root / target_rel, marker_path(root, zip_rel)
        state = extraction_state(zip_path, marker)
        if seeding and zip_rel == first:
            state = "new"
        if state == "done":
            items.append(Step(cfg.subject, "keep", f"{zip_rel} already extracted to {dest}", False))
            continue
        if not zip_path.is_file() and not (seeding and zip_rel == first):
            items.append(Problem(cfg.subject, f"{zip_path} not found; it should be in the data root {root}."))
            continue
        # "extract" also resumes an interrupted run: members already in place are skipped.
        verb = {"changed": "re-extract", "partial": "resume"}.get(state, "extract")
        items.append(_extract_step(cfg, zip_path, dest, marker, verb))
        extracting = True
    target = (root / cfg.source_subdir) if cfg.source_subdir != "." else root
    if not extracting and not target.is_dir():
        items.append(Problem(
            cfg.subject,
            f"source_subdir {cfg.source_subdir!r} does not exist under the data root {root}; "
            "check `source_subdir` in bootstrap.yaml against the data on disk.",
        ))
    else:
        items.append(plan_link(cfg.subject, cfg.link, target))
    return Plan.of(items)


def dataset_dirs(datasets_dir: Path) -> list[Path]:
    """Every dataset folder (a folder with bootstrap.yaml, README.md or metadata.yaml), sorted."""
    if not datasets_dir.is_dir():
        return []
    markers = (CONFIG_NAME, "README.md", "metadata.yaml")
    return sorted(p for p in datasets_dir.iterdir() if p.is_dir() and any((p / m).exists() for m in markers))


def plan_datasets(
    datasets_dir: Path, names: Sequence[str], env: Mapping[str, str], *, use_sample: bool = False
) -> Plan:
    """Plan the named datasets, or every dataset under `datasets_dir` when no name is given."""
    known = {p.name: p for p in dataset_dirs(datasets_dir)}
    plan = Plan()
    for name in names:
        if name not in known:
            plan += Plan.of([Problem(
                f"dataset {name}",
                f"no such dataset in {display_path(datasets_dir)}; known: {', '.join(sorted(known)) or '(none)'}",
            )])
    selected = [known[n] for n in names if n in known] if names else list(known.values())
    for folder in selected:
        try:
            cfg = load_dataset_bootstrap(folder)
        except PerfConfigError as exc:
            plan += Plan.of([Problem(f"dataset {folder.name}", str(exc))])
            continue
        if cfg is None:
            plan += Plan.of([Step(f"dataset {folder.name}", "keep", "embedded (read from a package), nothing to bootstrap", False)])
            continue
        plan += plan_dataset(cfg, env, use_sample=use_sample, explicit=bool(names))
    return plan


def require_source_data(dataset_dir: Path) -> Path:
    """The dataset's `source-data` link, checked; a PerfDataError naming the bootstrap command otherwise.

    Dataset adapters call this at run time before they read anything, so a host that was never
    bootstrapped (or whose data moved) fails with the exact command to run, not a bare
    FileNotFoundError deep inside a loader.
    """
    cfg = load_dataset_bootstrap(dataset_dir)
    link = dataset_dir / (cfg.repo_link_name if cfg else DEFAULT_LINK_NAME)
    command = bootstrap_command(dataset_dir)
    name = dataset_dir.name
    if not link.exists():
        if link.is_symlink():
            why = f"{display_path(link)} points to {link.readlink()}, which no longer exists (moved or deleted?)"
        else:
            why = f"{display_path(link)} is missing (this host was never bootstrapped for it)"
        raise PerfDataError(
            f"dataset {name!r} has no source data: {why}. Run `{command}` to link it "
            f"(see {display_path(dataset_dir / 'README.md')} for where the data comes from)."
        )
    if not link.is_dir():
        raise PerfDataError(f"dataset {name!r}: {display_path(link)} is not a folder. Run `{command}` to fix it.")
    if cfg is not None and cfg.zips:
        depth = len([p for p in Path(cfg.source_subdir).parts if p != "."])
        root = link.resolve()
        for _ in range(depth):
            root = root.parent
        for zip_rel in cfg.zips:
            if not marker_path(root, zip_rel).is_file():
                raise PerfDataError(
                    f"dataset {name!r}: {zip_rel} under {root} was not fully extracted (no completion marker; "
                    f"an interrupted bootstrap?). Run `{command}` to finish it."
                )
    return link
