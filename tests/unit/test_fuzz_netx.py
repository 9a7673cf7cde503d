"""Fuzzed NetX loading: any file gives a network or a one-line NetxFormatError.

Two generators (hypothesis, derandomized so CI is deterministic):

(a) random *valid-ish* networks: stacks of input / dense / dense_rec / conv / pool /
    flatten / average layers with random shapes, geometry, neuron groups and HDF5
    dtypes.  Unperturbed they must load; perturbed (one random corruption) they must
    load or be rejected cleanly.
(b) corruptions of the three shared lava-dl networks: delete / replace / retype
    fields, wrong shapes, NaN/inf, huge values, strings for numbers, groups for
    datasets, dangling and cyclic links, renamed layers, truncated files, random bytes.

For every file ``read_netx`` and ``loihi_snn.load`` either succeed or raise
:class:`NetxFormatError` -- one line, starting with the file's path -- and nothing
else (no TypeError/KeyError/IndexError/OSError from h5py, numpy or Lava).  ``load``
builds the Lava processes but runs nothing: no child process may appear.  Accepted
specs also go through the Loihi 2 checks (``loihi_snn.netx.resources``).

``LOIHI_SNN_FUZZ_EXAMPLES=N`` multiplies the number of examples for a longer local
hunt; ``LOIHI_SNN_FUZZ_RANDOM=1`` draws new (non-derandomized) examples each run.  Crashes found by the fuzzer are kept below as explicit regression tests.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loihi_snn.core.errors import NetxFormatError
from loihi_snn.netx.resources import check as hw_check
from loihi_snn.netx.resources import estimate as hw_estimate
from loihi_snn import load, read_netx
from loihi_snn import families

from helpers import (NETWORKS, dense_netx, fixed_bytes, put, put_type, shared_network,
                     string_field, write_netx)

SOURCES = {name: shared_network(name) for name in NETWORKS}
SCALE = max(1, int(os.environ.get("LOIHI_SNN_FUZZ_EXAMPLES", "1")))


RANDOM = os.environ.get("LOIHI_SNN_FUZZ_RANDOM", "") not in ("", "0")


def fuzz_settings(n: int):
    return settings(max_examples=n * SCALE, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much],
                    print_blob=True)


# ----------------------------------------------------------------------------- oracle

def _proc_children() -> set:
    """PIDs whose parent is this process (Linux /proc), besides multiprocessing's."""
    me, out = os.getpid(), set()
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat", "rb") as f:
                    if int(f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()[1]) == me:
                        out.add(int(e))
            except (OSError, IndexError, ValueError):
                pass
    return out


def assert_clean_error(exc: BaseException, path: Path) -> None:
    assert isinstance(exc, NetxFormatError), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert "\n" not in text and "\r" not in text, f"multi-line error: {text!r}"
    assert text.startswith(f"{path}: "), text
    assert exc.path == str(path)
    assert len(text) < 2000, f"error message too long ({len(text)} chars)"


def check_file(path: Path, *, must_load: bool = False) -> Optional[Any]:
    """The property: read_netx and load succeed or raise a clean NetxFormatError.

    Returns the spec when the file is accepted.  ``must_load`` (an unperturbed
    generated network) additionally requires acceptance and a successful load.
    """
    children_before = _proc_children()
    try:
        spec = read_netx(path)
    except NetxFormatError as exc:
        assert not must_load, f"valid generated network rejected: {exc}"
        assert_clean_error(exc, path)
        with pytest.raises(NetxFormatError) as info:
            load(path)
        assert str(info.value) == str(exc)
        return None
    # accepted: the Loihi 2 checks and the loader must cope with it
    hw_check(spec)
    hw_estimate(spec)
    precisions = ["fixed"] if "SDNN" in spec.neuron_types else ["fixed", "float"]
    for precision in precisions:
        try:
            net = load(path, precision=precision)
        except NetxFormatError as exc:
            assert not must_load, f"valid generated network not loadable: {exc}"
            assert_clean_error(exc, path)
            continue
        assert tuple(net.output_shape) == tuple(int(s) for s in spec.output_shape[::-1]) or \
            int(np.prod(net.output_shape)) == int(np.prod(spec.output_shape))
    assert multiprocessing.active_children() == []
    assert _proc_children() - children_before == set(), "load started a process"
    return spec


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="loihi_snn_fuzz_")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------------------- writing

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def _fits(values: np.ndarray, dtype) -> bool:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return bool(values.size == 0 or (values.min() >= info.min and values.max() <= info.max))
    if dtype == np.float16:
        return bool(values.size == 0 or np.abs(values).max() <= 2048)   # exact integers
    return True


def _dtype_for(values: np.ndarray, choice: int):
    """A dtype (chosen by ``choice``) that represents ``values`` exactly."""
    options = [d for d in INT_DTYPES + FLOAT_DTYPES if _fits(values, d)]
    return options[choice % len(options)]


def num_value(value, choice: int, scalar_style: int = 0) -> np.ndarray:
    """``value`` as an array of a dtype chosen by ``choice`` that holds it exactly;
    a scalar becomes shape (1,) when ``scalar_style`` is 1."""
    arr = np.asarray(value)
    dtype = _dtype_for(arr.astype(np.float64), choice)
    if arr.ndim == 0 and scalar_style == 1:
        arr = arr.reshape(1)
    return arr.astype(dtype)


# ----------------------------------------------------------------------------- (a) generator

@st.composite
def neuron_groups(draw, is_input: bool = False) -> Dict[str, Any]:
    types = sorted(t for t in families.netx_types() if t in ("CUBA", "LOIHI", "SDNN", "LIF", "TERNARY"))
    ntype = draw(st.sampled_from(types))
    if ntype == "SDNN":
        d: Dict[str, Any] = {"type": ntype, "vThMant": draw(st.integers(0, 1 << 12))}
        if draw(st.booleans()):
            d["sigma_output"] = int(draw(st.booleans()) and not is_input)
        if draw(st.booleans()):
            d["messageBits"] = draw(st.integers(1, 24))
        return d
    d = {"type": ntype, "iDecay": draw(st.integers(1, 4096)),
         "vDecay": draw(st.integers(0, 4095)), "vThMant": draw(st.integers(1, (1 << 17) - 1))}
    if draw(st.booleans()):
        d["refDelay"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        d["gradedSpike"] = int(draw(st.booleans()))
    if ntype in ("LIF", "TERNARY") and draw(st.booleans()):
        from loihi_snn.core.lif import RESET_MODES
        d["resetMode"] = draw(st.sampled_from(list(RESET_MODES)))
    return d


def _weights(draw, shape, lo=-128, hi=127) -> np.ndarray:
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    w = rng.integers(lo, hi + 1, size=n) * 2            # SLAYER-like: even, [-256, 254]
    if draw(st.integers(0, 5)) == 0:
        w[:] = 0                                         # a pruned layer
    elif draw(st.integers(0, 5)) == 0:
        w = np.minimum(np.abs(w), 254)                   # excitatory only
    elif draw(st.integers(0, 5)) == 0:
        w = -np.abs(w)                                   # inhibitory only
    return w.reshape(shape)


def _conv_out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def network_plans(draw) -> List[Dict[str, Any]]:
    """A list of layer dicts (file order shapes) describing a consistent network."""
    plan: List[Dict[str, Any]] = []
    image = draw(st.booleans())
    if image:
        shape: Tuple[int, ...] = (draw(st.integers(1, 3)), draw(st.integers(1, 9)),
                                  draw(st.integers(1, 9)))
    else:
        shape = (draw(st.integers(1, 16)),)
    start = draw(st.sampled_from(["neuron", "shape-only"] + ([] if image else ["none"])))
    if start != "none":
        layer = {"type": "input", "shape": shape}
        if start == "neuron":
            layer["neuron"] = draw(neuron_groups(is_input=True))
            if draw(st.booleans()):
                layer["weight"] = np.array(draw(st.sampled_from([64, 128, 2])))
            if draw(st.booleans()):
                layer["bias"] = np.array(draw(st.integers(-8, 8)))
        plan.append(layer)
    n_layers = draw(st.integers(1, 4))
    k = 0
    while k < n_layers or plan[-1]["type"] == "flatten":   # a flatten feeds a dense layer
        k += 1
        choices = ["dense", "dense_rec", "average"] if len(shape) == 1 else \
            ["conv", "conv", "pool", "flatten"]
        if not plan:                 # no input layer: a dense layer states the input size
            choices = ["dense", "dense_rec"]
        ltype = draw(st.sampled_from(choices))
        layer = {"type": ltype}
        if ltype in ("dense", "dense_rec"):
            nin = int(np.prod(shape))
            out = draw(st.integers(1, 12))
            layer.update(shape=(out,), weight=_weights(draw, (out, nin)),
                         neuron=draw(neuron_groups()))
            if draw(st.booleans()):
                layer["inFeatures"], layer["outFeatures"] = nin, out
            if ltype == "dense_rec":
                layer["weight_rec"] = _weights(draw, (out, out))
            elif draw(st.integers(0, 3)) == 0:
                kind = draw(st.sampled_from(["full", "out", "scalar"]))
                size = {"full": (out, nin), "out": (out,), "scalar": ()}[kind]
                layer["delay"] = np.asarray(draw(st.lists(st.integers(0, 62), min_size=int(np.prod(size)),
                                                          max_size=int(np.prod(size))))).reshape(size)
            shape = (out,)
        elif ltype == "average":
            nin = int(np.prod(shape))
            divisors = [d for d in range(1, nin + 1) if nin % d == 0]
            num = draw(st.sampled_from(divisors))
            layer["shape"] = (num,)
            shape = (num,)
        elif ltype == "flatten":
            layer["shape"] = (int(np.prod(shape)),)
            shape = layer["shape"]
        else:   # conv / pool
            cin, h, w = shape
            s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
            p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
            dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            kmax = (max(1, (h + 2 * p[0] - 1) // dil[0] + 1), max(1, (w + 2 * p[1] - 1) // dil[1] + 1))
            kern = (draw(st.integers(1, min(4, kmax[0]))), draw(st.integers(1, min(4, kmax[1]))))
            hout, wout = _conv_out(h, kern[0], s[0], p[0], dil[0]), _conv_out(w, kern[1], s[1], p[1], dil[1])
            if hout < 1 or wout < 1:
                s, p, dil, kern = (1, 1), (0, 0), (1, 1), (1, 1)
                hout, wout = h, w
            if ltype == "conv":
                groups = draw(st.sampled_from([g for g in (1, 2, 3) if cin % g == 0]))
                cout = groups * draw(st.integers(1, 3))
                wshape = (cout, cin // groups) + kern
                weight = _weights(draw, wshape)
                if draw(st.booleans()):
                    weight = weight[..., None]           # lava-dl's trailing 1
                layer.update(weight=weight, groups=groups)
                if draw(st.booleans()):
                    layer.update(inChannels=cin, outChannels=cout)
                if draw(st.booleans()):
                    layer["kernelSize"] = np.array(kern)
                else:
                    pass
            else:
                cout = cin
                layer["kernelSize"] = np.array(kern)
                layer["weight"] = np.array(draw(st.sampled_from([2, 4, 64])))
            layer.update(shape=(cout, hout, wout), stride=np.array(s), padding=np.array(p),
                         dilation=np.array(dil), neuron=draw(neuron_groups()))
            shape = (cout, hout, wout)
        sigma_out = bool(layer.get("neuron", {}).get("sigma_output"))   # Lava's Sigma: no bias
        if ltype in ("dense", "dense_rec", "conv", "pool") and not sigma_out and \
                draw(st.integers(0, 3)) == 0:
            n = int(np.prod(layer["shape"]))
            kind = draw(st.sampled_from(["scalar", "channel", "neuron"]))
            size = {"scalar": 1, "channel": layer["shape"][0], "neuron": n}[kind]
            layer["bias"] = np.asarray(draw(st.lists(st.integers(-64, 64), min_size=size,
                                                     max_size=size)))
        plan.append(layer)
    # only fully-connected SDNN/CUBA mixes that stock arithmetic allows: nothing to fix
    return plan


def write_plan(path: Path, plan: List[Dict[str, Any]], styles: List[int]) -> None:
    """Write a generated plan; ``styles`` picks, field by field, how strings are stored
    (see helpers.string_field) and which dtype and scalar shape numbers get."""
    it = iter(styles * 64)
    layers = []
    for layer in plan:
        out: Dict[str, Any] = {"type": string_field(layer["type"], next(it) % 3)}
        for key, value in layer.items():
            if key in ("type",):
                continue
            if key == "neuron":
                out["neuron"] = {
                    nk: (string_field(str(nv), next(it) % 3) if nk in ("type", "resetMode")
                         else num_value(nv, next(it), next(it) % 2))
                    for nk, nv in value.items()}
            else:
                out[key] = num_value(np.asarray(value), next(it), next(it) % 2)
        layers.append(out)
    write_netx(path, layers)


# ----------------------------------------------------------------------------- corruptions

def _entries(path: Path) -> Tuple[List[str], List[str]]:
    datasets, groups = [], []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            (datasets if isinstance(obj, h5py.Dataset) else groups).append(name)
        f.visititems(visit)
    return sorted(datasets), sorted(groups)


ENTRIES = {k: _entries(p) for k, p in SOURCES.items() if p.exists()}
SOURCE_BYTES = {k: p.read_bytes() for k, p in SOURCES.items() if p.exists()}

TEXTS = ["", "dense", "conv", "input", "CUBA", "SDNN", "bogus", "1", "-3", "nan", "3,16,16",
         "\u00e9\u00e8", "a\nb", "x" * 300]


@st.composite
def weird_values(draw, original: Optional[np.ndarray] = None):
    """Values to put where a field was: wrong types, shapes, NaN/inf, huge numbers."""
    kind = draw(st.sampled_from(
        ["int", "float", "special", "text", "text-array", "bool", "complex", "empty",
         "array", "nan-array", "huge-array", "structured"]
        + (["reshape", "slice", "tile", "scale", "half", "negate", "transpose"]
           if original is not None and original.dtype.kind in "iufb" else [])))
    if kind == "int":
        return np.int64(draw(st.sampled_from([0, 1, -1, 2, 3, 7, 62, 63, 255, 256, 4096, 4097,
                                              131072, 2 ** 31, -2 ** 31, 2 ** 62, -2 ** 63])))
    if kind == "float":
        return np.float64(draw(st.floats(allow_nan=False, allow_infinity=False,
                                         min_value=-1e300, max_value=1e300)))
    if kind == "special":
        return np.float64(draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.5,
                                                -0.0, 1e-300, 2.0 ** 70])))
    if kind == "text":
        return draw(st.sampled_from(TEXTS)).encode("utf-8")
    if kind == "text-array":
        return np.array([t.encode("utf-8") for t in draw(st.lists(st.sampled_from(TEXTS),
                                                                     min_size=0, max_size=4))],
                        dtype="S")
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=1, max_size=5)))
    if kind == "complex":
        return np.array([1 + 2j, 3.0], dtype=np.complex64)
    if kind == "empty":
        return draw(st.sampled_from([np.zeros(0), np.zeros((0, 3)), np.zeros((2, 0, 1)),
                                     h5py.Empty("f8"), h5py.Empty("S5")]))
    if kind == "structured":
        return np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    if kind in ("array", "nan-array", "huge-array"):
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
        seed = draw(st.integers(0, 2 ** 31 - 1))
        arr = np.random.default_rng(seed).integers(-300, 300, size=shape).astype(np.float64)
        if kind == "nan-array":
            arr.flat[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        if kind == "huge-array":
            arr *= 1e30
        return arr.astype(draw(st.sampled_from([np.float64, np.float32, np.int64, np.int16])))\
            if kind == "array" else arr
    arr = np.asarray(original)
    if kind == "reshape":
        return arr.reshape(-1)
    if kind == "slice":
        return arr.reshape(-1)[: max(0, arr.size - draw(st.integers(1, 3)))]
    if kind == "tile":
        return np.concatenate([arr.reshape(-1), arr.reshape(-1)[:3]])
    if kind == "scale":
        return arr.astype(np.float64) * draw(st.sampled_from([1000.0, -1.0, 2.0 ** 40, 1e-3]))
    if kind == "half":
        return arr.astype(np.float64) + 0.5
    if kind == "negate":
        return -arr.astype(np.float64)
    return arr.T if arr.ndim > 1 else arr[None]


@st.composite
def corruptions(draw, source: str):
    datasets, groups = ENTRIES[source]
    op = draw(st.sampled_from(
        ["replace", "replace", "replace", "retype", "delete", "delete-group", "to-group",
         "dangling", "cycle", "rename-layer", "extra-layer", "attribute", "truncate",
         "bytes", "bytes", "neuron-type", "layer-type"]))
    target = draw(st.sampled_from(datasets))
    gtarget = draw(st.sampled_from(groups))
    if op in ("truncate", "bytes"):
        n = len(SOURCE_BYTES[source])
        if op == "truncate":
            return ("truncate", draw(st.integers(0, n - 1)))
        edits = draw(st.lists(st.tuples(st.integers(0, n - 1), st.binary(min_size=1, max_size=32)),
                              min_size=1, max_size=6))
        return ("bytes", edits)
    if op == "replace":
        with h5py.File(SOURCES[source], "r") as f:
            original = f[target][()]
        original = original if isinstance(original, np.ndarray) else np.asarray(original)
        return ("replace", target, draw(weird_values(original)))
    if op == "retype":
        return ("retype", target, draw(st.sampled_from(
            ["i1", "u1", "i8", "u8", "f2", "f4", "c8", "?", "S8"])))
    if op == "neuron-type":
        return ("replace", draw(st.sampled_from([d for d in datasets if d.endswith("neuron/type")])),
                draw(st.sampled_from([b"cuba", b"LIF", b"TERNARY", b"SDNN", b"CUBA", b"ALIF",
                                      b"", b"RF", b"LOIHI"])))
    if op == "layer-type":
        return ("replace", draw(st.sampled_from([d for d in datasets if d.endswith("/type")
                                                 and "neuron" not in d])),
                draw(st.sampled_from([b"dense", b"conv", b"pool", b"flatten", b"average",
                                      b"input", b"dense_rec", b"concat", b"convT"])))
    if op == "rename-layer":
        layers = [g for g in groups if g.count("/") == 1]
        return ("rename", draw(st.sampled_from(layers)),
                draw(st.sampled_from(["00", "01", "-1", "1.0", "\u00b2", "\u0661", " 0", "99",
                                      "layer"])))
    if op == "extra-layer":
        return ("extra", draw(st.sampled_from(list(TEXTS[:8]))), draw(weird_values()))
    if op == "attribute":
        return ("attribute", gtarget, draw(weird_values()))
    return (op, target if op in ("delete", "to-group", "dangling") else gtarget)


def apply_corruption(path: Path, source: str, ops) -> None:
    data = SOURCE_BYTES[source]
    byte_ops = [o for o in ops if o[0] in ("truncate", "bytes")]
    h5_ops = [o for o in ops if o[0] not in ("truncate", "bytes")]
    path.write_bytes(data)
    if h5_ops:
        with h5py.File(path, "r+") as f:
            for op in h5_ops:
                try:
                    _apply_h5(f, op)
                except (TypeError, ValueError, KeyError, OSError, RuntimeError):
                    pass      # the corruption itself did not apply (e.g. parent deleted)
    if byte_ops:
        b = bytearray(path.read_bytes())
        for op in byte_ops:
            if op[0] == "truncate":
                b = b[: min(op[1], len(b))]
            else:
                for off, chunk in op[1]:
                    if off < len(b):
                        b[off:off + len(chunk)] = chunk
        path.write_bytes(bytes(b))


def _apply_h5(f, op) -> None:
    kind = op[0]
    if kind == "replace":
        put(f, op[1], fixed_bytes(op[2]))
    elif kind == "retype":
        if op[1] in f and isinstance(f[op[1]], h5py.Dataset):
            v = f[op[1]][()]
            try:
                with np.errstate(all="ignore"):
                    new = np.asarray(v).astype(op[2])
            except (TypeError, ValueError, OverflowError):
                new = np.asarray(str(v).encode()[:8], dtype="S8")
            put(f, op[1], fixed_bytes(new))
    elif kind == "delete":
        if op[1] in f:
            del f[op[1]]
    elif kind == "delete-group":
        if op[1] in f:
            del f[op[1]]
    elif kind == "to-group":
        if op[1] in f:
            del f[op[1]]
            f.create_group(op[1]).create_dataset("x", data=np.arange(3))
    elif kind == "dangling":
        if op[1] in f:
            del f[op[1]]
        f[op[1]] = h5py.SoftLink("/does/not/exist")
    elif kind == "cycle":
        if op[1] in f and isinstance(f[op[1]], h5py.Group):
            f[op[1]]["loop"] = f[op[1]]          # hard link to itself
    elif kind == "rename":
        if op[1] in f and f"layer/{op[2]}" not in f:
            f["layer"].move(op[1].split("/", 1)[1], op[2])
    elif kind == "extra":
        n = len(f["layer"]) if "layer" in f and isinstance(f["layer"], h5py.Group) else 0
        g = f.require_group(f"layer/{n}") if "layer" in f and isinstance(f["layer"], h5py.Group) else None
        if g is not None:
            g.create_dataset("type", data=np.bytes_(op[1].encode("utf-8")) if op[1] else h5py.Empty("S1"))
            put(g, "shape", fixed_bytes(op[2]))
    elif kind == "attribute":
        target = f[op[1]] if op[1] in f else f
        try:
            target.attrs["fuzz"] = op[2]
        except (TypeError, ValueError):
            target.attrs["fuzz"] = 1




# ----------------------------------------------------------------------------- the fuzz tests

@fuzz_settings(120)
@given(plan=network_plans(), styles=st.lists(st.integers(0, 11), min_size=4, max_size=8))
def test_fuzz_generated_networks_load(workdir, plan, styles):
    """(a) every consistent random layer stack is accepted and loads."""
    path = workdir / "gen.net"
    write_plan(path, plan, styles)
    spec = check_file(path, must_load=True)
    assert spec is not None and len(spec.layers) == len(plan)


@fuzz_settings(60)
@given(plan=network_plans(), styles=st.lists(st.integers(0, 11), min_size=4, max_size=8),
       data=st.data())
def test_fuzz_generated_networks_perturbed(workdir, plan, styles, data):
    """(a') the same stacks with one random field replaced, deleted or retyped."""
    path = workdir / "gen_bad.net"
    write_plan(path, plan, styles)
    datasets, _ = _entries(path)
    target = data.draw(st.sampled_from(datasets))
    with h5py.File(path, "r") as f:
        original = np.asarray(f[target][()]) if not isinstance(f[target][()], bytes) else None
    action = data.draw(st.sampled_from(["replace", "delete"]))
    with h5py.File(path, "r+") as f:
        if action == "delete":
            del f[target]
        else:
            put(f, target, fixed_bytes(data.draw(weird_values(original))))
    check_file(path)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_fuzz_shared_corruptions(workdir, source):
    """(b) corrupted copies of the shared networks: load or a clean NetxFormatError."""
    path = workdir / f"corrupt_{source}.net"

    @fuzz_settings(60)
    @given(ops=st.lists(corruptions(source), min_size=1, max_size=3))
    def inner(ops):
        apply_corruption(path, source, ops)
        check_file(path)

    inner()


# ----------------------------------------------------------------------------- regressions
# Minimal failing examples the fuzzer (or its first runs) found, kept as explicit tests.
# Each one crashed with something other than NetxFormatError before the fix noted.

def _rejected(path: Path, field: Optional[str] = None, layer: Optional[int] = None,
              *words: str) -> NetxFormatError:
    assert check_file(path) is None, "expected the file to be rejected"
    with pytest.raises(NetxFormatError) as info:
        read_netx(path)
    exc = info.value
    assert_clean_error(exc, path)
    assert exc.field == field and exc.layer == layer, str(exc)
    for w in words:
        assert w.lower() in str(exc).lower(), str(exc)
    return exc


def test_regression_all_zero_dense_weight_loads(tmp_path):
    """load crashed in lava-dl's optimize_weight_bits (OverflowError: cannot convert
    float infinity to integer) for an all-zero (pruned) weight matrix.  Fix: the
    loader packs an all-zero matrix itself (netx.lower.dense_weights)."""
    path = dense_netx(tmp_path / "zero.net", np.zeros((2, 3)))
    spec = check_file(path, must_load=True)
    assert spec.layers[1].fields["weight"].sum() == 0


def test_regression_all_zero_recurrent_weights_load(tmp_path):
    path = tmp_path / "zero_rec.net"
    dense_netx(path, np.zeros((1, 1)))
    with h5py.File(path, "r+") as f:
        put_type(f["layer/1"], "dense_rec")
        f["layer/1"].create_dataset("weight_rec", data=np.zeros((1, 1)))
    check_file(path, must_load=True)


def test_regression_sigma_output_with_bias_is_rejected(tmp_path):
    """load crashed with TypeError (Sigma.__init__() got an unexpected keyword
    argument 'bias'): lava's Sigma has no bias.  Fix: the schema rejects a bias on an
    SDNN sigma_output layer, naming the field."""
    path = dense_netx(tmp_path / "sigma.net", np.full((1, 2), 2),
                      neuron={"type": b"SDNN", "vThMant": 0, "sigma_output": 1},
                      bias=np.array([3]))
    _rejected(path, "bias", 1, "sigma_output")


def test_regression_libhdf5_error_while_looking_up_layer(shared_netx, tmp_path):
    """Zeroed bytes 640..703 of oxford's file: h5py opens it, but ``"layer" in f``
    raised RuntimeError ('Unable to synchronously check link existence (bad local
    heap signature)') outside the guarded block.  Fix: every h5py call of read_netx
    is inside one guard that turns libhdf5 errors into NetxFormatError."""
    data = bytearray((shared_netx / "oxford" / "network.net").read_bytes())
    data[640:704] = bytes(64)
    path = tmp_path / "zeroed.net"
    path.write_bytes(bytes(data))
    exc = _rejected(path, None, None, "corrupt")
    assert "RuntimeError" in str(exc)


def test_regression_huge_declared_dataset_is_not_read(tmp_path):
    """A dataset declared with 2**31 float64 elements (16 GiB, nothing written) made
    read_netx allocate and fill it (a corrupted header did the same: 3.8 GB RSS in a
    fuzz run).  Fix: datasets above 1 GiB are rejected before reading."""
    path = dense_netx(tmp_path / "huge.net", np.full((2, 3), 2))
    with h5py.File(path, "r+") as f:
        f["layer/1"].create_dataset("bias", shape=(1 << 31,), dtype="f8", chunks=(1 << 16,))
    _rejected(path, "bias", 1, "GiB")


@pytest.mark.parametrize("key", ["00", "\u00b2", "\u0661", "1.0"])
def test_regression_non_canonical_layer_numbers(shared_netx, tmp_path, key):
    """'/layer/00' passed the numbering check and then raised KeyError('0'); '/layer/²'
    (a digit that int() refuses) raised ValueError.  Fix: layer keys must be canonical
    decimal numbers."""
    path = tmp_path / "keys.net"
    shutil.copyfile(shared_netx / "oxford" / "network.net", path)
    os.chmod(path, 0o644)
    with h5py.File(path, "r+") as f:
        f["layer"].move("0", key)
    _rejected(path, "layer", None, "numbered")


def test_regression_cyclic_hard_link(shared_netx, tmp_path):
    """A group holding a hard link to itself recursed until RecursionError (reported
    as 'corrupt HDF5 content (maximum recursion depth exceeded)', after ~1000 levels
    of h5py lookups).  Fix: cycles are detected and named."""
    path = tmp_path / "cycle.net"
    shutil.copyfile(shared_netx / "oxford" / "network.net", path)
    os.chmod(path, 0o644)
    with h5py.File(path, "r+") as f:
        f["layer/1/neuron"]["loop"] = f["layer/1/neuron"]
    _rejected(path, "neuron/loop", 1, "cycle")


def test_regression_graded_spike_array(tmp_path):
    """``gradedSpike`` given as an array raised ValueError ('truth value of an array
    with more than one element is ambiguous') from bool().  Fix: boolean neuron fields
    are validated as scalars."""
    path = dense_netx(tmp_path / "graded.net", np.full((2, 3), 2),
                      neuron={"gradedSpike": np.array([1, 0])})
    _rejected(path, "neuron/gradedSpike", 1, "scalar")


def test_regression_recurrent_weight_of_wrong_size(tmp_path):
    """A 1-D ``weight_rec`` whose size is not a multiple of the layer size raised
    ValueError from numpy's reshape.  Fix: the size is checked first."""
    path = tmp_path / "rec.net"
    dense_netx(path, np.full((3, 2), 2))
    with h5py.File(path, "r+") as f:
        put_type(f["layer/1"], "dense_rec")
        f["layer/1"].create_dataset("weight_rec", data=np.arange(7) * 2)
    _rejected(path, "weight_rec", 1, "(3, 3)")


def test_regression_huge_delay_does_not_wrap(tmp_path):
    """delay 1e300 was cast to int64 before the range check, wrapped to a negative
    number, passed the 62-step check and reached Lava's DelayDense.  Fix: the check
    runs on the float values."""
    path = dense_netx(tmp_path / "delay.net", np.full((2, 3), 2),
                      delay=np.full(2, 1e300))
    _rejected(path, "delay", 1, "62")


def test_regression_message_bits_not_a_number(tmp_path):
    """An SDNN ``messageBits`` given as text reached the loader's int() (ValueError).
    Fix: messageBits is validated as an integer 1..32."""
    path = dense_netx(tmp_path / "bits.net", np.full((2, 3), 2),
                      neuron={"type": b"SDNN", "vThMant": 4, "messageBits": b"sixteen"})
    _rejected(path, "neuron/messageBits", 1)
    path = dense_netx(tmp_path / "bits2.net", np.full((2, 3), 2),
                      neuron={"type": b"SDNN", "vThMant": 4, "messageBits": 64})
    _rejected(path, "neuron/messageBits", 1, "32")


def test_regression_conv_kernel_with_empty_dimension(shared_netx, tmp_path):
    path = tmp_path / "k0.net"
    shutil.copyfile(shared_netx / "tinynet" / "tiny.net", path)
    os.chmod(path, 0o644)
    with h5py.File(path, "r+") as f:
        del f["layer/1/weight"]
        f["layer/1"].create_dataset("weight", data=np.zeros((24, 3, 0, 5)))
    _rejected(path, "weight", 1, "empty")


def test_regression_type_group_gives_one_line_error(shared_netx, tmp_path):
    """A layer 'type' that is a group (holding arrays) produced a multi-line message
    (numpy's repr inside).  Fix: every message is collapsed to one line and cut."""
    path = tmp_path / "typegroup.net"
    shutil.copyfile(shared_netx / "oxford" / "network.net", path)
    os.chmod(path, 0o644)
    with h5py.File(path, "r+") as f:
        del f["layer/1/type"]
        f["layer/1"].create_group("type").create_dataset("x", data=np.arange(100).reshape(10, 10))
    _rejected(path, "type", 1, "unknown layer type")


def test_regression_complex_weights_are_rejected(tmp_path):
    """Complex weights were silently cut to their real part (ComplexWarning)."""
    path = dense_netx(tmp_path / "complex.net", np.full((2, 3), 2 + 1j))
    _rejected(path, "weight", 1, "real")


def test_regression_shape_product_overflow(shared_netx, tmp_path):
    """A shape of (2**40, 2**40, 2**40) overflowed int64 in np.prod (to 0).  Fix: sizes
    are computed exactly and capped at 2**24 neurons per layer."""
    path = tmp_path / "big.net"
    shutil.copyfile(shared_netx / "tinynet" / "tiny.net", path)
    os.chmod(path, 0o644)
    with h5py.File(path, "r+") as f:
        del f["layer/0/shape"]
        f["layer/0"].create_dataset("shape", data=np.array([2 ** 40] * 3, dtype=np.int64))
    _rejected(path, "shape", 0, "neurons")


def test_regression_network_without_neurons_rejected_by_read_netx(tmp_path):
    """read_netx accepted a shape-only input followed by a flatten, which load then
    refused: now both refuse it with the same message."""
    path = tmp_path / "empty.net"
    write_netx(path, [{"type": "input", "shape": np.array([1, 2, 2])},
                      {"type": "flatten", "shape": np.array([4])}])
    _rejected(path, "layer", None, "no layer with neurons")
