"""``loihi-snn eval --metrics`` (and ``--json``): NeuroBench's metrics of the deployed network
on every shipped model, equal to the numbers in its model card (``deployment``), consistent
with eval's own spikes, NASFR and steps, and equal across backends."""
from __future__ import annotations

import json

import pytest

from helpers import REPO_ROOT, cli

from loihi_snn.app.evaluation import evaluate
from loihi_snn.train import cards

MODELS = REPO_ROOT / "netx_models"
MODEL_DIRS = sorted(p.parent for p in MODELS.glob("*/model_card.json"))


def _eval(net, cutoff, **kw):
    return evaluate(str(net), cutoff=cutoff, backend="emulator", metrics=True, **kw).to_dict()


@pytest.mark.parametrize("model_dir", MODEL_DIRS, ids=lambda p: p.name)
def test_metrics_equal_the_model_card(model_dir):
    card = cards.load_card(str(model_dir))
    dep = card.get("deployment")
    assert dep and "skipped" not in dep, f"{model_dir.name}: no deployment section " \
                                         f"(python tools/card_metrics.py {model_dir})"
    net = model_dir / card["export"]["file"]
    for key, cutoff in (("full_T", False), ("cutoff", True)):
        if key not in dep:
            assert not card.get("cutoff"), "a calibrated model's card has cutoff metrics"
            continue
        r = _eval(net, cutoff)
        m = r["metrics"]
        assert "per_sample" not in m
        assert m == dep[key]
        assert r["samples"] == dep["samples"] == m["samples"]
        # the same run as eval's own numbers
        assert m["spikes_per_sample"] == pytest.approx(r["spikes_per_sample"], rel=1e-12)
        assert 1 - m["activation_sparsity"]["overall"] == pytest.approx(r["nasfr"], rel=1e-9)
        assert m["latency"]["mean_steps"] == pytest.approx(r["mean_steps"], rel=1e-12)
        assert m["cutoff"] is cutoff


def test_cli_metrics_json_and_table():
    net = MODELS / "mnist1d_conv" / "mnist1d_conv.net"
    proc = cli("eval", net, "--limit", "12", "--backend", "emulator", "--metrics", "--json",
               "--per-sample")
    assert proc.returncode == 0, proc.stderr
    js = json.loads(proc.stdout)
    m = js["metrics"]
    assert js["samples"] == 12 and len(m["per_sample"]["effective_ops"]) == 12
    syn = m["synaptic_operations"]
    assert syn["effective_macs"] > 0      # graded (signed) input into the first conv
    assert syn["effective"] == pytest.approx(syn["effective_acs"] + syn["effective_macs"])
    assert sum(m["per_sample"]["effective_ops"]) / 12 == pytest.approx(syn["effective"])
    assert m["energy"]["estimate_joules"] is None
    assert {"cores", "chips"} <= set(m["loihi2"])
    proc = cli("eval", net, "--limit", "12", "--backend", "emulator", "--metrics")
    assert proc.returncode == 0, proc.stderr
    for word in ("effective ACs", "effective MACs", "dense synaptic ops", "activation sparsity",
                 "connection sparsity", "membrane updates", "footprint", "NeuroCores"):
        assert word in proc.stdout
    plain = json.loads(cli("eval", net, "--limit", "12", "--backend", "emulator",
                           "--json").stdout)
    assert "metrics" not in plain


def test_metrics_equal_across_backends():
    """The Lava cutoff controller's steps and the offline rule's are the same, and the
    metrics are measured on the bit-exact run: lava-fixed, lava-fused and emulator agree."""
    net = MODELS / "digits_lif" / "digits_lif.net"
    got = {}
    for backend in ("lava-fixed", "lava-fused", "emulator"):
        proc = cli("eval", net, "--limit", "16", "--cutoff", "--backend", backend, "--metrics",
                   "--json", timeout=300)
        assert proc.returncode == 0, proc.stderr
        got[backend] = json.loads(proc.stdout)["metrics"]
    assert got["lava-fixed"] == got["lava-fused"] == got["emulator"]
    assert got["emulator"]["latency"]["mean_steps"] < 16
