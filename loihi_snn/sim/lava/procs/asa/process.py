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
    :func:`loihi_snn.core.asa.apply_gate_fixed` (``fixed_pt``) or
    :func:`~loihi_snn.core.asa.apply_gate_float` (``floating_pt``).

    Parameters (integer mantissas, for both models; the keyword arguments are the
    dict of :func:`loihi_snn.core.asa.gate_params`, which the NetX schema returns)
    ---------------------------------------------------
    shape : (W, H, C)
        Lava order, as the conv synapse's ``a_out`` and the neuron's ``a_in``.
    split : str
        ``"static"`` (the set ``important``) or ``"adaptive"`` (per step, the top
        ``num_important`` channel scores of the current input; see
        :mod:`loihi_snn.core.asa`).
    important : array (C,)
        static: 1 for the important channels, 0 for the others (1..C-1 ones);
        adaptive: unused (may be omitted).
    num_important : int
        size k of the important set (default: the ones in ``important``).
    score_weight, score_bias : int arrays (C, 2C) and (C,)
        adaptive: the scoring layer over [mean_hw a_c, max_hw a_c], units 1/64 and
        1/4096 (default zeros).
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
    on ``a_in / 64`` (real scores and sigmoid), sending ``64 * Y``.
    """

    def __init__(self, *, shape: Tuple[int, int, int], weight_imp, bias_imp,
                 weight_sub, bias_sub, important=None, sigmoid_shift: int = af.SIGMOID_SHIFT,
                 split: str = "static", num_important: Optional[int] = None,
                 score_weight=None, score_bias=None, name: Optional[str] = None) -> None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(f"ASAGate needs a (W, H, C) shape, got {shape}")
        C = shape[2]
        if split == "adaptive" and score_bias is not None and np.asarray(score_bias).size != C:
            raise ValueError(f"score_bias has {np.asarray(score_bias).size} entries, "
                             f"expected {C} channels")
        p = af.gate_params(important=important, weight_imp=weight_imp, bias_imp=bias_imp,
                           weight_sub=weight_sub, bias_sub=bias_sub,
                           sigmoid_shift=sigmoid_shift, split=split,
                           num_important=num_important, score_weight=score_weight,
                           score_bias=score_bias)
        if p["important"].size != C:
            raise ValueError(f"important mask has {p['important'].size} entries, expected "
                             f"{C} channels")
        super().__init__(shape=shape, sigmoid_shift=p["sigmoid_shift"], split=p["split"],
                         num_important=p["num_important"], name=name)
        self.a_in = InPort(shape=shape)
        self.a_out = OutPort(shape=shape)
        self.important = Var(shape=(C,), init=p["important"])
        self.weight_imp = Var(shape=(2, 3, 3), init=p["weight_imp"])
        self.weight_sub = Var(shape=(2, 3, 3), init=p["weight_sub"])
        self.bias_imp = Var(shape=(1,), init=p["bias_imp"])
        self.bias_sub = Var(shape=(1,), init=p["bias_sub"])
        self.score_weight = Var(shape=(C, 2 * C), init=p["score_weight"])
        self.score_bias = Var(shape=(C,), init=p["score_bias"])
        self.sigmoid_table = Var(shape=(af.TABLE_SIZE,), init=af.sigmoid_table(sigmoid_shift))
