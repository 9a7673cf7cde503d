"""loihi-snn: train spiking networks with lava-dl SLAYER, deploy them bit-exactly on Lava.

Top-level API
-------------
- :func:`loihi_snn.netx.load` -- NetX HDF5 file -> Lava process (``Network``).
- :func:`loihi_snn.run` -- run a network (object or path) on an input, time last.
- :func:`loihi_snn.emulate` -- bit-exact batched emulation of lava-fixed, no Lava.
- :func:`loihi_snn.netx.read_netx` -- parse and validate a NetX file without Lava.
"""
from __future__ import annotations

__version__ = "0.1.0"

from loihi_snn.errors import (  # noqa: F401
    BackendError, LoihiSnnError, NetxFormatError, RunError, ShapeError,
)


def run(*args, **kwargs):
    """Run a network on Lava; see :func:`loihi_snn.runtime.run.run`."""
    from loihi_snn.runtime.run import run as _run
    return _run(*args, **kwargs)


def emulate(*args, **kwargs):
    """Emulate a network on a batch, bit-exactly as Lava fixed_pt; see
    :func:`loihi_snn.emulator.emulate`."""
    from loihi_snn.emulator import emulate as _emulate
    return _emulate(*args, **kwargs)
