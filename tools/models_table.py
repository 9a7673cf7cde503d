"""Regenerate the model table of ``netx_models/README.md`` from the committed model cards.

    .venv/bin/python tools/models_table.py            # rewrite the table in place
    .venv/bin/python tools/models_table.py --check    # exit 1 if the README's table is stale

Every figure in the table is read from ``netx_models/<name>/model_card.json`` (the card
written by ``loihi-snn train``), so the README cannot drift from the cards.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "netx_models" / "README.md"
BEGIN, END = "<!-- models table: tools/models_table.py -->", "<!-- end of models table -->"


def _row(card: dict) -> str:
    data, lava, torch = card["data"], card.get("lava") or {}, card["torch"]
    split = data["splits"]["test"]
    acc = lava.get("accuracy")
    lava_s = (f"{acc:.3f} on {lava['samples']} of {split} test samples; torch "
              f"{lava['torch_accuracy']:.3f} there, identical spikes "
              f"{lava['identical_output_spikes']}" if acc is not None else "not run")
    if lava.get("samples") != split:
        lava_s += f"; torch on all {split}: {torch['test_accuracy']:.3f}"
    cut = (card.get("cutoff") or {}).get("lava") or {}
    if "accuracy" in cut:
        lava_s += (f"; with the stored cutoff (eps {card['cutoff']['epsilon']:g}) "
                   f"{cut['accuracy']:.3f} in {cut['mean_steps']:.2f} of {data['T']} steps "
                   f"({data['T'] / cut['mean_steps']:.2f}x fewer)")
    neuron = card["neuron"]
    n = ", ".join(f"{k} {v}" for k, v in neuron.items() if k in ("type", "spike", "reset"))
    layers = "-".join(str(l.get("out_shape", [""])[0]) if l["type"] != "flatten" else "flat"
                      for l in card["architecture"])
    how = (f"`{card['command']}` (seed {card['seed']}, {card['training']['train_seconds']} s "
           f"training, {card['training']['epochs']} epochs)")
    return (f"| `{card['name']}` | {data['dataset']} ({data['encoding']}, T={data['T']}) | "
            f"{layers} ({n}) | {lava_s} | {how} |")


def table() -> str:
    rows = ["| model | data | network | Lava test accuracy (from the card) | how it was made |",
            "|---|---|---|---|---|"]
    for path in sorted((ROOT / "netx_models").glob("*/model_card.json")):
        rows.append(_row(json.loads(path.read_text())))
    return "\n".join([BEGIN, *rows, END])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = p.parse_args(argv)
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"{README}: no '{BEGIN}' ... '{END}' markers", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + table() + tail
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
