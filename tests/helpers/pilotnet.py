"""lava-dl's PilotNet in tests and the bench: a synthetic drive and stock netx's own way of
running it (lava-dl's PilotNet data set is not available here)."""
from __future__ import annotations

import numpy as np


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


def run_stock_netx_into_neurons(path, x_lava: np.ndarray, steps: int, every_layer=False):
    """Stock lava-dl netx as lava-dl's own PilotNet test and tutorials run it: the source
    feeds the input block's neurons (``net.in_layer.neuron.a_in``; the caller applies the
    input transform), the first ``fixed_pt`` process model of every process.

    ``x_lava``: (W, H, C, T).  Returns the output block's sends (Lava order, time last), or
    with ``every_layer`` the list of every block's sends and the output neurons' final
    voltage ``v``."""
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
    src.s_out.connect(net.in_layer.neuron.a_in)
    blocks = list(net.layers) if every_layer else [net.out_layer]
    sinks = []
    for block in blocks:
        sinks.append(io.sink.RingBuffer(shape=block.out.shape, buffer=steps))
        block.out.connect(sinks[-1].a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=FixedPt())
        outs = [sink.data.get() for sink in sinks]
        if every_layer:
            return outs, net.out_layer.neuron.v.get()
        return outs[0]
    finally:
        net.stop()
