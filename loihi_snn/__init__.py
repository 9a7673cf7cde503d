"""loihi-snn: train spiking networks with lava-dl SLAYER, deploy them bit-exactly on Lava.

Public API (stable across internal moves; everything else is internal)
----------------------------------------------------------------------
- :func:`run` -- run a network (``.net`` path or loaded process) on one input, time last.
- :func:`run_many` -- many samples through one Lava run (or the emulator).
- :func:`run_cutoff` -- stream a test set through the cutoff controller, early exit per sample.
- :func:`emulate` -- bit-exact batched emulation of ``lava-fixed``, no Lava runtime.
- :func:`load` -- NetX HDF5 file -> Lava process (``Network``).
- :func:`read_netx` -- parse and validate a NetX file without Lava.
- :func:`export_blocks` -- write SLAYER-style blocks (ours or lava-dl's) to NetX.
- :func:`from_nir` / :func:`to_nir` -- NIR graphs (snnTorch, Norse, ...) to NetX and back.
- :mod:`metrics` -- what a deployment costs: NeuroBench's metrics (synaptic operations,
  activation and connection sparsity, membrane updates, footprint, latency, the Loihi 2
  estimate) measured on the bit-exact fixed-point run (``metrics.measure``).
- :mod:`blocks` -- ``Dense``, ``Conv``, ``Pool``, ``Recurrent``, ``Flatten``, ``ASAConv``.
- errors: :class:`LoihiSnnError` and its subclasses.

The attributes are resolved on first use, so ``import loihi_snn`` stays cheap (no torch,
no Lava).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from loihi_snn.core.errors import (  # noqa: F401
    BackendError, LoihiSnnError, NetxFormatError, OptionError, OutputError, RunError,
    ShapeError,
)

# public name -> (module, attribute); attribute None means the module itself
_PUBLIC = {
    "run": ("loihi_snn.sim.runtime.run", "run"),
    "run_many": ("loihi_snn.sim.runtime.stream", "run_many"),
    "run_cutoff": ("loihi_snn.sim.runtime.cutoff_run", "run_cutoff"),
    "emulate": ("loihi_snn.sim.emulator", "emulate"),
    "Emulator": ("loihi_snn.sim.emulator", "Emulator"),
    "load": ("loihi_snn.sim.lava.loader", "load"),
    "read_netx": ("loihi_snn.netx.schema", "read_netx"),
    "export_blocks": ("loihi_snn.torch.export", "export_blocks"),
    "blocks": ("loihi_snn.torch.blocks", None),
    "offline_cutoff": ("loihi_snn.core.cutoff", "offline_cutoff"),
    "calibrate": ("loihi_snn.core.cutoff", "calibrate"),
    "evaluate_file": ("loihi_snn.app.evaluation", "evaluate"),
    "metrics": ("loihi_snn.sim.metrics", None),
    "from_nir": ("loihi_snn.nir", "from_nir"),
    "to_nir": ("loihi_snn.nir", "to_nir"),
}

__all__ = sorted(_PUBLIC) + ["BackendError", "LoihiSnnError", "NetxFormatError",
                             "OptionError", "OutputError", "RunError", "ShapeError",
                             "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'loihi_snn' has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
