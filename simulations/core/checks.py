"""Input checks and the convergence warning shared by every layer above core (one copy of each)."""

from __future__ import annotations

import argparse
import numbers


class ConvergenceWarning(RuntimeWarning):
    """An iterative method (Lloyd-Max, k-means) stopped before meeting its tolerance, or found fewer
    distinct centres than asked for."""


def _describe(minimum: int) -> str:
    return {0: "a non-negative integer", 1: "a positive integer"}.get(minimum,
                                                                     f"an integer >= {minimum}")


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming ``name`` when it is not an integer (bools
    refused; numpy integers accepted) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {_describe(minimum)}, got {name}={value!r}")
    return int(value)


def check_positive_ints(obj, *names: str) -> None:
    """:func:`check_int` on the attributes ``names`` of ``obj`` (a configuration dataclass)."""
    for name in names:
        check_int(getattr(obj, name), name)


def int_arg(minimum: int):
    """An argparse ``type`` for integers of at least ``minimum`` (a bad value: one-line error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {_describe(minimum)}, got {text!r}")
        return value

    parse.__name__ = _describe(minimum)
    return parse


positive_int = int_arg(1)
nonneg_int = int_arg(0)
