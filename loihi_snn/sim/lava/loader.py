"""Load a NetX HDF5 file into a Lava process graph.

``load(path)`` validates the file (:func:`loihi_snn.netx.schema.read_netx`) and
builds one block per layer from lava's processes.  It loads what lava-dl's netx
loads (input, dense, dense with axonal delays, dense_rec, conv, flatten; CUBA/LOIHI
and SDNN neurons) plus ``pool``, ``average``, ``convT``, ``unpool`` and ``concat``
layers (one Gather per source into the next block's port, no latency:
:mod:`loihi_snn.netx.concat`), and wires the input layer's port to its neuron.  For
CUBA layers the processes and parameters are the ones stock netx builds, so fixed-point spikes are identical to stock netx.  Each layer's neurons
come from its family's Lava builder (:mod:`loihi_snn.families`); weights, kernels and
biases from :mod:`loihi_snn.netx.lower`, as the emulator's.
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from loihi_snn import families
from loihi_snn.core.constants import GRADED_MESSAGE_BITS
from loihi_snn.core.args import check_choice, check_flag, check_int, check_path, check_shape
from loihi_snn.core.errors import BackendError, NetxFormatError
from loihi_snn.core.lavadl import require_lava
from loihi_snn.core.limits import env_int
from loihi_snn.families.base import LavaNeuron
from loihi_snn.netx.lower import (PRECISIONS, chw_to_whc, complex_layer_weights,
                                  conv_weight_to_lava, dense_layer_weights,
                                  lava_blocks, per_neuron, pool_kernel, reset_schedule,
                                  with_neuron)
from loihi_snn.netx.concat import concat_pieces, producer, scatter_index
from loihi_snn.netx.schema import LayerSpec, NetSpec, read_netx
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, lava_index, lower_transposed


def _build_neuron(path: str, layer: LayerSpec, shape, precision, reset,
                  is_input, controlled: bool = False) -> LavaNeuron:
    """The Lava neuron process of one layer, from its family's builder."""
    layer = with_neuron(layer)
    ntype = layer.neuron.type
    family = families.get(ntype)
    if family is None:      # pragma: no cover - the schema rejects unknown types
        raise NetxFormatError(path, f"neuron type '{ntype}' has no Lava process in this "
                              f"version", layer=layer.index, field="neuron/type")
    if precision == "float" and not family.float_ok:
        raise NetxFormatError(path, f"{ntype} layers run only in fixed point; use backend "
                              f"'lava-fixed'", layer=layer.index, field="neuron/type")
    bias = per_neuron(layer.fields.get("bias"), layer.shape)
    try:
        return family.lava(layer, shape, bias, precision, reset, is_input,
                           controlled=controlled)
    except ValueError as exc:
        raise NetxFormatError(path, str(exc), layer=layer.index, field="neuron/type") from None


def _wire_concat(spec: NetSpec, layer: LayerSpec, consumer, blocks, block_of,
                 input_receivers) -> None:
    """Connect a concat layer's sources into ``consumer.inp``: per source one stateless
    :class:`~loihi_snn.sim.lava.procs.gather.process.Gather` that puts the source's
    output into its slice of the consumer's input in the same step (no latency; the
    consumer's InPort sums its connections, the slices do not overlap)."""
    from loihi_snn.sim.lava.procs.gather.process import Gather  # lazy: imports Lava
    out_shape = tuple(consumer.inp.shape)
    consumer.concat_gathers = []
    for k, offset, _size in concat_pieces(spec, layer):
        src_block = block_of[k]
        src_shape = tuple(spec.layers[producer(spec, k)].shape)
        if src_block == "input":       # the raw input: the first block's input port
            port_shape = tuple(blocks[0].inp.shape)
        else:
            port_shape = tuple(src_block.out.shape)
        index = scatter_index(src_shape, len(port_shape) == 3, offset, tuple(layer.shape),
                              len(out_shape) == 3)
        gather = Gather(in_shape=port_shape, out_shape=out_shape, index=index,
                        name=f"layer{layer.index}_concat_from{k}")
        if src_block == "input":
            input_receivers.append(gather.a_in)
        else:
            src_block.out.connect(gather.a_in)
        gather.a_out.connect(consumer.inp)
        consumer.concat_gathers.append(gather)


def load(path: str, *, precision: str = "fixed", input_message_bits: int = 0,
         reset_interval: Optional[int] = None, reset_offset: int = 0,
         controlled: bool = False, input_shape: Optional[Tuple[int, ...]] = None):
    """Load a NetX HDF5 network as a Lava process.

    Parameters
    ----------
    path : str
        NetX ``.net`` file.
    precision : {"fixed", "float"}
        ``"fixed"`` builds integer (Loihi) parameters, to be run with
        ``Loihi2SimCfg(select_tag="fixed_pt")``; ``"float"`` builds the same network in
        float units for ``select_tag="floating_pt"``.
    input_message_bits : int
        0 when the input is binary spikes; >0 (up to 24) for graded input values.
    reset_interval, reset_offset : int, optional
        reset every CUBA layer's state every ``reset_interval`` steps, staggered by one
        step per layer as lava-dl netx does (neuron block i resets when
        ``t % reset_interval == (reset_offset + 1 + i) % reset_interval``).  Default:
        no reset, or, for a file with ``layer_start = "first_input"``, one reset of each
        block at the step its first input arrives
        (:func:`loihi_snn.netx.lower.reset_schedule`: interval 2**30, offset 1, or 0
        when layer 0 is an input layer with neurons).  An explicit interval wins.
    controlled : bool
        give every neuron a ``reset_in`` port (listed in ``net.reset_ports``) for the
        cutoff controller; CUBA layers then run as the bit-identical
        :class:`~loihi_snn.families.lava.lif_variant.process.ControlledLIFVariant`.
        A controller reset restarts the neurons' clock of the reset schedule: the
        sample's first step counts as step 1, as in a fresh run.
    input_shape : tuple of int, optional
        (C, H, W) input of a network whose first layer is ``conv`` or ``pool`` with no
        input layer (as stock SLAYER exports it); see
        :func:`~loihi_snn.netx.schema.read_netx`.

    Returns
    -------
    loihi_snn.sim.lava.procs.blocks.process.Network
        a Lava process with ``inp`` (shape ``net.input_shape``, Lava order (W, H, C)
        or (N,)), ``out`` and ``layers``.

    Raises
    ------
    NetxFormatError
        for a missing, unreadable or inconsistent file (names file, layer, field).
    """
    # every argument is checked first: one line, one of the package's errors
    path = check_path(path, "path")
    precision = check_choice(precision, "precision", PRECISIONS)
    input_message_bits = check_int(input_message_bits, "input_message_bits", 0,
                                   GRADED_MESSAGE_BITS)
    reset_interval = check_int(reset_interval, "reset_interval", 1, allow_none=True)
    reset_offset = check_int(reset_offset, "reset_offset", None)
    controlled = check_flag(controlled, "controlled")
    if input_shape is not None:
        input_shape = check_shape(input_shape, "input_shape", ranks=(1, 2, 3))
    spec = read_netx(path, input_shape=input_shape)
    return build_network(spec, precision=precision, input_message_bits=input_message_bits,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         controlled=controlled)


#: most layers (blocks) the per-layer Lava backends build: each runs as its own OS
#: processes with shared-memory channels (50 layers: ~110 processes, ~300 /dev/shm
#: segments).  ``LOIHI_SNN_LAVA_MAX_LAYERS`` raises it; ``lava-fused`` and the emulator
#: have no such limit.
LAVA_MAX_LAYERS = 32


def lava_max_layers() -> int:
    """:data:`LAVA_MAX_LAYERS`, or ``$LOIHI_SNN_LAVA_MAX_LAYERS`` when set."""
    return env_int("LOIHI_SNN_LAVA_MAX_LAYERS", LAVA_MAX_LAYERS, minimum=1)


def check_lava_layers(spec: NetSpec) -> None:
    """BackendError when ``spec`` has more layers than the per-layer Lava backends build
    (:func:`lava_max_layers`); the message names the backends that run it."""
    blocks = lava_blocks(spec)
    limit = lava_max_layers()
    if blocks > limit:
        raise BackendError(f"{spec.path}: {blocks} layers, more than the {limit} the "
                           f"per-layer Lava backends build (each layer is several OS "
                           f"processes); run it with backend 'lava-fused' or 'emulator', or "
                           f"set LOIHI_SNN_LAVA_MAX_LAYERS")


def build_network(spec: NetSpec, *, precision: str = "fixed", input_message_bits: int = 0,
                  reset_interval: Optional[int] = None, reset_offset: int = 0,
                  controlled: bool = False):
    """Build the Lava process graph of an already validated :class:`NetSpec`
    (BackendError beyond :func:`lava_max_layers` layers); options as :func:`load`."""
    check_lava_layers(spec)
    reset_interval, reset_offset = reset_schedule(spec, reset_interval, reset_offset)
    require_lava("loading a network as Lava processes (loihi_snn.load)")   # one line
    # lazy: the process modules import Lava, which read_netx users never need
    from loihi_snn.sim.lava.procs.blocks.process import (AverageBlock, ComplexDenseBlock,
                                                         ConvBlock, ConvTBlock, DenseBlock,
                                                         InputBlock, Network)
    blocks = []
    in_bits = int(input_message_bits)
    flatten_next = False
    next_reset = reset_offset + 1      # lava time starts at 1, as in netx
    # concat (netx/concat.py): what each layer sends -- its block, or "input" for the raw
    # input of a shape-only input layer -- and with how many message bits
    block_of, bits_of = {}, {}
    if spec.layers[0].type == "input" and spec.layers[0].neuron is None:
        block_of[0], bits_of[0] = "input", int(input_message_bits)
    pending_concat: Optional[LayerSpec] = None
    input_receivers = []       # gathers fed by the network's own input port

    def reset_cfg():
        return None if reset_interval is None else (int(reset_interval), next_reset)

    for layer in spec.layers:
        shape = chw_to_whc(layer.shape)
        name = f"layer{layer.index}_{layer.type}"
        if layer.type == "flatten":
            flatten_next = True
            continue
        if layer.type == "concat":      # no block: the next block receives the gathers
            pending_concat = layer
            in_bits = max(bits_of[k] for k, _, _ in concat_pieces(spec, layer))
            continue
        if layer.type == "input":
            if layer.neuron is None:
                continue            # shape only: the next layer receives the input
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=True,
                               controlled=controlled)
            block = InputBlock(shape=shape, neuron=nb.process, out_bits=nb.out_bits, name=name)
        elif "weight_imag" in layer.fields:        # complex dense (RF neurons)
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            (w_r, b_r, e_r), (w_i, b_i, e_i) = complex_layer_weights(layer, precision)
            block = ComplexDenseBlock(shape=shape, neuron=nb.process, weight_real=w_r,
                                      weight_imag=w_i, weight_exp_real=e_r, weight_exp_imag=e_i,
                                      num_weight_bits_real=b_r, num_weight_bits_imag=b_i,
                                      input_message_bits=in_bits, out_bits=nb.out_bits,
                                      name=name)
        elif layer.type in ("dense", "dense_rec"):
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            w, wr, bits, exp = dense_layer_weights(layer, precision)
            block = DenseBlock(shape=shape, neuron=nb.process, weight=w, weight_exp=exp,
                               num_weight_bits=bits, input_message_bits=in_bits,
                               delay=layer.fields.get("delay"), weight_rec=wr,
                               out_bits=nb.out_bits, name=name)
        elif layer.type in ("conv", "pool"):
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            f = layer.fields
            if layer.type == "conv":
                weight, groups = conv_weight_to_lava(f["weight"]), f["groups"]
            else:
                weight, groups = conv_weight_to_lava(pool_kernel(layer)), layer.shape[0]
            if precision == "float":
                weight = weight.astype(np.float64)
            gate = None
            if "asa" in f:      # ASA gate between synapse and neuron (validated by the schema)
                from loihi_snn.sim.lava.procs.asa.process import ASAGate  # lazy: imports Lava
                gate = ASAGate(shape=shape, **f["asa"])
            block = ConvBlock(shape=shape, neuron=nb.process, weight=weight,
                              input_shape=chw_to_whc(layer.in_shape),
                              stride=np.array(f["stride"][::-1]),
                              padding=np.array(f["padding"][::-1]),
                              dilation=np.array(f["dilation"][::-1]), groups=int(groups),
                              input_message_bits=in_bits, out_bits=nb.out_bits,
                              kind=layer.type, gate=gate, name=name)
        elif layer.type in TRANSPOSED_TYPES:      # convT / unpool: gather + conv
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            sc = lower_transposed(layer)
            weight = conv_weight_to_lava(sc.kernel)
            if precision == "float":
                weight = weight.astype(np.float64)
            block = ConvTBlock(shape=shape, neuron=nb.process, weight=weight,
                               input_shape=chw_to_whc(layer.in_shape), index=lava_index(sc),
                               stuffed_shape=chw_to_whc(sc.stuffed_shape),
                               conv_shape=chw_to_whc(sc.conv_shape),
                               dilation=np.array(sc.dilation[::-1]), groups=sc.groups,
                               input_message_bits=in_bits, out_bits=nb.out_bits,
                               kind=layer.type, name=name)
        elif layer.type == "average":
            block = AverageBlock(shape=shape, group_size=layer.fields["group_size"], name=name)
        else:  # pragma: no cover - the schema rejects unknown types
            raise NetxFormatError(spec.path, f"unsupported layer type {layer.type}",
                                  layer=layer.index, field="type")
        block.layer_index = layer.index
        block.spec = layer
        if pending_concat is not None:
            _wire_concat(spec, pending_concat, block, blocks, block_of, input_receivers)
            pending_concat = None
        elif blocks:
            src = blocks[-1].out
            if flatten_next or (len(src.shape) != len(block.inp.shape)):
                src = src.transpose([2, 1, 0]).flatten() if len(src.shape) == 3 else src
            src.connect(block.inp)
        flatten_next = False
        if block.neuron is not None and layer.type != "average":
            next_reset += 1
        blocks.append(block)
        in_bits = block.output_message_bits
        block_of[layer.index], bits_of[layer.index] = block, in_bits

    if not blocks:
        raise NetxFormatError(spec.path, "the network has no layer with neurons or synapses",
                              field="layer")
    net = Network(layers=blocks, spec=spec, precision=precision,
                  name=os.path.splitext(os.path.basename(spec.path))[0],
                  input_receivers=input_receivers)
    #: what the network was built to receive: 0 = binary spikes, >0 = graded messages
    net.input_message_bits = int(input_message_bits)
    #: the reset schedule built in (None: no scheduled reset)
    net.reset_interval, net.reset_offset = reset_interval, int(reset_offset)
    net.reset_ports = [b.neuron.reset_in for b in blocks
                       if b.neuron is not None and hasattr(b.neuron, "reset_in")]
    return net
