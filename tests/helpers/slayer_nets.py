"""Small random SLAYER CUBA networks (stock ``lava.lib.dl.slayer`` blocks) and their export.

Each ``net_*(seed)`` returns ``(blocks, x, input_shape)``: a ``torch.nn.ModuleList`` of
SLAYER blocks, one input sample ``x`` of shape (1, C.., SLAYER_STEPS) with 0/1 spikes,
and the ``input_shape`` to pass to ``export_blocks`` (None for dense inputs).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from loihi_snn.netx.schema import read_netx
from loihi_snn.torch.export import export_blocks

NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
          "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
SLAYER_STEPS = 48


def slayer_eval(blocks, x):
    """SLAYER's quantized eval forward of a batch: (N, C.., T) numpy."""
    blocks.eval()
    with torch.no_grad():
        for b in blocks:
            x = b(x)
    return x.numpy()


def slayer_forward(blocks, x):
    """SLAYER's quantized eval forward of one batch; returns sample 0, (C.., T) numpy."""
    return slayer_eval(blocks, x)[0]


def net_dense(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(NEURON, 30, 40, weight_scale=2),
        slayer.block.cuba.Dense(dict(NEURON, current_decay=1.0, voltage_decay=0.1), 40, 12,
                                weight_scale=2)])
    return blocks, (torch.rand(1, 30, SLAYER_STEPS) < 0.3).float(), None


def net_dense_delay(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(NEURON, 30, 40, weight_scale=2, delay=True),
        slayer.block.cuba.Dense(NEURON, 40, 12, weight_scale=2)])
    blocks[0].delay.delay.data = torch.randint(0, 7, blocks[0].delay.delay.shape).float()
    return blocks, (torch.rand(1, 30, SLAYER_STEPS) < 0.3).float(), None


def net_input_layer(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Input(dict(NEURON, threshold=0.5, current_decay=1.0), weight=0.75),
        slayer.block.cuba.Dense(NEURON, 30, 12, weight_scale=2)])
    return blocks, (torch.rand(1, 30, SLAYER_STEPS) < 0.3).float(), None


def net_recurrent(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        # a copy: SLAYER's Recurrent sets persistent_state=True in the dict it is given,
        # which made every later network built from NEURON keep its state between calls
        slayer.block.cuba.Recurrent(dict(NEURON), 20, 30, weight_scale=2),
        slayer.block.cuba.Dense(NEURON, 30, 8, weight_scale=2)])
    return blocks, (torch.rand(1, 20, SLAYER_STEPS) < 0.3).float(), None


def net_conv(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(NEURON, 4, 6, 3, stride=2, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 6 * 5 * 5, 10, weight_scale=3)])
    return blocks, (torch.rand(1, 2, 12, 12, SLAYER_STEPS) < 0.3).float(), (2, 12, 12)


def net_pool(seed):
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Pool(NEURON, 2, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 4 * 6 * 6, 10, weight_scale=3)])
    return blocks, (torch.rand(1, 2, 12, 12, SLAYER_STEPS) < 0.3).float(), (2, 12, 12)


# the nets every runner must reproduce, and their test ids
SLAYER_NETS = [net_dense, net_dense_delay, net_recurrent, net_conv, net_pool]
SLAYER_IDS = ["dense", "dense-delay", "dense_rec", "conv", "conv-pool"]


def export_slayer(make, seed, path):
    """Export ``make(seed)`` to ``path``; returns (x (C.., T) int64, blocks)."""
    blocks, x, input_shape = make(seed)
    slayer_forward(blocks, x)                   # sets SLAYER's lazy shapes
    export_blocks(blocks, path, input_shape=input_shape)
    return x[0].numpy().astype(np.int64), blocks


def slayer_batch(blocks, X: np.ndarray) -> np.ndarray:
    """SLAYER's eval forward of a batch X (N, C.., T); returns (N, C'.., T) numpy."""
    blocks.eval()
    with torch.no_grad():
        y = torch.from_numpy(X).float()
        for b in blocks:
            y = b(y)
    return y.numpy()


def tinynet_spec_with_bias(shared_netx):
    """tinynet's spec with its input_bias.npy as the input layer's bias (file order).

    Returns (spec, bias_whc): the NetxSpec and the bias as stored, (W, H, C).
    """
    spec = read_netx(shared_netx / "tinynet" / "tiny.net")
    bias_whc = np.load(shared_netx / "tinynet" / "input_bias.npy")
    layer0 = spec.layers[0]
    fields = dict(layer0.fields, bias=bias_whc.transpose(2, 1, 0))
    layers = [dataclasses.replace(layer0, fields=fields)] + spec.layers[1:]
    return dataclasses.replace(spec, layers=layers), bias_whc
