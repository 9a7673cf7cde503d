"""lava-dl's own reference networks run through loihi_snn and reproduce their ground truth."""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn import load

from helpers import oxford_input, run_stock_netx


def test_tinynet_reproduces_lava_dl_ground_truth(shared_netx):
    """tinynet (3-layer CNN, LOIHI neurons, input as bias) equals output.npy exactly."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    net = load(shared_netx / "tinynet" / "tiny.net")
    steps_per_sample = 17
    num_steps = steps_per_sample + len(net)
    sink = io.sink.RingBuffer(shape=net.out.shape, buffer=num_steps)
    net.out.connect(sink.a_in)
    for i, layer in enumerate(net.layers):     # reset as lava-dl's test does
        for var in (layer.neuron.u, layer.neuron.v):
            io.reset.Reset(interval=steps_per_sample, offset=i - 1).connect_var(var)
    net.in_layer.neuron.bias_mant.init = np.load(shared_netx / "tinynet" / "input_bias.npy")
    try:
        net.run(condition=RunSteps(num_steps=num_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = sink.data.get()
    finally:
        net.stop()
    gt = np.load(shared_netx / "tinynet" / "output.npy")[0].transpose([2, 1, 0, 3])[..., 1:]
    assert gt.sum() > 0
    np.testing.assert_array_equal(out[..., 2:17], gt)


def test_pilotnet_sdnn_reproduces_output_exactly(shared_netx):
    """Sigma-delta PilotNet (conv, flatten, dense, graded spikes) equals output.npy."""
    x = np.load(shared_netx / "pilotnet_sdnn" / "input.npy")          # (W, H, C, 1)
    gt = np.load(shared_netx / "pilotnet_sdnn" / "output.npy")
    net = load(shared_netx / "pilotnet_sdnn" / "network.net", input_message_bits=24)
    steps = len(net)
    x_chw = np.repeat(x.transpose(2, 1, 0, 3), steps, axis=-1)         # file order, time last
    y = loihi_snn.run(net, x_chw, steps=steps)
    assert y.shape == (1, steps)
    np.testing.assert_array_equal(y, gt)


@pytest.mark.slow
def test_oxford_equals_stock_netx(shared_netx, record_property):
    """Oxford (200-256-200 CUBA) over all 2000 steps: identical to stock netx, and the
    agreement with SLAYER's float ground truth is reported (not asserted equal)."""
    from lava.lib.dl import slayer
    x = oxford_input(shared_netx, dtype=None)
    path = shared_netx / "oxford" / "network.net"
    ours = loihi_snn.run(path, x)
    stock = run_stock_netx(path, x, steps=x.shape[-1])
    assert ours.shape == (200, 2000) and ours.sum() > 500
    np.testing.assert_array_equal(ours, stock)

    gt = slayer.io.read_np_spikes(str(shared_netx / "oxford" / "ground_truth.npy"))
    gt = np.asarray(gt.to_tensor(dim=(1, 200, 2000))).reshape(200, 2000)
    agree = float((ours == gt).mean())
    record_property("oxford_agreement_with_slayer_float", agree)
    print(f"oxford: {int(ours.sum())} spikes (SLAYER float: {int(gt.sum())}), "
          f"{int((ours != gt).sum())} of {ours.size} entries differ, agreement {agree:.4f}")
    assert agree > 0.95
