"""lava-dl's own trained PilotNets, committed under ``tests/data/lava-dl-pilotnet`` with
lava-dl's BSD-3 licence, run on the emulator equal to stock lava-dl netx:

- ``network.net`` (``tutorials/lava/lib/dl/slayer/pilotnet/Trained/network.net``): the
  sigma-delta PilotNet (SDNN, ReLU, graded spikes; 43,117 neurons, 4.4 M synapses) on
  3 x 33 x 100 frames -- a whole 200-frame drive, value for value;
- ``lif/network.net`` (``tutorials/lava/lib/dl/netx/pilotnet_snn/network.net``): the spiking
  PilotNet (LOIHI CUBA neurons, binary spikes; 158,509 neurons, 11 M synapses) on
  3 x 66 x 200 frames -- every layer spike for spike over 16 steps (stock netx needs
  about 4 s a step for it).

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
from helpers.pilotnet import road_sequence, run_stock_netx_into_neurons  # noqa: F401

PILOTNET = REPO_ROOT / "tests" / "data" / "lava-dl-pilotnet" / "network.net"
PILOTNET_LIF = REPO_ROOT / "tests" / "data" / "lava-dl-pilotnet" / "lif" / "network.net"
STEPS = 200
LIF_STEPS = 16


def test_pilotnet_files_are_lava_dls():
    """The committed files are lava-dl's trained PilotNets (SDNN: 43,117 neurons; LIF:
    158,509), with lava-dl's licence."""
    spec = loihi_snn.read_netx(str(PILOTNET))
    assert tuple(spec.input_shape) == (3, 33, 100) and tuple(spec.output_shape) == (1,)
    assert {layer.neuron.type for layer in spec.layers if layer.neuron is not None} == {"SDNN"}
    neurons = sum(int(np.prod(layer.shape)) for layer in spec.layers
                  if layer.neuron is not None and layer.type != "input")
    assert neurons + int(np.prod(spec.input_shape)) == 43117
    lif = loihi_snn.read_netx(str(PILOTNET_LIF))
    assert tuple(lif.input_shape) == (3, 66, 200)
    assert {layer.neuron.type for layer in lif.layers if layer.neuron is not None} == {"LOIHI"}
    assert sum(int(np.prod(layer.shape)) for layer in lif.layers
               if layer.neuron is not None) == 158509
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
    stock = run_stock_netx_into_neurons(PILOTNET, x.transpose(2, 1, 0, 3), STEPS)
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


@pytest.mark.slow
def test_pilotnet_lif_every_layer_spike_for_spike_with_stock_netx(record_property):
    """The spiking PilotNet: a 16-frame drive (signed frames, as the tutorial's frame
    differences), every layer's spikes and the output neurons' final voltage (the steering
    read-out) equal to stock netx.  Stock netx gets the tutorial's input path: the input
    block's transform ``x * weight + bias`` into the input neurons' ``a_in``; loihi_snn
    takes ``x`` and applies ``weight`` on the host and ``bias`` as the input neurons' bias
    (the same integers here: the input layer's current decays fully every step)."""
    import dataclasses

    from loihi_snn.netx.schema import input_transform, read_netx
    from loihi_snn.sim.emulator import Emulator

    spec = read_netx(str(PILOTNET_LIF))
    first = spec.layers[0]
    assert first.neuron.params["iDecay"] == 4096       # what makes the two input paths equal
    x = road_sequence(LIF_STEPS, shape=(3, 66, 200)) // 4
    sends, states = {}, {}

    class Recording(Emulator):                        # keeps every layer's sends
        def _neuron(self, layer, is_input):
            inner = super()._neuron(layer, is_input)

            def step(state, a_in, _i=layer.index):
                out, state = inner.step(state, a_in)
                sends.setdefault(_i, []).append(np.asarray(out).copy())
                states[_i] = state
                return out, state

            return dataclasses.replace(inner, step=step, run=None)   # per step, recorded

    t0 = time.perf_counter()
    emu = Recording(spec, input_message_bits=24)
    out = emu.run(np.asarray(input_transform(spec, x))[None])
    t_emu = time.perf_counter() - t0
    np.testing.assert_array_equal(out, loihi_snn.emulate(PILOTNET_LIF, x[None]))

    x_lava = (x * int(first.fields["weight"]) + int(first.fields["bias"])).transpose(2, 1, 0, 3)
    t0 = time.perf_counter()
    stock, v_out = run_stock_netx_into_neurons(PILOTNET_LIF, x_lava, LIF_STEPS, every_layer=True)
    t_stock = time.perf_counter() - t0

    layers = sorted(sends)                            # the blocks with neurons, in order
    assert len(layers) == len(stock) == 10
    for i, block_sends in zip(layers, stock):
        ours = np.stack(sends[i])[:, 0]              # (T, *shape) file order
        ours = ours.transpose(*range(ours.ndim - 1, 0, -1), 0)     # Lava order, time last
        np.testing.assert_array_equal(ours.astype(np.int64), block_sends.astype(np.int64),
                                      err_msg=f"layer {i}")
        if i != layers[-1]:                           # the read-out neuron integrates only
            assert block_sends.sum() > 0.01 * block_sends.size, f"layer {i} nearly silent"
    v_ours = np.asarray(states[layers[-1]][1]).reshape(-1)
    assert np.any(v_out != 0)
    np.testing.assert_array_equal(v_ours.astype(np.int64), np.asarray(v_out).reshape(-1))
    record_property("pilotnet_lif_emulator_s", round(t_emu, 3))
    record_property("pilotnet_lif_stock_netx_s", round(t_stock, 3))
    print(f"PilotNet LIF, {LIF_STEPS} steps: emulator {t_emu:.2f} s, stock netx "
          f"{t_stock:.1f} s (builds included)")


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
