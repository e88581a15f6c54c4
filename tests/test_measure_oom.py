"""OOM classification and the sweep-friendly record."""

from __future__ import annotations

import pytest

from perfsuite.measure import catch_oom, is_oom, oom_record
from perfsuite.measure.fakes import FakeCuda


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (MemoryError(), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: you tried to allocate"), True),
        (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)"), True),
        # torch's CPU allocator on Linux, as a 4096 batch under an 8 GB limit raises it: an oom, not a failed case
        (RuntimeError("[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                      "17179869184 bytes. Error code 12 (Cannot allocate memory)"), True),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
        (ValueError("out of memory"), False),
        (KeyError("x"), False),
    ],
)
def test_is_oom(exc, expected):
    assert is_oom(exc) is expected


def test_torch_out_of_memory_error_is_oom_by_type():
    torch = pytest.importorskip("torch")
    assert is_oom(torch.cuda.OutOfMemoryError("allocator said no"))


def test_catch_oom_records_frees_and_lets_the_sweep_continue():
    cuda = FakeCuda()
    cuda.alloc(10)
    cuda.reserved = 100
    results = {}
    for bs in (1, 2, 4):
        with catch_oom(bs, cuda=cuda) as oom:
            if bs == 4:
                raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")
            results[bs] = "ok"
        if oom.record is not None:
            results[bs] = oom.record
    rec = results[4]
    assert rec.status == "oom" and rec.batch_size == 4
    assert rec.message == "CUDA out of memory. Tried to allocate 20.00 GiB"
    assert rec.to_dict() == {"batch_size": 4, "message": rec.message, "error_type": "RuntimeError", "status": "oom"}
    assert cuda.empty_cache_calls == 1 and cuda.reserved == 10
    assert results[1] == results[2] == "ok"


def test_catch_oom_lets_other_errors_through():
    cuda = FakeCuda()
    with pytest.raises(ValueError, match="bad input"):
        with catch_oom(8, cuda=cuda):
            raise ValueError("bad input")
    assert cuda.empty_cache_calls == 0


def test_oom_record_returns_none_for_non_oom_and_works_on_cpu():
    assert oom_record(RuntimeError("shape"), 2) is None
    rec = oom_record(MemoryError(), 16)  # no CUDA: gc only
    assert rec is not None and rec.message == "MemoryError" and rec.batch_size == 16


def test_a_real_cpu_allocation_failure_is_recognised_as_oom():
    """The message torch's CPU allocator gives here, not a hand-written one: ask for far more than the machine has."""
    torch = pytest.importorskip("torch")
    try:
        torch.empty(2**62, dtype=torch.uint8)
    except Exception as exc:  # noqa: BLE001 - whatever the allocator raises is what must be recognised
        assert is_oom(exc), f"{type(exc).__name__}: {exc}"
    else:  # pragma: no cover - no machine has 4 EiB
        pytest.fail("allocating 4 EiB succeeded")
