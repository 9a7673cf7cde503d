"""ASAGate: the Lava side of a conv layer's ASA gate (NetX ``asa/`` group)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from loihi_snn.core import asa as af


class ASAGate(AbstractProcess):
    """Causal per-sample ASA gate between a conv synapse and its neurons.

    Stateless: what it receives on ``a_in`` at step t it sends, gated, on ``a_out`` at
    the same step t (no added latency), computed by
    :func:`loihi_snn.core.asa.asa_gate_fixed` (``fixed_pt``) or
    :func:`~loihi_snn.core.asa.asa_gate_float` (``floating_pt``).

    Parameters (all integer mantissas, for both models)
    ---------------------------------------------------
    shape : (W, H, C)
        Lava order, as the conv synapse's ``a_out`` and the neuron's ``a_in``.
    important : array (C,)
        1 for the important channels, 0 for the others (1..C-1 ones).
    weight_imp, weight_sub : int arrays (2, 3, 3) or (1, 2, 3, 3)
        map weights over [mean, max] in units of 1/64, in -256..255.
    bias_imp, bias_sub : int
        map biases in units of 1/4096.
    sigmoid_shift : int
        gain table shift (:func:`~loihi_snn.core.asa.sigmoid_table`).

    Ports
    -----
    a_in : (W, H, C) synaptic currents (fixed_pt: integers, hardware units; floating_pt:
        the same values as floats, i.e. 64 x weight units, as lava's float Conv sends).
    a_out : (W, H, C) gated currents, same units.

    The ``floating_pt`` model reads the same Vars and uses ``w / 64``, ``b / 4096``
    on ``a_in / 64`` (real sigmoid), sending ``64 * Y``.
    """

    def __init__(self, *, shape: Tuple[int, int, int], important, weight_imp, bias_imp,
                 weight_sub, bias_sub, sigmoid_shift: int = af.SIGMOID_SHIFT,
                 name: Optional[str] = None) -> None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"ASAGate needs a (W, H, C) shape, got {shape}")
        imp = af.check_important(important, shape[2]).astype(np.int32)
        super().__init__(shape=shape, sigmoid_shift=int(sigmoid_shift), name=name)
        self.a_in = InPort(shape=shape)
        self.a_out = OutPort(shape=shape)
        self.important = Var(shape=(shape[2],), init=imp)
        self.weight_imp = Var(shape=(2, 3, 3), init=np.asarray(weight_imp).reshape(2, 3, 3))
        self.weight_sub = Var(shape=(2, 3, 3), init=np.asarray(weight_sub).reshape(2, 3, 3))
        self.bias_imp = Var(shape=(1,), init=int(np.asarray(bias_imp).reshape(-1)[0]))
        self.bias_sub = Var(shape=(1,), init=int(np.asarray(bias_sub).reshape(-1)[0]))
        self.sigmoid_table = Var(shape=(af.TABLE_SIZE,), init=af.sigmoid_table(sigmoid_shift))
