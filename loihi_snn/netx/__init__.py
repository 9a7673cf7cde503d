"""NetX HDF5: read, validate, load into Lava (and, later, export).

- :func:`read_netx` -- parse and validate a file into :class:`NetSpec` (no Lava needed).
- :func:`load` -- build the Lava process graph (:class:`~loihi_snn.netx.blocks.Network`).
"""
from loihi_snn.netx.schema import LayerSpec, NetSpec, NeuronSpec, read_netx  # noqa: F401


def load(path, **options):
    """Load a NetX file as a Lava ``Network`` process; see :func:`loihi_snn.netx.loader.load`."""
    from loihi_snn.netx.loader import load as _load
    return _load(path, **options)
