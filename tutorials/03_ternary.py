"""Tutorial 3: ternary spikes {-a, 0, +a} beside binary ones, exported and run on Lava.

    python tutorials/03_ternary.py --size small     # ~40 s: T=4, 3 epochs, 600 digits
    python tutorials/03_ternary.py --size full      # a few minutes: 15 epochs, every digit

What happens:
1. two digits networks (64-128-10 LIF, T=4 steps), identical in everything but the
   spike: ``spike="binary"`` fires 1, ``spike="ternary"`` with ``learn_amplitude=True``
   fires -a or +a, with a learnable amplitude a per layer (Guo et al., AAAI 2024);
2. ``train`` fits each and exports it: the amplitude is folded into the next layer's
   weights, so the file's TERNARY neurons send -1 / 0 / +1 (``loihi-snn info`` shows them);
3. the trainer runs the first test digits on Lava fixed_pt beside its own quantized
   forward: identical output spikes, hence identical predictions;
4. accuracy and spikes per sample side by side (a spike of either sign costs one
   synaptic event per outgoing synapse).

The study behind the README's figures (six arms incl. binary with a learned amplitude,
a 2x-wide binary net and the authors' neuron, each tuned on validation, T=2..16, 5 seeds,
synaptic operations, paired 95 % intervals): ``python -m studies.ternary`` ->
``results/ternary/ternary.md``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

SIZES = {"small": {"train_limit": 600, "test_limit": 100, "epochs": 3, "lava": 20},
         "full": {"train_limit": None, "test_limit": None, "epochs": 15, "lava": 100}}
NEURON = {"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
          "voltage_decay": 0.1, "tau_grad": 0.5, "scale_grad": 1.0, "surrogate": "exp"}
ARMS = {"binary": {"spike": "binary"},
        "ternary": {"spike": "ternary", "learn_amplitude": True}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 3 epochs on 600 digits (CI, ~40 s); full: 15 epochs, all digits")
    p.add_argument("--out", default=None, help="folder for the trained networks (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import torch

    from loihi_snn.netx import read_netx
    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.loop import train

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_ternary_")
    cards = {}
    for arm, spike in ARMS.items():
        config = TrainConfig(
            name=f"digits_{arm}", dataset="digits", encoding="rate", T=4,
            train_limit=size["train_limit"], test_limit=size["test_limit"], val_fraction=0.1,
            neuron={**NEURON, **spike}, architecture=[{"type": "dense", "out": 128},
                                                     {"type": "dense"}],
            loss={"type": "cross_entropy", "scale": 1.0}, optimizer={"type": "adam", "lr": 0.01},
            epochs=size["epochs"], batch_size=32, seed=args.seed, device="cpu")
        print(f"== 1-3. {arm}: train {config.epochs} epoch(s), export, Lava on "
              f"{size['lava']} test digits")
        result = train(config, os.path.join(out, arm), progress=False, verbose=False,
                       lava_limit=size["lava"])
        spec = read_netx(result.net_path)
        print(f"   {result.net_path}: neurons {spec.neuron_types}")
        cards[arm] = result.card

    print("\n== 4. report (the exported network on the test digits)")
    print(f"{'':10s}{'accuracy':>10s}{'spikes/sample':>15s}{'Lava == torch':>15s}")
    for arm, card in cards.items():
        print(f"{arm:10s}{card['torch']['test_accuracy']:>10.3f}"
              f"{card['spikes_per_sample']['total']:>15.1f}"
              f"{str(card['lava']['identical_output_spikes']):>15s}")
    ok = all(c["lava"]["identical_output_spikes"] for c in cards.values())
    print("ternary: " + ("OK, Lava reproduces both networks spike for spike" if ok
                         else "MISMATCH between Lava and torch"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
