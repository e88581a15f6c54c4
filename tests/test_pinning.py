"""Core claims: two perfsuite runs on one machine pin different cores, or say why they share."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from perfsuite import pinning
from perfsuite.config.schema import HardwareSpec
from perfsuite.pinning import CoreClaims, choose_cores, claim_listed, core_claim_dir, other_runs

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="core pinning is Linux-only")

HOLDER = textwrap.dedent(
    """
    import sys
    from perfsuite.pinning import CoreClaims, choose_cores
    claims = CoreClaims(sys.argv[1])
    choice = choose_cores([int(c) for c in sys.argv[2].split(",")], int(sys.argv[3]), claims)
    print(",".join(map(str, choice.cores)), flush=True)
    sys.stdin.read()  # hold the claims until the test closes our stdin
    """
)


class Holder:
    """Another perfsuite process: it claims cores and holds them until stopped."""

    def __init__(self, directory, allowed, count=1):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(directory), ",".join(map(str, allowed)), str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        line = self.proc.stdout.readline().strip()
        assert line, "holder process did not start"
        self.cores = [int(c) for c in line.split(",")]
        self.pid = self.proc.pid

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def holders():
    started = []

    def start(*args, **kw):
        h = Holder(*args, **kw)
        started.append(h)
        return h

    yield start
    for h in started:
        if h.proc.poll() is None:
            h.stop()


def test_second_run_takes_the_next_free_core(tmp_path, holders):
    other = holders(tmp_path, [0, 1, 2])
    assert other.cores == [0]
    mine = CoreClaims(tmp_path)
    choice = choose_cores([0, 1, 2], 1, mine)
    assert choice.cores == (1,) and choice.claimed == (1,) and choice.shared == () and choice.reason is None
    assert (tmp_path / "core1.lock").read_text().strip() == str(os.getpid())  # other runs can name us
    assert mine.users(0) == [other.pid]
    mine.release()


def test_all_cores_claimed_pins_to_least_used_and_says_why(tmp_path, holders):
    a = holders(tmp_path, [0, 1])  # claims core 0
    b = holders(tmp_path, [0, 1])  # claims core 1
    c = holders(tmp_path, [0, 1])  # nothing free: shares core 0 (a tie, so the lowest)
    assert (a.cores, b.cores, c.cores) == ([0], [1], [0])
    mine = CoreClaims(tmp_path)
    choice = choose_cores([0, 1], 1, mine)
    assert choice.cores == (1,), "core 0 has two users, core 1 one: the least used is core 1"
    assert choice.claimed == () and choice.shared == (1,)
    assert "2 of the 2 cores" in choice.reason and "pinned anyway" in choice.reason
    assert f"pid {b.pid}" in choice.reason and f"pid {a.pid}" not in choice.reason
    assert sorted(mine.users(0)) == sorted([a.pid, c.pid])
    mine.release()
    assert not list(tmp_path.glob(f"*.pid{os.getpid()}.shared")), "release removes our mark"


def test_claims_end_with_the_process_that_held_them(tmp_path, holders):
    other = holders(tmp_path, [0])
    mine = CoreClaims(tmp_path)
    assert not mine.claim(0)
    other.stop()
    assert mine.claim(0), "a dead run's claim file is free again"
    mine.release()


def test_stale_shared_mark_is_not_counted_and_is_removed(tmp_path, holders):
    other = holders(tmp_path, [0])
    (tmp_path / "core0.pid999999.shared").write_text("")  # left by a process that is gone
    mine = CoreClaims(tmp_path)
    assert mine.users(0) == [other.pid]
    assert not (tmp_path / "core0.pid999999.shared").exists()
    mine.release()


def test_listed_cores_are_kept_and_sharing_is_reported(tmp_path, holders):
    other = holders(tmp_path, [0])
    mine = CoreClaims(tmp_path)
    choice = claim_listed([0, 1], mine)
    assert choice.cores == (0, 1) and choice.claimed == (1,) and choice.shared == (0,)
    assert "hardware.cores [0, 1]" in choice.reason and f"pid {other.pid}" in choice.reason
    mine.release()


def test_other_runs_lists_claims_and_marks_of_other_processes(tmp_path, holders):
    a = holders(tmp_path, [0, 1], count=2)
    mine = CoreClaims(tmp_path)
    choose_cores([0, 1], 1, mine)
    runs = {r["pid"]: r for r in mine.others()}
    assert runs == {a.pid: {"pid": a.pid, "cores": [0, 1], "shared": []}}
    mine.release()
    assert other_runs(tmp_path) == [{"pid": a.pid, "cores": [0, 1], "shared": []}]
    assert other_runs(tmp_path / "never-made") == []


def test_claim_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PERFSUITE_CORE_DIR", str(tmp_path))
    assert core_claim_dir() == tmp_path
    monkeypatch.delenv("PERFSUITE_CORE_DIR")
    assert str(core_claim_dir()) == "/tmp/perfsuite-cores"


def hw(threads=1, cores=None):
    return HardwareSpec(device="cpu", threads=threads, interop_threads=1, pin=True, cores=cores)


@pytest.fixture
def restore_affinity():
    before = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, before)
    if pinning._process_claims is not None:
        pinning._process_claims.release()
        pinning._process_claims = None


def test_pin_cores_pins_to_the_free_core_and_reclaims_on_a_second_call(tmp_path, holders, restore_affinity):
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two allowed cores")
    other = holders(tmp_path, allowed[:1])
    choice = pinning.pin_cores(hw(), allowed, tmp_path)
    assert choice.cores == (allowed[1],) and os.sched_getaffinity(0) == {allowed[1]}
    again = pinning.pin_cores(hw(), allowed, tmp_path)  # a second session in this process
    assert again.cores == (allowed[1],) and again.reason is None, "the first call's claim was released, not held against us"
    assert other.cores == allowed[:1]


def test_pin_cores_without_a_usable_claim_dir_pins_first_cores_with_a_reason(tmp_path, restore_affinity):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    allowed = sorted(os.sched_getaffinity(0))
    choice = pinning.pin_cores(hw(), allowed, blocker / "cores")
    assert choice.cores == (allowed[0],) and "core claims unavailable" in choice.reason


def test_apply_hardware_records_the_choice_and_warns_when_shared(tmp_path, holders, restore_affinity, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep this test process's torch as it was
    monkeypatch.setattr(torch, "set_num_interop_threads", lambda n: None)
    allowed = sorted(os.sched_getaffinity(0))
    others = [holders(tmp_path, [core]) for core in allowed]
    with pytest.warns(UserWarning, match="pinned anyway"):
        info = pinning.apply_hardware(hw(), claim_dir=tmp_path)
    assert info["pinning"]["shared"] == [allowed[0]] and info["pinning"]["claim_dir"] == str(tmp_path)
    assert f"pid {others[0].pid}" in info["pinning"]["reason"]
    assert info["affinity"] == [allowed[0]]


def test_env_load_names_the_other_perfsuite_runs(tmp_path, holders):
    from perfsuite.results.env import load_info

    other = holders(tmp_path, [0])
    load = load_info(claim_dir=tmp_path, interval_s=0.01)
    assert load["perfsuite_runs"] == [{"pid": other.pid, "cores": [0], "shared": []}]
    assert set(load) >= {"loadavg", "runnable", "busy_cores", "per_core_busy_percent", "unavailable"}


def test_env_load_says_why_runs_are_unknown(tmp_path, monkeypatch):
    from perfsuite.results.env import load_info

    monkeypatch.setattr(pinning, "CoreClaims", lambda directory: (_ for _ in ()).throw(PermissionError("read-only")))
    load = load_info(claim_dir=tmp_path, interval_s=0.01)
    assert load["perfsuite_runs"] is None and "read-only" in load["unavailable"]["perfsuite_runs"]


def test_fingerprint_has_the_load(monkeypatch, tmp_path):
    from perfsuite.results.env import fingerprint

    monkeypatch.setenv("PERFSUITE_CORE_DIR", str(tmp_path))
    env = fingerprint(tmp_path)
    assert env["load"]["perfsuite_runs"] == [] and "loadavg" in env["load"]


def test_unreadable_claim_file_falls_back_with_the_reason(tmp_path, restore_affinity, monkeypatch):
    def refuse(self, core):
        raise PermissionError(13, "Permission denied", str(tmp_path / f"core{core}.lock"))

    monkeypatch.setattr(CoreClaims, "claim", refuse)
    allowed = sorted(os.sched_getaffinity(0))
    choice = pinning.pin_cores(hw(), allowed, tmp_path)
    assert choice.cores == (allowed[0],) and "Permission denied" in choice.reason and choice.claim_dir is None
    assert pinning._process_claims is None
