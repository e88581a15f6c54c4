"""`perfsuite migrate-out`: move an older or hand-made `out/` into the current layout.

Everything at the top of `out/` that is not `runs/`, `baselines/`, `cache/`, `history/`, `tracking/` or `_archive/` is
foreign. Each foreign file is mapped, in this order:

1. under a top-level cache folder (`onnx/`, `compiled/`, `engines/`, `exported/`) -> `cache/<folder>/...`;
   under a top-level `baseline/` folder -> `baselines/...`;
2. a timestamp in its own name -> the run of that timestamp, keeping its path;
3. a timestamp in one of its folders (nearest first) -> that run, without the timestamp folder;
   a folder named `<timestamp>_<slug>` becomes the run `runs/<timestamp>_<slug>/`;
4. a JSON file's own time (`datetime` as pytest-benchmark writes it, or `timestamp`,
   `started_at`, `start_time`) -> the run of that time;
5. anything else -> `_archive/unmapped/<its path>`, listed as UNMAPPED in the plan and the log.

"The run of a timestamp" is an existing `runs/<ts>_*` folder (the first by name), else a run
folder the migration makes from a `<ts>_<slug>` folder, else a new `runs/<ts>_migrated/`.
Timestamps are wall-clock digits as written (`20261101-120000`, `20261101_120000`,
`20261101T120000`, `2026-11-01T12:00:00`, `2026-11-01_12-00-00`); a JSON time with a zone is
converted to local time, as run folders are named in local time.

Nothing is dropped or overwritten: a destination that exists gets `.clash-N` before its
extensions (logged). The plan is a function of what is on disk, and every file that has moved
is no longer foreign, so re-running after an interruption finishes the job and re-running after
success does nothing. Each applied move is appended to `_archive/migrate-out/<time>.jsonl`.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from perfsuite.errors import PerfDataError
from perfsuite.results.layout import RUN_DIR_RE, RUN_TS_FORMAT, OutLayout
from perfsuite.results.lock import RunLock, check_unlocked
from perfsuite.results.migrate_map import (  # noqa: F401  (find_timestamp: re-exported for callers)
    _JSON_MAX_BYTES,
    JSON_TIME_KEYS,
    LOG_DIR,
    MIGRATED_SLUG,
    UNMAPPED,
    Echo,
    clash_name,
    find_timestamp,
    map_file,
    parse_time_value,
)

LAYOUT_DIRS: tuple[str, ...] = ("runs", "baselines", "cache", "_archive")
# Part of the layout too, but made only when used (out/tracking: the default MLflow store;
# out/history: the history store, perfsuite.results.history).
KEPT_DIRS: tuple[str, ...] = (*LAYOUT_DIRS, "tracking", "history")


@dataclass(frozen=True)
class Move:
    src: PurePosixPath
    dst: PurePosixPath
    reason: str
    clash: bool = False

    @property
    def unmapped(self) -> bool:
        return self.dst.parts[:2] == UNMAPPED.parts

    def describe(self) -> str:
        note = "  [renamed: destination existed]" if self.clash else ""
        return f"{self.src} -> {self.dst}   ({self.reason}){note}"


@dataclass(frozen=True)
class MigrationPlan:
    root: Path
    moves: tuple[Move, ...] = ()
    remove_dirs: tuple[PurePosixPath, ...] = ()  # foreign folders, deepest first, removed once empty

    @property
    def unmapped(self) -> tuple[Move, ...]:
        return tuple(m for m in self.moves if m.unmapped)

    @property
    def clashes(self) -> tuple[Move, ...]:
        return tuple(m for m in self.moves if m.clash)


def _json_time(path: Path) -> _dt.datetime | None:
    if path.suffix.lower() != ".json" or path.is_symlink():
        return None
    try:
        if path.stat().st_size > _JSON_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for key in JSON_TIME_KEYS:
        when = parse_time_value(data.get(key))
        if when is not None:
            return when
    return None


def _foreign_entries(root: Path) -> tuple[list[PurePosixPath], list[PurePosixPath]]:
    """(files, folders) below the foreign top-level entries; a symlink counts as a file, never followed."""
    files: list[PurePosixPath] = []
    dirs: list[PurePosixPath] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name in KEPT_DIRS:
            continue
        if entry.is_symlink() or not entry.is_dir():
            files.append(PurePosixPath(entry.name))
            continue
        dirs.append(PurePosixPath(entry.name))
        for here, subdirs, names in os.walk(entry, followlinks=False):
            base = PurePosixPath(Path(here).relative_to(root).as_posix())
            for d in sorted(subdirs):
                if (Path(here) / d).is_symlink():
                    files.append(base / d)
                else:
                    dirs.append(base / d)
            files.extend(base / n for n in sorted(names))
            subdirs.sort()
    return sorted(files), dirs


def _check_layout(root: Path) -> None:
    if not root.exists():
        raise PerfDataError(f"{root} does not exist; nothing to migrate. Pass the folder to migrate with --out DIR.")
    if not root.is_dir():
        raise PerfDataError(f"{root} is not a folder; pass the out/ folder to migrate with --out DIR.")
    for name in KEPT_DIRS:
        path = root / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise PerfDataError(
                f"{path} is a file or a symlink, but the layout needs a folder there. Rename it "
                f"(e.g. `mv {path} {path}.old`) and re-run: migrate-out will then file it like any other entry."
            )


class _Destinations:
    """Chooses destination paths that are free on disk and not taken by an earlier move of the plan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: set[PurePosixPath] = set()
        self.dirs: set[PurePosixPath] = set()

    def _blocked_parent(self, dst: PurePosixPath) -> bool:
        for parent in list(dst.parents)[:-1]:
            on_disk = self.root / parent
            if parent in self.files or on_disk.is_symlink() or (on_disk.exists() and not on_disk.is_dir()):
                return True
        return False

    def _taken(self, dst: PurePosixPath) -> bool:
        return dst in self.files or dst in self.dirs or os.path.lexists(self.root / dst)

    def claim(self, wanted: PurePosixPath) -> tuple[PurePosixPath, bool] | None:
        """A free path for `wanted` (renamed `.clash-N` if needed), or None if a parent is a file."""
        if self._blocked_parent(wanted):
            return None
        dst, n = wanted, 0
        while self._taken(dst):
            n += 1
            dst = wanted.with_name(clash_name(wanted.name, n))
        self.files.add(dst)
        self.dirs.update(list(dst.parents)[:-1])
        return dst, n > 0


def _existing_runs(layout: OutLayout) -> dict[str, list[str]]:
    runs: dict[str, list[str]] = {}
    if layout.runs.is_dir():
        for entry in layout.runs.iterdir():
            m = RUN_DIR_RE.match(entry.name)
            if m and entry.is_dir():
                runs.setdefault(m.group("ts"), []).append(entry.name)
    return runs


def plan_migration(root: Path) -> MigrationPlan:
    """What `migrate-out --apply` would move where; reads `root`, writes nothing."""
    _check_layout(root)
    layout = OutLayout(root)
    files, dirs = _foreign_entries(root)
    intents = [(rel, map_file(rel, _json_time(root / rel))) for rel in files]
    candidates = _existing_runs(layout)
    for _rel, intent in intents:
        if intent.run_name and intent.ts:
            candidates.setdefault(intent.ts, []).append(intent.run_name)

    def run_of(ts: str) -> str:
        names = candidates.get(ts)
        return sorted(set(names))[0] if names else f"{ts}_{MIGRATED_SLUG}"

    taken = _Destinations(root)
    moves: list[Move] = []
    for rel, intent in intents:
        if intent.kind == "run":
            assert intent.ts is not None
            wanted = PurePosixPath("runs", intent.run_name or run_of(intent.ts)) / intent.inner
        elif intent.kind == "cache":
            wanted = PurePosixPath("cache") / intent.inner
        elif intent.kind == "baselines":
            wanted = PurePosixPath("baselines") / intent.inner
        else:
            wanted = UNMAPPED / intent.inner
        reason = intent.reason
        claimed = taken.claim(wanted)
        if claimed is None:
            reason = f"UNMAPPED: {wanted.parent} is a file, so {wanted.name} cannot go there"
            claimed = taken.claim(UNMAPPED / rel) or taken.claim(UNMAPPED / "__".join(rel.parts))
        assert claimed is not None  # a flat name under _archive/unmapped/ always fits
        moves.append(Move(rel, claimed[0], reason, clash=claimed[1]))
    deepest_first = sorted(dirs, key=lambda d: (-len(d.parts), str(d)))
    return MigrationPlan(root=root, moves=tuple(moves), remove_dirs=tuple(deepest_first))


def render_plan(plan: MigrationPlan, echo: Echo) -> None:
    for move in plan.moves:
        echo(f"  move {move.describe()}")
    for folder in plan.remove_dirs:
        echo(f"  remove the folder {folder}/ once it is empty")


# --- applying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationResult:
    moved: int
    already_done: int
    renamed: tuple[Move, ...] = ()
    leftovers: tuple[str, ...] = ()  # top-level entries still outside the layout afterwards
    log: Path | None = None
    notes: tuple[str, ...] = ()
    failed: tuple[tuple[Move, str], ...] = ()  # (move, why) for each file that could not be moved


def _move(src: Path, dst: Path) -> None:
    """Move one file or symlink; a module-level seam so tests can interrupt a migration midway."""
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another filesystem: copy, then delete
            raise
        shutil.move(str(src), str(dst))


def loose_entries(root: Path) -> list[str]:
    """Top-level entries of `root` that are not layout folders."""
    return sorted(p.name for p in root.iterdir() if p.name not in KEPT_DIRS or not p.is_dir() or p.is_symlink())


def _apply_move(root: Path, move: Move) -> Move | None:
    """Move one file; the move as done (renamed if its destination appeared meanwhile), None if already done."""
    src, dst = root / move.src, root / move.dst
    if not os.path.lexists(src):
        return None
    if os.path.lexists(dst):
        # Appeared since planning: never overwrite, take the next free name.
        n = 1
        while os.path.lexists(dst.with_name(clash_name(move.dst.name, n))):
            n += 1
        dst = dst.with_name(clash_name(move.dst.name, n))
        move = Move(move.src, PurePosixPath(dst.relative_to(root).as_posix()), move.reason, clash=True)
    created = [p for p in reversed(dst.parents) if p.is_relative_to(root) and not p.exists()]
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        _move(src, dst)
    except OSError:
        for folder in reversed(created):  # leave no empty run folder behind for a file that stayed
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return move


def apply_migration(plan: MigrationPlan, *, now: _dt.datetime | None = None) -> MigrationResult:
    """Carry out `plan` (call it under the RunLock, right after planning); safe to interrupt and re-run."""
    root = plan.root
    for name in LAYOUT_DIRS:
        (root / name).mkdir(exist_ok=True)
    log_path = root / LOG_DIR / f"{(now or _dt.datetime.now()).strftime(RUN_TS_FORMAT)}.jsonl"
    moved = done = 0
    renamed: list[Move] = []
    notes: list[str] = []
    failed: list[tuple[Move, str]] = []
    if plan.moves:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as log:
            for move in plan.moves:
                try:
                    result = _apply_move(root, move)
                except OSError as exc:  # e.g. permissions: report it, move the rest
                    failed.append((move, f"{type(exc).__name__}: {exc.strerror or exc}"))
                    continue
                if result is None:
                    if os.path.lexists(root / move.dst):
                        done += 1
                    else:
                        notes.append(f"{move.src} vanished before it could be moved")
                    continue
                moved += 1
                if result.clash:
                    renamed.append(result)
                record = {"src": str(result.src), "dst": str(result.dst), "reason": result.reason, "clash": result.clash}
                log.write(json.dumps(record) + "\n")
                log.flush()  # a line per finished move: the log stays true if we are interrupted
    for folder in plan.remove_dirs:
        try:
            (root / folder).rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            notes.append(f"{folder}/ is not empty (something new was written into it?); left in place")
    return MigrationResult(
        moved=moved,
        already_done=done,
        renamed=tuple(renamed),
        leftovers=tuple(loose_entries(root)),
        log=log_path if plan.moves else None,
        notes=tuple(notes),
        failed=tuple(failed),
    )


def _report(plan: MigrationPlan, result: MigrationResult, echo: Echo) -> int:
    done = f", {result.already_done} already in place" if result.already_done else ""
    echo(f"moved {result.moved} file(s){done}" + (f"; log: {result.log}" if result.log else "") + ".")
    for move in result.renamed:
        echo(f"  renamed for a clash: {move.src} -> {move.dst}")
    for move in plan.unmapped:
        echo(f"  unmapped, review it: {move.dst}")
    for note in result.notes:
        echo(f"  note: {note}")
    for move, why in result.failed:
        echo(f"  could not move {move.src} -> {move.dst}: {why}")
    if result.failed:
        echo(
            f"{len(result.failed)} file(s) could not be moved and stay where they were; fix their permissions "
            "(or move them by hand) and re-run migrate-out --apply."
        )
        return 1
    if result.leftovers:
        echo(f"still outside the layout: {', '.join(result.leftovers)}; re-run migrate-out --apply.")
        return 1
    return 0


def migrate_out(root: Path, *, apply: bool, echo: Echo) -> int:
    """The `migrate-out` command: show the plan; with `apply`, carry it out. Returns the exit code."""
    layout = OutLayout(root)
    _check_layout(root)
    if not apply:
        check_unlocked(layout)  # a plan made while a session writes would already be stale
        return _show(plan_migration(root), root, apply=False, echo=echo)
    with RunLock(layout, purpose="perfsuite migrate-out"):
        plan = plan_migration(root)
        code = _show(plan, root, apply=True, echo=echo)
        if code is not None:
            return code
        return _report(plan, apply_migration(plan), echo)


def _show(plan: MigrationPlan, root: Path, *, apply: bool, echo: Echo) -> int | None:
    """Print the plan; returns the exit code when there is nothing more to do, None to go on applying."""
    mode = "applying" if apply else "dry run: nothing is changed; re-run with --apply to do it"
    echo(f"migrate-out {root} ({mode}):")
    if not plan.moves and not plan.remove_dirs:
        echo("  nothing to do: the folder already follows the layout (runs/, baselines/, cache/, tracking/, _archive/).")
        return 0
    render_plan(plan, echo)
    echo(
        f"{len(plan.moves)} file(s) to move, {len(plan.unmapped)} unmapped (-> {UNMAPPED}/), "
        f"{len(plan.clashes)} renamed for name clashes."
    )
    return None if apply else 0
