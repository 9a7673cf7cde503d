"""lava-dl's own trained PilotNet (``tutorials/lava/lib/dl/slayer/pilotnet/Trained/network.net``,
committed under ``tests/data/lava-dl-pilotnet`` with lava-dl's BSD-3 licence): a sigma-delta
network (SDNN, ReLU, graded spikes; 43,117 neurons, 4.4 M synapses) that takes 3 x 33 x 100
frames.  A whole synthetic drive runs on the emulator equal, value for value, to stock lava-dl
netx.

lava-dl's tutorial feeds PilotNet data set frames (200 x 66, halved to 100 x 33), which are not
available here: :func:`road_sequence` draws a deterministic road seen from a car that steers
left and right, one frame per time step, so every frame differs from the one before and every
layer of the sigma-delta network keeps sending.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import loihi_snn
from helpers import REPO_ROOT

PILOTNET = REPO_ROOT / "tests" / "data" / "lava-dl-pilotnet" / "network.net"
STEPS = 200


def road_sequence(steps: int, shape=(3, 33, 100), seed: int = 0) -> np.ndarray:
    """A road ahead of a steering car, ``(C, H, W, steps)`` int64 in about -64..64.

    Sky (a vertical gradient) above a horizon at 35 % of the height; below it a textured
    verge, a darker textured road that widens towards the bottom of the frame, and two
    bright lane markings.  The road's centre swings with the steering phase (a bend that
    grows towards the horizon plus a sideways drift), one frame per step; the channels are
    the same picture with +-10 % gain.  Values: ``round((intensity - 0.5) * 128)``, the
    integer graded input the SDNN input layer (a delta encoder) takes.
    """
    C, H, W = shape
    rng = np.random.default_rng(seed)
    y = np.arange(H)[:, None] / (H - 1)
    x = np.arange(W)[None, :] / (W - 1)
    texture = rng.normal(0.0, 1.0, (H, W))
    horizon = 0.35
    depth = np.clip((y - horizon) / (1 - horizon), 0, 1)
    half = 0.05 + 0.45 * depth
    below = y > horizon
    out = np.empty((C, H, W, steps))
    for t in range(steps):
        phase = 2 * np.pi * t / steps
        centre = 0.5 + 0.25 * np.sin(phase) * (1 - y) ** 2 + 0.08 * np.sin(2 * phase)
        road = (np.abs(x - centre) < half) & below
        lane = (np.abs(np.abs(x - centre) - half) < 0.02 + 0.02 * depth) & below
        img = np.where(below, 0.45 + 0.05 * texture, 0.8 - 0.3 * y)
        img = np.where(road, 0.25 + 0.03 * texture, img)
        img = np.where(lane, 0.95, img)
        for c in range(C):
            out[c, ..., t] = img * (1.0 + 0.1 * (c - 1))
    return np.round((out - 0.5) * 128).astype(np.int64)


def run_stock_netx_sdnn(path, x_lava: np.ndarray, steps: int) -> np.ndarray:
    """Stock lava-dl netx as lava-dl's own PilotNet SDNN test runs it: the source feeds the
    input block's neurons (``net.in_layer.neuron.a_in``), the first ``fixed_pt`` process
    model of every process.  ``x_lava``: (W, H, C, T).  Returns (1, steps)."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import RunConfig
    from lava.proc import io

    class FixedPt(RunConfig):
        def __init__(self):
            super().__init__(custom_sync_domains=None)

        def select(self, _, proc_models):
            for pm in proc_models:
                if "fixed_pt" in pm.tags:
                    return pm
            raise AssertionError("no fixed_pt process model")

    net = netx.hdf5.Network(net_config=str(path))
    src = io.source.RingBuffer(data=x_lava.astype(np.int32))
    sink = io.sink.RingBuffer(shape=net.out_layer.shape, buffer=steps)
    src.s_out.connect(net.in_layer.neuron.a_in)
    net.out_layer.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=FixedPt())
        return sink.data.get()
    finally:
        net.stop()


def test_pilotnet_file_is_lava_dls():
    """The committed file is lava-dl's trained PilotNet SDNN (43,117 neurons)."""
    spec = loihi_snn.read_netx(str(PILOTNET))
    assert tuple(spec.input_shape) == (3, 33, 100) and tuple(spec.output_shape) == (1,)
    assert {layer.neuron.type for layer in spec.layers if layer.neuron is not None} == {"SDNN"}
    neurons = sum(int(np.prod(layer.shape)) for layer in spec.layers
                  if layer.neuron is not None and layer.type != "input")
    assert neurons + int(np.prod(spec.input_shape)) == 43117
    assert (PILOTNET.parent / "LICENSE").read_text().startswith("BSD 3-Clause License")


@pytest.mark.slow
def test_pilotnet_whole_drive_emulator_equals_stock_netx(record_property):
    """200 frames: every layer active; the emulator (numpy float and int64 paths, torch CPU)
    and lava-fused equal to stock netx value for value (graded sigma-delta messages, the
    sigma output)."""
    x = road_sequence(STEPS)
    t0 = time.perf_counter()
    ours, counts, sizes = loihi_snn.emulate(PILOTNET, x[None], steps=STEPS,
                                            return_spike_counts=True)
    t_emu = time.perf_counter() - t0
    active = counts[:, 0].mean(axis=1) / sizes          # fraction sending per step, per layer
    assert np.all(active > 0.005), f"a layer is (nearly) silent: {np.round(active, 4)}"
    assert np.all((counts[:, 0, STEPS // 2:] > 0).any(axis=1)), "a layer stops sending"

    t0 = time.perf_counter()
    stock = run_stock_netx_sdnn(PILOTNET, x.transpose(2, 1, 0, 3), STEPS)
    t_stock = time.perf_counter() - t0
    assert stock.shape == (1, STEPS)
    assert np.count_nonzero(stock) > STEPS // 2 and len(np.unique(stock)) > 20   # it steers
    np.testing.assert_array_equal(ours[0], stock)

    torch_cpu = loihi_snn.emulate(PILOTNET, x[None], steps=STEPS, device="cpu")
    np.testing.assert_array_equal(torch_cpu, ours)
    int64 = loihi_snn.emulate(PILOTNET, x[None], steps=STEPS, arithmetic="int64")
    np.testing.assert_array_equal(int64, ours)
    t0 = time.perf_counter()
    fused = loihi_snn.run(PILOTNET, x, steps=STEPS, backend="lava-fused")
    t_fused = time.perf_counter() - t0
    np.testing.assert_array_equal(fused, ours[0])
    for name, t in (("emulator", t_emu), ("stock_netx", t_stock), ("lava_fused", t_fused)):
        record_property(f"pilotnet_{name}_s", round(t, 3))
    print(f"PilotNet SDNN, {STEPS} steps: emulator {t_emu:.2f} s, stock netx {t_stock:.2f} s, "
          f"lava-fused {t_fused:.2f} s (builds included); sending per step: "
          f"{np.round(active, 3)}")


def test_shared_pilotnet_sdnn_ground_truth_on_emulator(shared_netx):
    """lava-dl's netx test network (other weights) reproduces lava-dl's output.npy on the
    emulator too (it was only checked on Lava)."""
    x = np.load(shared_netx / "pilotnet_sdnn" / "input.npy")          # (W, H, C, 1)
    gt = np.load(shared_netx / "pilotnet_sdnn" / "output.npy")
    path = shared_netx / "pilotnet_sdnn" / "network.net"
    steps = gt.shape[-1]                                                # one per block
    x_chw = np.repeat(x.transpose(2, 1, 0, 3), steps, axis=-1)
    y = loihi_snn.run(path, x_chw, steps=steps, backend="emulator")
    np.testing.assert_array_equal(y, gt)
