"""NIR (Neuromorphic Intermediate Representation) import and export.

- :func:`from_nir` -- a NIR graph (``.nir`` file or ``nir.NIRGraph``, e.g. from
  snnTorch's ``export_to_nir`` or Norse's ``to_nir``) -> a NetX ``.net`` file of our
  layers and neuron families, weights quantized to Loihi's 8-bit mantissa.
- :func:`check_import` -- the NIR graph in float (NIR's equations at ``dt``) beside the
  fixed-point network: prediction and per-layer spike agreement.
- :func:`to_nir` -- one of our NetX networks -> a ``nir.NIRGraph`` (and ``.nir`` file).

Needs the optional ``nir`` package (``pip install loihi-snn[nir]``).
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Optional

import numpy as np

from loihi_snn.core.args import check_path, is_path, show
from loihi_snn.core.lif import RESET_MODES
from loihi_snn.core.paths import output_path
from loihi_snn.netx.schema import LAYER_STARTS
from loihi_snn.nir.check import check_import  # noqa: F401
from loihi_snn.nir.export import to_nir  # noqa: F401
from loihi_snn.nir.graph import Chain, NirError, normalise  # noqa: F401
from loihi_snn.nir.lower import (DEFAULT_DT, check_layer_start, import_summary, lower_chain,
                                 write_netx)


def recorded_reset(chain: Chain) -> Optional[str]:
    """The reset mode the graph's neuron nodes record in ``metadata["loihi_snn.reset"]``
    (written by :func:`to_nir`; NIR itself has no reset mode), else None (not recorded,
    e.g. every snnTorch or Norse export)."""
    modes = {(getattr(s.neuron, "metadata", None) or {}).get("loihi_snn.reset")
             for s in chain.spiking_stages}
    return modes.pop() if len(modes) == 1 and None not in modes else None


def reset_from_metadata(chain: Chain) -> str:
    """:func:`recorded_reset`, else ``"hard"`` (NIR's ``v -> v_reset``)."""
    return recorded_reset(chain) or "hard"


def layer_start_from_metadata(chain: Chain) -> str:
    """The layer start the graph's neuron nodes record in
    ``metadata["loihi_snn.layer_start"]`` (written by :func:`to_nir`), else
    ``"first_input"`` (NIR's timing: every node starts with the input)."""
    starts = {(getattr(s.neuron, "metadata", None) or {}).get("loihi_snn.layer_start")
              for s in chain.spiking_stages}
    start = starts.pop() if len(starts) == 1 and None not in starts else "first_input"
    if start not in LAYER_STARTS:
        raise NirError(chain.source, f"metadata 'loihi_snn.layer_start' must be one of "
                                     f"{', '.join(LAYER_STARTS)}, got {start!r}",
                       chain.spiking_stages[0].neuron_name, "metadata")
    return start


def check_options(*, dt: Any = DEFAULT_DT, reset: Any = None, weight_bits: Any = 8,
                  layer_start: Any = None) -> None:
    """One-line NirError naming the option unless every import option is valid: ``dt`` a
    positive number of seconds, ``reset`` None or one of ``RESET_MODES``, ``weight_bits``
    an integer 2..8, ``layer_start`` None or one of ``LAYER_STARTS``."""
    def bad(name: str, what: str, value: Any) -> None:
        raise NirError("<options>", f"{name} must be {what}, got {show(value)}", None, name)

    if isinstance(dt, bool) or not isinstance(dt, (numbers.Real, np.floating)) or \
            not (np.isfinite(dt) and dt > 0):
        bad("dt", "a positive number of seconds (e.g. 1e-4, snnTorch's)", dt)
    if reset is not None and (not isinstance(reset, str) or reset not in RESET_MODES):
        bad("reset", f"one of {', '.join(RESET_MODES)} (or None: the mode recorded in the "
                     f"graph's metadata, else hard)", reset)
    if isinstance(weight_bits, bool) or not isinstance(weight_bits, (numbers.Integral,)) or \
            not 2 <= weight_bits <= 8:
        bad("weight_bits", "an integer from 2 to 8", weight_bits)
    if layer_start is not None:
        check_layer_start(layer_start)


def check_graph_argument(path_or_graph: Any) -> None:
    """NirError (one line) unless ``path_or_graph`` is a file name or a ``nir`` graph."""
    if is_path(path_or_graph) or hasattr(path_or_graph, "nodes"):
        return
    raise NirError("<argument>", f"path_or_graph must be a .nir file name or a "
                                 f"nir.NIRGraph, got {show(path_or_graph)}")


def from_nir(path_or_graph: Any, out: str, *, dt: float = DEFAULT_DT,
             reset: Optional[str] = None, weight_bits: int = 8,
             layer_start: Optional[str] = None) -> str:
    """Lower a NIR graph to a NetX file, validated and written atomically.

    Parameters
    ----------
    path_or_graph : str or nir.NIRGraph
        the ``.nir`` file or graph.
    out : str
        destination ``.net`` file (appears only when complete and valid).
    dt : float
        time step in seconds at which NIR's continuous-time neurons are discretised
        (default 1e-4, snnTorch's convention; Norse 1.1 files need ``dt_norse**2``).
    reset : {"hard", "soft", "none"}, optional
        reset after a spike: "hard" (NIR's v -> v_reset = 0; snnTorch's "zero"), "soft"
        (subtract the threshold; snnTorch's default "subtract", which NIR cannot record),
        "none".  Default: the mode :func:`to_nir` recorded in the neuron nodes'
        metadata, else "hard".
    weight_bits : int
        weight mantissa bits, 2..8 (Loihi: 8).
    layer_start : {"first_input", "step_1"}, optional
        written as the file's root attribute ``layer_start``.  Default: the value
        :func:`to_nir` recorded in the neuron nodes' metadata, else ``"first_input"``.
        ``"first_input"`` (NIR's timing): every runner (emulator, lava-fixed/-float, lava-fused,
        ``run_many``, ``run_cutoff``, :func:`check_import`) zeroes spiking layer ``i``
        once, at the step its first input arrives (``i + 1`` steps after the input, one
        per synapse), so a bias or ``v_leak`` starts acting with the layer's input, as in
        NIR; ``"step_1"``: every layer starts at Lava step 1 (a fresh run; a biased layer
        integrates ``i + 1`` steps before its input arrives).  No difference for a
        network without bias.  An explicit ``reset_interval`` given to a runner
        overrides it.

    Returns
    -------
    str
        ``out``.  The file's ``/nir`` group records the source, options, per-layer
        scales, ``output_delay`` (steps by which the output lags the NIR graph on Lava:
        one per layer) and notes on what was approximated.  Raises
        :class:`~loihi_snn.nir.graph.NirError` naming the node and field of anything
        without a Loihi form.
    """
    # every option, then the destination, before the graph is read
    check_options(dt=dt, reset=reset, weight_bits=weight_bits, layer_start=layer_start)
    check_graph_argument(path_or_graph)
    out = output_path(check_path(out, "out"), ext=None)
    chain = normalise(path_or_graph)
    reset = reset_from_metadata(chain) if reset is None else reset
    layer_start = layer_start_from_metadata(chain) if layer_start is None else layer_start
    layers = lower_chain(chain, dt=dt, reset=reset, weight_bits=weight_bits,
                         layer_start=layer_start)
    summary = import_summary(chain, layers, dt=dt, reset=reset, weight_bits=weight_bits)
    return write_netx(chain, layers, os.fspath(out), summary, layer_start=layer_start)


__all__ = ["from_nir", "to_nir", "check_import", "normalise", "NirError", "Chain"]
