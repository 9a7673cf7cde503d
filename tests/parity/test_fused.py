"""The fused Lava process (one process for the whole network) equals per-layer Lava.

Also the backends wired into ``loihi_snn.run`` / ``run_many`` / the CLI:
``lava-fused`` and ``emulator`` return what ``lava-fixed`` returns.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import BackendError
from loihi_snn import load
from loihi_snn.sim.lava.procs.fused.process import FusedNetwork
from loihi_snn.sim.runtime.run import BACKENDS

from helpers import (CUBA, export_slayer, net_conv, net_dense, net_dense_delay, net_pool,
                     net_recurrent, oxford_input, tinynet_spec_with_bias, write_netx)


def test_oxford_fused_equals_per_layer(shared_netx):
    path = shared_netx / "oxford" / "network.net"
    x = oxford_input(shared_netx)[:, :100]
    fused = loihi_snn.run(path, x, backend="lava-fused")
    per_layer = loihi_snn.run(path, x, backend="lava-fixed")
    assert per_layer.sum() > 50
    np.testing.assert_array_equal(fused, per_layer)


@pytest.mark.parametrize("make", [net_dense_delay, net_recurrent, net_pool],
                         ids=["dense-delay", "dense_rec", "conv-pool"])
def test_random_slayer_net_fused_equals_per_layer(make, tmp_path):
    """(plain dense and conv are covered by oxford, tinynet and run_many below)"""
    path = tmp_path / "net.net"
    x, _ = export_slayer(make, 11, path)
    fused_net = FusedNetwork.from_netx(path)
    per_layer_net = load(path)
    assert fused_net.inp.shape == per_layer_net.inp.shape
    assert fused_net.out.shape == per_layer_net.out.shape
    fused = loihi_snn.run(fused_net, x, backend="lava-fused")
    per_layer = loihi_snn.run(per_layer_net, x)
    assert per_layer.sum() > 10
    np.testing.assert_array_equal(fused, per_layer)
    # a path runs as ONE process (FusedRun, AsyncProtocol); a timeout makes it run in
    # 20 chunks (RunSteps calls), and 3 extra steps of zero input are recorded too
    standalone = loihi_snn.run(path, x, backend="lava-fused", steps=x.shape[-1] + 3,
                               timeout=120)
    np.testing.assert_array_equal(standalone[..., :x.shape[-1]], per_layer)
    np.testing.assert_array_equal(standalone, loihi_snn.run(path, x, backend="emulator",
                                                            steps=x.shape[-1] + 3))


def test_tinynet_with_bias_fused_equals_per_layer(shared_netx):
    spec, bias_whc = tinynet_spec_with_bias(shared_netx)
    rng = np.random.default_rng(12)
    x = (rng.random((3, 16, 16, 30)) < 0.2).astype(np.int64)
    net = load(shared_netx / "tinynet" / "tiny.net")
    net.in_layer.neuron.bias_mant.init = bias_whc
    fused_net = FusedNetwork(spec=spec)
    assert fused_net.inp.shape == net.inp.shape == (16, 16, 3)
    assert fused_net.out.shape == net.out.shape == (1, 1, 36)
    per_layer = loihi_snn.run(net, x)
    fused = loihi_snn.run(fused_net, x, backend="lava-fused")
    assert per_layer.sum() > 10
    np.testing.assert_array_equal(fused, per_layer)
    # the one-process form (FusedRun) that run(path, backend="lava-fused") builds,
    # with the host-side input scaling of tinynet's input neurons
    from loihi_snn.sim.runtime import backends
    from loihi_snn.sim.runtime.lava_run import RunOptions
    from loihi_snn.sim.runtime.plan import plan_one
    fused_backend = backends.get("lava-fused")
    plan = plan_one(spec, x, None, fused_backend)
    np.testing.assert_array_equal(fused_backend.run_one(plan, RunOptions(progress=False)),
                                  per_layer)


def test_average_output_all_backends_agree(tmp_path):
    """dense -> average: population means from every fixed-point backend."""
    rng = np.random.default_rng(13)
    w = rng.integers(-60, 120, size=(12, 16)) * 2
    path = write_netx(tmp_path / "avg.net", [
        {"type": "dense", "shape": [12], "weight": w.astype(np.float32), "neuron": CUBA},
        {"type": "average", "shape": [4]}])
    x = (rng.random((16, 30)) < 0.4).astype(np.int64)
    per_layer = loihi_snn.run(path, x)
    assert per_layer.sum() > 5
    for backend in ("lava-fused", "emulator"):
        np.testing.assert_array_equal(loihi_snn.run(path, x, backend=backend), per_layer)


def test_emulator_backend_of_run_and_cli(tmp_path):
    from loihi_snn.app.cli import main
    assert {"lava-fused", "emulator"} <= set(BACKENDS)
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_conv, 14, path)
    ours = loihi_snn.run(path, x, backend="emulator", steps=x.shape[-1] + 3)
    lava = loihi_snn.run(path, x, steps=x.shape[-1] + 3)
    assert lava.sum() > 10
    np.testing.assert_array_equal(ours, lava)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--backend", "emulator",
                 "--out", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), lava[..., :x.shape[-1]])


def test_run_many_fused_and_emulator_equal_lava_stream(tmp_path):
    from loihi_snn.sim.runtime.stream import run_many
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 15, path)
    rng = np.random.default_rng(15)
    X = (rng.random((3,) + x.shape) < 0.3).astype(np.int64)
    lava = run_many(path, X)
    assert lava.sum() > 10
    np.testing.assert_array_equal(run_many(path, X, backend="lava-fused"), lava)
    np.testing.assert_array_equal(run_many(path, X, backend="emulator"), lava)


def test_fused_run_is_one_process_with_embedded_input_and_output(shared_netx):
    """FusedRun: no ports, AsyncProtocol model; several run() calls continue in time;
    graded input; equals the emulator (which equals per-layer Lava, tests above)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from loihi_snn.sim.emulator import Emulator
    from loihi_snn.sim.lava.procs.fused.process import FusedRun
    from loihi_snn.sim.runtime.run import stopping
    path = shared_netx / "oxford" / "network.net"
    rng = np.random.default_rng(3)
    x = oxford_input(shared_netx)[:, :150] * rng.integers(1, 4, size=(200, 1))   # graded
    proc = FusedRun(spec=path, x=x, steps=155, input_message_bits=24)
    assert proc.in_ports.is_empty() and proc.out_ports.is_empty()
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    with stopping(proc):
        for n in (1, 100, 54):
            proc.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
        assert int(proc.steps_done.get()[0]) == 155
        out = proc.output()
    want = Emulator(path, input_message_bits=24).run(x[None], 155)[0]
    assert want.sum() > 10
    np.testing.assert_array_equal(out, want)


def test_fused_run_past_its_steps_is_a_clean_run_error(tmp_path):
    from lava.magma.core.run_configs import Loihi2SimCfg
    from loihi_snn.core.errors import RunError
    from loihi_snn.sim.lava.procs.fused.process import FusedRun
    from loihi_snn.sim.runtime.guard import run_supervised
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 17, path)
    proc = FusedRun(spec=path, x=x, steps=5)
    with pytest.raises(RunError, match="built for 5 steps"):
        run_supervised(proc, proc.output, [3, 4], Loihi2SimCfg(select_tag="fixed_pt"),
                       timeout=60)


def test_fused_model_error_mid_run_is_a_clean_run_error(tmp_path):
    """The model itself raises in its second ``run_async`` (AsyncProtocol): Lava's main
    thread then joins the actors and reads their exception pipes while the guard's
    watchdog reads them too.  The guard must report the model's own message every time
    (it used to hang until the timeout in about 1 run in 4)."""
    from lava.magma.core.run_configs import Loihi2SimCfg
    from loihi_snn.core.errors import RunError
    from loihi_snn.sim.lava.procs.fused.process import FusedRun
    from loihi_snn.sim.runtime.guard import run_supervised
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 17, path)
    proc = FusedRun(spec=path, x=x, steps=5)
    proc.max_steps = None          # skip the up-front refusal: reach the model's own check
    with pytest.raises(RunError, match=r"PyFusedRunModelAsync.*built for 5 steps") as info:
        run_supervised(proc, proc.output, [3, 4], Loihi2SimCfg(select_tag="fixed_pt"),
                       timeout=120)
    assert not info.value.timed_out and info.value.steps_completed == 3


def test_per_layer_network_is_refused_by_fused_backend(tmp_path):
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 16, path)
    with pytest.raises(BackendError, match="FusedNetwork"):
        loihi_snn.run(load(path), x, backend="lava-fused")


def test_refused_fused_construction_prints_no_ignored_exception(tmp_path):
    """A FusedRun/FusedNetwork whose arguments are refused raises its own one error;
    lava's ``__del__`` of the half-built process must not add an 'Exception ignored'
    traceback (it read ``_runtime`` before it existed)."""
    import subprocess
    import sys
    path = tmp_path / "net.net"
    export_slayer(net_dense, 19, path)
    code = ("import numpy as np, gc\n"
            "from loihi_snn.sim.lava.procs.fused.process import FusedRun, FusedNetwork\n"
            f"for make in (lambda: FusedRun(spec={str(path)!r}, x=np.ones((30, 5), complex)),\n"
            f"             lambda: FusedNetwork(spec={str(path)!r}, input_message_bits=99)):\n"
            "    try:\n        make()\n    except Exception as e:\n        print('refused', type(e).__name__)\n"
            "gc.collect()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.stdout.count("refused") == 2, proc.stdout + proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
