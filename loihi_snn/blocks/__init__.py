"""Layer blocks built on loihi_snn's neuron families (SLAYER-compatible)."""
from loihi_snn.blocks.lif import Conv, Dense, Flatten, Pool, Recurrent  # noqa: F401
from loihi_snn.blocks.asa import ASAConv, ASAGate  # noqa: F401,E402
