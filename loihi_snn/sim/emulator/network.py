"""Batched, bit-exact emulation of a NetX network as the per-layer Lava graph runs it.

:class:`Emulator` compiles a :class:`~loihi_snn.netx.schema.NetSpec` into the same
chain of blocks :func:`loihi_snn.sim.lava.loader.load` builds (input neurons, Dense /
DelayDense / Conv synapses with their one-step latency, pool as a grouped conv,
flatten, ``average`` group sums, ``dense_rec`` recurrence, the reset schedule) and
steps it for a whole batch at once with numpy, without any Lava process.  The neuron
arithmetic is each layer's family step (:mod:`loihi_snn.families`; the LIF family ->
:func:`loihi_snn.core.lif.lif_fixed_step`); weights, kernels and biases come from
:mod:`loihi_snn.netx.lower`, as the Lava loader's do.

Layouts: everything is in the file's order, batch first: a layer's values have shape
``(N, *layer.shape)`` ((N, C, H, W) or (N, n)); whole runs are time last,
``(N, *shape, T)``.  Values are raw Loihi integers: ``float64`` arrays holding
integers by default (exact; the ``int64`` reference with ``arithmetic="int64"``), numpy
arrays, or torch tensors on ``device`` (:mod:`loihi_snn.sim.emulator.backend`).

Two ways to advance, with identical results: :meth:`Emulator.step` (one step of every
layer; the fused LoihiProtocol process calls it once per Lava time step) and
:meth:`Emulator.run_block` (T steps, layer by layer: each synapse handles the whole
block in one matmul/conv and only the neurons loop over time; :meth:`Emulator.run` and
the standalone fused process use it).  Both hold an :class:`EmulatorState`.

Exactness domain: results equal Lava's as long as Lava's own int32 message buffers do
not overflow, i.e. synaptic sums stay below 2**25 in magnitude (lava's LIF shifts
``a_in`` left by 6 bits in int32); Loihi's 24-bit state is far inside that range.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np

from loihi_snn import families
from loihi_snn.core.asa import apply_gate_fixed
from loihi_snn.core.constants import GRADED_MESSAGE_BITS
from loihi_snn.core.args import check_choice, check_flag, check_int, check_path, show
from loihi_snn.core.errors import BackendError, LoihiSnnError, NetxFormatError, ShapeError
from loihi_snn.core.forksafe import prepare_torch
from loihi_snn.families.base import NeuronStep
from loihi_snn.netx.lower import (bias_mantissa, complex_layer_weights, dense_layer_weights,
                                  is_graded, message_bits,
                                  output_transform, pool_kernel, reset_schedule, with_neuron)
from loihi_snn.netx.concat import concat_pieces, kept_layers
from loihi_snn.netx.schema import LayerSpec, NetSpec, input_transform, read_netx
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, lower_transposed
from loihi_snn.netx.inputs import check_input as check_input_values
from loihi_snn.netx.inputs import check_input_range
from loihi_snn.sim.emulator.backend import ARITHMETIC, make_backend
from loihi_snn.sim.emulator.synapses import ComplexSynapse, ConvSynapse, DenseSynapse
from loihi_snn.sim.emulator.transposed import StuffedConvSynapse


class UnsupportedByEmulator(LoihiSnnError, NotImplementedError):
    """A layer or neuron type the emulator cannot run (names file, layer and type)."""


def check_device(device: Any) -> Any:
    """``device`` when the emulator can run there -- None (numpy), ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` or a ``torch.device`` -- else a one-line BackendError (an unknown name,
    a CUDA device torch does not see)."""
    if device is None:
        return None
    import torch   # lazy: the numpy emulator (the default) does not need torch
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise BackendError(f"unknown device {show(device)} for the emulator; use None "
                           f"(numpy), 'cpu' or 'cuda'") from None
    if dev.type == "cuda":
        in_bad_fork = getattr(torch.cuda, "_is_in_bad_fork", lambda: False)()
        if not in_bad_fork:       # (a forked child is refused by the backend itself)
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise BackendError(f"device {show(device)}: torch sees no CUDA device on this "
                                   f"machine; use device=None (numpy) or 'cpu'")
            if dev.index is not None and dev.index >= count:
                raise BackendError(f"device {show(device)}: torch sees {count} CUDA "
                                   f"device(s), numbered from 0")
    elif dev.type != "cpu":
        raise BackendError(f"device {show(device)}: the emulator runs on None (numpy), "
                           f"'cpu' or 'cuda'")
    return device


#: the membrane of each neuron type, as an index into its state tuple: the voltage ``v`` of
#: the LIF family's ``(u, v)``, a sigma-delta neuron's first state (its sigma, or the
#: input layer's activation); other types: every state variable
MEMBRANE_STATE = {"CUBA": -1, "LOIHI": -1, "LIF": -1, "TERNARY": -1, "SDNN": 0}


def _membrane_changed(st: "_Stage", before: tuple, after: tuple, shape):
    """Where the membrane (:data:`MEMBRANE_STATE`) of a stage's neurons differs after a
    step from before it, a bool backend array of ``shape``: NeuroBench's membrane update
    (its ``MembraneUpdates`` compares an snnTorch neuron's ``mem`` before and after)."""
    k = MEMBRANE_STATE.get(with_neuron(st.layer).neuron.type)
    pairs = list(zip(before, after)) if k is None else [(before[k], after[k])]
    changed = None
    for b, a in pairs:
        d = (a != b).reshape(shape)
        changed = d if changed is None else (changed | d)
    return changed


class _Stage:
    """One block of the chain.  ``kind``: input | dense | conv | pool | average | flatten."""

    def __init__(self, kind: str, layer: LayerSpec, *, neuron: Optional[NeuronStep] = None,
                 synapse=None, synapse_rec=None, reset_phase: Optional[int] = None) -> None:
        self.kind = kind
        self.layer = layer
        self.shape = tuple(layer.shape)
        self.neuron = neuron
        self.synapse = synapse
        self.synapse_rec = synapse_rec
        self.reset_phase = reset_phase
        self.out_bits = neuron.out_bits if neuron is not None else (
            GRADED_MESSAGE_BITS if kind == "average" else 0)
        #: what the synapse sends per sample: (2, *shape) for a complex synapse
        self.a_shape = ((2,) if kind == "dense_comp" else ()) + self.shape


class EmulatorState:
    """Mutable state of one batch: neuron states, synapse buffers and the batch size.

    ``neurons[i]`` is the state tuple of stage i (or None), ``synapses[i]`` /
    ``synapses_rec[i]`` the buffers of its synapses (or None).
    """

    def __init__(self, batch: int, neurons: List, synapses: List, synapses_rec: List) -> None:
        self.batch = batch
        self.neurons = neurons
        self.synapses = synapses
        self.synapses_rec = synapses_rec


class Emulator:
    """A NetX network compiled for batched integer emulation.

    ``run`` processes a large batch in chunks of about ``CHUNK_ELEMENTS`` neurons per
    layer and steps in blocks of about ``BLOCK_ELEMENTS`` values per layer
    (``DEVICE_*`` on an accelerator); samples are independent, so results do not depend
    on either.  The synapses of
    a block of steps run as one GEMM / conv over (steps x samples); the neurons step
    through time with their family's arithmetic (:mod:`loihi_snn.core`).

    Parameters
    ----------
    spec : NetSpec or str
        a validated network (:func:`loihi_snn.netx.schema.read_netx`) or a path.
    input_message_bits : int
        as :func:`loihi_snn.load`: 0 when the input is binary spikes (a synapse
        fed by the input counts any non-zero value as one spike), >0 for graded input.
    reset_interval, reset_offset : int, optional
        as :func:`loihi_snn.load`: neuron block k (counting from 0) zeroes its
        state at the start of every step t with
        ``t % reset_interval == (reset_offset + 1 + k) % reset_interval``.  Without
        ``reset_interval``, a file with ``layer_start = "first_input"`` gets the
        schedule that zeroes each block once, at its first input step
        (:func:`loihi_snn.netx.lower.reset_schedule`); the attributes hold what is used.
    device : str or torch.device, optional
        None (default): numpy on the host.  ``"cpu"``, ``"cuda"``, ...: torch tensors on
        that device, the same arithmetic (bit-exact with the numpy path and Lava).
    arithmetic : {"float", "int64"}
        ``"float"`` (default): float64 state holding integers, synaptic sums in float32
        where a per-synapse bound proves them exact (float64 / int64 beyond);
        ``"int64"``: the integer reference path throughout.  Same results.

    Attributes
    ----------
    input_shape, output_shape : tuple
        file order, (C, H, W) or (n,).
    lava_input_shape, lava_output_shape : tuple
        shapes of the per-layer Lava ``Network``'s ``inp``/``out`` ports (Lava order).
    output_group_size : int or None
        group size when the last layer is ``average`` (its raw output is the group
        *sum*; divide by this for the population mean, as :func:`loihi_snn.run` does).
    output_scale : float
        factor the runners apply to the output (``/loihi_snn/output_scale``: the
        amplitude of a folded ternary output layer), 1.0 when absent.

    Raises
    ------
    UnsupportedByEmulator
        for a neuron type with no registered emulator step (message names file, layer
        and type).
    """

    # CPU: arrays of a few hundred kB stay in cache and are recycled by malloc (large
    # temporaries come from fresh pages, which a loaded machine makes slow); a network
    # with a layer of LARGE_LAYER neurons or more (DVS size) takes at least LARGE_CHUNK
    # samples and LARGE_BLOCK steps at once, so that its synapses' GEMM / conv runs over
    # enough rows (a 64x64 conv net: about 1.5x the samples/s); accelerators: large
    # arrays, few kernel launches
    CHUNK_ELEMENTS = 1 << 15
    BLOCK_ELEMENTS = 1 << 17
    LARGE_LAYER = 4096
    LARGE_CHUNK = 4
    LARGE_BLOCK = 32
    DEVICE_CHUNK_ELEMENTS = 1 << 24
    DEVICE_BLOCK_ELEMENTS = 1 << 26
    WORK_ARRAYS = 8         # arrays of a layer's size alive in a block (memory_estimate)

    def __init__(self, spec: Union[NetSpec, str, os.PathLike], *, input_message_bits: int = 0,
                 reset_interval: Optional[int] = None, reset_offset: int = 0,
                 device: Any = None, arithmetic: str = "float") -> None:
        # every argument is checked first: one line, one of the package's errors
        input_message_bits = check_int(input_message_bits, "input_message_bits", 0,
                                       GRADED_MESSAGE_BITS)
        reset_interval = check_int(reset_interval, "reset_interval", 1, allow_none=True)
        reset_offset = check_int(reset_offset, "reset_offset", None)
        arithmetic = check_choice(arithmetic, "arithmetic", ARITHMETIC)
        device = check_device(device)
        if not isinstance(spec, NetSpec):
            spec = read_netx(check_path(spec, "spec"))
        self.spec = spec
        self.xb = make_backend(device, arithmetic)
        self.device = self.xb.device
        self.arithmetic = self.xb.arithmetic
        self.input_message_bits = input_message_bits
        self.reset_interval, self.reset_offset = reset_schedule(spec, reset_interval,
                                                                reset_offset)
        self.stages: List[_Stage] = []
        self._compile(self.reset_offset)
        self.input_shape = tuple(spec.input_shape)
        self.output_shape = tuple(spec.output_shape)
        self.input_size = int(np.prod(self.input_shape))
        #: neurons of each stage with neurons, in order (the L of ``spike_counts``)
        self.neuron_layer_sizes = tuple(int(np.prod(st.shape)) for st in self.stages
                                        if st.neuron is not None)
        self._largest_layer = max([self.input_size] + [int(np.prod(st.shape))
                                                       for st in self.stages])
        first = self.stages[0]
        flat_in = first.kind == "dense" or len(first.layer.in_shape) == 1
        self.lava_input_shape = (self.input_size,) if flat_in else tuple(self.input_shape[::-1])
        self.lava_output_shape = tuple(self.output_shape[::-1])
        last = self.stages[-1]
        self.output_bits = last.out_bits
        self.output_group_size = (int(last.layer.fields["group_size"])
                                  if last.kind == "average" else None)
        ext = spec.extensions.get("loihi_snn", {}) if isinstance(spec.extensions, dict) else {}
        self.output_scale = float(ext.get("output_scale", 1.0))

    # ------------------------------------------------------------------ compile
    def _neuron(self, layer: LayerSpec, is_input: bool) -> NeuronStep:
        layer = with_neuron(layer)
        ntype = layer.neuron.type
        family = families.get(ntype)
        if family is None or family.emulator_step is None:
            supported = sorted(t for t, f in families.FAMILIES.items() if f.emulator_step)
            raise UnsupportedByEmulator(
                f"{self.spec.path}: layer {layer.index}: neuron type '{ntype}' has no "
                f"emulator step (supported: {', '.join(supported)}); run it with "
                f"backend 'lava-fixed'")
        bias = bias_mantissa(layer)
        if bias is not None:        # in the backend's state form (core takes either)
            bias = self.xb.asarray(np.asarray(bias, np.int64)).to(self.xb.state) \
                if self.xb.is_torch else np.asarray(bias).astype(self.xb.state)
        return family.emulator_step(layer, bias, is_input)

    def _compile(self, reset_offset: int) -> None:
        in_bits = self.input_message_bits
        phase = reset_offset + 1                # lava time starts at 1, as the loader
        #: layers whose outputs a later concat takes (netx/concat.py), and their bits
        self.keep = set(kept_layers(self.spec))
        bits_of = {0: self.input_message_bits}  # (layer 0: the raw input when shape-only)
        for layer in self.spec.layers:
            ltype = layer.type
            if ltype == "flatten":
                continue                        # C-order reshape: consumers reshape
            if ltype == "concat":               # no neurons, no latency: the kept outputs
                stage = _Stage("concat", layer)
                stage.pieces = [(k, size) for k, _off, size in concat_pieces(self.spec, layer)]
                self.stages.append(stage)
                in_bits = max(bits_of[k] for k, _ in stage.pieces)
                stage.out_bits = in_bits
                continue
            if ltype == "input":
                if layer.neuron is None:
                    continue
                stage = _Stage("input", layer, neuron=self._neuron(layer, True))
            elif "weight_imag" in layer.fields:      # complex dense (RF neurons)
                neuron = self._neuron(layer, False)
                (w_r, b_r, e_r), (w_i, b_i, e_i) = complex_layer_weights(layer, "fixed")
                syn = ComplexSynapse(DenseSynapse(w_r, b_r, e_r, binary=in_bits == 0,
                                                  backend=self.xb),
                                     DenseSynapse(w_i, b_i, e_i, binary=in_bits == 0,
                                                  backend=self.xb))
                stage = _Stage("dense_comp", layer, neuron=neuron, synapse=syn)
            elif ltype in ("dense", "dense_rec"):
                neuron = self._neuron(layer, False)
                w, wr, bits, exp = dense_layer_weights(layer, "fixed")
                syn = DenseSynapse(w, bits, exp, binary=in_bits == 0,
                                   delay=layer.fields.get("delay"), backend=self.xb)
                rec = (DenseSynapse(wr, bits, exp, binary=neuron.out_bits == 0, backend=self.xb)
                       if wr is not None else None)
                stage = _Stage("dense", layer, neuron=neuron, synapse=syn, synapse_rec=rec)
            elif ltype in ("conv", "pool"):
                neuron = self._neuron(layer, False)
                f = layer.fields
                if ltype == "conv":
                    weight, groups = f["weight"], f["groups"]
                else:
                    weight, groups = pool_kernel(layer), layer.shape[0]
                syn = ConvSynapse(weight, layer.in_shape, layer.shape, f["stride"], f["padding"],
                                  f["dilation"], groups, binary=in_bits == 0, backend=self.xb)
                stage = _Stage(ltype, layer, neuron=neuron, synapse=syn)
            elif ltype in TRANSPOSED_TYPES:     # convT / unpool: gather + conv
                syn = StuffedConvSynapse(lower_transposed(layer), binary=in_bits == 0,
                                         backend=self.xb)
                stage = _Stage(ltype, layer, neuron=self._neuron(layer, False), synapse=syn)
            elif ltype == "average":
                stage = _Stage("average", layer)
            else:   # pragma: no cover - the schema rejects unknown types
                raise UnsupportedByEmulator(f"{self.spec.path}: layer {layer.index}: layer "
                                            f"type '{ltype}' is not supported by the emulator")
            if stage.neuron is not None:
                stage.reset_phase = phase
                phase += 1
            self.stages.append(stage)
            in_bits = stage.out_bits
            bits_of[layer.index] = in_bits
        if not self.stages:
            raise NetxFormatError(self.spec.path, "the network has no layer with neurons or "
                                  "synapses", field="layer")

    # ------------------------------------------------------------------ stepping
    def _zero_neurons(self, st: _Stage, shape) -> tuple:
        """Zero state of a stage's neurons (backend state dtype)."""
        return tuple(self.xb.zeros(tuple(shape)) for _ in range(st.neuron.num_states))

    def _gate(self, st: _Stage, a_in):
        """The stateless ASA gate between a conv synapse and its neurons (or ``a_in``)."""
        gate = st.layer.fields.get("asa") if st.kind == "conv" else None
        if gate is None:
            return a_in
        a = self.xb.cast(a_in, self.xb.int64)     # the gate is integer arithmetic
        a = apply_gate_fixed(a, gate)             # static or adaptive split
        return self.xb.cast(a, self.xb.state)

    def init_state(self, batch: int) -> EmulatorState:
        """Fresh (all-zero) state for ``batch`` samples, as a Lava run starts."""
        neurons, syns, recs = [], [], []
        for st in self.stages:
            neurons.append(self._zero_neurons(st, (batch,) + st.shape) if st.neuron else None)
            syns.append(st.synapse.init_state(batch) if st.synapse is not None else None)
            recs.append(st.synapse_rec.init_state(batch) if st.synapse_rec is not None else None)
        return EmulatorState(batch, neurons, syns, recs)

    def step(self, state: EmulatorState, x: np.ndarray, time_step: int) -> np.ndarray:
        """Advance every layer by one time step (``state`` is updated in place).

        Parameters
        ----------
        state : EmulatorState
        x : np.ndarray (or a tensor of the torch backend)
            network input at this step, (N, *input_shape) or (N, input_size), file
            order, integers (spikes or graded values).
        time_step : int
            Lava's ``time_step`` of this step (the first step is 1); only the reset
            schedule uses it.

        Returns
        -------
        np.ndarray
            what the last layer sends at this step, (N, *output_shape): spikes (bool)
            or graded integers; for an ``average`` last layer the group *sums* (backend
            arrays: numpy, or torch tensors on ``device``).
        """
        prepare_torch()          # a forked Lava process model: see core.forksafe
        sig = self.xb.asarray(x)
        n = state.batch
        interval = self.reset_interval
        kept = {0: sig} if 0 in self.keep else {}
        for i, st in enumerate(self.stages):
            if st.kind == "concat":
                sig = self._concat(st, kept, (n,))
                continue
            if st.kind == "average":
                sig = self.xb.sum_last(sig.reshape(n, st.shape[0], -1))
                continue
            if st.kind == "input":
                a_in = self.xb.cast(sig.reshape((n,) + st.shape), self.xb.state)
            else:
                syn_state = state.synapses[i]
                a_in = st.synapse.send(syn_state).reshape((n,) + st.a_shape)
                st.synapse.receive(syn_state, sig)
                a_in = self._gate(st, a_in)     # stateless ASA gate between synapse and neuron
                if st.synapse_rec is not None:
                    a_in = a_in + st.synapse_rec.send(state.synapses_rec[i]).reshape(a_in.shape)
            nstate = state.neurons[i]
            if (interval is not None and st.neuron.resettable
                    and time_step % interval == st.reset_phase % interval):
                nstate = self._zero_neurons(st, (n,) + st.shape)
            sig, nstate = st.neuron.step(nstate, a_in)
            state.neurons[i] = nstate
            if st.synapse_rec is not None:
                st.synapse_rec.receive(state.synapses_rec[i], sig)
            if st.layer.index in self.keep:
                kept[st.layer.index] = sig
        return sig

    def _concat(self, st: _Stage, kept: dict, lead: Tuple[int, ...]):
        """A concat stage: the kept outputs of its sources, each flattened per sample
        (C-order, file order), joined, shaped ``lead + st.shape``; binary spikes stay
        spikes when every source is binary, else everything is in the state dtype."""
        xb = self.xb
        parts = [kept[k].reshape(lead + (size,)) for k, size in st.pieces]
        if st.out_bits or len({xb.dtype_of(p) for p in parts}) > 1:
            parts = [xb.cast(p, xb.state) for p in parts]
        return xb.concat(parts, axis=len(lead)).reshape(lead + st.shape)

    def run_block(self, state: EmulatorState, x: np.ndarray, time_step: int,
                  counts: Optional[np.ndarray] = None, observe: Optional[Callable] = None,
                  updates: Optional[np.ndarray] = None) -> np.ndarray:
        """Advance every layer by T steps at once: exactly T calls of :meth:`step`.

        The network is a chain of stages whose only feedback is inside a stage
        (``dense_rec``), so a whole block of steps can go layer by layer: each
        synapse turns the block's input into the block's sends in one matmul/conv over
        (T * N) samples, and only the neurons (and a recurrent synapse) loop over time.
        That removes almost all per-step work but the neuron arithmetic itself.

        Parameters
        ----------
        state : EmulatorState
            updated in place, as after the last of the T steps.
        x : np.ndarray (or a tensor of the torch backend)
            (T, N, *input_shape) or (T, N, input_size): the input of each step, file
            order, time first.
        time_step : int
            Lava time step of the first step of the block (1 for a fresh run).
        counts : np.ndarray, optional
            (L, T, N) int64, filled with the non-zero outputs (spikes of either sign)
            of each of the L stages with neurons (``neuron_layer_sizes``) at each step.
        observe : callable, optional
            ``observe(layer, out)`` is called with every stage with neurons' outputs of
            the block, ``out`` (T, N, *shape) (a backend array), ``layer`` counting the
            stages with neurons from 0 (what :mod:`loihi_snn.sim.metrics` measures).
        updates : np.ndarray, optional
            (L, T, N) int64, filled with the number of neurons of each stage with
            neurons whose membrane (:data:`MEMBRANE_STATE`) changed at each step.

        Returns
        -------
        np.ndarray (or tensor)
            (T, N, *output_shape): what :meth:`step` returns at each step.
        """
        prepare_torch()          # a forked Lava process model: see core.forksafe
        xb = self.xb
        T, n = int(x.shape[0]), state.batch
        sig = xb.asarray(x)
        interval = self.reset_interval
        kept = {0: sig} if 0 in self.keep else {}
        layer = 0
        for i, st in enumerate(self.stages):
            if st.kind == "concat":
                sig = self._concat(st, kept, (T, n))
                continue
            if st.kind == "average":
                sig = xb.sum_last(sig.reshape(T, n, st.shape[0], -1))
                continue
            if st.kind == "input":
                a_all = xb.cast(sig.reshape((T, n) + st.shape), xb.state)
            else:
                a_all = st.synapse.run_block(state.synapses[i], sig).reshape((T, n) + st.a_shape)
                a_all = self._gate(st, a_all)       # stateless ASA gate: all steps at once
            nstate = state.neurons[i]
            step = st.neuron.step
            rec = st.synapse_rec
            resets = (interval is not None and st.neuron.resettable)
            phase = st.reset_phase % interval if resets else -1
            out = changed = None
            if st.neuron.run is not None and rec is None and updates is None:
                # the family's block form, in segments between scheduled resets
                out, nstate = self._run_segments(st, nstate, a_all, time_step, phase
                                                 if resets else None)
                T_done = T
            else:
                T_done = 0
            for t in range(T_done, T):
                a_in = a_all[t]
                if rec is not None:
                    a_in = a_in + rec.send(state.synapses_rec[i]).reshape(a_in.shape)
                before = nstate
                if resets and (time_step + t) % interval == phase:
                    nstate = self._zero_neurons(st, (n,) + st.shape)
                s_t, nstate = step(nstate, a_in)
                if rec is not None:
                    rec.receive(state.synapses_rec[i], s_t)
                if out is None:
                    out = xb.empty((T,) + tuple(s_t.shape), xb.dtype_of(s_t))
                out[t] = s_t
                if updates is not None:
                    if changed is None:
                        changed = xb.empty((T, n) + st.shape, xb.bool)
                    changed[t] = _membrane_changed(st, before, nstate, (n,) + st.shape)
            state.neurons[i] = nstate
            sig = out
            if st.layer.index in self.keep:
                kept[st.layer.index] = sig
            if counts is not None:
                counts[layer] = xb.to_numpy(xb.count_nonzero_last(out))
            if updates is not None:
                updates[layer] = xb.to_numpy(xb.count_nonzero_last(changed))
            if observe is not None:
                observe(layer, out)
            layer += 1
        return sig

    def _run_segments(self, st: _Stage, nstate: tuple, a_all, time_step: int,
                      phase: Optional[int]):
        """A stage's neurons over a block with their family's ``run`` (T steps at once),
        split where the reset schedule zeroes the state: ``(out (T, N, ...), state)``."""
        T, n = int(a_all.shape[0]), int(a_all.shape[1])
        starts = [0]
        if phase is not None:
            interval = self.reset_interval
            starts += [t for t in range(1, T) if (time_step + t) % interval == phase]
        if phase is not None and time_step % self.reset_interval == phase:
            nstate = self._zero_neurons(st, (n,) + st.shape)
        if len(starts) == 1:
            return st.neuron.run(nstate, a_all)
        pieces = []
        for k, t0 in enumerate(starts):
            t1 = starts[k + 1] if k + 1 < len(starts) else T
            if t0:
                nstate = self._zero_neurons(st, (n,) + st.shape)
            s, nstate = st.neuron.run(nstate, a_all[t0:t1])
            pieces.append(s)
        return self.xb.concat(pieces), nstate

    def run(self, x: np.ndarray, steps: Optional[int] = None,
            state: Optional[EmulatorState] = None,
            spike_counts: Optional[np.ndarray] = None, observe: Optional[Callable] = None,
            state_updates: Optional[np.ndarray] = None) -> np.ndarray:
        """Run a batch from a fresh state (or ``state``) and return the raw output.

        ``x`` is what the network's input port receives (no host-side input scaling,
        see :func:`emulate`).

        Parameters
        ----------
        x : np.ndarray
            (N, *input_shape, T) or (N, input_size, T), file order, time last,
            integer values.  Steps beyond T get zero input.
        steps : int, optional
            number of steps (default T).
        state : EmulatorState, optional
            continue from this state (time steps then restart at 1, and so does the
            reset schedule, e.g. a ``first_input`` file's).
        spike_counts : np.ndarray, optional
            (L, N, steps) int64, filled with the non-zero outputs of each of the L
            stages with neurons (``neuron_layer_sizes``) per sample and step.
        observe : callable, optional
            ``observe(layer, samples, t0, out)``: every stage with neurons' outputs,
            ``out`` (T_block, n, *shape) a backend array, for the samples ``samples``
            (a slice of the batch) at steps ``t0 .. t0 + T_block - 1`` (from 0).
        state_updates : np.ndarray, optional
            (L, N, steps) int64, filled with the number of neurons of each stage with
            neurons whose membrane changed, per sample and step (see :meth:`run_block`).

        Returns
        -------
        np.ndarray
            (N, *output_shape, steps), ``int32`` (spikes 0/1 or graded integers;
            group sums for an ``average`` last layer).
        """
        x = self.check_input(x)
        N, T = x.shape[0], x.shape[-1]
        steps = T if steps is None else check_int(steps, "steps", 1)
        if state is not None and state.batch != N:
            raise ShapeError(f"state is for a batch of {state.batch}, input has {N} samples")
        out = np.empty((N,) + self.output_shape + (steps,), dtype=np.int32)
        # fresh runs go in chunks of samples whose arrays stay cache-sized, each run in
        # blocks of steps layer by layer (samples are independent and run_block equals
        # step by step, so chunking changes nothing but speed)
        chunk = N if state is not None else self.chunk_samples()
        for i in range(0, N, chunk):
            part = state if state is not None else self.init_state(min(chunk, N - i))
            xt = np.ascontiguousarray(np.moveaxis(x[i:i + chunk], -1, 0))  # (T, n, ...)
            if steps > T:
                xt = np.concatenate([xt, np.zeros((steps - T,) + xt.shape[1:], xt.dtype)])
            xt = self.xb.asarray(xt)
            o = np.empty((steps, part.batch) + self.output_shape, dtype=np.int32)
            block = self.block_steps(part.batch)
            c = u = obs = None
            rows = slice(i, i + part.batch)
            for t in range(0, steps, block):
                shape = (len(self.neuron_layer_sizes), min(block, steps - t), part.batch)
                if spike_counts is not None:
                    c = np.empty(shape, dtype=np.int64)
                if state_updates is not None:
                    u = np.empty(shape, dtype=np.int64)
                if observe is not None:
                    def obs(layer, out, t0=t):
                        observe(layer, rows, t0, out)
                o[t:t + block] = self.xb.to_numpy(self.run_block(part, xt[t:t + block], t + 1, c,
                                                                 obs, u))
                if c is not None:
                    spike_counts[:, rows, t:t + block] = c.transpose(0, 2, 1)
                if u is not None:
                    state_updates[:, rows, t:t + block] = u.transpose(0, 2, 1)
            out[i:i + chunk] = np.moveaxis(o, 0, -1)
        return out

    def memory_estimate(self, batch: int, steps: int) -> int:
        """Bytes :meth:`run` needs beyond its input for ``batch`` samples of ``steps``
        steps (an upper estimate, printed by the bench and checked by :func:`emulate`
        before it starts): the time-major copy of one chunk's input and its output,
        the output of the whole batch, and for one chunk and block of steps every
        layer's state, synapse buffers and temporaries (8 bytes a value, about
        ``WORK_ARRAYS`` arrays per layer).  Memory does not grow with ``steps`` beyond
        the input and output: ``run`` goes in chunks of samples and blocks of steps."""
        batch, steps = check_int(batch, "batch", 1), check_int(steps, "steps", 1)
        chunk = min(batch, self.chunk_samples())
        block = min(steps, self.block_steps(chunk))
        layers = sum(int(np.prod(st.shape)) for st in self.stages) + self.input_size
        out = int(np.prod(self.output_shape))
        per_chunk = chunk * steps * (self.input_size + 2 * out) * 8
        per_block = chunk * block * layers * 8 * self.WORK_ARRAYS
        return int(batch * out * steps * 4 + per_chunk + per_block)

    def chunk_samples(self) -> int:
        """Samples :meth:`run` advances together: about ``CHUNK_ELEMENTS`` neurons per
        layer array (at least ``LARGE_CHUNK`` on the CPU with a DVS-size layer)."""
        chunk = max(1, self._elements()[0] // self._largest_layer)
        if self._large_on_cpu():
            chunk = max(chunk, self.LARGE_CHUNK)
        return chunk

    def block_steps(self, batch: int) -> int:
        """Steps per :meth:`run_block` call for ``batch`` samples: about
        ``BLOCK_ELEMENTS`` values per layer array (at least ``LARGE_BLOCK`` steps on the
        CPU with a DVS-size layer)."""
        steps = max(1, self._elements()[1] // (batch * self._largest_layer))
        if self._large_on_cpu():
            steps = max(steps, self.LARGE_BLOCK)
        return steps

    def _large_on_cpu(self) -> bool:
        return self._largest_layer >= self.LARGE_LAYER and \
            (self.device is None or self.device.type == "cpu")

    def _elements(self):
        """(chunk, block) element budgets of this backend's device."""
        if self.device is not None and self.device.type != "cpu":
            return self.DEVICE_CHUNK_ELEMENTS, self.DEVICE_BLOCK_ELEMENTS
        return self.CHUNK_ELEMENTS, self.BLOCK_ELEMENTS

    def check_input(self, x: Any) -> np.ndarray:
        """Validate a batch (N, *input_shape, T): shape, finiteness, integer values."""
        x = np.asarray(x)
        shape = tuple(x.shape[1:-1])
        if x.ndim < 3 or not (shape == self.input_shape or shape == (self.input_size,)):
            raise ShapeError(f"{self.spec.path}: input of shape {x.shape} does not match "
                             f"(N, {', '.join(map(str, self.input_shape))}, T): batch first, "
                             f"file order, time last")
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)):
                raise ShapeError("input contains NaN or infinite values")
            if not np.all(x == np.round(x)):
                raise ShapeError("the emulator needs integer input (spikes or graded "
                                 "integers); scale and round real-valued input first")
        elif x.dtype.kind not in "biu":
            raise ShapeError(f"input must be numeric, got dtype {x.dtype}")
        if x.dtype.kind == "f" or x.dtype == np.uint64:
            x = x.astype(np.int64)
        return x


#: compiled emulators of recent ``emulate(path, ...)`` calls, keyed by the file's
#: identity (real path, mtime, size) and the options: a repeated call does not rebuild
def _available_memory() -> Optional[int]:
    """MemAvailable of /proc/meminfo in bytes (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(emu: "Emulator", batch: int, steps: int) -> int:
    """:meth:`Emulator.memory_estimate` of the run, or a one-line ShapeError before
    anything is allocated when it exceeds the memory available (host runs only)."""
    need = emu.memory_estimate(batch, steps)
    free = _available_memory() if emu.device is None or emu.device.type == "cpu" else None
    if free is not None and need > free:
        raise ShapeError(f"{emu.spec.path}: emulating {batch} samples of {steps} steps needs "
                         f"about {need / 2**30:.2f} GiB, more than the {free / 2**30:.2f} GiB "
                         f"available; pass fewer samples per call or fewer steps")
    return need


_CACHE: "OrderedDict[tuple, Emulator]" = OrderedDict()
CACHE_SIZE = 8


def cached_emulator(path_or_spec: Union[str, os.PathLike, NetSpec], **options) -> Emulator:
    """An :class:`Emulator` for a file, reused while the file is unchanged.

    ``options`` are :class:`Emulator`'s keywords.  A file is identified by its real
    path, modification time and size, so an edited or replaced file is compiled
    again; a :class:`NetSpec` (which may be changed in memory) is never cached.
    """
    if isinstance(path_or_spec, NetSpec):
        return Emulator(path_or_spec, **options)
    path = os.path.realpath(os.fspath(path_or_spec))
    try:
        st = os.stat(path)
    except OSError:
        return Emulator(path_or_spec, **options)    # read_netx reports the missing file
    key = (path, st.st_mtime_ns, st.st_size,
           tuple(sorted((k, str(v)) for k, v in options.items())))
    emu = _CACHE.get(key)
    if emu is None:
        emu = Emulator(path_or_spec, **options)
        _CACHE[key] = emu
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return emu


def prepare_emulation(path_or_spec: Union[str, os.PathLike, NetSpec], x_batch: Any,
                      steps: Optional[int] = None, *, input_message_bits: Optional[int] = None,
                      reset_interval: Optional[int] = None, reset_offset: int = 0,
                      device: Any = None, arithmetic: str = "float"
                      ) -> Tuple["Emulator", np.ndarray, Optional[int]]:
    """What :func:`emulate` does before it runs: ``(emulator, x, steps)`` with ``x`` what
    the network's input port receives (:meth:`Emulator.run` takes it), ``steps`` checked.

    The arguments (as :func:`emulate` takes them), then the input boundary every runner
    shares (:mod:`loihi_snn.netx.inputs`): dtype, rank, integer values within the graded
    payload, the network's input shape and the largest graded value it takes -- as run,
    run_many and run_cutoff check it; the host-side input scaling; the memory check.
    """
    if not isinstance(path_or_spec, NetSpec):
        path_or_spec = check_path(path_or_spec, "path_or_spec")
    steps = check_int(steps, "steps", 1, allow_none=True)
    input_message_bits = check_int(input_message_bits, "input_message_bits", 0,
                                   GRADED_MESSAGE_BITS, allow_none=True)
    reset_interval = check_int(reset_interval, "reset_interval", 1, allow_none=True)
    reset_offset = check_int(reset_offset, "reset_offset", None)
    where = path_or_spec.path if isinstance(path_or_spec, NetSpec) else path_or_spec
    x = check_input_values(x_batch, path=where, batch=True)
    if input_message_bits is None:
        input_message_bits = message_bits(is_graded(x))
    emu = cached_emulator(path_or_spec, input_message_bits=input_message_bits,
                          reset_interval=reset_interval, reset_offset=reset_offset,
                          device=device, arithmetic=arithmetic)
    x = emu.check_input(x)                # the network's input shape
    check_input_range(emu.spec, x)        # the graded limit that keeps lava-fixed exact
    x = input_transform(emu.spec, x)      # the host-side input scaling every runner applies
    check_memory(emu, x.shape[0], x.shape[-1] if steps is None else steps)
    return emu, x, steps


def emulate(path_or_spec: Union[str, os.PathLike, NetSpec], x_batch: np.ndarray,
            steps: Optional[int] = None, *, input_message_bits: Optional[int] = None,
            reset_interval: Optional[int] = None, reset_offset: int = 0,
            return_spike_counts: bool = False, device: Any = None, arithmetic: str = "float"):
    """Run a NetX network on a batch of inputs, bit-exactly as per-layer Lava fixed_pt.

    ``emulate(path, X)[i]`` equals ``loihi_snn.run(path, X[i])`` (backend
    ``lava-fixed``) for every sample i, spike for spike, without starting Lava.  Like
    ``run`` it applies the host-side input scaling of an input layer with neurons
    (:func:`loihi_snn.netx.schema.input_transform`); :meth:`Emulator.run` does not (it
    takes what the Lava input port receives).

    Parameters
    ----------
    path_or_spec : str or NetSpec
        NetX ``.net`` file or a validated :class:`~loihi_snn.netx.schema.NetSpec`.
    x_batch : np.ndarray
        (N, *input_shape, T) in file order ((N, C, H, W, T) or (N, n, T)), time last;
        binary spikes or integer graded values.
    steps : int, optional
        number of time steps (default T; input beyond T is zero).
    input_message_bits : int, optional
        0 = binary input, >0 = graded; default as :func:`loihi_snn.run`: graded
        (24 bits) when any value is not 0/1.
    reset_interval, reset_offset : int, optional
        the loader's reset schedule (see :class:`Emulator`); by default none, or the
        first-input start a file with ``layer_start = "first_input"`` declares.
    return_spike_counts : bool
        also return every layer's spike counts from the same run.
    device : str or torch.device, optional
        None (default): numpy.  ``"cpu"`` / ``"cuda"``: the torch backend on that
        device; same results.  Inputs and outputs stay numpy arrays.
    arithmetic : {"float", "int64"}
        see :class:`Emulator` (same results; ``"int64"`` is the slower reference).

    The compiled network is cached per file (path, mtime, size) and options
    (:func:`cached_emulator`), so repeated calls on the same file do not rebuild it.

    Returns
    -------
    np.ndarray
        (N, *output_shape, steps) in file order, time last: ``int32`` spikes (or
        graded integers), or ``float64`` population means for an ``average`` output
        layer (group sums / group size) and outputs times the file's ``output_scale``
        when it is not 1, as :func:`loihi_snn.run`.
    counts, sizes : np.ndarray
        only with ``return_spike_counts``: (L, N, steps) int64 non-zero outputs (spikes
        of either sign) of each of the L layers with neurons per sample and step, and
        (L,) their neuron counts (:attr:`Emulator.neuron_layer_sizes`).

    Raises
    ------
    UnsupportedByEmulator
        for neuron types without an emulator step (e.g. SDNN in this version).
    ShapeError
        for an input of the wrong shape or with non-integer values.
    """
    return_spike_counts = check_flag(return_spike_counts, "return_spike_counts")
    emu, x, steps = prepare_emulation(path_or_spec, x_batch, steps,
                                      input_message_bits=input_message_bits,
                                      reset_interval=reset_interval, reset_offset=reset_offset,
                                      device=device, arithmetic=arithmetic)
    counts = None
    if return_spike_counts:
        n_steps = x.shape[-1] if steps is None else steps
        counts = np.zeros((len(emu.neuron_layer_sizes), x.shape[0], n_steps), dtype=np.int64)
    y = emu.run(x, steps, spike_counts=counts)
    y = output_transform(y, emu.output_group_size, emu.output_scale)
    if return_spike_counts:
        return y, counts, np.asarray(emu.neuron_layer_sizes, dtype=np.int64)
    return y
