"""Argument checks shared by every public function: one line, one of the package's errors.

A public function checks what it was given before doing any work and, for anything
it cannot take (a wrong type, a count below one, a bogus choice), raises
:class:`~loihi_snn.core.errors.OptionError` -- a ``ValueError`` -- whose message names
the argument, the value given and what is accepted.  Shapes of arrays are checked
where the arrays are (:mod:`loihi_snn.netx.inputs`), and raise ``ShapeError``.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np

from loihi_snn.core.errors import OptionError


def show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line, at most ``limit`` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_path(value: Any, name: str = "path") -> str:
    """A file name (str, bytes or ``os.PathLike``) as ``str``; OptionError otherwise."""
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bool):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return path
    if isinstance(value, bytes) and value:
        return os.fsdecode(value)
    raise OptionError(f"{name} must be a file name (str or path), got {show(value)}")


def is_path(value: Any) -> bool:
    """True for a str / bytes / ``os.PathLike`` file name."""
    return isinstance(value, (str, bytes, os.PathLike))


def check_int(value: Any, name: str, minimum: Optional[int] = 1,
              maximum: Optional[int] = None, *, allow_none: bool = False) -> Optional[int]:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (either bound optional);
    a whole float (``2.0``, ``1e3``) is taken, bools, fractions, NaN and strings are not.
    ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (numbers.Integral, float, np.floating)) and \
        not isinstance(value, (bool, np.bool_))
    if ok and not isinstance(value, numbers.Integral):
        ok = bool(np.isfinite(value)) and float(value) == int(value)
    if ok:
        number = int(value)
        if (minimum is None or number >= minimum) and (maximum is None or number <= maximum):
            return number
    if minimum is not None and maximum is not None:
        accepted = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        accepted = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer >= {minimum}")
    elif maximum is not None:
        accepted = f"an integer <= {maximum}"
    else:
        accepted = "an integer"
    raise OptionError(f"{name} must be {accepted}{' or None' if allow_none else ''}, "
                      f"got {show(value)}")


def check_number(value: Any, name: str, *, minimum: Optional[float] = None,
                 maximum: Optional[float] = None, above: Optional[float] = None,
                 below: Optional[float] = None, allow_none: bool = False,
                 accepted: Optional[str] = None) -> Optional[float]:
    """``value`` as a finite ``float`` with ``minimum <= value <= maximum`` and
    ``above < value < below`` (each bound optional); OptionError otherwise."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (numbers.Real, np.floating, np.integer)) and \
        not isinstance(value, (bool, np.bool_))
    number = float(value) if ok else float("nan")
    ok = ok and bool(np.isfinite(number))
    ok = ok and (minimum is None or number >= minimum) and (maximum is None or number <= maximum)
    ok = ok and (above is None or number > above) and (below is None or number < below)
    if ok:
        return number
    if accepted is None:
        parts = []
        if minimum is not None:
            parts.append(f">= {minimum:g}")
        if above is not None:
            parts.append(f"> {above:g}")
        if maximum is not None:
            parts.append(f"<= {maximum:g}")
        if below is not None:
            parts.append(f"< {below:g}")
        accepted = "a finite number" + (" " + " and ".join(parts) if parts else "")
    raise OptionError(f"{name} must be {accepted}{' or None' if allow_none else ''}, "
                      f"got {show(value)}")


def check_choice(value: Any, name: str, choices: Iterable[Any], *,
                 allow_none: bool = False) -> Any:
    """``value`` when it is one of ``choices``; OptionError listing them otherwise."""
    choices = tuple(choices)
    if value is None and allow_none:
        return None
    try:
        if value in choices:
            return value
    except TypeError:             # unhashable or uncomparable values are not choices
        pass
    raise OptionError(f"{name} must be one of {', '.join(map(str, choices))}"
                      f"{' (or None)' if allow_none else ''}, got {show(value)}")


def check_flag(value: Any, name: str, *, allow_none: bool = False) -> Optional[bool]:
    """``value`` as a ``bool`` (True/False, numpy bools, 0/1); OptionError otherwise."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral)
                                              and value in (0, 1)):
        return bool(value)
    raise OptionError(f"{name} must be True or False{' (or None)' if allow_none else ''}, "
                      f"got {show(value)}")


def check_shape(value: Any, name: str, ranks: Sequence[int] = (1, 3), *,
                allow_none: bool = True) -> Optional[Tuple[int, ...]]:
    """A shape -- a sequence of ``ranks`` positive integers, e.g. (C, H, W) or (N,) --
    as a tuple of ints; OptionError otherwise."""
    if value is None and allow_none:
        return None
    form = " or ".join({1: "(N,)", 2: "(H, W)", 3: "(C, H, W)"}.get(r, f"{r} sizes")
                       for r in ranks)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise OptionError(f"{name} must be a shape {form} of positive integers, "
                          f"got {show(value)}")
    try:
        shape = tuple(check_int(v, name) for v in value)
    except OptionError:
        shape = ()
    if len(shape) not in ranks:
        raise OptionError(f"{name} must be a shape {form} of positive integers, "
                          f"got {show(value)}")
    return shape
