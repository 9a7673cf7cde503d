"""Layer blocks built on loihi_snn's neuron families (SLAYER-compatible)."""
from loihi_snn.torch.blocks.layers import Conv, Dense, Flatten, Pool, Recurrent  # noqa: F401
from loihi_snn.torch.blocks.asa import ASAConv, ASAGate  # noqa: F401,E402
from loihi_snn.torch.blocks.concat import Concat, SkipNet  # noqa: F401,E402
