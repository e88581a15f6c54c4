"""Numbers in the unit a person reads fastest: 734 µs, 12.3 ms, 1.24 s; 512 MiB, 1.5 GiB; 1.2k/s.

Pure formatting for the reports. Three significant figures, the largest unit in which the value
is at least 1; None (a figure not established or not measured) shows as a dash.
"""

from __future__ import annotations

MISSING = "–"
_TIME = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
_BYTES = (("GiB", 1024.0**3), ("MiB", 1024.0**2), ("KiB", 1024.0), ("B", 1.0))
_COUNT = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0))


def _sig3(x: float) -> str:
    """Three significant figures without exponent notation: 1.23, 12.3, 123, 1234."""
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _scaled(value: float, units: tuple[tuple[str, float], ...], sep: str) -> str:
    for name, size in units:
        if abs(value) >= size:
            return f"{_sig3(value / size)}{sep}{name}"
    name, size = units[-1]
    return f"{_sig3(value / size)}{sep}{name}"


def duration(seconds: float | None) -> str:
    """A time in s, ms, µs or ns."""
    if seconds is None:
        return MISSING
    if seconds == 0:
        return "0 s"
    return _scaled(seconds, _TIME, " ")


def size(n_bytes: float | None) -> str:
    """A memory size in binary units (MiB, GiB), as the allocators and `free` count them."""
    if n_bytes is None:
        return MISSING
    return _scaled(float(n_bytes), _BYTES, " ")


def count(value: float | None, unit: str = "") -> str:
    """A count or rate with a metric prefix: 1.23k samples/s, 4.5 GFLOP."""
    if value is None:
        return MISSING
    text = _scaled(float(value), _COUNT, "")
    return f"{text} {unit}".rstrip() if unit else text


def change(ratio: float | None) -> str:
    """A ratio head/base as a signed percentage: 1.052 -> +5.2%."""
    if ratio is None:
        return MISSING
    pct = (ratio - 1.0) * 100.0
    return f"{pct:+.1f}%" if abs(pct) < 1000 else f"×{ratio:.3g}"
