"""Neuron families: one definition of the step arithmetic (dynamics.py) and the
SLAYER-compatible torch neurons built on it (lif.py)."""
from loihi_snn.neurons.dynamics import RESET_MODES, lif_fixed_step, lif_float_step  # noqa: F401
