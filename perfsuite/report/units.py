"""Numbers as people read them: each value gets the unit that keeps its mantissa in [1, 1000).

- `duration(seconds)`: ns, µs, ms, s (`0.0123` -> `12.3 ms`);
- `size(bytes)`: B, KiB, MiB, GiB, TiB, PiB, binary prefixes, so the mantissa is in [1, 1024)
  (`3 * 2**20` -> `3.00 MiB`; whole bytes below 1 KiB: `512 B`);
- `si(value, unit)`: plain, k, M, G, T, P for rates and counts (`4267` -> `4.27k`,
  `1.2e9, "FLOP"` -> `1.20 GFLOP`).

Three significant digits: enough to tell two cases apart at a glance; the exact figures are in
results.json and the tables. A value that rounds up to the next unit moves there (999.96 µs is
`1.00 ms`, not `1000 µs`). Outside the units' range the mantissa leaves [1, 1000): below the
smallest unit (`0.500 ns`, a rate of `0.512`), above the largest (`1234 s`).

Pure functions that never raise on a number: `None` and NaN give `missing` (default `n/e`,
"not established"), infinities give `inf`/`-inf`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Units = Sequence[tuple[str, float]]

DURATION_UNITS: Units = (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0))
SIZE_UNITS: Units = tuple((name, float(1024**i)) for i, name in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB")))
SI_UNITS: Units = (("", 1.0), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15))

DIGITS = 3
MISSING = "n/e"


def _mantissa(m: float, digits: int) -> str:
    """`m` (>= 0) with `digits` significant digits, no exponent for ordinary magnitudes."""
    if m == 0:
        return "0"
    if m >= 1e6:  # beyond the largest unit by far: an exponent reads better than 20 digits
        return f"{m:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(m)))
    text = f"{m:.{decimals}f}"
    rounded = float(text)
    if rounded > 0 and math.floor(math.log10(rounded)) > math.floor(math.log10(m)):
        # 9.996 rounds to "10.00": one digit more than asked; count them from the rounded value
        text = f"{m:.{max(0, digits - 1 - math.floor(math.log10(rounded)))}f}"
    return text


def scaled(value: float, units: Units, *, step: float = 1000.0, digits: int = DIGITS, whole_base: bool = False) -> tuple[str, str]:
    """(mantissa, unit name) of a finite `value`: the largest unit whose factor is <= |value|.

    `step` is the ratio between neighbouring units (1000, or 1024 for bytes); `whole_base` prints
    the smallest unit as a whole number (bytes: `512 B`, never `512.0 B`).
    """
    sign = "-" if value < 0 else ""
    a = abs(value)
    if a == 0:
        return "0", next((name for name, factor in units if factor == 1.0), units[0][0])
    i = 0
    while i + 1 < len(units) and a >= units[i + 1][1]:
        i += 1
    while True:
        m = a / units[i][1]
        text = f"{m:.0f}" if whole_base and i == 0 and m < 1e6 else _mantissa(m, digits)
        if float(text) < step or i + 1 == len(units):
            return sign + text, units[i][0]
        i += 1  # rounding carried it to the next unit (999.96 -> "1000")


def _finite(value: float | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _format(value: float | None, units: Units, missing: str, *, step: float = 1000.0, whole_base: bool = False, unit: str | None = None) -> str:
    """`unit` None: the unit follows the mantissa after a space (`12.3 ms`); a string: the
    prefix is glued to the mantissa (`4.27k`) or, with a unit, put before it (`1.20 GFLOP`)."""
    x = _finite(value)
    if x is None:
        return missing
    if math.isinf(x):
        text, name = ("inf" if x > 0 else "-inf"), ""
    else:
        text, name = scaled(x, units, step=step, whole_base=whole_base)
    if unit is None:
        return f"{text} {name}" if name else text
    return f"{text} {name}{unit}" if unit else f"{text}{name}"


def duration(seconds: float | None, missing: str = MISSING) -> str:
    """`0.0123` -> `12.3 ms`; `1.5e-7` -> `150 ns`; `2.5` -> `2.50 s`."""
    return _format(seconds, DURATION_UNITS, missing)


def size(n_bytes: float | None, missing: str = MISSING) -> str:
    """`300 * 2**20` -> `300 MiB`; `1.5 * 2**30` -> `1.50 GiB`; `512` -> `512 B`."""
    return _format(n_bytes, SIZE_UNITS, missing, step=1024.0, whole_base=True)


def si(value: float | None, unit: str = "", missing: str = MISSING) -> str:
    """`4267` -> `4.27k`; `(1.2e9, "FLOP")` -> `1.20 GFLOP`; `3.125` -> `3.13`; `7` -> `7.00`."""
    return _format(value, SI_UNITS, missing, unit=unit)


def change(ratio: float | None, missing: str = MISSING) -> str:
    """A ratio as a signed change: `1.05` -> `+5.0%`, `0.92` -> `-8.0%`."""
    x = _finite(ratio)
    if x is None or math.isinf(x):
        return missing if x is None else "inf"
    return f"{(x - 1.0) * 100:+.1f}%"
