"""Cutoff thresholds stored in a NetX file's ``/cutoff`` group (ignored by stock netx).

The Top-K rule and its calibration are :mod:`loihi_snn.core.cutoff`; this module only
moves a :class:`~loihi_snn.core.cutoff.Calibration` in and out of a file.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from loihi_snn.core.cutoff import NEVER, Calibration
from loihi_snn.netx.export import atomic_h5, write_extension
from loihi_snn.netx.schema import read_netx


def store_calibration(path: str, calibration: Calibration, **metadata) -> None:
    """Write ``calibration`` into the NetX file's ``/cutoff`` group (atomically).

    Stock netx ignores the group; :func:`loihi_snn.sim.runtime.cutoff_run.run_cutoff`
    reads ``/cutoff/beta`` when no thresholds are passed.  ``metadata`` (e.g.
    ``dataset="digits"``) is stored beside them.
    """
    import h5py

    with h5py.File(path, "r") as src, atomic_h5(path, check=read_netx) as dst:
        for key in src.keys():
            if key != "cutoff":
                src.copy(src[key], dst, name=key)
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        data = calibration.to_dict()
        data["beta"] = np.where(np.isfinite(data["beta"]), data["beta"], -1.0)  # -1: never
        data.update(metadata)
        write_extension(dst, "cutoff", data)


def load_calibration(spec) -> Optional[Calibration]:
    """The calibration stored in a NetSpec's ``/cutoff`` group, or None."""
    group = spec.extensions.get("cutoff") if isinstance(spec.extensions, dict) else None
    if not group or "beta" not in group:
        return None
    beta = np.asarray(group["beta"], dtype=float).reshape(-1)
    beta = np.where(beta < 0, NEVER, beta)
    return Calibration(beta=beta, epsilon=float(group.get("epsilon", np.nan)),
                       bins=int(group.get("bins", 100)))
