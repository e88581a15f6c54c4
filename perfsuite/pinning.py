"""Thread counts and CPU affinity for a benchmark session, and what was actually in force.

Two perfsuite runs on one machine (different out/ folders, so the run lock does not keep them
apart) must not both pin the first core: each would get half of it. So a run that pins with
``cores: null`` takes cores that no other perfsuite process holds, through per-core claim files
in a machine-wide directory (``$PERFSUITE_CORE_DIR``, default ``/tmp/perfsuite-cores``):

- ``core<N>.lock`` — the claim on core N: an exclusive, non-blocking ``flock`` held for the life
  of the process (the kernel drops it when the process ends, however it ends), with the holder's
  pid written inside for the reasons below.
- ``core<N>.pid<P>.shared`` — process P uses core N although another run holds its claim (every
  allowed core was claimed). Counted to find the least-used core; removed when found stale.

When every allowed core is claimed the run pins anyway, to the least-used cores, and the choice
carries a reason ("... shared with perfsuite pid 4242 ...") that is warned about and recorded
in env.json; the contention monitor (`perfsuite.measure.contention`) then flags the timings.

Plain ``fcntl.flock`` rather than ``filelock``: a claim must carry its holder's pid where other
runs can read it and be probed without being rewritten, and core pinning is Linux-only anyway
(``os.sched_setaffinity``), so filelock's portability layer would buy nothing here.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import HardwareSpec

CORE_DIR_ENV = "PERFSUITE_CORE_DIR"
DEFAULT_CORE_DIR = "/tmp/perfsuite-cores"  # not tempfile.gettempdir(): runs with different TMPDIRs must meet
_SHARED = re.compile(r"core(\d+)\.pid(\d+)\.shared$")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no affinity, no claims
    fcntl = None  # type: ignore[assignment]


def core_claim_dir() -> Path:
    """The machine-wide directory of core claims: ``$PERFSUITE_CORE_DIR`` or ``/tmp/perfsuite-cores``."""
    return Path(os.environ.get(CORE_DIR_ENV) or DEFAULT_CORE_DIR)


def _lock_free(path: Path, mode: int) -> bool | None:
    """Could this process take `mode` on `path` right now? (taken and released at once); None if gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if _try_flock(fd, mode):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        return False
    finally:
        os.close(fd)


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class CoreClaims:
    """This process's core claims in ``directory``, held until `release` or the process ends."""

    def __init__(self, directory: Path | str) -> None:
        if fcntl is None:  # pragma: no cover
            raise OSError("core claims need fcntl.flock (Linux/macOS)")
        self.directory = Path(directory)
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                os.chmod(self.directory, 0o1777)  # several users' runs meet here, like in /tmp
            except OSError:
                pass  # another user's run made it an instant ago: theirs to set
        self.pid = os.getpid()
        self._fds: dict[Path, int] = {}

    def _path(self, core: int) -> Path:
        return self.directory / f"core{core}.lock"

    def claim(self, core: int) -> bool:
        """Take core ``core`` if no other process holds it; True if it is ours (now or already)."""
        path = self._path(core)
        if path in self._fds:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            os.fchmod(fd, 0o666)  # the next run may be another user's
        except OSError:
            pass
        if not _try_flock(fd, fcntl.LOCK_EX):
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.pid}\n".encode(), 0)
        self._fds[path] = fd
        return True

    def share(self, core: int) -> None:
        """Use ``core`` although another run holds it: leave a mark so later runs count us."""
        path = self.directory / f"core{core}.pid{self.pid}.shared"
        while path not in self._fds:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)  # only a prober can hold it, and only for a moment
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:  # a prober took our fresh file for a stale one
                same = False
            if same:
                self._fds[path] = fd
            else:
                os.close(fd)

    def users(self, core: int) -> list[int]:
        """Pids of the *other* live perfsuite processes on ``core`` (claim holder and sharers)."""
        pids: list[int] = []
        holder = self._holder(self._path(core))
        if holder is not None:
            pids.append(holder)
        for path in sorted(self.directory.glob(f"core{core}.pid*.shared")):
            pid = self._live_sharer(path)
            if pid is not None and pid not in pids:
                pids.append(pid)
        return [p for p in pids if p != self.pid]

    def _holder(self, path: Path) -> int | None:
        """Pid in a claim file that a live process holds; None if free. -1 if held but unreadable."""
        if path in self._fds:
            return self.pid
        free = _lock_free(path, fcntl.LOCK_SH)  # free: nobody holds it exclusively
        if free is None or free:
            return None
        pid = _read_pid(path)
        return -1 if pid is None else pid  # -1: written an instant from now

    def _live_sharer(self, path: Path) -> int | None:
        match = _SHARED.match(path.name)
        if match is None:
            return None
        if path in self._fds:
            return self.pid
        free = _lock_free(path, fcntl.LOCK_EX)  # nobody holds it: its process is gone
        if free is None:
            return None
        if free:
            path.unlink(missing_ok=True)
            return None
        return int(match.group(2))

    def others(self) -> list[dict[str, Any]]:
        """Every other perfsuite process with a claim or a mark here: ``{"pid", "cores", "shared"}``."""
        runs: dict[int, dict[str, Any]] = {}
        for path in sorted(self.directory.iterdir()):
            if path.name.startswith("core") and path.name.endswith(".lock") and path.name[4:-5].isdigit():
                pid, core, shared = self._holder(path), int(path.name[4:-5]), False
            elif (match := _SHARED.match(path.name)) is not None:
                pid, core, shared = self._live_sharer(path), int(match.group(1)), True
            else:
                continue
            if pid is None or pid == self.pid:
                continue
            run = runs.setdefault(pid, {"pid": pid, "cores": [], "shared": []})
            run["shared" if shared else "cores"].append(core)
        return list(runs.values())

    def release(self) -> None:
        for path, fd in list(self._fds.items()):
            if path.name.endswith(".shared"):
                path.unlink(missing_ok=True)
            os.close(fd)  # closing the only descriptor drops the flock
        self._fds.clear()


@dataclass(frozen=True)
class CoreChoice:
    """The cores a run pinned to, and why it is not alone on them (``reason``) when it is not."""

    cores: tuple[int, ...]
    claimed: tuple[int, ...]  # cores whose claim this run holds
    shared: tuple[int, ...]  # cores used although another perfsuite run holds them
    reason: str | None = None
    claim_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cores": list(self.cores),
            "claimed": list(self.claimed),
            "shared": list(self.shared),
            "reason": self.reason,
            "claim_dir": self.claim_dir,
        }


def _shared_reason(shared: dict[int, list[int]], what: str) -> str:
    parts = []
    for core, pids in shared.items():
        who = ", ".join("a run starting now" if p == -1 else f"pid {p}" for p in pids) or "another run"
        parts.append(f"core {core} (with perfsuite {who})")
    return f"{what}; pinned anyway to {'; '.join(parts)}: timings will be slower and noisier than on an idle core"


def choose_cores(allowed: Sequence[int], count: int, claims: CoreClaims) -> CoreChoice:
    """Claim ``count`` of the ``allowed`` cores no other perfsuite run holds, lowest first.

    When fewer are free, the rest are the least-used claimed cores (fewest other perfsuite
    processes, then lowest number), and ``reason`` says which cores are shared with whom.
    """
    count = max(1, min(count, len(allowed)))
    free: list[int] = []
    for core in allowed:
        if len(free) == count:
            break
        if claims.claim(core):
            free.append(core)
    where = str(claims.directory)
    if len(free) == count:
        return CoreChoice(tuple(free), tuple(free), (), None, where)
    busy = {core: claims.users(core) or [-1] for core in allowed if core not in free}  # claim failed: someone holds it
    order = sorted(busy, key=lambda core: (len(busy[core]), list(allowed).index(core)))
    extra = order[: count - len(free)]
    for core in extra:
        claims.share(core)
    what = f"{len(busy)} of the {len(allowed)} cores this process may use ({list(allowed)}) are claimed by other perfsuite runs"
    reason = _shared_reason({core: busy[core] for core in extra}, what)
    return CoreChoice(tuple(sorted([*free, *extra])), tuple(free), tuple(sorted(extra)), reason, where)


def claim_listed(cores: Sequence[int], claims: CoreClaims) -> CoreChoice:
    """The user named the cores (``hardware.cores``): pin there, claim them, say who else is on them."""
    free = [core for core in cores if claims.claim(core)]
    taken = {core: claims.users(core) or [-1] for core in cores if core not in free}
    for core in taken:
        claims.share(core)
    reason = None
    if taken:
        reason = _shared_reason(taken, f"hardware.cores {list(cores)} names cores other perfsuite runs hold")
    return CoreChoice(tuple(cores), tuple(free), tuple(taken), reason, str(claims.directory))


_process_claims: CoreClaims | None = None


def pin_cores(hw: HardwareSpec, allowed: Sequence[int], directory: Path | None = None) -> CoreChoice:
    """Pick the cores for ``hw`` (claims held for the life of the process) and pin to them.

    A process pins once per session; pinning again (pytester runs in one process) releases the
    claims it held before. Claims that cannot be taken at all (read-only /tmp) fall back to the
    first cores, with the reason.
    """
    global _process_claims
    count = min(hw.threads, len(allowed))
    if _process_claims is not None:
        _process_claims.release()
        _process_claims = None
    claims = None
    try:
        claims = CoreClaims(directory if directory is not None else core_claim_dir())
        choice = claim_listed(hw.cores, claims) if hw.cores is not None else choose_cores(allowed, count, claims)
    except OSError as exc:  # read-only /tmp, a file where the directory should be, another user's mode
        if claims is not None:
            claims.release()
        cores = tuple(hw.cores) if hw.cores is not None else tuple(allowed[:count])
        why = f"core claims unavailable ({type(exc).__name__}: {exc}); other perfsuite runs on this machine are not avoided"
        choice = CoreChoice(cores, (), (), why, None)
    else:
        _process_claims = claims
    os.sched_setaffinity(0, choice.cores)
    return choice


def apply_hardware(hw: HardwareSpec, *, claim_dir: Path | None = None) -> dict[str, Any]:
    """Set torch's intra/inter-op threads and pin the process; return what is in force now.

    Pinning keeps the scheduler from moving the benchmark between cores mid-run; on a small shared
    box one pinned thread is the stable setting. The returned ``pinning`` says which cores and why.
    """
    import torch

    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinning: dict[str, Any] | None = None
    if hw.pin and allowed:
        missing = sorted(set(hw.cores or ()) - set(allowed))
        if missing:
            warnings.warn(f"perfsuite: cores {missing} are not available to this process (allowed: {allowed}); not pinning")
        else:
            choice = pin_cores(hw, allowed, claim_dir)
            pinning = choice.to_dict()
            if choice.reason:
                warnings.warn(f"perfsuite: {choice.reason}")
    torch.set_num_threads(hw.threads)
    if torch.get_num_interop_threads() != hw.interop_threads:
        try:
            torch.set_num_interop_threads(hw.interop_threads)
        except RuntimeError:  # only settable before the first inter-op work in the process
            warnings.warn(
                f"perfsuite: inter-op threads stay at {torch.get_num_interop_threads()} "
                f"(asked for {hw.interop_threads}); torch had already started its pool"
            )
    torch.backends.cudnn.benchmark = hw.cudnn_benchmark
    torch.backends.cudnn.deterministic = hw.deterministic
    if hw.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return {**threads_in_force(), "pinning": pinning}


def other_runs(directory: Path | None = None) -> list[dict[str, Any]] | str:
    """Other perfsuite processes holding cores on this machine, or why that cannot be known."""
    directory = directory if directory is not None else core_claim_dir()
    try:
        if _process_claims is not None and _process_claims.directory == directory:
            return _process_claims.others()
        if not directory.is_dir():
            return []
        return CoreClaims(directory).others()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def threads_in_force() -> dict[str, Any]:
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
    }


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
