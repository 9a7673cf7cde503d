"""The emulator's numeric paths: float32 sums under the bound, the exact int64 fallback
beyond it, the torch backend (CPU here), the per-file cache.

Each parity test of tests/parity/test_emulator_vs_lava.py and test_emulator_families.py
already runs every path (helpers/emulator_paths.py) against Lava; this file covers what
those do not: inputs built to exceed the float32 bound, ``step`` on torch, the ASA
network, the cache.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.sim.emulator import Emulator, emulate
from loihi_snn.sim.emulator.backend import EXACT_FLOAT32
from loihi_snn.sim.emulator.network import _CACHE, cached_emulator

from helpers import REPO_ROOT, export_slayer, net_conv, net_dense
from helpers.emulator_paths import PATHS, emulate_all


def _lava_fixed_graded(path, x: np.ndarray) -> np.ndarray:
    """Per-layer Lava fixed_pt (``loihi_snn.load``, 24-bit graded input) on x (n, T),
    without the runners' input-range check (this input is built to exceed it)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    net = loihi_snn.load(path, input_message_bits=24)
    src = Source(data=x.astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=x.shape[-1])
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=x.shape[-1]),
                run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return np.asarray(sink.data.get())
    finally:
        net.stop()


def test_graded_input_beyond_the_float32_bound_takes_the_int64_path_and_equals_lava(tmp_path):
    """Graded input so large that fan-in x max|w| x max|x| >= 2**24: the float32 sums
    are not provably exact, the synapse sums in int64, and the result is still Lava's
    (and every other path's).  (The runners refuse such input up front; Lava's own
    arithmetic is still exact here because the actual sums stay below 2**25.)"""
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 4, path)
    rng = np.random.default_rng(11)
    x = x * rng.integers(-6000, 6001, size=x.shape)
    emu = Emulator(path, input_message_bits=24)
    syn = emu.stages[0].synapse
    assert syn.row_abs * np.abs(x).max() >= EXACT_FLOAT32
    assert syn.sums.dtype(x.T.astype(np.float64)) == np.int64            # the fallback
    assert syn.sums.dtype((x.T != 0).astype(np.float64)) == np.float32  # small input: float32
    lava = _lava_fixed_graded(path, x)
    assert lava.sum() > 10
    for device, arithmetic in PATHS:
        y = Emulator(path, input_message_bits=24, device=device, arithmetic=arithmetic).run(
            x[None])[0]
        np.testing.assert_array_equal(y, lava, err_msg=f"{device} {arithmetic}")


def test_conv_beyond_the_float32_bound_equals_float64_lava_sums(tmp_path):
    """A conv net fed graded values beyond the float32 bound: numpy sums in int64,
    torch in float64, both equal (and equal the int64 reference)."""
    path = tmp_path / "conv.net"
    x, _ = export_slayer(net_conv, 5, path)
    x = x * np.random.default_rng(12).integers(1, 40001, size=x.shape)
    emu = Emulator(path, input_message_bits=24)
    assert emu.stages[0].synapse.row_abs * np.abs(x).max() >= EXACT_FLOAT32
    y = emu.run(x[None])
    assert np.abs(y).sum() > 0
    for device, arithmetic in PATHS[1:]:
        np.testing.assert_array_equal(
            Emulator(path, input_message_bits=24, device=device, arithmetic=arithmetic).run(
                x[None]), y, err_msg=f"{device} {arithmetic}")


def test_torch_step_equals_numpy_step(tmp_path):
    """``Emulator.step`` (what the fused LoihiProtocol model calls) on torch tensors equals
    the numpy step, with a reset schedule, a batch of two."""
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 6, path)
    X = np.stack([x, (np.random.default_rng(6).random(x.shape) < 0.3).astype(np.int64)])
    ref, tch = Emulator(path, reset_interval=7), Emulator(path, reset_interval=7, device="cpu")
    s_ref, s_t = ref.init_state(2), tch.init_state(2)
    assert isinstance(s_t.neurons[0][0], torch.Tensor)
    for t in range(x.shape[-1]):
        a = ref.step(s_ref, X[..., t], t + 1)
        b = tch.step(s_t, torch.from_numpy(X[..., t]), t + 1)
        np.testing.assert_array_equal(b.numpy(), a)
    counts_np = np.zeros((2, 2, x.shape[-1]), np.int64)
    counts_t = np.zeros_like(counts_np)
    np.testing.assert_array_equal(tch.run(X, spike_counts=counts_t),
                                  ref.run(X, spike_counts=counts_np))
    np.testing.assert_array_equal(counts_t, counts_np)


def test_asa_and_recurrent_models_on_every_path():
    """The trained conv + ASA gate model and the recurrent LIF model: every path equal
    (their equality with Lava is in parity/test_asa.py and test_netx_models.py)."""
    rng = np.random.default_rng(13)
    asa = REPO_ROOT / "netx_models" / "events_asa" / "events_asa.net"
    y = emulate_all(asa, (rng.random((3, 2, 8, 8, 30)) < 0.3).astype(np.int8))
    assert y.sum() > 0
    rlif = REPO_ROOT / "netx_models" / "mnist1d_rlif" / "mnist1d_rlif.net"
    n_in = Emulator(rlif).input_size
    y = emulate_all(rlif, rng.integers(-40, 41, size=(2, n_in, 30)))
    assert np.abs(y).sum() > 0


def test_emulate_reuses_the_compiled_network_until_the_file_changes(tmp_path):
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 7, path)
    a = cached_emulator(path, input_message_bits=0)
    assert cached_emulator(str(path), input_message_bits=0) is a
    assert cached_emulator(path, input_message_bits=24) is not a          # other options
    y = emulate(path, x[None])
    assert any(e is a for e in _CACHE.values())
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))         # "edited"
    b = cached_emulator(path, input_message_bits=0)
    assert b is not a
    np.testing.assert_array_equal(emulate(path, x[None]), y)


def test_unknown_arithmetic_is_refused(tmp_path):
    path = tmp_path / "net.net"
    export_slayer(net_dense, 8, path)
    with pytest.raises(ValueError, match="arithmetic"):
        Emulator(path, arithmetic="float16")
