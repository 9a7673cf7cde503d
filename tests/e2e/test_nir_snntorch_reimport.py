"""Our shipped soft-reset networks, exported with ``to_nir``, run in snnTorch's own neurons
exactly as NIR's equations with Loihi's soft reset say (``loihi_snn.nir.snntorch``'s
``snntorch_loihi_exact``: ``RLeaky`` without reset and a self-connection
``V = -beta * threshold``; a ``CubaLIF`` as a ``Leaky`` current into it; the recurrent
loop wired), and predict what our fixed-point network predicts.

snnTorch and nir are in the dev extra: the test skips only when one is not installed;
an import error inside loihi_snn fails it."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("nir", reason="the nir package (dev / nir extra) is not installed")
pytest.importorskip("snntorch", reason="snntorch (dev / nir extra) is not installed")
import torch  # noqa: E402

from helpers import REPO_ROOT  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.app.evaluation import load_eval_data  # noqa: E402
from loihi_snn.nir import normalise, to_nir  # noqa: E402
from loihi_snn.nir.graph import NirError  # noqa: E402
from loihi_snn.nir.reference import simulate  # noqa: E402
from loihi_snn.nir.snntorch import (batch_flatten, require_snntorch, reset_snntorch,  # noqa: E402
                                    run_snntorch, snntorch_loihi_exact)


def _snntorch_spikes(net, X: np.ndarray) -> np.ndarray:
    reset_snntorch(net)
    out = []
    with torch.no_grad():
        for t in range(X.shape[-1]):
            o = net(torch.tensor(X[..., t]))
            out.append((o[0] if isinstance(o, tuple) else o).numpy())
    return np.stack(out, -1)


@pytest.mark.parametrize("name", ["digits_lif", "mnist1d_rlif"])
def test_soft_reset_in_snntorch_neurons_equals_nir_reference_and_our_predictions(name, tmp_path):
    path = REPO_ROOT / "netx_models" / name / f"{name}.net"
    spec = loihi_snn.read_netx(str(path))
    X = load_eval_data(spec).inputs.astype(np.float32)[:60]
    out = str(tmp_path / f"{name}.nir")
    to_nir(str(path), out)
    net = snntorch_loihi_exact(out)
    assert "RLeaky" in net.built
    spikes = _snntorch_spikes(net, X).reshape(len(X), -1, X.shape[-1])
    ref = simulate(normalise(out), X, dt=1e-4, reset="soft")[-1]
    ref = ref.reshape(len(X), -1, X.shape[-1])
    np.testing.assert_array_equal(spikes, ref)       # spike for spike, every step
    delay = sum(1 for l in spec.layers if l.type not in ("input", "flatten"))
    ours = loihi_snn.emulate(str(path), X.astype(np.int64), X.shape[-1] + delay)
    p_ours = ours.sum(-1).reshape(len(X), -1).argmax(1)
    assert np.mean(spikes.sum(-1).argmax(1) == p_ours) >= 0.97
    with torch.no_grad():
        p_run = run_snntorch(net, torch.tensor(X)).numpy().argmax(1)
    np.testing.assert_array_equal(p_run, spikes.sum(-1).argmax(1))


def test_hard_reset_network_through_snntorchs_own_importer(tmp_path):
    """digits_cuba (hard reset): snnTorch's import_from_nir, its Flatten fixed by
    batch_flatten, gives our predictions."""
    from snntorch.import_nir import import_from_nir
    path = REPO_ROOT / "netx_models" / "digits_cuba" / "digits_cuba.net"
    spec = loihi_snn.read_netx(str(path))
    X = load_eval_data(spec).inputs.astype(np.float32)[:60]
    out = str(tmp_path / "digits_cuba.nir")
    to_nir(str(path), out)
    net = snntorch_loihi_exact(out)
    assert "snnTorch's conversion" in net.built and "RLeaky" not in net.built
    import nir
    imported = import_from_nir(nir.read(out))
    batch_flatten(imported)
    delay = sum(1 for l in spec.layers if l.type not in ("input", "flatten"))
    ours = loihi_snn.emulate(str(path), X.astype(np.int64), X.shape[-1] + delay)
    p_ours = ours.sum(-1).reshape(len(X), -1).argmax(1)
    with torch.no_grad():
        for candidate in (net, imported):
            p = run_snntorch(candidate, torch.tensor(X)).numpy().argmax(1)
            assert np.mean(p == p_ours) >= 0.97


def test_missing_snntorch_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "snntorch", None)     # import snntorch -> ImportError
    with pytest.raises(NirError) as err:
        require_snntorch()
    assert "pip install" in str(err.value) and "\n" not in str(err.value)
