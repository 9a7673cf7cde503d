"""Loihi 2 targeting: limits and resource estimates; lava-loihi detection.

No Loihi 2 and no lava-loihi here; the limit checks run on small files written by the
tests.  ``info --loihi2`` and the loihi2/auto backends: e2e/test_loihi2_backends.py.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from loihi_snn.core.errors import NetxFormatError
from loihi_snn.netx.resources import check, errors, estimate
from loihi_snn.sim.lava.hardware import is_loihi2_available
from loihi_snn.core import constants as L
from loihi_snn.netx.lower import weight_precision
from loihi_snn.netx.schema import read_netx

from helpers import CUBA_BASIC, dense_netx, write_netx



# ----------------------------------------------------------------------------- small files

def dense_net(tmp_path: Path, weight, neuron=None, name="net.net", **fields) -> Path:
    """input -> dense with ``weight`` and CUBA neurons (``neuron`` overrides fields)."""
    return dense_netx(tmp_path / name, weight, neuron=neuron, **fields)


def only(violations, field, severity="error"):
    found = [v for v in violations if v.field == field and v.severity == severity]
    assert found, f"no {severity} on {field}: {[str(v) for v in violations]}"
    return found[0]


# ----------------------------------------------------------------------------- limits

def test_weight_needing_more_than_8_bits(tmp_path):
    """Odd mixed-sign weights up to 255 need a 10-bit mantissa (SLAYER exports even values)."""
    w = np.array([[255, -3, 7], [1, 2, 3]])
    spec = read_netx(dense_net(tmp_path, w))        # a valid file ...
    v = only(check(spec), "weight")                 # ... that does not fit Loihi 2
    assert v.layer == 1 and v.value == 10 and v.limit == L.WEIGHT_MANTISSA_BITS
    assert "10-bit" in v.message and "8" in v.message
    assert str(v).startswith("ERROR: layer 1: weight: ")


def test_even_8bit_weights_fit(tmp_path):
    w = np.array([[254, -256, 6], [2, 4, -2]])
    assert check(read_netx(dense_net(tmp_path, w))) == []


def test_weight_precision_matches_lava_dl():
    """Our packing equals lava-dl's optimize_weight_bits on SLAYER-like and odd weights.

    (lava-dl first clips mixed-sign weights to [-256, 254]; ours reports what the
    weights as written need, so 255 is left out of the comparison.)
    """
    from loihi_snn.core.lavadl import lava_dl
    opt = lava_dl().netx.utils.optimize_weight_bits
    rng = np.random.default_rng(0)
    cases = [rng.integers(-128, 128, (5, 7)) * 2, rng.integers(0, 128, (4, 4)) * 2,
             -rng.integers(1, 128, (3, 3)) * 2, rng.integers(-20, 20, (6, 2)) * 8,
             np.array([[253, -3]]), np.array([[1, 0, -1]]), np.array([[0, -4]]),
             np.array([[64, 0]])]
    for w in cases:
        with np.errstate(divide="ignore"):
            _, bits, exp, _ = opt(w.astype(np.int64))
        assert weight_precision(w)[:2] == (bits, exp), w
    assert weight_precision(np.zeros((2, 2)))[0] == 0


def test_delay_above_62(tmp_path):
    """The schema already refuses delays > 62 (lava's DelayDense); check() catches a
    spec built in code too."""
    bad = dense_net(tmp_path, np.full((2, 3), 2), delay=np.full(2, 63), name="d.net")
    with pytest.raises(NetxFormatError) as info:
        read_netx(bad)
    assert "62" in str(info.value) and info.value.field == "delay"
    spec = read_netx(dense_net(tmp_path, np.full((2, 3), 2), delay=np.full(2, 62)))
    assert check(spec) == []
    spec.layers[1].fields["delay"] = np.full((2, 3), 63)
    v = only(check(spec), "delay")
    assert v.value == 63 and v.limit == 62 and "6-bit" in v.message


def test_threshold_too_large(tmp_path):
    spec = read_netx(dense_net(tmp_path, np.full((2, 3), 2), neuron={"vThMant": L.VTH_MANT_MAX}))
    assert check(spec) == []
    with pytest.raises(NetxFormatError):        # the schema refuses 2**17 for CUBA too
        read_netx(dense_net(tmp_path, np.full((2, 3), 2), neuron={"vThMant": 1 << 17},
                            name="vth.net"))
    spec.layers[1].neuron.params["vThMant"] = 1 << 17
    v = only(check(spec), "neuron/vThMant")
    assert v.limit == L.VTH_MANT_MAX and "17-bit" in v.message


def test_sigma_delta_threshold_and_message_bits(tmp_path):
    sdnn = {"type": b"SDNN", "vThMant": 12, "messageBits": 32}
    spec = read_netx(dense_net(tmp_path, np.full((2, 3), 2), neuron=sdnn))
    v = only(check(spec), "neuron/messageBits")
    assert v.value == 32 and v.limit == 24
    spec.layers[1].neuron.params["vThMant"] = 1 << 24
    only(check(spec), "neuron/vThMant")


@pytest.mark.parametrize("field, value, words", [
    ("vDecay", 4096, ("4095",)),
    ("iDecay", 0, ("du = iDecay - 1 = -1",)),
])
def test_decays_outside_12_bits(tmp_path, field, value, words):
    """Valid for the schema (and stock netx), not representable on the chip."""
    spec = read_netx(dense_net(tmp_path, np.full((2, 3), 2), neuron={field: value}))
    v = only(check(spec), f"neuron/{field}")
    for w in words:
        assert w in v.message, v.message


def test_bias_outside_13_bits_is_refused_at_load(tmp_path):
    """Lava's LIF holds the bias mantissa as 13-bit signed, so the validator refuses a
    larger one at load (one line naming the layer and the field) instead of letting the
    backends disagree; the hardware check never sees it."""
    with pytest.raises(NetxFormatError) as exc:
        read_netx(dense_net(tmp_path, np.full((2, 3), 2), bias=np.array([5000, -3])))
    msg = str(exc.value)
    assert "layer 1" in msg and "'bias'" in msg and "4095" in msg and "\n" not in msg


def test_warnings_for_estimates_and_off_core_layers(tmp_path):
    """Fan-in, state overflow, neuron types without NeuroCore model, average layers."""
    w = np.full((4, 5000), 254)
    path = write_netx(tmp_path / "warn.net", [
        {"type": "input", "shape": [5000]},
        {"type": "dense", "shape": [4], "weight": w,
         "neuron": {"type": b"TERNARY", "iDecay": 1024, "vDecay": 128, "vThMant": 80}},
        {"type": "average", "shape": [2]}])
    vs = check(read_netx(path))
    assert errors(vs) == []
    only(vs, "fan_in", "warning")
    only(vs, "weight", "warning")                    # 5000 * 254 << 6 overflows 24 bits
    only(vs, "neuron/type", "warning")
    only(vs, "type", "warning")
    est = estimate(read_netx(path))
    assert est.layers[2].where == "embedded-cpu" and est.layers[2].cores == 0


def test_network_larger_than_one_chip(tmp_path):
    """A 1024x1024 pool layer: 256 NeuroCores at 4096 CUBA neurons per core -> 3 chips."""
    path = write_netx(tmp_path / "big.net", [
        {"type": "input", "shape": [1, 1024, 1024]},
        {"type": "pool", "shape": [1, 1024, 1024], "kernelSize": [1, 1], "weight": 2,
         "neuron": CUBA_BASIC}])
    spec = read_netx(path)
    est = estimate(spec)
    assert est.cores == 256 and est.chips == 3
    assert est.chip_fraction == pytest.approx(256 / 120)
    v = only(check(spec), "cores", "warning")
    assert v.layer is None and "3 chips" in v.message


def test_estimate_of_the_shared_networks(shared_netx):
    oxford = estimate(read_netx(shared_netx / "oxford" / "network.net"))
    assert [l.neurons for l in oxford.layers] == [256, 200]
    assert oxford.synapses == 90396 and oxford.neurons == 456
    assert [l.weight_bits for l in oxford.layers] == [8, 7]
    assert all(l.cores >= 1 and l.where == "neurocore" for l in oxford.layers)
    assert oxford.chip_fraction == pytest.approx(oxford.cores / 120)
    pilot = estimate(read_netx(shared_netx / "pilotnet_sdnn" / "network.net"))
    assert pilot.layers[5].type == "flatten" and pilot.layers[5].cores == 0
    assert all(l.message_bits == 16 for l in pilot.layers if l.neurons)
    assert pilot.cores < L.NEURO_CORES_PER_CHIP


# ----------------------------------------------------------------------------- lava-loihi

def test_lava_loihi_is_not_installed_and_detection_has_no_side_effects():
    env = dict(os.environ)
    mods = set(sys.modules)
    assert is_loihi2_available() is False
    assert dict(os.environ) == env
    assert not any("loihi2_profiler" in m for m in set(sys.modules) - mods)
