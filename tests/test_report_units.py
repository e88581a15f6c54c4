"""Readable units: the unit each value gets, rounding across unit boundaries, and never a crash."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsuite.report.units import DURATION_UNITS, SI_UNITS, SIZE_UNITS, change, duration, si, size

MIB = 1024 * 1024


@pytest.mark.parametrize(
    "fmt, value, text",
    [
        (duration, 0.0123, "12.3 ms"),
        (duration, 1.5e-7, "150 ns"),
        (duration, 2.5, "2.50 s"),
        (duration, 0.000999996, "1.00 ms"),  # rounds up into the next unit, not "1000 µs"
        (duration, 0.009996, "10.0 ms"),  # three significant digits after rounding, not "10.00"
        (duration, 4.2e-5, "42.0 µs"),
        (duration, 0.0, "0 s"),
        (duration, -0.003, "-3.00 ms"),
        (duration, 5e-10, "0.500 ns"),  # below the smallest unit
        (duration, 1234.0, "1234 s"),  # above the largest
        (duration, None, "n/e"),
        (duration, math.nan, "n/e"),
        (duration, math.inf, "inf"),
        (size, 512, "512 B"),
        (size, 1023.6, "1.00 KiB"),
        (size, 300 * MIB, "300 MiB"),
        (size, 1.5 * 1024**3, "1.50 GiB"),
        (size, 0, "0 B"),
        (si, 4267, "4.27k"),
        (si, 401.2, "401"),
        (si, 0.512, "0.512"),
        (si, 124_000_000, "124M"),
        (si, 999_999, "1.00M"),
        (si, True, "n/e"),  # a flag is not a figure
        (si, 10**400, "inf"),  # an int beyond float's range
        (change, 1.05, "+5.0%"),
        (change, 0.92, "-8.0%"),
        (change, None, "n/e"),
    ],
)
def test_examples(fmt, value, text):
    assert fmt(value) == text


def test_si_with_a_unit_puts_the_prefix_on_it():
    assert si(2.5e9, "FLOP") == "2.50 GFLOP" and si(12, "FLOP") == "12.0 FLOP" and si(None, "FLOP", missing="-") == "-"


def _parse(text: str, units) -> tuple[float, float]:
    """(mantissa, factor) of a formatted value."""
    number, _, unit = text.partition(" ")
    if not unit:  # si without a unit: the prefix is glued on
        prefix = number[-1] if number[-1].isalpha() else ""
        number, unit = (number[:-1], prefix) if prefix else (number, "")
    return float(number), dict(units)[unit]


@given(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers()))
def test_formatting_never_raises_and_gives_one_line(value):
    for text in (duration(value), size(value), si(value), si(value, "FLOP"), change(value)):
        assert isinstance(text, str) and text and "\n" not in text


@pytest.mark.parametrize(
    "fmt, units, step",
    [(duration, DURATION_UNITS, 1000.0), (size, SIZE_UNITS, 1024.0), (si, SI_UNITS, 1000.0)],
)
@given(fraction=st.floats(0.0, 1.0), negative=st.booleans())
def test_the_unit_keeps_the_mantissa_in_range_and_the_value_close(fmt, units, step, fraction, negative):
    # Anywhere from the smallest unit to just below the largest unit's end, log-uniformly.
    low, high = units[0][1], units[-1][1] * step * 0.999
    value = math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
    value = -value if negative else value
    text = fmt(value)
    mantissa, factor = _parse(text.lstrip("-"), units)
    assert mantissa >= 1.0 and mantissa < step, text
    assert text.startswith("-") == negative
    assert abs(mantissa * factor - abs(value)) <= 0.005 * abs(value) + 0.5 * (factor if fmt is size and factor == 1 else 0), text
