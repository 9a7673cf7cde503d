"""Add (or refresh) the ``deployment`` section of committed model cards without retraining.

    python tools/card_metrics.py netx_models/digits_cuba [netx_models/... ...]

For each model directory: NeuroBench's metrics of its ``.net`` file on the test split
``loihi-snn eval`` uses (the data settings recorded in the file), at the full T and with
the file's cutoff thresholds (:func:`loihi_snn.train.cards.deployment_metrics`), written
into ``model_card.json`` with this run's provenance record, and ``MODEL_CARD.md``
re-rendered.  Nothing else in the card changes.  Run it from a clean, committed tree so
the provenance names the code that measured.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from loihi_snn.app.evaluation import load_eval_data
from loihi_snn.core import provenance
from loihi_snn.core.files import atomic_write_text
from loihi_snn.netx.schema import read_netx
from loihi_snn.train import cards


def refresh(model_dir: str, prov: dict) -> str:
    card = cards.load_card(model_dir)
    net = os.path.join(model_dir, card["export"]["file"])
    data = load_eval_data(read_netx(net))
    dep = cards.deployment_metrics(net, data.inputs)
    dep["provenance"] = prov
    card["deployment"] = dep
    atomic_write_text(os.path.join(model_dir, cards.CARD_JSON), json.dumps(card, indent=2) + "\n")
    atomic_write_text(os.path.join(model_dir, cards.CARD_MD), cards.render_markdown(card))
    return net


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="model directories holding model_card.json")
    args = p.parse_args(argv)
    # taken once, before any card is written: the tree is clean then
    prov = provenance.record("python tools/card_metrics.py " + " ".join(args.models))
    for d in args.models:
        net = refresh(d, prov)
        card = cards.load_card(d)
        full = card["deployment"]["full_T"]["synaptic_operations"]
        print(f"{net}: {full['effective_acs']:.0f} ACs + {full['effective_macs']:.0f} MACs "
              f"per sample at T (dense {full['dense']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
