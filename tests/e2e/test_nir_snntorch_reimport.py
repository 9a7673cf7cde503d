"""Our shipped soft-reset networks, exported with ``to_nir``, run in snnTorch's own neurons
exactly as NIR's equations with Loihi's soft reset say (tools/nir_study.py's
``snntorch_loihi_exact``: ``RLeaky`` without reset and a self-connection
``V = -beta * threshold``; a ``CubaLIF`` as a ``Leaky`` current into it; the recurrent
loop wired), and predict what our fixed-point network predicts."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("nir")
torch = pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")
pytest.importorskip("norse.torch")

from helpers import REPO_ROOT  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.app.evaluation import load_eval_data  # noqa: E402
from loihi_snn.nir import normalise, to_nir  # noqa: E402
from loihi_snn.nir.reference import simulate  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tools"))
nir_study = pytest.importorskip("nir_study")


def _snntorch_spikes(net, X: np.ndarray) -> np.ndarray:
    nir_study.reset_snntorch(net)
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
    net = nir_study.snntorch_loihi_exact(out)
    assert "RLeaky" in net.built
    spikes = _snntorch_spikes(net, X).reshape(len(X), -1, X.shape[-1])
    ref = simulate(normalise(out), X, dt=1e-4, reset="soft")[-1]
    ref = ref.reshape(len(X), -1, X.shape[-1])
    np.testing.assert_array_equal(spikes, ref)       # spike for spike, every step
    delay = sum(1 for l in spec.layers if l.type not in ("input", "flatten"))
    ours = loihi_snn.emulate(str(path), X.astype(np.int64), X.shape[-1] + delay)
    p_ours = ours.sum(-1).reshape(len(X), -1).argmax(1)
    assert np.mean(spikes.sum(-1).argmax(1) == p_ours) >= 0.97
