"""The one reader of loihi-snn's environment variables (limits and knobs).

Every ``LOIHI_SNN_*`` variable that holds a number is read through :func:`env_int`, so
a bad value ends the same way everywhere: one line (:class:`OptionError`) naming the
variable, the value given and what is accepted -- never a traceback, never a file
called "corrupt", never a silently ignored setting.
"""
from __future__ import annotations

import os
from typing import Optional

from loihi_snn.core.errors import OptionError


def env_int(name: str, default: int, minimum: int = 1,
            maximum: Optional[int] = None) -> int:
    """The integer in environment variable ``name``, or ``default`` when it is unset or
    blank.

    Accepted: an integer, also written as ``1e9`` or ``2.0`` (a whole number), from
    ``minimum`` up (and up to ``maximum`` when given).  Anything else raises a one-line
    :class:`~loihi_snn.core.errors.OptionError` that names the variable, the bad value
    and what is accepted.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        number = float(text)
        value = int(number) if number == int(number) else None
    except (ValueError, OverflowError):
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        accepted = f"an integer >= {minimum}" if maximum is None else \
            f"an integer from {minimum} to {maximum}"
        raise OptionError(f"environment variable {name}={text[:60]!r} is not valid: it must "
                          f"be {accepted} (unset it for the default, {default})")
    return value


def env_seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds from environment variable ``name``, or
    ``default`` when it is unset or blank; anything else is a one-line
    :class:`~loihi_snn.core.errors.OptionError` naming the variable and the value."""
    text = os.environ.get(name, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except (ValueError, OverflowError):
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise OptionError(f"environment variable {name}={text[:60]!r} is not valid: it must "
                          f"be a positive number of seconds (unset it for the default, "
                          f"{default:g})")
    return value
