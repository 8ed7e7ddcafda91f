"""Checks of numeric options and inputs, shared by the options dataclasses, the file loaders and
the command line: finite numbers in a range, of the right type (no NaN, no infinity, no bool).

    check_number("fps", fps, low=1, high=120)          # OptionError naming fps and the range
    parser.add_argument("--fps", type=finite_float)      # argparse refuses nan / inf (exit 2)
"""

from __future__ import annotations

import argparse
import math
import numbers

from talkingface.errors import OptionError, show


def number_problem(value: object, *, low: float = -math.inf, high: float = math.inf,
                   integer: bool = False) -> str | None:
    """What is wrong with ``value`` as a number in [low, high] (an int if ``integer``); None if fine.

    bool is not a number here; NaN and infinities are refused whatever the range.
    """
    kind = "a whole number" if integer else "a number"
    if math.isinf(low) and math.isinf(high):
        expected = f"must be {kind}"
    elif math.isinf(high):
        expected = f"must be {kind} >= {low:g}"
    elif math.isinf(low):
        expected = f"must be {kind} <= {high:g}"
    else:
        expected = f"must be {kind} from {low:g} to {high:g}"
    allowed = numbers.Integral if integer else numbers.Real  # numpy scalars included
    if isinstance(value, bool) or not isinstance(value, allowed):
        return expected
    if not isinstance(value, numbers.Integral) and not math.isfinite(value):
        return "must be a finite number" if expected == "must be a number" else f"{expected} (finite)"
    return None if low <= value <= high else expected


def check_number(name: str, value: object, *, low: float = -math.inf, high: float = math.inf,
                 integer: bool = False, unit: str = "") -> None:
    """Raise OptionError naming ``name`` unless ``value`` is a finite number in [low, high]."""
    problem = number_problem(value, low=low, high=high, integer=integer)
    if problem is not None:
        raise OptionError(name, value, problem + unit)


def finite_float(text: str) -> float:
    """argparse ``type=``: a float that is not NaN or infinite (argparse then exits with status 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {show(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {show(text)}")
    return value
