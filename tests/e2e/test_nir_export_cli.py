"""to_nir on our shipped networks (snnTorch re-imports them with the same predictions; the
round trip import(export(x)) gives the same file behaviour; ternary / ASA are refused) and
the ``loihi-snn import`` / ``export-nir`` commands (check report, one-line errors)."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

import loihi_snn  # noqa: E402
from helpers import REPO_ROOT, cli  # noqa: E402
from loihi_snn.app.evaluation import load_eval_data  # noqa: E402
from loihi_snn.nir import from_nir, to_nir  # noqa: E402

torch.set_num_threads(1)
MODELS = REPO_ROOT / "netx_models"


def model(name):
    return str(MODELS / name / f"{name}.net")


def test_shipped_digits_network_re_imported_by_snntorch_gives_the_same_predictions(tmp_path):
    from snntorch.import_nir import import_from_nir
    path = model("digits_cuba")
    out = str(tmp_path / "d.nir")
    to_nir(path, out)
    graph = nir.read(out)
    assert type(graph.nodes["layer0.lif"]).__name__ == "CubaLIF"
    assert graph.nodes["layer0.lif"].metadata["loihi_snn.reset"] == "hard"
    net = import_from_nir(graph)
    data = load_eval_data(loihi_snn.read_netx(path), limit=120)
    X, T = data.inputs.astype(np.float32), data.inputs.shape[-1]
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron) and hasattr(m, "mem"):
            m.reset_mem()
    counts = 0
    with torch.no_grad():
        for t in range(T):
            out_t = net(torch.tensor(X[..., t]))
            counts = counts + (out_t[0] if isinstance(out_t, tuple) else out_t).numpy()
    ours = loihi_snn.emulate(path, X.astype(np.int64), T + 2).sum(-1)   # 2 layers: 2 steps lag
    assert np.mean(counts.argmax(1) == ours.argmax(1)) >= 0.97
    assert np.mean(counts == ours) >= 0.99     # float decays vs Loihi's 12-bit: nearly all equal


@pytest.mark.parametrize("name", ["digits_cuba", "mnist1d_rlif", "mnist1d_conv"])
def test_round_trip_import_of_export_gives_the_same_file_behaviour(name, tmp_path):
    path = model(name)
    nir_path, back = str(tmp_path / "m.nir"), str(tmp_path / "m.net")
    to_nir(path, nir_path)         # mnist1d_conv: 1 x 5 kernels, which nir 1.0.8's type
    from_nir(nir_path, back)       # check takes as 1 x 1 (both sides work around it);
    # the reset mode comes from the node metadata (soft for the mnist1d models)
    a, b = loihi_snn.read_netx(path), loihi_snn.read_netx(back)
    for la, lb in zip(a.layers, b.layers):
        assert la.type == lb.type
        if la.neuron is None:      # input / flatten
            continue
        np.testing.assert_array_equal(la.fields["weight"], lb.fields["weight"])
        for key in ("iDecay", "vDecay", "vThMant"):
            assert la.neuron.params[key] == lb.neuron.params[key]
    x = (np.random.default_rng(0).random((10,) + tuple(a.input_shape) + (30,)) < 0.3)
    np.testing.assert_array_equal(loihi_snn.emulate(path, x.astype(np.int64)),
                                  loihi_snn.emulate(back, x.astype(np.int64)))


def run_cli(capsys, *args):
    """``loihi-snn ARGS`` in this process: (exit status, stdout, stderr)."""
    from loihi_snn.app.cli import main
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def one_error_line(result, *words):
    status, _out, err = result
    lines = err.strip("\n").splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), result
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("name, field", [("digits_ternary", "neuron/type"), ("events_asa", "asa")])
def test_ternary_and_asa_are_refused_with_one_line(name, field, tmp_path, capsys):
    out = tmp_path / "x.nir"
    one_error_line(run_cli(capsys, "export-nir", model(name), "--out", out), name,
                   f"field '{field}'", "cannot be represented in NIR")
    assert not out.exists()


def test_cli_import_with_check_and_export(tmp_path, capsys):
    nir_path, net = tmp_path / "m.nir", tmp_path / "m.net"
    proc = cli("export-nir", model("digits_cuba"), "--out", nir_path)   # the real command
    assert proc.returncode == 0, proc.stderr
    x = (np.random.default_rng(1).random((12, 64, 16)) < 0.3).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    status, out, err = run_cli(capsys, "import", nir_path, "--out", net, "--check", tmp_path / "x.npy")
    assert status == 0, err
    assert "prediction agreement (float NIR reference vs fixed point) 1.0000" in out
    assert "layer 1: spike agreement" in out and net.is_file()
    # bad input: one line naming file / node / field, exit 2, nothing written
    bad_net = tmp_path / "bad.net"
    one_error_line(run_cli(capsys, "import", nir_path, "--out", bad_net, "--dt", "1"),
                   "node 'layer0.lif'", "field 'tau_syn'")
    one_error_line(run_cli(capsys, "import", nir_path, "--out", bad_net, "--check", net),
                   "cannot read a .npy array")
    np.save(tmp_path / "wrong.npy", x[:, :10])
    one_error_line(run_cli(capsys, "import", nir_path, "--out", bad_net, "--check",
                           tmp_path / "wrong.npy"), "wrong.npy", "shape")
    one_error_line(run_cli(capsys, "import", tmp_path / "missing.nir", "--out", bad_net),
                   "missing.nir", "no such file")
    assert not bad_net.exists()


def test_snntorch_importer_flattens_across_the_batch_and_nir_1x5_kernels(tmp_path):
    """Quirks met exporting mnist1d_conv: nir.read's type check rejects its 1 x 5 kernels
    (nir 1.0.8 takes a Conv2d kernel as square) and snnTorch 1.0's importer turns NIR's
    Flatten(start_dim=0) (dimensions without the batch) into torch's Flatten(0), which
    folds the batch in; with start_dim shifted by one the batched forward is per sample."""
    from snntorch.import_nir import import_from_nir
    out = str(tmp_path / "c.nir")
    to_nir(model("mnist1d_conv"), out)
    with pytest.raises(ValueError, match="Type inference error"):
        nir.read(out)
    net = import_from_nir(nir.read(out, type_check=False))
    flat = [m for m in net.modules() if isinstance(m, torch.nn.Flatten)]
    assert len(flat) == 1 and flat[0].start_dim == 0
    x = torch.zeros(3, 1, 1, 40)
    with pytest.raises(RuntimeError):       # (1, 3 * 640) into a 640-input Linear
        net(x)
    flat[0].start_dim = 1
    y = net(x)
    assert (y[0] if isinstance(y, tuple) else y).shape == (3, 10)
