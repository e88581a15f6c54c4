"""Finding a model snapshot on disk and checking that it is complete.

A snapshot is a folder with `config.json`, weights and (optionally) tokenizer files. It may sit
in a Hugging Face hub cache (`models--org--name/snapshots/<rev>/`, files linked to `../../blobs/`)
or be a plain folder. For a hub cache entry the revision is the one `refs/<revision>` names
(`refs/main` by default), else the only snapshot, else the newest one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsuite.errors import PerfDataError

WEIGHT_PATTERNS: tuple[str, ...] = ("*.safetensors", "pytorch_model*.bin")

# A required-file entry: a glob, or a list of globs of which any one will do.
FileRule = str | tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    path: Path
    how: str  # how it was chosen, for the plan ("refs/main", "only snapshot", "explicit path")


def hub_cache_dir_name(repo_id: str) -> str:
    """`org/name` -> `models--org--name`, the folder name the Hugging Face hub cache uses."""
    return "models--" + repo_id.replace("/", "--")


def is_hub_repo_dir(path: Path) -> bool:
    return (path / "snapshots").is_dir()


def resolve_hub_repo(repo_dir: Path, revision: str | None = None) -> Snapshot:
    """The snapshot folder of a hub cache entry `models--org--name/` for `revision` (default: main)."""
    snapshots_dir = repo_dir / "snapshots"
    revs = sorted(p for p in snapshots_dir.iterdir() if p.is_dir()) if snapshots_dir.is_dir() else []
    available = ", ".join(p.name for p in revs) or "(none)"
    wanted = revision or "main"
    ref = repo_dir / "refs" / wanted
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
        snap = snapshots_dir / commit
        if not snap.is_dir():
            raise PerfDataError(
                f"{ref} names revision {commit}, but {snap} does not exist (an incomplete download?). "
                f"Snapshots present: {available}. Re-download the model or set `revision:` to one of those."
            )
        return Snapshot(snap, f"refs/{wanted}")
    if revision:
        snap = snapshots_dir / revision
        if snap.is_dir():
            return Snapshot(snap, f"revision {revision}")
        raise PerfDataError(
            f"revision {revision!r} not found in {repo_dir}: no refs/{revision} and no snapshots/{revision}. "
            f"Snapshots present: {available}."
        )
    if not revs:
        raise PerfDataError(f"{repo_dir} is a hub cache entry without snapshots (an incomplete download?).")
    if len(revs) == 1:
        return Snapshot(revs[0], "only snapshot")
    newest = max(revs, key=lambda p: (p.stat().st_mtime, p.name))
    return Snapshot(newest, f"newest of {len(revs)} snapshots (no refs/main)")


def candidate_dirs(root: Path, name: str, repo_id: str | None) -> list[Path]:
    """Where a model may sit under one root, most specific first."""
    found: list[Path] = []
    if repo_id:
        cache_name = hub_cache_dir_name(repo_id)
        found += [root / cache_name, root / "hub" / cache_name, root / repo_id]
    found.append(root / name)
    return list(dict.fromkeys(found))


def open_snapshot(path: Path, revision: str | None, how: str) -> Snapshot:
    """A folder that is either a hub cache entry (resolved to its snapshot) or a snapshot itself."""
    if is_hub_repo_dir(path):
        return resolve_hub_repo(path, revision)
    return Snapshot(path, how)


def find_snapshot(name: str, repo_id: str | None, revision: str | None, roots: Sequence[Path]) -> Snapshot:
    """The first snapshot of the model under `roots`; the error lists every place that was tried."""
    tried: list[Path] = []
    for root in roots:
        for cand in candidate_dirs(root, name, repo_id):
            tried.append(cand)
            if cand.is_dir():
                return open_snapshot(cand, revision, f"found under {root}")
    where = "\n".join(f"    {p}" for p in tried)
    raise PerfDataError(
        f"no snapshot found for model {name!r}; looked in:\n{where}\n"
        "Download it there, set HF_SNAPSHOTS_ROOT or MODELS_ROOT to the folder that holds it, "
        "or give the model an explicit `path:` in the bootstrap config."
    )


def _matches(folder: Path, pattern: str) -> bool:
    # exists() follows symlinks, so a hub-cache file whose blob is missing does not count.
    return any(p.exists() for p in folder.glob(pattern))


def missing_files(folder: Path, rules: Sequence[FileRule], *, weights: bool = True) -> list[str]:
    """What the snapshot lacks: each unmet rule, described for a message. Empty when complete."""
    missing: list[str] = []
    all_rules: list[FileRule] = ["config.json", *rules]
    if weights:
        all_rules.append(WEIGHT_PATTERNS)
    for rule in dict.fromkeys(all_rules):
        patterns = (rule,) if isinstance(rule, str) else rule
        if not any(_matches(folder, pat) for pat in patterns):
            missing.append(" or ".join(patterns))
    return missing


def check_snapshot(folder: Path, rules: Sequence[FileRule], *, weights: bool = True) -> None:
    """Raise a PerfDataError naming what is missing or broken in the snapshot `folder`."""
    if not folder.is_dir():
        raise PerfDataError(f"snapshot {folder} is not a folder")
    missing = missing_files(folder, rules, weights=weights)
    if missing:
        raise PerfDataError(
            f"snapshot {folder} is incomplete: missing {', '.join(missing)}. A usable snapshot needs "
            "config.json, weights (*.safetensors or pytorch_model*.bin) and the tokenizer files the "
            "bootstrap config lists; re-download it or fix `path:`/`revision:`."
        )
    config = folder / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PerfDataError(f"{config} cannot be read as JSON ({exc}); the snapshot is damaged, re-download it.") from exc
    if not isinstance(data, dict):
        raise PerfDataError(f"{config} is not a JSON object; the snapshot is damaged, re-download it.")
