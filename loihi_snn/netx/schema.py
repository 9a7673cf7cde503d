"""NetX HDF5 schema: read a ``.net`` file into plain dataclasses and validate it.

The layout is lava-dl's NetX format (a superset: our own layer and neuron types
and extension groups live beside the stock ones, and a file that only uses stock
CUBA layers stays loadable by stock ``lava.lib.dl.netx``)::

    /layer/<i>/type        bytes: input | dense | dense_rec | conv | pool | flatten | average
    /layer/<i>/shape       output shape of the layer, (C, H, W) or (N,)
    /layer/<i>/weight      dense: (out, in); conv: (Cout, Cin/groups, kH, kW[, 1]);
                           pool: scalar or (1, 1, kH, kW); input: scalar
    /layer/<i>/bias        optional, per neuron, per channel or scalar
    /layer/<i>/delay       optional (dense): axonal delays, integer steps
    /layer/<i>/weight_rec  dense_rec only: (out, out)
    /layer/<i>/neuron/...  type (CUBA | LOIHI | SDNN | ...), iDecay, vDecay, vThMant, ...
    /layer/<i>/asa/...     conv only, optional: ASA gate (see ``_validate_asa``)
    @layer_start           optional root attribute, bytes/str: ``step_1`` (absent: every
                           layer starts at Lava step 1, a fresh run) or ``first_input``
                           (each layer starts at the step its first input reaches it,
                           as NIR times its nodes; see ``NetSpec.layer_start``)

Nothing here imports Lava: ``read_netx`` is cheap and is what ``loihi-snn info`` and
the loader use to report errors before any process is built.  All shapes in a
:class:`LayerSpec` are in the file's (SLAYER) order: (C, H, W) for images, (N,) for
vectors.  Lava processes use the reverse (W, H, C); the loader converts.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from loihi_snn import families
from loihi_snn.core import asa as af
from loihi_snn.core.constants import (ACT_SHIFT, BIAS_MANT_MAX, BIAS_MANT_MIN, MAX_DELAY,
                                      SDNN_BIAS_BITS, STATE_BITS, WEIGHT_MAX, WEIGHT_MIN)
from loihi_snn.core.args import check_path
from loihi_snn.core.errors import NetxFormatError, OptionError
from loihi_snn.core.limits import env_int

# the records (NeuronSpec, LayerSpec, NetSpec) and the layer types live in core/spec.py,
# below the families that read them; offered here, where readers have always found them
from loihi_snn.core.spec import (LAYER_STARTS, LAYER_TYPES, LayerSpec, NetSpec,  # noqa: E402,F401
                                 NeuronSpec)


# --------------------------------------------------------------------------- reading

def _decode(value: Any) -> Any:
    """h5py value -> Python str / number / numpy array."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            flat = [v.decode("ascii", "replace") if isinstance(v, bytes) else str(v)
                    for v in value.ravel()]
            return flat[0] if len(flat) == 1 else flat
        if value.shape == ():
            return value.item()
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


MAX_DATASET_BYTES = 1 << 30    # 1 GiB: a larger array is a corrupt or hostile file

# ----------------------------------------------------------------------------- size caps
# Checked from what the file *declares* (dataset shapes, layer count, layer shapes)
# before the data is read, so a small hostile file cannot make ``info`` or a run
# allocate gigabytes.  Each default can be raised with its environment variable.
#: most layers a file may have (``LOIHI_SNN_MAX_LAYERS``)
MAX_LAYERS = 1000
#: most neurons over all layers (``LOIHI_SNN_MAX_NEURONS``): 16 Loihi 2 chips' worth
MAX_NEURONS = 1 << 24
#: most synapses over all layers, as ``LayerSpec.num_synapses`` counts them
#: (``LOIHI_SNN_MAX_SYNAPSES``): 16 Loihi 2 chips' worth
MAX_SYNAPSES = 16 * 120_000_000
#: most bytes the file's arrays take once read (8 bytes a value, as loihi_snn holds them
#: in float64), over all datasets, however well they are compressed
#: (``LOIHI_SNN_MAX_READ_BYTES``)
MAX_READ_BYTES = 1 << 30

SIZE_LIMIT_ENV = {"layers": ("LOIHI_SNN_MAX_LAYERS", MAX_LAYERS),
                  "neurons": ("LOIHI_SNN_MAX_NEURONS", MAX_NEURONS),
                  "synapses": ("LOIHI_SNN_MAX_SYNAPSES", MAX_SYNAPSES),
                  "read_bytes": ("LOIHI_SNN_MAX_READ_BYTES", MAX_READ_BYTES)}


def size_limit(name: str) -> int:
    """The cap ``name`` (``layers``, ``neurons``, ``synapses``, ``read_bytes``): its
    environment variable when set to a positive integer, else the default."""
    env, default = SIZE_LIMIT_ENV[name]
    return env_int(env, default, minimum=1)


def _cap_message(what: str, count: float, name: str) -> str:
    env, _ = SIZE_LIMIT_ENV[name]
    return (f"declares {count:.4g} {what}, more than the {size_limit(name):.4g} loihi_snn "
            f"accepts (a corrupt or hostile file; set {env} to raise the limit)")


class _BrokenEntry(Exception):
    """An entry of the file that cannot be read (dangling link, bad object, ...)."""

    def __init__(self, name: str, reason: str = "cannot be read (dangling link or "
                                                  "unsupported HDF5 object)") -> None:
        super().__init__(name)
        self.name = name
        self.reason = reason


def _is_index(key: str) -> bool:
    """A canonical layer number: '0', '1', ... (not '00', '1.0', or other digits)."""
    return key.isascii() and key.isdigit() and str(int(key)) == key


def _group_to_dict(group, ancestors: Tuple[Any, ...] = (),
                   budget: Optional[List[int]] = None) -> Dict[str, Any]:
    """The group's datasets and attributes as a nested dict.  ``budget`` ([bytes left])
    is charged 8 bytes per declared value *before* each dataset is read (the
    ``read_bytes`` cap over the whole file, :func:`size_limit`)."""
    import h5py
    if budget is None:
        budget = [size_limit("read_bytes")]
    out: Dict[str, Any] = {}
    ancestors = ancestors + (group.id,)
    for key in group.keys():
        item = group.get(key)
        if isinstance(item, h5py.Group):
            if item.id in ancestors:
                raise _BrokenEntry(f"{group.name}/{key}", "is a link back to a group that "
                                                          "contains it (a cycle)")
            out[key] = _group_to_dict(item, ancestors, budget)
        elif isinstance(item, h5py.Dataset):
            nbytes = int(item.size or 0) * int(item.dtype.itemsize)
            if nbytes > MAX_DATASET_BYTES:
                raise _BrokenEntry(f"{group.name}/{key}",
                                   f"dataset of shape {item.shape} ({nbytes / 2**30:.1f} GiB) "
                                   f"is larger than the {MAX_DATASET_BYTES >> 30} GiB a NetX "
                                   f"field can have")
            budget[0] -= 8 * int(item.size or 0)
            if budget[0] < 0:
                limit = size_limit("read_bytes")
                raise _BrokenEntry(f"{group.name}/{key}", (
                    f"declares shape {item.shape}: {8 * int(item.size) / 2**30:.3g} GiB once "
                    f"read (8 bytes a value); with the fields before it "
                    f"{(limit - budget[0]) / 2**30:.3g} GiB, more than the "
                    f"{limit / 2**30:.3g} GiB loihi_snn reads from a file (a corrupt or hostile "
                    f"file; set LOIHI_SNN_MAX_READ_BYTES to raise the limit)"))
            out[key] = _decode(item[()])
        else:   # dangling soft/external link or an unsupported object
            raise _BrokenEntry(f"{group.name}/{key}")
    for key, value in group.attrs.items():
        out.setdefault(f"@{key}", _decode(value))
    return out


def _entry_error(path: str, name: str, reason: str) -> NetxFormatError:
    """NetxFormatError for the object ``name`` of the file: a layer's entry names the
    layer and the field inside it, any other entry is the field (its path)."""
    parts = name.strip("/").split("/")
    layer = int(parts[1]) if len(parts) > 1 and parts[0] == "layer" and \
        _is_index(parts[1]) else None
    field_name = "/".join(parts[2:]) if layer is not None else name
    return NetxFormatError(path, _one_line(reason), layer=layer,
                           field=_one_line(field_name, 80) or None)


@contextlib.contextmanager
def open_netx(path: str) -> Iterator[Any]:
    """The h5py file at ``path`` opened for reading through
    :func:`loihi_snn.core.hdf5.open_hdf5` -- a regular file whose every object lives in
    it (no external storage, virtual dataset, external or dangling link, cycle) -- or a
    one-line NetxFormatError naming the file and the offending object."""
    from loihi_snn.core.hdf5 import Hdf5Refused, open_hdf5
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise NetxFormatError(path, "file not found; check the path "
                              "(NetX networks are HDF5 files, usually named *.net)")
    if os.path.isdir(path):
        raise NetxFormatError(path, "is a directory, expected a NetX HDF5 file (*.net)")
    try:
        with open_hdf5(path, size_limit("read_bytes")) as f:
            yield f
    except Hdf5Refused as exc:
        if exc.name is not None:
            raise _entry_error(path, exc.name, exc.reason) from None
        reason = exc.reason
        if reason.startswith("not an HDF5 file"):
            reason += ("; NetX networks are HDF5 files written by lava-dl's export_hdf5 "
                       "or loihi_snn.netx.export")
        raise NetxFormatError(path, _one_line(reason)) from None


_open = open_netx


# --------------------------------------------------------------------------- validation

BIAS_LIMIT = BIAS_MANT_MAX      # kept for readers: the LIF-family bias mantissa limit
#: the bias mantissa range of each neuron type as lava's fixed-point model holds it:
#: LIF-family ``bias_mant`` is 13-bit signed (an int16 that wraps above 2**15 in
#: ``lava-fixed``), sigma-delta ``bias`` 16-bit signed.  Others use the LIF range.
BIAS_RANGES = {"SDNN": (-(1 << (SDNN_BIAS_BITS - 1)), (1 << (SDNN_BIAS_BITS - 1)) - 1)}
#: the largest |weight| of an input layer (its input is multiplied by it on the host and
#: one step of it must fit the 24-bit current: ``|w| << 6 <= 2**24``)
INPUT_WEIGHT_MAX = 1 << (STATE_BITS - ACT_SHIFT)


def bias_range(neuron: Optional["NeuronSpec"]) -> Tuple[int, int]:
    """(lowest, highest) bias mantissa a layer with these neurons may have."""
    ntype = neuron.type if neuron is not None else "CUBA"
    return BIAS_RANGES.get(ntype, (BIAS_MANT_MIN, BIAS_MANT_MAX))

MAX_LAYER_NEURONS = 1 << 24     # 16 Mi neurons (16 Loihi 2 chips' worth) in one layer
MAX_MESSAGE_LENGTH = 500        # characters of an error message (values are abbreviated)


def _one_line(text: Any, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_size(c: "_Checker", key: str, shape: Tuple[int, ...]) -> int:
    """Number of neurons of ``shape`` (exact, no int64 overflow), at most MAX_LAYER_NEURONS."""
    size = math.prod(int(s) for s in shape)
    if size > MAX_LAYER_NEURONS:
        c.fail(key, f"shape {_one_line(shape, 80)} has {size:.3g} neurons, more than the "
                    f"{MAX_LAYER_NEURONS} per layer that loihi_snn builds (16 Loihi 2 chips); "
                    f"a corrupt shape or a network to split")
    return size

class _Checker:
    """Helpers that raise NetxFormatError naming file, layer and field."""

    def __init__(self, path: str, index: Optional[int] = None) -> None:
        self.path, self.index = path, index

    def fail(self, field_name: Optional[str], message: str) -> None:
        raise NetxFormatError(self.path, _one_line(message), layer=self.index,
                              field=None if field_name is None else _one_line(field_name, 80))

    def require(self, raw: Dict[str, Any], key: str, what: str) -> Any:
        if key not in raw:
            self.fail(key, f"missing (required for {what})")
        return raw[key]

    def array(self, raw: Dict[str, Any], key: str, *, required: bool = True,
              integer: bool = False, lo: Optional[float] = None,
              hi: Optional[float] = None, what: str = "this layer") -> Optional[np.ndarray]:
        if key not in raw:
            if required:
                self.fail(key, f"missing (required for {what})")
            return None
        value = raw[key]
        if isinstance(value, (dict, str, list)):
            self.fail(key, f"expected a numeric array, found {type(value).__name__}")
        kind = getattr(np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int,
                                                                float, bool)) else None,
                       "dtype", None)
        if kind is None or kind.kind not in "biuf":
            self.fail(key, f"expected real numbers, found "
                           f"{kind if kind is not None else type(value).__name__}")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            self.fail(key, "expected a numeric array")
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            self.fail(key, f"contains NaN or infinite values (first at index "
                           f"{tuple(int(b) for b in bad)}); re-export the network from a "
                           f"trained model with finite parameters")
        if integer and not np.all(arr == np.round(arr)):
            bad = np.argwhere(arr != np.round(arr))[0]
            self.fail(key, f"must be integers (quantized fixed-point mantissas); found "
                           f"{arr[tuple(bad)]:g} at index {tuple(int(b) for b in bad)}; "
                           f"export with the block's quantizing pre_hook_fx")
        if lo is not None and arr.size and arr.min() < lo:
            self.fail(key, f"value {arr.min():g} is below the allowed minimum {lo:g}")
        if hi is not None and arr.size and arr.max() > hi:
            self.fail(key, f"value {arr.max():g} is above the allowed maximum {hi:g}")
        return arr

    def scalar(self, raw: Dict[str, Any], key: str, *, required: bool = True,
               default: Any = None, lo: Optional[float] = None, hi: Optional[float] = None,
               integer: bool = True, what: str = "this layer") -> Any:
        arr = self.array(raw, key, required=required, integer=integer, lo=lo, hi=hi,
                         what=what)
        if arr is None:
            return default
        if arr.size != 1:
            self.fail(key, f"expected a scalar, found an array of shape {arr.shape}")
        value = arr.reshape(-1)[0]
        return int(value) if integer else float(value)

    def pair(self, raw: Dict[str, Any], key: str, default: int, lo: int = 0) -> Tuple[int, int]:
        """A (H, W) geometry pair; a scalar means both."""
        if key not in raw:
            return (default, default)
        arr = self.array(raw, key, integer=True, lo=lo)
        flat = arr.reshape(-1)
        if flat.size == 1:
            return (int(flat[0]), int(flat[0]))
        if flat.size < 2:
            self.fail(key, f"expected 1 or 2 values, found {flat.size}")
        return (int(flat[0]), int(flat[1]))

    def shape(self, raw: Dict[str, Any], key: str = "shape") -> Tuple[int, ...]:
        arr = self.array(raw, key, integer=True, lo=1)
        shape = tuple(int(s) for s in arr.reshape(-1))
        if len(shape) == 0 or len(shape) > 3:
            self.fail(key, f"expected 1 to 3 dimensions (C, H, W), found {shape}")
        check_size(self, key, shape)
        return shape

    def flag(self, raw: Dict[str, Any], key: str, default: bool = False) -> bool:
        """A boolean field: a numeric or boolean scalar (0 = False)."""
        if key not in raw:
            return default
        value = raw[key]
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        return self.scalar(raw, key, integer=False) != 0


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


def _validate_layer(c: _Checker, ltype: str, raw: Dict[str, Any],
                    prev_shape: Optional[Tuple[int, ...]]) -> LayerSpec:
    index = c.index
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
    if neuron is None and ltype in ("dense", "conv", "pool", "dense_rec"):
        # without neurons nothing integrates the synaptic input: every backend would
        # output zeros forever
        c.fail("neuron", f"missing: a '{ltype}' layer needs a neuron group (without one "
                         f"every backend outputs zeros)")
    return LayerSpec(index, ltype, tuple(int(s) for s in shape), in_shape, fields, neuron)


INPUT_UNIT_WEIGHT = 64     # SLAYER's weight scale: weight 1.0 is 64 in hardware units


def _given_input_shape(c: _Checker, input_shape: Any) -> Tuple[int, ...]:
    """The ``input_shape=`` argument of :func:`read_netx` as a checked (C, H, W)."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        c.fail("shape", f"input_shape must be (C, H, W) with positive sizes for a conv or "
                        f"pool first layer, got {_one_line(input_shape, 80)}")
    check_size(c, "shape", shape)
    return shape


def input_transform(spec: NetSpec, x: np.ndarray) -> np.ndarray:
    """Scale an input the way SLAYER's Input block feeds its neurons.

    A SLAYER ``block.cuba.Input`` (CUBA-family neurons) integrates ``z = weight * x``
    in weight units, i.e. the integer synaptic input ``x * w`` with ``w`` the exported
    ``weight`` field (hardware units, x 64) or 64 when the block has no weight.  Stock
    netx ignores this; every loihi_snn runner (Lava and emulator) applies it on the
    host side, where the input is injected.  Networks whose first layer is not such an
    input layer (dense/conv first, shape-only input, sigma-delta input) are unchanged.
    """
    first = spec.layers[0]
    if first.type != "input" or first.neuron is None or first.neuron.type == "SDNN":
        return x
    w = first.fields.get("weight", INPUT_UNIT_WEIGHT)
    return np.asarray(x) * w


def read_netx(path: str, input_shape: Optional[Tuple[int, ...]] = None) -> NetSpec:
    """Read and validate a NetX HDF5 file.

    Parameters
    ----------
    path : str
        path to a ``.net`` file.
    input_shape : tuple of int, optional
        (C, H, W) of the input of a network whose first layer is a ``conv`` or
        ``pool`` layer (no input layer), as stock SLAYER exports it and as stock
        lava-dl netx takes it (``hdf5.Network(..., input_shape=(W, H, C))``, Lava
        order there).  Ignored when the file states its input shape.

    Returns
    -------
    NetSpec
        validated layers with shapes in file order (C, H, W).

    Raises
    ------
    NetxFormatError
        one line naming the file, the layer index and the field that is wrong.
    """
    path = check_path(path, "path")      # a file name, else one-line OptionError
    try:
        # every h5py call is in here: a corrupt file can fail anywhere (even in
        # ``"layer" in f``) with OSError/RuntimeError/KeyError/... from libhdf5
        with _open(path) as f:
            import h5py
            if "layer" not in f:
                raise NetxFormatError(path, "no '/layer' group: not a NetX network file",
                                      field="layer")
            if not isinstance(f.get("layer"), h5py.Group):
                raise NetxFormatError(path, "'/layer' must be a group of numbered layer "
                                            "groups, found a dataset", field="layer")
            n_layers = len(f["layer"])
            if n_layers > size_limit("layers"):
                raise NetxFormatError(path, _cap_message("layers", n_layers, "layers"),
                                      field="layer")
            budget = [size_limit("read_bytes")]
            raw_layers = _group_to_dict(f["layer"], budget=budget)
            extensions = {k: _group_to_dict(f[k], budget=budget) for k in f.keys()
                          if k != "layer" and isinstance(f.get(k), h5py.Group)}
            layer_start = _decode(f.attrs["layer_start"]) if "layer_start" in f.attrs \
                else "step_1"
    except (NetxFormatError, OptionError):     # OptionError: a bad LOIHI_SNN_MAX_* value
        raise
    except _BrokenEntry as exc:
        raise _entry_error(path, exc.name, exc.reason) from None
    except (OSError, KeyError, RuntimeError, TypeError, ValueError, AttributeError,
            IndexError, OverflowError, MemoryError, UnicodeError) as exc:
        raise NetxFormatError(path, _one_line(f"corrupt HDF5 content "
                                              f"({type(exc).__name__}: {exc})")) from None

    keys = list(raw_layers.keys())
    if not keys:
        raise NetxFormatError(path, "the '/layer' group is empty", field="layer")
    if not all(_is_index(k) for k in keys) or \
            sorted(int(k) for k in keys) != list(range(len(keys))):
        raise NetxFormatError(path, _one_line(f"layers must be numbered 0..{len(keys) - 1}, "
                                              f"found {sorted(keys)}"), field="layer")

    layers: List[LayerSpec] = []
    prev_shape: Optional[Tuple[int, ...]] = None
    neurons = synapses = 0
    for i in range(len(keys)):
        raw = raw_layers[str(i)]
        c = _Checker(path, i)
        if not isinstance(raw, dict):
            c.fail(None, "expected a group")
        if "type" not in raw:
            c.fail("type", "missing; expected one of " + ", ".join(LAYER_TYPES))
        ltype = str(raw["type"])
        if ltype not in LAYER_TYPES:
            c.fail("type", f"unknown layer type '{ltype}'; supported: " + ", ".join(LAYER_TYPES))
        if ltype == "input" and i != 0:
            c.fail("type", "an input layer must be layer 0")
        if i == 0 and ltype in ("conv", "pool") and input_shape is not None:
            prev_shape = _given_input_shape(c, input_shape)
        layer = _validate_layer(c, ltype, raw, prev_shape)
        layers.append(layer)
        prev_shape = layer.shape
        neurons += layer.size if layer.neuron is not None or layer.type != "flatten" else 0
        if neurons > size_limit("neurons"):
            c.fail("shape", _cap_message("neurons up to this layer", neurons, "neurons"))
        synapses += layer.num_synapses
        if synapses > size_limit("synapses"):
            c.fail("weight", _cap_message("synapses up to this layer", synapses, "synapses"))

    if not any(l.neuron is not None or l.type not in ("input", "flatten") for l in layers):
        raise NetxFormatError(path, "the network has no layer with neurons or synapses",
                              field="layer")
    _check_layer_start(path, layer_start, layers)
    input_shape = layers[0].in_shape
    return NetSpec(path=path, layers=layers, input_shape=tuple(input_shape),
                   output_shape=tuple(layers[-1].shape), extensions=extensions,
                   layer_start=layer_start)


def _check_layer_start(path: str, value: Any, layers: List[LayerSpec]) -> None:
    """One-line NetxFormatError (field ``layer_start``) unless ``value`` is one of
    :data:`LAYER_STARTS` and, for ``first_input``, every layer's neurons can be zeroed
    by the scheduled reset that implements it."""
    if not isinstance(value, str) or value not in LAYER_STARTS:
        raise NetxFormatError(path, _one_line(f"root attribute must be one of "
                                              f"{', '.join(LAYER_STARTS)}, found "
                                              f"{_one_line(repr(value), 80)}"),
                              field="layer_start")
    if value == "first_input":
        for layer in layers:
            family = families.get(layer.neuron.type) if layer.neuron is not None else None
            if layer.neuron is not None and (family is None or not family.controllable):
                raise NetxFormatError(path, f"'first_input' needs neurons a scheduled reset "
                                            f"can zero; {layer.neuron.type} neurons cannot "
                                            f"(write layer_start 'step_1' or remove it)",
                                      layer=layer.index, field="layer_start")
