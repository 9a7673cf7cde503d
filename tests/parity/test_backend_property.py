"""Property: every file the package accepts runs the same on every fixed-point backend.

Hypothesis writes small random NetX files -- dense, recurrent, conv (also as the first
layer, without an input layer), pool (also on odd maps, zero-padded as SLAYER does) and
flatten layers; CUBA and LOIHI (binary or graded spikes), LIF (hard/soft/no reset, leak
on/off) and TERNARY neurons; extreme but valid biases, thresholds, decays and 8-bit
weights -- and random binary or graded inputs up to the largest value the network takes
(:func:`loihi_snn.netx.inputs.max_graded_input`).  Each is either refused at load
(a one-line NetxFormatError / ShapeError, before any Lava process) or gives identical
output on ``lava-fixed``, ``lava-fused`` and the emulator.  (SDNN layers are not drawn
here; lava-dl's two sigma-delta PilotNets are checked on every backend in
parity/test_pilotnet_snn.py.)

``derandomize=True``: the examples are the same on every run (no flaky CI); the
``@example`` cases are shrunk failures found while writing the input boundary (kept as
regression tests, as the fuzz suite does).  A Lava run costs a few seconds, so the
number of examples is small (``slow``).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import loihi_snn
from loihi_snn.core.constants import (BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY,
                                      VTH_MANT_MAX)
from loihi_snn.core.errors import NetxFormatError, ShapeError
from loihi_snn.netx.inputs import max_graded_input
from loihi_snn.netx.schema import read_netx

from helpers import write_netx

FAMILIES = ("CUBA", "LOIHI", "LIF", "TERNARY")


def _neuron(draw, family: str):
    extreme = st.sampled_from
    n = {"type": family.encode(),
         "iDecay": draw(st.one_of(extreme([0, 1, DECAY_UNITY]), st.integers(0, DECAY_UNITY))),
         "vDecay": draw(st.one_of(extreme([0, DECAY_UNITY]), st.integers(0, DECAY_UNITY))),
         "vThMant": draw(st.one_of(extreme([1, 2, VTH_MANT_MAX]), st.integers(1, 4000))),
         "refDelay": 1}
    if family in ("CUBA", "LOIHI") and draw(st.integers(0, 3)) == 0:
        n["gradedSpike"] = True               # sends graded spikes to the next layer
    if family in ("LIF", "TERNARY"):
        n["resetMode"] = draw(st.sampled_from(["hard", "soft", "none"])).encode()
        n["leak"] = draw(st.booleans())
    return n


def _weights(draw, shape, rng):
    lo, hi = draw(st.sampled_from([(-256, 254), (-64, 64), (0, 255), (-256, -1), (-8, 8)]))
    w = rng.integers(lo, hi + 1, shape)
    if draw(st.booleans()):
        w = w // 2 * 2                    # SLAYER exports even integers
    return w


def _bias(draw, n, rng):
    kind = draw(st.sampled_from(["none", "none", "extreme", "random"]))
    if kind == "none":
        return None
    if kind == "extreme":
        return np.full(n, draw(st.sampled_from([BIAS_MANT_MIN, BIAS_MANT_MAX, -1, 1])))
    return rng.integers(BIAS_MANT_MIN, BIAS_MANT_MAX + 1, n)


@st.composite
def networks(draw):
    """(layers for write_netx, input shape without time)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    layers = []
    if draw(st.booleans()):                                   # image input
        C, H, W = draw(st.integers(1, 2)), draw(st.integers(3, 6)), draw(st.integers(3, 6))
        in_shape = (C, H, W)
        first = {"type": "input", "shape": [C, H, W]}
        if draw(st.booleans()):
            first["neuron"] = _neuron(draw, draw(st.sampled_from(FAMILIES)))
            first["weight"] = draw(st.sampled_from([64, 1, 255]))
        layers.append(first)
        shape = in_shape
        if draw(st.booleans()):
            k = draw(st.integers(1, 2))
            if draw(st.booleans()):            # SLAYER's zero-padding of an odd map
                ho, wo = (shape[1] + shape[1] % k - k) // k + 1, (shape[2] + shape[2] % k - k) // k + 1
            else:
                ho, wo = shape[1] // k, shape[2] // k
            layers.append({"type": "pool", "shape": [C, ho, wo], "kernelSize": [k, k],
                           "stride": [k, k], "padding": [0, 0], "dilation": [1, 1],
                           "weight": np.full((1, 1, k, k), draw(st.sampled_from([2, 64, 254,
                                                                                 -256]))),
                           "neuron": _neuron(draw, draw(st.sampled_from(FAMILIES)))})
            shape = (C, ho, wo)
        cout = draw(st.integers(1, 3))
        k = draw(st.integers(1, 3))
        pad = draw(st.integers(0, 1))
        ho, wo = shape[1] + 2 * pad - k + 1, shape[2] + 2 * pad - k + 1
        if ho >= 1 and wo >= 1:
            conv = {"type": "conv", "shape": [cout, ho, wo],
                    "weight": _weights(draw, (cout, shape[0], k, k), rng),
                    "stride": [1, 1], "padding": [pad, pad], "dilation": [1, 1], "groups": 1,
                    "neuron": _neuron(draw, draw(st.sampled_from(FAMILIES)))}
            b = _bias(draw, cout, rng)
            if b is not None:
                conv["bias"] = b
            layers.append(conv)
            shape = (cout, ho, wo)
            if len(layers) == 2 and "neuron" not in layers[0] and draw(st.booleans()):
                layers.pop(0)      # conv first, no input layer: run takes the input's shape
        layers.append({"type": "flatten", "shape": [int(np.prod(shape))]})
        n_in = int(np.prod(shape))
    else:
        n_in = draw(st.integers(1, 12))
        in_shape = (n_in,)
        layers.append({"type": "input", "shape": [n_in]})
    for _ in range(draw(st.integers(1, 2))):
        n_out = draw(st.integers(1, 10))
        kind = draw(st.sampled_from(["dense", "dense", "dense_rec"]))
        layer = {"type": kind, "shape": [n_out], "weight": _weights(draw, (n_out, n_in), rng),
                 "neuron": _neuron(draw, draw(st.sampled_from(FAMILIES)))}
        if kind == "dense_rec":
            layer["weight_rec"] = _weights(draw, (n_out, n_out), rng)
        elif draw(st.booleans()):
            layer["delay"] = rng.integers(0, 4, (n_out, n_in))
        b = _bias(draw, n_out, rng)
        if b is not None:
            layer["bias"] = b
        layers.append(layer)
        n_in = n_out
    return layers, in_shape


@st.composite
def cases(draw):
    layers, in_shape = draw(networks())
    T = draw(st.integers(4, 12))
    kind = draw(st.sampled_from(["binary", "bool", "graded", "graded-max", "float-integers"]))
    seed = draw(st.integers(0, 2**31))
    return layers, in_shape, T, kind, seed


def _input(spec, in_shape, T, kind, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(in_shape) + (T,)
    if kind in ("binary", "bool"):
        x = rng.random(shape) < 0.4
        return x if kind == "bool" else x.astype(np.int16)
    limit = max_graded_input(spec) or 1 << 20
    if kind == "graded-max":                 # the extreme: every value at the limit
        return np.where(rng.random(shape) < 0.5, limit, -limit).astype(np.int64)
    x = rng.integers(-limit, limit + 1, shape)
    return x.astype(np.float32) if kind == "float-integers" and limit < 1 << 24 else x


def _check(tmp_path, layers, in_shape, T, kind, seed):
    path = tmp_path / "net.net"
    write_netx(path, layers)
    try:
        spec = read_netx(path, input_shape=in_shape if len(in_shape) == 3 else None)
    except NetxFormatError as exc:          # refused at load: one line, file named
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    x = _input(spec, in_shape, T, kind, seed)
    outs = {}
    for backend in ("emulator", "lava-fused", "lava-fixed"):
        try:
            outs[backend] = loihi_snn.run(path, x, backend=backend, timeout=120)
        except ShapeError as exc:           # refused input: before anything ran, on all
            assert backend == "emulator", f"{backend} refused what the emulator ran: {exc}"
            for other in ("lava-fused", "lava-fixed"):
                with pytest.raises(ShapeError):
                    loihi_snn.run(path, x, backend=other)
            return
    ref = outs["emulator"]
    for backend, y in outs.items():
        assert y.dtype == ref.dtype, (backend, y.dtype, ref.dtype)
        np.testing.assert_array_equal(y, ref, err_msg=f"{backend} differs from the emulator")
    # the emulator's other numeric paths (int64 reference, torch on the CPU), as
    # backend "emulator" calls it: the same output
    from helpers.emulator_paths import PATHS
    from loihi_snn.netx.lower import input_message_bits
    from loihi_snn.sim.emulator import emulate
    from loihi_snn.sim.runtime.io import image_shape, match_input_port
    spec = read_netx(path, input_shape=image_shape(x))
    x_port = match_input_port(x, spec.input_shape)
    for device, arithmetic in PATHS[1:]:
        y = emulate(spec, x_port[None], T, input_message_bits=input_message_bits(x),
                    device=device, arithmetic=arithmetic)[0]
        np.testing.assert_array_equal(y, ref, err_msg=f"emulator device={device} "
                                      f"arithmetic={arithmetic} differs")


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(case=cases())
def test_every_accepted_file_runs_the_same_on_every_backend(tmp_path, case):
    _check(tmp_path, *case)


# shrunk regressions of the defects this suite guards (issue 20): a bias of 2**16 (lava's
# LIF wrapped it), graded input of 2**18 (lava-fixed's int32 state overflowed)
REGRESSIONS = [
    ([{"type": "input", "shape": [3]},
      {"type": "dense", "shape": [2], "weight": np.full((2, 3), 100), "bias": np.full(2, 1 << 16),
       "neuron": {"type": b"CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80}}],
     (3,), 6, "binary", 1),
    ([{"type": "input", "shape": [3]},
      {"type": "dense", "shape": [2], "weight": np.full((2, 3), 100), "bias": np.full(2, BIAS_MANT_MAX),
       "neuron": {"type": b"CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80}}],
     (3,), 6, "graded-max", 2),
    ([{"type": "input", "shape": [6], "neuron": {"type": b"CUBA", "iDecay": 1024, "vDecay": 128,
                                                 "vThMant": 1000}},
      {"type": "dense", "shape": [8], "weight": np.full((8, 6), -254),
       "neuron": {"type": b"CUBA", "iDecay": 0, "vDecay": 0, "vThMant": VTH_MANT_MAX}}],
     (6,), 8, "graded-max", 3),
]


@pytest.mark.parametrize("case", REGRESSIONS, ids=["bias-2^16", "bias-max-graded",
                                                   "input-layer-graded-max"])
def test_regressions(tmp_path, case):
    _check(tmp_path, *case)


def test_bias_beyond_lava_mantissa_is_refused_at_load(tmp_path):
    layers, *_ = REGRESSIONS[0]
    path = write_netx(tmp_path / "net.net", layers)
    with pytest.raises(NetxFormatError, match=r"layer 1: field 'bias'.*4095"):
        read_netx(path)


def test_graded_input_beyond_the_network_limit_is_refused_everywhere(tmp_path):
    layers, *_ = REGRESSIONS[2]
    path = write_netx(tmp_path / "net.net", layers)
    spec = read_netx(path)
    limit = max_graded_input(spec)
    assert limit == (1 << 18) // 64
    x = np.full((6, 4), limit + 1)
    for backend in ("emulator", "lava-fused", "lava-fixed"):
        with pytest.raises(ShapeError, match=rf"layer 0: .*\|x\| <= {limit}"):
            loihi_snn.run(path, x, backend=backend)
