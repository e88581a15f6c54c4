"""`inference_runtime.slowdown` reaches every timed path: the runtime's call and generate()'s forwards."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")

from perfsuite.runtimes.eager import slowed_forwards  # noqa: E402


class Sleepy(torch.nn.Module):
    """A forward of a known, fixed duration (a sleep: the spin after it must double it)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        time.sleep(self.seconds)
        return x


def _timed(module, x) -> float:
    t0 = time.perf_counter()
    module(x)
    return time.perf_counter() - t0


def test_every_forward_in_the_block_is_followed_by_a_spin_of_slowdown_times_its_duration():
    m = Sleepy(0.02)
    x = torch.zeros(1)
    with slowed_forwards(m, 1.0):
        slowed = [_timed(m, x) for _ in range(3)]
    # The spin runs until start + elapsed * (1 + slowdown): a lower bound by construction.
    assert all(t >= 2 * 0.02 for t in slowed)
    assert m.calls == 3


def test_the_hooks_are_gone_after_the_block_even_when_it_raises():
    m = Sleepy(0.0)
    with pytest.raises(RuntimeError):
        with slowed_forwards(m, 1.0):
            raise RuntimeError("boom")
    assert not m._forward_hooks and not m._forward_pre_hooks


def test_no_slowdown_installs_nothing():
    m = Sleepy(0.0)
    with slowed_forwards(m, 0.0):
        assert not m._forward_hooks and not m._forward_pre_hooks
