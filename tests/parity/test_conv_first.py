"""A conv-first network exported by stock SLAYER (no input layer) loads and runs with its
input shape given (``input_shape=``, or taken from the input by ``run``) and equals stock
lava-dl netx (``hdf5.Network(..., input_shape=...)``) spike for spike, on every backend.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.netx.schema import read_netx

from helpers import net_conv, slayer_forward


def export_stock(blocks, path):
    """What stock SLAYER writes: one ``layer/<i>`` group per block, no input layer."""
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layers.create_group(str(i)))
    return path


def run_stock(path, x_chw: np.ndarray) -> np.ndarray:
    """Stock lava-dl netx, fixed_pt, ``input_shape`` in Lava order (W, H, C); output
    (N_out, T)."""
    from lava.lib.dl import netx  # lazy: Lava is heavy
    from lava.magma.core.run_conditions import RunSteps  # lazy: Lava is heavy
    from lava.magma.core.run_configs import Loihi2SimCfg  # lazy: Lava is heavy
    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy
    from lava.proc.io.source import RingBuffer as Source  # lazy: Lava is heavy
    C, H, W, T = x_chw.shape
    net = netx.hdf5.Network(net_config=str(path), input_shape=(W, H, C))
    src = Source(data=x_chw.transpose(2, 1, 0, 3).astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=T)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return sink.data.get()
    finally:
        net.stop()


@pytest.fixture(scope="module")
def conv_first(tmp_path_factory):
    blocks, x, _shape = net_conv(5)
    slayer_forward(blocks, x)                    # sets SLAYER's lazy shapes
    path = export_stock(blocks, tmp_path_factory.mktemp("conv_first") / "stock.net")
    return path, x[0].numpy().astype(np.int64)


def test_conv_first_needs_its_input_shape(conv_first):
    path, x = conv_first
    with pytest.raises(NetxFormatError, match=r"layer 0: field 'shape': .*input_shape"):
        read_netx(path)
    spec = read_netx(path, input_shape=x.shape[:-1])
    assert spec.input_shape == x.shape[:-1] and spec.layers[0].type == "conv"
    with pytest.raises(NetxFormatError, match="input_shape must be"):
        read_netx(path, input_shape=(12, 12))


def test_conv_first_equals_stock_netx_on_every_backend(conv_first):
    path, x = conv_first
    stock = run_stock(path, x)
    assert stock.sum() > 0
    for backend in ("lava-fixed", "lava-fused", "emulator"):
        y = loihi_snn.run(path, x, backend=backend)
        np.testing.assert_array_equal(y, stock, err_msg=backend)


def test_load_takes_input_shape(conv_first):
    path, x = conv_first
    net = loihi_snn.load(path, input_shape=x.shape[:-1])
    assert tuple(net.input_shape) == tuple(x.shape[:-1][::-1])
    np.testing.assert_array_equal(loihi_snn.run(net, x), run_stock(path, x))


def test_info_takes_input_shape(conv_first, capsys):
    from loihi_snn.app.cli import main
    path, x = conv_first
    assert main(["info", str(path)]) == 2
    assert "input_shape" in capsys.readouterr().err
    assert main(["info", str(path), "--input-shape", "2,12,12"]) == 0
    assert "conv" in capsys.readouterr().out
    assert main(["info", str(path), "--input-shape", "12,12"]) == 2
    assert "--input-shape must be C,H,W" in capsys.readouterr().err
