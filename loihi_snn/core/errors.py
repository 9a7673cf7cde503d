"""Errors raised by loihi-snn.

Every error that comes from bad input says *where* (file, layer index, field)
and *what to do*, in one line, so the CLI can print it without a traceback.
"""
from __future__ import annotations

from typing import Optional


class LoihiSnnError(Exception):
    """Base class of every error loihi-snn raises on purpose."""


class NetxFormatError(LoihiSnnError, ValueError):
    """A NetX HDF5 file is missing, unreadable or inconsistent.

    Parameters
    ----------
    path : str
        the file being read.
    message : str
        what is wrong and, where possible, how to fix it.
    layer : int, optional
        index of the offending layer (``/layer/<i>`` in the file).
    field : str, optional
        name of the offending field inside that layer (e.g. ``weight`` or
        ``neuron/vThMant``).
    """

    def __init__(self, path: str, message: str, layer: Optional[int] = None,
                 field: Optional[str] = None) -> None:
        self.path = str(path)
        self.layer = layer
        self.field = field
        self.message = message
        where = f"{self.path}"
        if layer is not None:
            where += f": layer {layer}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class ShapeError(LoihiSnnError, ValueError):
    """An input array does not have the shape the network expects."""


class BackendError(LoihiSnnError, RuntimeError):
    """A backend is unknown or not available on this machine."""


class RunError(LoihiSnnError, RuntimeError):
    """A Lava run failed or timed out (the run was stopped cleanly)."""


class OptionError(LoihiSnnError, ValueError):
    """A run option is invalid: a step count, a timeout, an output path, a size limit."""


class OutputError(LoihiSnnError, OSError):
    """A result cannot be written (a folder in the way, a read-only place, a full disk).

    Raised before a run when the destination can be seen to be unusable, or when the
    write itself fails; either way nothing half-written is left and an existing file
    at the destination is unchanged.
    """
