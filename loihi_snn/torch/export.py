"""Export SLAYER-style torch blocks (lava-dl's or ours) to NetX HDF5, atomically.

``export_blocks(blocks, path)`` writes any sequence of objects with an
``export_hdf5(group)`` method as ``/layer/<i>``, optionally preceded by a shape-only
input layer, folding ternary amplitudes into the next layer's weights first
(:mod:`loihi_snn.torch.fold`).  The file appears at ``path`` only when complete and
valid (:func:`loihi_snn.netx.export.atomic_h5`).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence

import numpy as np

from loihi_snn.core.errors import NetxFormatError
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
    """
    extensions = dict(extensions or {})
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
            neuron = getattr(block, "neuron", None)
            if neuron is not None and getattr(neuron, "shape", 0) is None:
                raise ValueError(f"block {i} ({type(block).__name__}) has no shape yet: "
                                 f"SLAYER sets shapes on the first forward pass, so run one "
                                 f"forward pass (any input) before exporting")
            block.export_hdf5(layer.create_group(str(i + offset)))
        for name, data in extensions.items():
            write_extension(f, name, data)
    return path


def iter_blocks(module: Any) -> Iterable[Any]:
    """The exportable blocks of a SLAYER network: ``module.blocks`` if present."""
    blocks = getattr(module, "blocks", None)
    return list(blocks) if blocks is not None else [module]
