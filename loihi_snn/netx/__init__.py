"""Layer 2: the NetX HDF5 format -- read and validate (``schema``), lower a file to the
integer per-layer plan shared by the Lava loader and the emulator (``lower``), write
(``export``), describe (``describe``: layer tables; ``resources``: Loihi 2 estimates and
limit checks).  Nothing here imports Lava.

- :func:`read_netx` -- parse and validate a file into :class:`NetSpec`.
"""
from loihi_snn.netx.schema import LayerSpec, NetSpec, NeuronSpec, read_netx  # noqa: F401
