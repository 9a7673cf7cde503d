"""Lava block processes that a loaded NetX network is made of (models in models.py).

Each block is a hierarchical Lava process built by composition from lava's own
processes (``Dense``, ``DelayDense``, ``Conv``, ``LIF``, sigma-delta neurons) and our
process types; nothing in lava or lava-dl is patched.  A block exposes ``inp``
(what it receives) and ``out`` (what it sends), plus ``synapse``/``neuron``
attributes so that probes and resets can reach the state Vars.

All shapes here are in Lava's order, (W, H, C) or (N,).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.proc.conv.process import Conv as ConvSynapse
from lava.proc.dense.process import DelayDense as DelayDenseSynapse
from lava.proc.dense.process import Dense as DenseSynapse

from loihi_snn.core.constants import GRADED_MESSAGE_BITS, MAX_DELAY
from loihi_snn.sim.lava.procs.average.process import GroupSum
from loihi_snn.sim.lava.procs.gather.process import Gather


class Block(AbstractProcess):
    """Base of every layer block: ``inp``, ``out``, ``neuron``, ``synapse``.

    ``output_message_bits`` is 0 for binary spikes and >0 for graded output.
    ``kind`` names the NetX layer type the block was built from.
    """

    kind = "block"

    def __init__(self, *, shape: Tuple[int, ...], name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.shape = tuple(int(s) for s in shape)
        self.neuron: Optional[AbstractProcess] = None
        self.synapse: Optional[AbstractProcess] = None
        self.output_message_bits = 0

    def _finish(self, first: AbstractProcess, first_port: str, neuron: AbstractProcess,
                out_bits: int) -> None:
        """Create ``inp``/``out`` and wire them to the first child and the neuron."""
        child_in = getattr(first, first_port)
        self.inp = InPort(shape=child_in.shape)
        self.out = OutPort(shape=neuron.s_out.shape)
        self.inp.connect(child_in)
        neuron.s_out.connect(self.out)
        self.output_message_bits = out_bits


class InputBlock(Block):
    """Input layer: the neuron receives what is sent to ``inp`` on its ``a_in``.

    (Stock netx leaves its input block's port unconnected; here it is wired.)
    """

    kind = "input"

    def __init__(self, *, shape, neuron: AbstractProcess, out_bits: int = 0,
                 name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.neuron = neuron
        self._finish(neuron, "a_in", neuron, out_bits)


class DenseBlock(Block):
    """Fully connected synapse (optionally with axonal delays) plus neuron.

    ``weight`` is (out, in) integer mantissas, ``weight_exp`` the shared exponent;
    ``delay`` (out, in) integer steps or None; ``weight_rec`` (out, out) adds a
    recurrent synapse from the layer's own spikes (NetX ``dense_rec``).
    """

    kind = "dense"

    def __init__(self, *, shape, neuron: AbstractProcess, weight: np.ndarray,
                 weight_exp: int = 0, num_weight_bits: int = 8,
                 input_message_bits: int = 0, delay: Optional[np.ndarray] = None,
                 weight_rec: Optional[np.ndarray] = None, out_bits: int = 0,
                 name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        if delay is None:
            self.synapse = DenseSynapse(weights=weight, weight_exp=weight_exp,
                                        num_weight_bits=num_weight_bits,
                                        num_message_bits=input_message_bits)
        else:
            self.synapse = DelayDenseSynapse(weights=weight, delays=delay.astype(int),
                                             weight_exp=weight_exp, max_delay=MAX_DELAY,
                                             num_weight_bits=num_weight_bits,
                                             num_message_bits=input_message_bits)
        self.neuron = neuron
        self.synapse.a_out.connect(neuron.a_in)
        self.synapse_rec = None
        if weight_rec is not None:
            self.kind = "dense_rec"
            self.synapse_rec = DenseSynapse(weights=weight_rec, weight_exp=weight_exp,
                                            num_weight_bits=num_weight_bits,
                                            num_message_bits=out_bits)
            neuron.s_out.connect(self.synapse_rec.s_in)
            self.synapse_rec.a_out.connect(neuron.a_in)
        self._finish(self.synapse, "s_in", neuron, out_bits)


class ComplexDenseBlock(Block):
    """lava-dl netx's ``ComplexDense``: a real and an imaginary ``Dense`` synapse on the
    same input, into the neuron's ``a_real_in`` / ``a_imag_in`` (resonate-and-fire).
    ``weight_real`` / ``weight_imag`` are (out, in) mantissas, each with its own
    exponent and bits."""

    kind = "dense_comp"

    def __init__(self, *, shape, neuron: AbstractProcess, weight_real: np.ndarray,
                 weight_imag: np.ndarray, weight_exp_real: int = 0, weight_exp_imag: int = 0,
                 num_weight_bits_real: int = 8, num_weight_bits_imag: int = 8,
                 input_message_bits: int = 0, out_bits: int = 0,
                 name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.synapse = DenseSynapse(weights=weight_real, weight_exp=weight_exp_real,
                                    num_weight_bits=num_weight_bits_real,
                                    num_message_bits=input_message_bits)
        self.synapse_imag = DenseSynapse(weights=weight_imag, weight_exp=weight_exp_imag,
                                         num_weight_bits=num_weight_bits_imag,
                                         num_message_bits=input_message_bits)
        self.neuron = neuron
        self.synapse.a_out.connect(neuron.a_real_in)
        self.synapse_imag.a_out.connect(neuron.a_imag_in)
        self._finish(self.synapse, "s_in", neuron, out_bits)
        self.inp.connect(self.synapse_imag.s_in)


class ConvBlock(Block):
    """2-D convolution synapse plus neuron.

    ``weight`` is in Lava's layout (Cout, kW, kH, Cin/groups), already flipped the
    way lava-dl's netx flips SLAYER kernels.  ``kind`` is ``conv`` or ``pool``
    (a pool is a grouped conv with one shared kernel per channel).  An optional
    stateless ``gate`` process (ports ``a_in``/``a_out`` of the layer's shape, e.g.
    :class:`loihi_snn.sim.lava.procs.asa.process.ASAGate`) sits between synapse and neuron.
    """

    kind = "conv"

    def __init__(self, *, shape, neuron: AbstractProcess, weight: np.ndarray,
                 input_shape: Tuple[int, int, int], stride, padding, dilation,
                 groups: int = 1, input_message_bits: int = 0, out_bits: int = 0,
                 kind: str = "conv", gate: Optional[AbstractProcess] = None,
                 name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.kind = kind
        self.synapse = ConvSynapse(weight=weight, input_shape=tuple(input_shape),
                                   stride=stride, padding=padding, dilation=dilation,
                                   groups=groups, num_message_bits=input_message_bits)
        if tuple(self.synapse.output_shape) != tuple(self.shape):
            raise RuntimeError(f"conv output shape {self.synapse.output_shape} != "
                               f"layer shape {self.shape}")
        self.neuron = neuron
        self.gate = gate
        if gate is None:
            self.synapse.a_out.connect(neuron.a_in)
        else:
            self.synapse.a_out.connect(gate.a_in)
            gate.a_out.connect(neuron.a_in)
        self._finish(self.synapse, "s_in", neuron, out_bits)


class ConvTBlock(Block):
    """Transposed convolution (``convT``) or SLAYER ``unpool`` plus neuron: a stateless
    :class:`~loihi_snn.sim.lava.procs.gather.process.Gather` spreads the input over the
    stuffed map (no latency), lava's ``Conv`` (stride 1, no padding) sums it, the
    neuron integrates (:mod:`loihi_snn.netx.transposed` is the lowering).

    ``index`` is the gather in Lava order (:func:`~loihi_snn.netx.transposed.lava_index`),
    ``stuffed_shape`` / ``conv_shape`` the conv's input / output in Lava order, ``weight``
    the equivalent kernel in Lava's layout (Cout, kW, kH, Cin/groups).  For ``unpool`` the
    conv's output (W', C*H', 1) is unfolded into the layer's (W', H', C) by a reshape
    and a transpose of the connection.
    """

    kind = "convT"

    def __init__(self, *, shape, neuron: AbstractProcess, weight: np.ndarray,
                 input_shape: Tuple[int, int, int], index: np.ndarray,
                 stuffed_shape: Tuple[int, int, int], conv_shape: Tuple[int, int, int],
                 dilation, groups: int = 1, input_message_bits: int = 0, out_bits: int = 0,
                 kind: str = "convT", name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.kind = kind
        self.gather = Gather(in_shape=tuple(input_shape), out_shape=tuple(stuffed_shape),
                             index=index)
        self.synapse = ConvSynapse(weight=weight, input_shape=tuple(stuffed_shape),
                                   stride=np.array([1, 1]), padding=np.array([0, 0]),
                                   dilation=np.array(dilation), groups=groups,
                                   num_message_bits=input_message_bits)
        if tuple(self.synapse.output_shape) != tuple(conv_shape):
            raise RuntimeError(f"conv output shape {self.synapse.output_shape} != "
                               f"{tuple(conv_shape)}")
        self.neuron = neuron
        self.gather.a_out.connect(self.synapse.s_in)
        a_out = self.synapse.a_out
        if tuple(conv_shape) != tuple(self.shape):      # unpool: unfold the channels
            w, h, c = self.shape
            a_out = a_out.reshape((w, c, h)).transpose([0, 2, 1])
        a_out.connect(neuron.a_in)
        self._finish(self.gather, "a_in", neuron, out_bits)


class AverageBlock(Block):
    """Population average: sums each group of ``group_size`` consecutive inputs.

    Sends the group *sum* per step as a graded value (exact in fixed point); the
    average is that sum divided by ``group_size`` (``loihi_snn.run`` divides).
    """

    kind = "average"

    def __init__(self, *, shape, group_size: int, name: Optional[str] = None) -> None:
        super().__init__(shape=shape, name=name)
        self.group_size = int(group_size)
        self.neuron = GroupSum(num_outputs=int(np.prod(shape)), group_size=group_size)
        self._finish(self.neuron, "a_in", self.neuron, GRADED_MESSAGE_BITS)


class Network(AbstractProcess):
    """A loaded network: ``inp`` -> layers -> ``out``.

    Attributes
    ----------
    layers : list of Block
        one block per NetX layer that has a process (``flatten`` is a reshape of
        the connection and has none).
    in_layer, out_layer : Block
    spec : loihi_snn.netx.schema.NetSpec
        the validated file contents (shapes in file order).
    precision : str
        ``"fixed"`` (integer mantissas, run with fixed_pt) or ``"float"``.
    input_shape, output_shape : tuple
        shapes of ``inp``/``out`` in Lava order (W, H, C) / (N,).
    output_scale : float
        factor the runners apply to the output (the last ternary layer's amplitude).
    input_receivers : sequence of InPort
        more ports the input reaches besides the first block (the gathers of a
        ``concat`` that takes the raw input).
    """

    def __init__(self, *, layers, spec, precision: str, name: Optional[str] = None,
                 input_receivers=()) -> None:
        super().__init__(name=name or "Network")
        self.layers = list(layers)
        self.spec = spec
        self.precision = precision
        self.filename = spec.path
        self.in_layer = self.layers[0]
        self.out_layer = self.layers[-1]
        self.inp = InPort(shape=self.in_layer.inp.shape)
        self.out = OutPort(shape=self.out_layer.out.shape)
        self.inp.connect(self.in_layer.inp)
        for port in input_receivers:    # a concat's gather of the raw input (loader)
            self.inp.connect(port)
        self.out_layer.out.connect(self.out)
        self.input_shape = tuple(self.inp.shape)
        self.output_shape = tuple(self.out.shape)
        self.output_message_bits = self.out_layer.output_message_bits
        # amplitude of a ternary output layer (folded amplitudes have no next layer)
        ext = spec.extensions.get("loihi_snn", {}) if isinstance(spec.extensions, dict) else {}
        self.output_scale = float(ext.get("output_scale", 1.0))

    def __len__(self) -> int:
        return len(self.layers)
