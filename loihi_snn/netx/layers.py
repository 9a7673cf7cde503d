"""Validating one NetX layer: its neuron group (through its family), ASA gate, geometry,
weights and shapes -- one line naming file, layer and field for anything wrong.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from loihi_snn import families
from loihi_snn.core import asa as af
from loihi_snn.core.constants import MAX_DELAY, WEIGHT_MAX, WEIGHT_MIN
from loihi_snn.core.spec import LayerSpec, NeuronSpec
from loihi_snn.families.refused import REFUSED
from loihi_snn.netx.fields import INPUT_WEIGHT_MAX, _Checker, bias_range, check_size
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, validate_transposed


def _neuron(c: _Checker, raw: Dict[str, Any]) -> Optional[NeuronSpec]:
    if "neuron" not in raw:
        return None
    nraw = raw["neuron"]
    if not isinstance(nraw, dict):
        c.fail("neuron", "expected a group with the neuron's parameters")
    if "type" not in nraw:
        c.fail("neuron/type", "missing; expected one of " + ", ".join(families.netx_types()))
    ntype = str(nraw["type"]).upper()
    family = families.get(ntype)
    if family is None and ntype in REFUSED:
        c.fail("neuron/type", REFUSED[ntype])
    if family is None:
        c.fail("neuron/type", f"unknown neuron type '{nraw['type']}'; this version "
                              f"supports " + ", ".join(families.netx_types()))
    sub = _Checker(c.path, c.index)
    # errors inside the neuron group name 'neuron/<field>'
    orig_fail = sub.fail
    sub.fail = lambda f, m: orig_fail(f"neuron/{f}" if f and not f.startswith("neuron/")
                                      else f, m)
    return NeuronSpec(type=ntype, params=family.validate(sub, nraw))


ASA_FIELDS = ("important", "weightImp", "weightSub", "biasImp", "biasSub", "sigmoidShift")


def _validate_asa(c: _Checker, raw: Any, channels: int) -> Dict[str, Any]:
    """The ``asa/`` group of a conv layer (loihi_snn.torch.blocks.asa.ASAConv).

    Fields: ``split`` optional string ``static`` (default) | ``adaptive``;
    ``important`` (C,) 0/1 with 1..C-1 ones (required for a static split);
    ``numImportant`` integer k in 1..C-1 (required for adaptive; static: the ones in
    ``important``); ``scoreWeight`` (C, 2C) integers in -256..255 (units 1/64) and
    ``scoreBias`` (C,) integers in +-(2**23 - 1) (units 1/4096) (adaptive only);
    ``weightImp``/``weightSub`` (1, 2, 3, 3) integers in -256..255 (units 1/64);
    ``biasImp``/``biasSub`` integer scalars in +-(2**23 - 1) (units 1/4096);
    ``sigmoidShift`` optional integer 0..16 (default 8).  Returns
    :func:`loihi_snn.core.asa.gate_params`, the keyword arguments of
    :class:`loihi_snn.sim.lava.procs.asa.process.ASAGate` (without ``shape``).
    """
    if not isinstance(raw, dict):
        c.fail("asa", "expected a group with the ASA gate's fields " + ", ".join(ASA_FIELDS))
    sub = _Checker(c.path, c.index)
    orig_fail = sub.fail
    sub.fail = lambda f, m: orig_fail(f"asa/{f}" if f and not f.startswith("asa/") else f, m)
    what = "an ASA gate"
    split = raw.get("split", "static")
    if not isinstance(split, str) or split not in af.SPLITS:
        sub.fail("split", f"must be one of {', '.join(af.SPLITS)}, found {split!r}")
    out: Dict[str, Any] = {"split": split}
    if split == "static":
        imp = sub.array(raw, "important", integer=True, lo=0, hi=1, what=what).reshape(-1)
        if imp.size != channels:
            sub.fail("important", f"has {imp.size} entries, expected one per output channel "
                                  f"({channels})")
        if not 1 <= int(imp.sum()) <= channels - 1:
            sub.fail("important", f"marks {int(imp.sum())} of {channels} channels as "
                                  f"important; both groups must be non-empty (1..{channels - 1})")
        out["important"] = imp.astype(np.int32)
    else:
        what = "an adaptive ASA gate"
        out["num_important"] = sub.scalar(raw, "numImportant", lo=1, hi=channels - 1,
                                          what=what)
        sw = sub.array(raw, "scoreWeight", integer=True, lo=af.W_MIN, hi=af.W_MAX, what=what)
        if sw.shape != (channels, 2 * channels):
            sub.fail("scoreWeight", f"expected shape ({channels}, {2 * channels}) (one row per "
                                    f"channel over [mean, max] of every channel), found "
                                    f"{sw.shape}")
        sb = sub.array(raw, "scoreBias", integer=True, lo=-af.B_LIMIT, hi=af.B_LIMIT, what=what)
        if sb.size != channels:
            sub.fail("scoreBias", f"has {sb.size} entries, expected one per output channel "
                                  f"({channels})")
        out["score_weight"] = sw.astype(np.int64)
        out["score_bias"] = sb.reshape(-1).astype(np.int64)
    for key, name in (("weightImp", "weight_imp"), ("weightSub", "weight_sub")):
        w = sub.array(raw, key, integer=True, lo=af.W_MIN, hi=af.W_MAX, what=what)
        if w.size != 2 * af.KERNEL * af.KERNEL:
            sub.fail(key, f"expected shape (1, 2, 3, 3) (a 3x3 kernel over [mean, max]), "
                          f"found {w.shape}")
        out[name] = w.reshape(2, af.KERNEL, af.KERNEL).astype(np.int64)
    for key, name in (("biasImp", "bias_imp"), ("biasSub", "bias_sub")):
        out[name] = sub.scalar(raw, key, lo=-af.B_LIMIT, hi=af.B_LIMIT, what=what)
    out["sigmoid_shift"] = sub.scalar(raw, "sigmoidShift", required=False,
                                      default=af.SIGMOID_SHIFT, lo=0, hi=16)
    return af.gate_params(**out)


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _validate_complex_dense(c: _Checker, raw: Dict[str, Any],
                            prev_shape: Optional[Tuple[int, ...]]) -> LayerSpec:
    """A complex dense layer (``dense_comp``, or SLAYER's ``dense`` with ``weight/real`` and
    ``weight/imag``): each matrix validated as a dense weight; read as a ``dense`` layer
    whose ``fields`` hold ``weight`` (real) and ``weight_imag``."""
    w = raw.get("weight")
    if not isinstance(w, dict) or "real" not in w or "imag" not in w:
        c.fail("weight", "a complex dense layer needs the datasets weight/real and "
                         "weight/imag")
    for key in ("delay", "weight_rec"):
        if key in raw:
            c.fail(key, f"a complex dense layer has no '{key}' (lava-dl's ComplexDense "
                        f"neither)")
    parts = {}
    for part in ("real", "imag"):
        sub = _Checker(c.path, c.index)
        orig = sub.fail
        sub.fail = lambda f, m, part=part: orig(f"weight/{part}" if f == "weight" else f, m)
        parts[part] = _validate_layer(sub, "dense", dict(raw, weight=w[part], _complex=True),
                                      prev_shape)
    layer = parts["real"]
    layer.fields["weight_imag"] = parts["imag"].fields["weight"]
    return layer


def _validate_layer(c: _Checker, ltype: str, raw: Dict[str, Any],
                    prev_shape: Optional[Tuple[int, ...]]) -> LayerSpec:
    index = c.index
    if ltype == "dense_comp" or (ltype == "dense" and isinstance(raw.get("weight"), dict)):
        return _validate_complex_dense(c, raw, prev_shape)
    shape = c.shape(raw)
    fields: Dict[str, Any] = {}
    neuron = _neuron(c, raw)
    if "asa" in raw and ltype != "conv":
        c.fail("asa", f"an ASA gate is only supported on conv layers, not '{ltype}'")

    if ltype == "input":
        in_shape = shape
        w = c.array(raw, "weight", required=False, lo=-INPUT_WEIGHT_MAX, hi=INPUT_WEIGHT_MAX)
        blo, bhi = bias_range(neuron)
        b = c.array(raw, "bias", required=False, integer=True, lo=blo, hi=bhi)
        if w is not None:
            if w.size != 1:
                c.fail("weight", f"input layer weight must be a scalar, found shape {w.shape}")
            fields["weight"] = float(w.reshape(-1)[0])
        if b is not None:
            if b.size not in (1, int(np.prod(shape)), shape[0]):
                c.fail("bias", f"cannot broadcast bias of shape {b.shape} to layer shape {shape}")
            fields["bias"] = b
        return LayerSpec(index, ltype, shape, in_shape, fields, neuron)

    if prev_shape is None:
        if ltype == "dense" or ltype == "dense_rec":
            nin = c.scalar(raw, "inFeatures", required=False, lo=1)
            w = c.array(raw, "weight", what="dense layers")
            if nin is None:
                if w.ndim < 2:
                    c.fail("inFeatures", "missing: a first dense layer with a flat weight "
                                         "needs inFeatures (or an input layer before it)")
                nin = int(w.shape[-1])
            elif w.ndim >= 2 and int(w.shape[1]) != nin:
                c.fail("inFeatures", f"is {nin} but the weight has {w.shape[1]} columns")
            prev_shape = (int(nin),)
            check_size(c, "inFeatures", prev_shape)
        else:
            c.fail("shape", f"a '{ltype}' first layer needs the input shape: pass "
                            f"input_shape=(C, H, W) (loihi_snn.run takes it from the input), "
                            f"or add an input layer that states it")
    in_shape = prev_shape
    in_size = int(np.prod(in_shape))

    if ltype == "flatten":
        if int(np.prod(shape)) != in_size:
            c.fail("shape", f"flatten of an input of shape {in_shape} gives {in_size} "
                            f"values, but the layer declares shape {shape}")
        return LayerSpec(index, ltype, (in_size,), in_shape, fields, neuron)

    if ltype in ("dense", "dense_rec"):
        out = int(np.prod(shape))
        w = c.array(raw, "weight", integer=True, lo=WEIGHT_MIN, hi=WEIGHT_MAX,
                    what="dense layers")
        if w.ndim == 1:
            if w.size != out * in_size:
                c.fail("weight", f"has {w.size} values, expected {out}x{in_size}")
            w = w.reshape(out, in_size)
        w = w.reshape(w.shape[:2]) if w.ndim > 2 and np.prod(w.shape[2:]) == 1 else w
        if w.shape != (out, in_size):
            c.fail("weight", f"expected shape ({out}, {in_size}) = (outputs of this layer, "
                             f"size of the previous layer's output {in_shape}), found {w.shape}")
        for key, expect in (("inFeatures", in_size), ("outFeatures", out)):
            if key in raw:
                val = c.scalar(raw, key, lo=1)
                if val != expect:
                    c.fail(key, f"is {val} but the weight/previous layer imply {expect}")
        fields["weight"] = w.astype(np.int64)
        if ltype == "dense_rec":
            wr = c.array(raw, "weight_rec", integer=True, lo=WEIGHT_MIN, hi=WEIGHT_MAX,
                         what="dense_rec layers")
            if wr.ndim == 1 and wr.size == out * out:
                wr = wr.reshape(out, out)
            if wr.shape != (out, out):
                c.fail("weight_rec", f"expected shape ({out}, {out}), found {wr.shape}")
            fields["weight_rec"] = wr.astype(np.int64)
        # whole steps (lava-dl exports floor(delay)); compared as floats: a huge value
        # must not wrap
        d = c.array(raw, "delay", required=False, integer=True, lo=0)
        if d is not None:
            if d.max(initial=0) > MAX_DELAY:
                c.fail("delay", f"maximum delay {d.max():g} exceeds the Loihi 2 limit "
                                f"of {MAX_DELAY} steps")
            d = d.astype(np.int64)
            if d.size == 1:
                d = np.full((out, in_size), int(d.reshape(-1)[0]))
            elif d.ndim == 1 and d.size == out:
                d = np.repeat(d.reshape(-1, 1), in_size, axis=1)
            elif d.ndim == 1 and d.size == in_size:
                d = np.repeat(d.reshape(1, -1), out, axis=0)
            elif d.shape != (out, in_size):
                c.fail("delay", f"shape {d.shape} matches neither the outputs ({out},), "
                                f"the inputs ({in_size},) nor the weight ({out}, {in_size})")
            fields["delay"] = d
        shape = (out,)
    elif ltype in ("conv", "pool"):
        if len(in_shape) != 3:
            c.fail("shape", f"'{ltype}' needs a (C, H, W) input, but the previous layer "
                            f"gives {in_shape}; a dense layer cannot feed a conv layer")
        cin, hin, win = in_shape
        stride = c.pair(raw, "stride", 1, lo=1)
        padding = c.pair(raw, "padding", 0, lo=0)
        dilation = c.pair(raw, "dilation", 1, lo=1)
        if ltype == "conv":
            w = c.array(raw, "weight", integer=True, lo=WEIGHT_MIN, hi=WEIGHT_MAX,
                        what="conv layers")
            if w.ndim == 5 and w.shape[-1] == 1:
                w = w[..., 0]
            if w.ndim != 4:
                c.fail("weight", f"expected 4 dimensions (Cout, Cin/groups, kH, kW), "
                                 f"found shape {w.shape}")
            if 0 in w.shape:
                c.fail("weight", f"has an empty dimension: shape {w.shape} "
                                 f"(Cout, Cin/groups, kH, kW)")
            groups = c.scalar(raw, "groups", required=False, default=1, lo=1)
            cout = w.shape[0]
            if cin % groups or cout % groups:
                c.fail("groups", f"{groups} groups do not divide Cin={cin} and Cout={cout}")
            if w.shape[1] * groups != cin:
                c.fail("weight", f"expects {w.shape[1] * groups} input channels but the "
                                 f"previous layer gives {cin} (input shape {in_shape})")
            for key, expect in (("inChannels", cin), ("outChannels", cout)):
                if key in raw and c.scalar(raw, key, lo=1) != expect:
                    c.fail(key, f"is {c.scalar(raw, key)} but the weight implies {expect}")
            kernel = (int(w.shape[2]), int(w.shape[3]))
            if "kernelSize" in raw and c.pair(raw, "kernelSize", 1, lo=1) != kernel:
                c.fail("kernelSize", f"is {c.pair(raw, 'kernelSize', 1)} but the weight "
                                     f"has kernel {kernel}")
            fields.update(weight=w.astype(np.int64), groups=groups)
            if "asa" in raw:
                fields["asa"] = _validate_asa(c, raw["asa"], cout)
        else:
            kernel = c.pair(raw, "kernelSize", 1, lo=1)
            w = c.array(raw, "weight", integer=True, lo=WEIGHT_MIN, hi=WEIGHT_MAX,
                        what="pool layers")
            if w.size == 1:
                w = np.full(kernel, w.reshape(-1)[0])
            else:
                w = w.reshape(w.shape[-2:]) if np.prod(w.shape[:-2]) == 1 else w
                if w.shape != kernel:
                    c.fail("weight", f"pool weight must be a scalar or a {kernel} kernel "
                                     f"shared by all channels, found shape {w.shape}")
            cout = cin
            fields.update(weight=w.astype(np.int64))
        hout = _conv_out(hin, kernel[0], stride[0], padding[0], dilation[0])
        wout = _conv_out(win, kernel[1], stride[1], padding[1], dilation[1])
        if hout < 1 or wout < 1:
            c.fail("kernelSize", f"kernel {kernel} does not fit the input {in_shape}")
        expect = (cout, hout, wout)
        if tuple(shape) != expect and ltype == "pool":
            lowered = _slayer_padded_pool(in_shape, kernel, stride, padding, dilation,
                                          fields["weight"], tuple(shape))
            if lowered is not None:     # SLAYER's zero-padded pool of an odd-sized map
                fields.update(kernel=kernel, stride=stride, dilation=dilation, **lowered)
                return _finish_layer(c, ltype, raw, index, shape, in_shape, fields, neuron)
            expect_slayer = _slayer_pool_shape(in_shape, kernel, stride, padding, dilation)
            c.fail("shape", f"declares {tuple(shape)} but a pool of input {in_shape} with "
                            f"kernel {kernel}, stride {stride}, padding {padding}, dilation "
                            f"{dilation} gives {expect} (or {expect_slayer} with SLAYER's "
                            f"zero-padding of an odd-sized map)")
        if tuple(shape) != expect:
            c.fail("shape", f"declares {tuple(shape)} but a {ltype} of input {in_shape} "
                            f"with kernel {kernel}, stride {stride}, padding {padding}, "
                            f"dilation {dilation} gives {expect}")
        fields.update(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    elif ltype in TRANSPOSED_TYPES:     # SLAYER's ConvT / Unpool (netx/transposed.py)
        fields.update(validate_transposed(c, ltype, raw, in_shape, shape))
    elif ltype == "average":
        num = int(shape[0])
        if int(np.prod(shape)) != num:
            c.fail("shape", f"average layer shape must be (num_outputs,) or "
                            f"(num_outputs, 1, 1), found {shape}")
        if in_size % num:
            c.fail("shape", f"cannot average {in_size} inputs into {num} equal groups")
        fields["group_size"] = in_size // num
        return LayerSpec(index, ltype, (num,), in_shape, fields, None)
    else:  # pragma: no cover - filtered before
        c.fail("type", f"unknown layer type '{ltype}'")

    return _finish_layer(c, ltype, raw, index, shape, in_shape, fields, neuron)


def _slayer_pool_shape(in_shape, kernel, stride, padding, dilation) -> Tuple[int, int, int]:
    """Output shape of SLAYER's ``synapse.Pool`` on ``in_shape`` (C, H, W): it appends
    ``H % kH`` zero rows and ``W % kW`` zero columns before pooling."""
    c, h, w = in_shape
    return (c, _conv_out(h + h % kernel[0], kernel[0], stride[0], padding[0], dilation[0]),
            _conv_out(w + w % kernel[1], kernel[1], stride[1], padding[1], dilation[1]))


def _slayer_padded_pool(in_shape, kernel, stride, padding, dilation, weight: np.ndarray,
                        declared) -> Optional[Dict[str, Any]]:
    """A pool that zero-pads the end of an odd-sized map as SLAYER does, lowered to the
    symmetric padding every runner (Lava's Conv, the emulator) implements; None when
    ``declared`` is not SLAYER's output shape or the pool is dilated.

    SLAYER pads ``e = H % kH`` rows at the bottom (and ``W % kW`` columns at the
    right).  The same sums come from a kernel with ``e`` leading zero rows (columns)
    and ``e`` more padding on *both* sides: every window starts ``e`` rows earlier, on
    the zero rows, so it covers exactly SLAYER's rows, and the output size is the same.
    Returns the lowered ``weight`` (kH + eh, kW + ew), ``padding`` and
    ``slayer_pad`` = (eh, ew) for ``LayerSpec.fields``.
    """
    if tuple(dilation) != (1, 1) or tuple(declared) != _slayer_pool_shape(
            in_shape, kernel, stride, padding, dilation):
        return None
    eh, ew = in_shape[1] % kernel[0], in_shape[2] % kernel[1]
    lowered = np.zeros((kernel[0] + eh, kernel[1] + ew), dtype=np.int64)
    lowered[eh:, ew:] = weight
    return {"weight": lowered, "padding": (padding[0] + eh, padding[1] + ew),
            "slayer_pad": (eh, ew)}


def _finish_layer(c: _Checker, ltype: str, raw: Dict[str, Any], index: int, shape,
                  in_shape, fields: Dict[str, Any], neuron) -> LayerSpec:
    """The bias and neuron checks every layer with synapses ends with."""
    if "bias" in raw:
        blo, bhi = bias_range(neuron)
        b = c.array(raw, "bias", integer=True, lo=blo, hi=bhi)
        if neuron is not None and neuron.type == "SDNN" and neuron.get("sigma_output"):
            c.fail("bias", "a sigma-delta output layer (sigma_output) cannot have a bias: "
                           "Lava's Sigma process has none; remove sigma_output or the bias")
        n_ch = shape[0]
        if b.size not in (1, int(np.prod(shape)), n_ch):
            c.fail("bias", f"cannot broadcast bias of shape {b.shape} to layer shape {shape}")
        fields["bias"] = b
    family = families.get(neuron.type) if neuron is not None else None
    if family is not None and family.complex_input and not raw.get("_complex"):
        c.fail("neuron/type", f"{neuron.type} neurons take a complex input: their layer must "
                              f"be a complex dense layer (dense_comp, or weight/real and "
                              f"weight/imag), not '{ltype}'")
    if family is not None and family.complex_input and "bias" in raw:
        c.fail("bias", f"{neuron.type} neurons have no bias (lava's RF process has none)")
    if family is not None and not family.complex_input and raw.get("_complex"):
        c.fail("weight", f"a complex weight (weight/real, weight/imag) needs neurons with a "
                         f"complex input (RF_PHASE, RF_IZHIKEVICH), not {neuron.type}")
    if neuron is None and ltype in ("dense", "conv", "pool", "dense_rec") + TRANSPOSED_TYPES:
        # without neurons nothing integrates the synaptic input: every backend would
        # output zeros forever
        c.fail("neuron", f"missing: a '{ltype}' layer needs a neuron group (without one "
                         f"every backend outputs zeros)")
    return LayerSpec(index, ltype, tuple(int(s) for s in shape), in_shape, fields, neuron)
