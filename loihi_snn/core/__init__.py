"""Layer 0: what Loihi 2 fixes, defined once -- constants, fixed-point primitives, the
LIF-family step, the ASA gate arithmetic, the Top-K cutoff rule, errors and metrics.

numpy (and torch where a function is given tensors) only: nothing here imports Lava or
lava-dl at import time.
"""
