"""The `out/` layout: one subfolder per datatype, one folder per run.

    out/runs/<YYYYmmdd-HHMMSS>_<slug>/   one pytest session's artifacts
    out/baselines/<machine-id>/          promoted baselines
    out/history/history.sqlite           every run's metrics over time (perfsuite.results.history)
    out/cache/                           exported ONNX, compiled artifacts
    out/tracking/                        the default MLflow store (output.tracking, docs/tracking.md)
    out/_archive/                        superseded layouts (perfsuite migrate-out)

Nothing is written loose at the top level of `out/`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

RUN_TS_FORMAT = "%Y%m%d-%H%M%S"
RUN_DIR_RE = re.compile(r"^(?P<ts>\d{8}-\d{6})_(?P<slug>[A-Za-z0-9._-]+?)(?:-(?P<n>\d+))?$")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def slugify(text: str) -> str:
    """A folder-safe slug: letters, digits, '.', '_' and '-' only."""
    slug = _SLUG_BAD.sub("-", text).strip("-")
    return slug or "run"


_HASHED = re.compile(r"-[0-9a-f]{12}$")
MAX_STEM = 120  # file names stay far below the 255-byte limit, with room for suffixes


def file_stem(name: str, max_len: int = MAX_STEM) -> str:
    """A case id (or any name) as a safe, unique, bounded file stem.

    A name that is already safe (letters, digits, '.', '_', '-'; no leading '.' or '-'; short
    enough) is kept as it is, so file names match the ids in reports. Any other name is slugged and
    gets a hash of the original, so two names never share a stem: `a/b` and `a:b` stay apart (a
    safe name that itself ends like a hash is hashed too, so it cannot meet a hashed stem).
    """
    slug = _SLUG_BAD.sub("-", name).lstrip(".-").rstrip("-")
    if slug == name and 0 < len(name) <= max_len and not _HASHED.search(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug[: max_len - len(digest) - 1]}-{digest}" if slug else f"case-{digest}"


def path_inside(folder: Path, name: str, suffix: str = "") -> Path:
    """`folder/<file_stem(name)><suffix>`, checked to stay directly inside `folder`."""
    if _SLUG_BAD.search(suffix) or suffix.startswith(("..", "/")):
        raise ValueError(f"unsafe file suffix {suffix!r}")
    path = folder / f"{file_stem(name)}{suffix}"
    # The stem has no separator and no leading '.', so this cannot fail; checked all the same,
    # since a name from a shared conf dir must never write outside the run folder.
    if path.parent != folder or path.name in (".", "..") or not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{name!r} would be written outside {folder}")
    return path


@dataclass(frozen=True)
class OutLayout:
    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def baselines(self) -> Path:
        return self.root / "baselines"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def tracking(self) -> Path:
        return self.root / "tracking"

    @property
    def archive(self) -> Path:
        return self.root / "_archive"

    @property
    def lock_file(self) -> Path:
        # Inside runs/ so that out/ itself never holds loose files.
        return self.runs / ".lock"

    def new_run_dir(self, slug: str, now: _dt.datetime | None = None) -> Path:
        """Create and return a fresh `runs/<ts>_<slug>` folder; a clash in the same second gets `-2`, `-3`…"""
        now = now or _dt.datetime.now()
        base = f"{now.strftime(RUN_TS_FORMAT)}_{slugify(slug)}"
        self.runs.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            name = base if n == 1 else f"{base}-{n}"
            path = self.runs / name
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
        raise RuntimeError(f"could not create a run folder under {self.runs}")


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; set straight back
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` so that a reader never sees a half-written file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_named_file(path: Path, text: str, what: str) -> None:
    """A file the user named (``--json PATH``, ``-o PATH``): written atomically, its folders made; PerfDataError saying why not."""
    from perfsuite.errors import PerfDataError

    if path.is_dir():
        raise PerfDataError(f"cannot write {what} to {path}: it is a folder; name a file")
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise PerfDataError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees a half-written file (temp file + rename).

    The file gets the permissions of any file the user creates (0666 less the umask), like the
    files pytest-benchmark and the profiler write next to it; mkstemp alone would make it 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
