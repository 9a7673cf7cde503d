"""Export SLAYER-style torch blocks (lava-dl's or ours) to NetX HDF5, atomically.

``export_blocks(blocks, path)`` writes any sequence of objects with an
``export_hdf5(group)`` method as ``/layer/<i>``, optionally preceded by a shape-only
input layer, folding ternary amplitudes into the next layer's weights first
(:mod:`loihi_snn.torch.fold`).  The file appears at ``path`` only when complete and
valid (:func:`loihi_snn.netx.export.atomic_h5`).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from loihi_snn.core.args import check_flag, check_path, check_shape, show
from loihi_snn.core.errors import LoihiSnnError, NetxFormatError, OptionError
from loihi_snn.core.paths import output_path
from loihi_snn.netx.export import atomic_h5, write_extension
from loihi_snn.netx.schema import read_netx
from loihi_snn.torch.fold import fold_amplitudes, has_ternary


def export_blocks(blocks: Sequence[Any], path: str, *, input_shape: Optional[Sequence[int]] = None,
                  extensions: Optional[Dict[str, Dict[str, Any]]] = None,
                  validate: bool = True) -> str:
    """Export a sequence of blocks to a NetX file, atomically.

    Parameters
    ----------
    blocks : sequence
        objects with ``export_hdf5(h5py.Group)``, e.g. lava-dl ``slayer.block.cuba.Dense``
        / ``Conv`` / ``Pool`` / ``Flatten`` / ``Affine`` blocks, in order.  Ternary
        amplitudes are folded into a copy first (:mod:`loihi_snn.torch.fold`); the
        last layer's amplitude is stored as ``/loihi_snn/output_scale``.
    path : str
        destination ``.net`` file.
    input_shape : sequence of int, optional
        (C, H, W) or (N,) of the network input; written as a shape-only ``input``
        layer (no neuron), which conv-first networks need.
    extensions : dict, optional
        top-level groups of our own (e.g. ``{"cutoff": {...}}``), ignored by stock netx.
    validate : bool
        re-read the written file with :func:`loihi_snn.netx.read_netx` before moving it
        into place, so an inconsistent export raises instead of producing a bad file.

    Returns
    -------
    str
        ``path``.

    SLAYER sets a block's shapes on its first forward pass: run the network once (any
    input of the right shape) before exporting, else this raises a one-line
    :class:`~loihi_snn.core.errors.OptionError` saying so.  Every argument is checked
    before anything is written (one line, one of the package's errors).
    """
    blocks = _check_blocks(blocks)
    given = path                  # returned as given (a str or a Path)
    path = output_path(check_path(path, "path"), ext=None)
    input_shape = check_shape(input_shape, "input_shape", ranks=(1, 3))
    validate = check_flag(validate, "validate")
    if extensions is not None and (not isinstance(extensions, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in extensions.items())):
        raise OptionError(f"extensions must be a dict of group names to dicts, e.g. "
                          f"{{'cutoff': {{...}}}}, got {show(extensions)}")
    extensions = dict(extensions or {})
    if has_ternary(blocks) and any(getattr(b, "export_layer_offset", False) for b in blocks):
        raise OptionError("ternary spikes (or learned amplitudes) with a Concat: folding an "
                          "amplitude into the next weights assumes one source per layer; "
                          "not supported yet")
    if has_ternary(blocks):
        blocks, output_scale = fold_amplitudes(blocks)
        if output_scale != 1.0:
            extensions["loihi_snn"] = dict(extensions.get("loihi_snn", {}),
                                           output_scale=output_scale)

    def check(tmp: str) -> None:
        try:
            read_netx(tmp)
        except NetxFormatError as exc:   # report the destination, not the temp name
            raise NetxFormatError(path, "export produced an invalid file, nothing was "
                                  "written: " + exc.message, exc.layer, exc.field) from None

    with atomic_h5(path, check if validate else None) as f:
        layer = f.create_group("layer")
        offset = 0
        if input_shape is not None:
            g = layer.create_group("0")
            g.create_dataset("type", (1,), "S10", [b"input"])
            g.create_dataset("shape", data=np.asarray(input_shape, dtype=np.int64))
            offset = 1
        for i, block in enumerate(blocks):
            _export_block(block, i, layer.create_group(str(i + offset)), offset)
        for name, data in extensions.items():
            write_extension(f, name, data)
    return given


def _check_blocks(blocks: Any) -> List[Any]:
    """``blocks`` as a non-empty list of objects with ``export_hdf5``; else OptionError."""
    if isinstance(blocks, (str, bytes, dict)) or not isinstance(blocks, Iterable):
        hint = " (pass net.blocks)" if hasattr(blocks, "blocks") else ""
        raise OptionError(f"blocks must be a sequence of SLAYER-style blocks{hint}, got "
                          f"{show(blocks)}")
    blocks = list(blocks)
    if not blocks:
        raise OptionError("blocks is empty: give the network's blocks, e.g. net.blocks")
    for i, block in enumerate(blocks):
        if not callable(getattr(block, "export_hdf5", None)):
            raise OptionError(f"block {i} ({type(block).__name__}) is not an exportable block: "
                              f"it has no export_hdf5 method (lava-dl slayer.block.* or "
                              f"loihi_snn.blocks.*)")
    return blocks


def _unset_shapes(block: Any) -> List[str]:
    """The lazily set shapes of a SLAYER block that are still None (before its first
    forward pass): its own ``shape`` (Flatten), its neuron's, and the neuron's sigma /
    delta parts (sigma-delta blocks; ``sigma_delta.Output`` sets only the sigma's)."""
    unset = []
    for where, obj in (("shape", block), ("neuron.shape", getattr(block, "neuron", None)),
                       ("neuron.sigma.shape", getattr(getattr(block, "neuron", None),
                                                      "sigma", None)),
                       ("neuron.delta.shape", getattr(getattr(block, "neuron", None),
                                                      "delta", None))):
        if obj is not None and hasattr(obj, "shape") and getattr(obj, "shape") is None:
            unset.append(where)
    return unset


def _export_block(block: Any, index: int, group, offset: int = 0) -> None:
    """``block.export_hdf5(group)``; a block not yet run (its shapes unset) raises one
    line saying to run one forward pass first (what SLAYER needs); any other failure of
    the block's own export propagates unchanged (nothing is written either way).  A block
    that names other layers (:class:`loihi_snn.torch.blocks.concat.Concat`, marked by
    ``export_layer_offset``) also gets ``layer_offset``: block j is file layer
    ``j + offset``."""
    try:
        if getattr(block, "export_layer_offset", False):
            block.export_hdf5(group, layer_offset=offset)
        else:
            block.export_hdf5(group)
    except LoihiSnnError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of a third-party export
        name = type(block).__name__
        unset = _unset_shapes(block)
        if unset:
            verb = "is" if len(unset) == 1 else "are"
            raise OptionError(f"block {index} ({name}) has no shape yet ({', '.join(unset)} "
                              f"{verb} None): SLAYER sets shapes on the first forward pass, "
                              f"so run the network once on any input of the right shape "
                              f"(e.g. net(x)) before exporting") from None
        raise
