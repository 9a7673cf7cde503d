"""Every numeric path of the emulator on one input: they must agree bit for bit.

``emulate_all(path, X, **kw)`` runs :func:`loihi_snn.emulate` on the numpy float fast
path (the default), the int64 reference path and the torch backend on the CPU (float
and int64), asserts that all four outputs are identical and returns the default one,
so a parity test that compares it with Lava checks every path at once.
"""
from __future__ import annotations

import numpy as np

from loihi_snn.sim.emulator import emulate

#: (device, arithmetic) of every path; the first is emulate()'s default
PATHS = ((None, "float"), (None, "int64"), ("cpu", "float"), ("cpu", "int64"))


def emulate_all(path_or_spec, X, *args, **kwargs):
    outs = [emulate(path_or_spec, X, *args, device=device, arithmetic=arithmetic, **kwargs)
            for device, arithmetic in PATHS]
    for (device, arithmetic), out in zip(PATHS[1:], outs[1:]):
        first, other = (outs[0], out) if not isinstance(out, tuple) else (outs[0][0], out[0])
        assert other.dtype == first.dtype, (device, arithmetic, other.dtype, first.dtype)
        np.testing.assert_array_equal(other, first, err_msg=f"device={device} "
                                      f"arithmetic={arithmetic} differs from the default path")
        if isinstance(out, tuple):
            for a, b in zip(out[1:], outs[0][1:]):
                np.testing.assert_array_equal(a, b)
    return outs[0]
