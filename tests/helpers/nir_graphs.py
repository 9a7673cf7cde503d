"""Small NIR graphs in exact integers for the NIR tests (import after
``pytest.importorskip("nir")``; ``helpers/__init__`` does not import this module, so test
files without the optional ``nir`` package still collect)."""
from __future__ import annotations

import nir
import numpy as np

#: the time step the graphs are lowered at (1e-4 s, snnTorch's convention)
DT = 1e-4


def if_node(shape, thr):
    """Leak-free IF with gain 1 at DT (r dt = 1): v <- v + x, exact in integers."""
    return nir.IF(r=np.full(shape, 1 / DT), v_threshold=np.full(shape, float(thr)),
                  v_reset=np.zeros(shape))


def ints(rng, shape, lo=-10, hi=10, step=2):
    """Random multiples of ``step`` in [lo, hi] (float64), shape ``shape``."""
    return (rng.integers(lo // step, hi // step + 1, shape) * step).astype(np.float64)


def chain_graph(nodes, in_shape, out_shape):
    """Input -> ``nodes`` in order -> Output, unchecked types."""
    names = list(nodes)
    all_nodes = {"input": nir.Input(input_type=np.array(in_shape)), **nodes,
                 "output": nir.Output(output_type=np.array(out_shape))}
    seq = ["input"] + names + ["output"]
    return nir.NIRGraph(nodes=all_nodes, edges=list(zip(seq[:-1], seq[1:])), type_check=False)
