"""ALIF: SLAYER's adaptive-threshold LIF (``slayer.block.alif``), which stock netx cannot
load, runs spike for spike alike on SLAYER's quantized forward, our emulator, lava-fixed
(lava's own ``ATRLIF``, Loihi 2's arithmetic) and lava-fused; SLAYER's adaptive RF
neurons (``ADRF_PHASE`` / ``ADRF_IZHIKEVICH``) and graded ALIF spikes are refused in one
line (exit status 2 from the CLI)."""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import NetxFormatError

from helpers import assert_one_error_line, cli, write_netx

#: SLAYER ALIF parameters (weight units; decays are fractions per step)
NEURON = {"threshold": 1.0, "threshold_step": 0.5, "current_decay": 0.25,
          "voltage_decay": 0.03, "threshold_decay": 0.1, "refractory_decay": 0.2,
          "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
STEPS = 40
#: the same neuron as a NetX group (SLAYER's export of NEURON)
ALIF = {"type": b"ALIF", "iDecay": 1024, "vDecay": 123, "thDecay": 410, "refDecay": 819,
        "vThMant": 64, "vThStep": 32, "refDelay": 1, "gradedSpike": False}


def _slayer_alif(kind: str, seed: int):
    import torch
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    alif = slayer.block.alif
    if kind == "dense":
        blocks = [alif.Dense(NEURON, 30, 40, weight_scale=2),
                  alif.Dense(dict(NEURON, voltage_decay=0.1, threshold_step=1.0), 40, 12,
                             weight_scale=2)]
        x, shape = (torch.rand(1, 30, STEPS) < 0.3).float(), None
    else:
        blocks = [alif.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
                  alif.Flatten(),
                  alif.Dense(dict(NEURON, refractory_decay=0.5), 4 * 8 * 8, 10, weight_scale=3)]
        x, shape = (torch.rand(1, 2, 8, 8, STEPS) < 0.3).float(), (2, 8, 8)
    return torch.nn.ModuleList(blocks), x, shape


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_slayer_alif_equals_lava_atrlif_fused_and_emulator(kind, tmp_path):
    from loihi_snn.torch.export import export_blocks

    from helpers import slayer_forward
    blocks, x, shape = _slayer_alif(kind, seed=1)
    expect = slayer_forward(blocks, x)                     # also sets SLAYER's lazy shapes
    path = tmp_path / f"alif_{kind}.net"
    export_blocks(blocks, path, input_shape=shape)          # SLAYER's own export_hdf5
    spec = loihi_snn.read_netx(path)
    assert {l.neuron.type for l in spec.layers if l.neuron is not None} == {"ALIF"}
    assert expect.sum() > 10, "test network too quiet to be a meaningful comparison"
    xs = x[0].numpy().astype(np.int64)
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None])[0], expect)
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None], device="cpu")[0], expect)
    for backend in ("lava-fixed", "lava-fused"):
        np.testing.assert_array_equal(loihi_snn.run(path, xs, backend=backend), expect,
                                      err_msg=backend)


# ------------------------------------------------------------------ without Lava

def _reference(a_seq: np.ndarray, p=ALIF) -> np.ndarray:
    """SLAYER's integer ALIF (``leaky_integrator`` + ``adaptive_threshold``) written out:
    a_seq (T, n) synaptic input (the synapse delay applied); state in units of 2**-12."""
    def decay(x, d):
        y = x * (4096 - d)
        return np.sign(y) * (np.abs(y) >> 12)
    th0, step = p["vThMant"] << 6, p["vThStep"] << 6
    n = a_seq.shape[1]
    i = np.zeros(n, np.int64)
    v = np.zeros(n, np.int64)
    th = np.full(n, th0, np.int64)
    r = np.zeros(n, np.int64)
    out = []
    for a in a_seq:
        i = decay(i, p["iDecay"]) + (a << 6)
        v = decay(v, p["vDecay"]) + i
        th = decay(th - th0, p["thDecay"]) + th0
        r = decay(r, p["refDecay"])
        s = v >= th + r
        r = r + 2 * th * s
        th = th + step * s
        out.append(s)
    return np.stack(out).astype(np.int64)


def test_emulator_equals_slayer_integer_alif_written_out(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.integers(-40, 120, size=(16, 24)) * 2
    path = write_netx(tmp_path / "alif.net", [
        {"type": "dense", "shape": [16], "inFeatures": 24, "outFeatures": 16,
         "weight": w.astype(np.float32), "neuron": ALIF}])
    x = (rng.random((24, STEPS)) < 0.3).astype(np.int64)
    a = np.concatenate([np.zeros((1, 16), np.int64), (w @ x).T[:-1]])      # one-step delay
    ref = _reference(a).T
    assert ref.sum() > 20
    np.testing.assert_array_equal(loihi_snn.emulate(path, x[None])[0], ref)


@pytest.mark.parametrize("ntype", ["ADRF_PHASE", "ADRF_IZHIKEVICH"])
def test_adaptive_rf_is_refused_in_one_line(tmp_path, ntype):
    path = write_netx(tmp_path / "adrf.net", [
        {"type": "dense", "shape": [4], "inFeatures": 6, "outFeatures": 4,
         "weight": np.full((4, 6), 2.0, np.float32),
         "neuron": {"type": ntype.encode(), "sinDecay": 400, "cosDecay": 3900,
                    "thDecay": 10, "refDecay": 10, "vThMant": 64}}])
    with pytest.raises(NetxFormatError) as err:
        loihi_snn.read_netx(path)
    assert err.value.layer == 0 and err.value.field == "neuron/type"
    assert "no Loihi 2 reference" in str(err.value) and "\n" not in str(err.value)
    assert_one_error_line(cli("info", path), str(path), "layer 0", ntype)


def test_graded_alif_is_refused_in_one_line(tmp_path):
    path = write_netx(tmp_path / "g.net", [
        {"type": "dense", "shape": [4], "inFeatures": 6, "outFeatures": 4,
         "weight": np.full((4, 6), 2.0, np.float32), "neuron": dict(ALIF, gradedSpike=True)}])
    with pytest.raises(NetxFormatError) as err:
        loihi_snn.read_netx(path)
    assert err.value.field == "neuron/gradedSpike" and "ATRLIF" in str(err.value)
    assert_one_error_line(cli("info", path), "gradedSpike")
