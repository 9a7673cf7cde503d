"""Cutoff thresholds stored in a NetX file's ``/cutoff`` group (ignored by stock netx).

The Top-K rule and its calibration are :mod:`loihi_snn.core.cutoff`; this module only
moves a :class:`~loihi_snn.core.cutoff.Calibration` in and out of a file.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from loihi_snn.core.cutoff import NEVER, Calibration
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.netx.export import atomic_h5, write_extension
from loihi_snn.netx.schema import open_netx, read_netx


def store_calibration(path: str, calibration: Calibration, **metadata) -> None:
    """Write ``calibration`` into the NetX file's ``/cutoff`` group (atomically).

    Stock netx ignores the group; :func:`loihi_snn.sim.runtime.cutoff_run.run_cutoff`
    reads ``/cutoff/beta`` when no thresholds are passed.  ``metadata`` (e.g.
    ``dataset="digits"``) is stored beside them.
    """
    read_netx(path)                 # a valid, self-contained network (else one line)
    with open_netx(path) as src, atomic_h5(path, check=read_netx) as dst:
        for key in src.keys():
            if key != "cutoff":
                src.copy(src[key], dst, name=key)
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        data = calibration.to_dict()
        data["beta"] = np.where(np.isfinite(data["beta"]), data["beta"], -1.0)  # -1: never
        data.update(metadata)
        write_extension(dst, "cutoff", data)


def _number(spec, group: dict, key: str, default: Any, *, integer: bool = False) -> Any:
    """``/cutoff/<key>`` as a Python number (``default`` when absent), or a one-line
    NetxFormatError naming the field."""
    if key not in group:
        return default
    value = group[key]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0].item()
    ok = isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_))
    if ok and integer:
        ok = np.isfinite(value) and float(value) == int(value) and int(value) >= 1
    if not ok:
        kind = "a positive integer" if integer else "a number"
        raise NetxFormatError(spec.path, f"must be {kind}, found "
                                         f"{_show(value)}", field=f"cutoff/{key}")
    return int(value) if integer else float(value)


def _show(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def load_calibration(spec, steps: Optional[int] = None) -> Optional[Calibration]:
    """The calibration stored in a NetSpec's ``/cutoff`` group, or None when there is
    none.

    ``/cutoff/beta`` must be a non-empty 1-D array of real numbers, one threshold per
    step (a negative value: never stop at that step), and, when ``steps`` is given, have
    at least ``steps`` of them: thresholds calibrated for fewer steps than the run has
    are refused (recalibrate) rather than padded or cut.  Anything else -- and an
    ``epsilon`` or ``bins`` that is not a number -- is a one-line NetxFormatError
    naming the field, so every backend refuses the same file the same way.
    """
    group = spec.extensions.get("cutoff") if isinstance(spec.extensions, dict) else None
    if not isinstance(group, dict) or "beta" not in group:
        return None
    raw = group["beta"]
    kind = getattr(np.asarray(raw) if isinstance(raw, (np.ndarray, np.generic, int, float))
                   else None, "dtype", None)
    if kind is None or kind.kind not in "iuf":
        raise NetxFormatError(spec.path, f"must be an array of thresholds (real numbers, one "
                                         f"per step), found {_show(raw)}",
                              field="cutoff/beta")
    beta = np.asarray(raw, dtype=float)
    if beta.ndim != 1 or beta.size == 0:
        raise NetxFormatError(spec.path, f"must be a non-empty 1-D array (one threshold per "
                                         f"step), found shape {beta.shape}",
                              field="cutoff/beta")
    if np.isnan(beta).any():
        raise NetxFormatError(spec.path, f"holds NaN at step "
                                         f"{int(np.argmax(np.isnan(beta))) + 1}; a threshold is "
                                         f"a number (negative: never stop at that step)",
                              field="cutoff/beta")
    if steps is not None and beta.size < int(steps):
        raise NetxFormatError(spec.path, f"holds {beta.size} thresholds (calibrated for "
                                         f"{beta.size} steps) but the run has {int(steps)} "
                                         f"steps; recalibrate for {int(steps)} steps "
                                         f"(loihi-snn eval --epsilon E) or run {beta.size}",
                              field="cutoff/beta")
    beta = np.where(beta < 0, NEVER, beta)
    return Calibration(beta=beta, epsilon=_number(spec, group, "epsilon", np.nan),
                       bins=_number(spec, group, "bins", 100, integer=True))
