"""argparse ``type=`` helpers shared by the subcommands: a number out of its range is a usage error (exit 2) naming the range."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    """A whole number ``low`` to ``high`` (both included)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({what})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high} ({what}), got {value}")
        return value
    return parse


def number_in(low: float, high: float, what: str, *, open_low: bool = False, open_high: bool = False) -> Callable[[str], float]:
    """A finite number between ``low`` and ``high``; ``open_low`` / ``open_high`` leave that end out."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({what})") from None
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        if not (math.isfinite(value) and above and below):
            left, right = ("(" if open_low else "["), (")" if open_high else "]")
            raise argparse.ArgumentTypeError(f"must be in {left}{low:g}, {high:g}{right} ({what}), got {text}")
        return value
    return parse
