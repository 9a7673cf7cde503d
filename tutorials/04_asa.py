"""Tutorial 4: an ASA attention gate in a conv network on noisy events, run on Lava.

    python tutorials/04_asa.py --size small     # ~40 s: 3 epochs, 400 recordings
    python tutorials/04_asa.py --size full      # a few minutes: 12 epochs, 1000

What happens:
1. synthetic DVS events: a dot moving in one of 4 directions over 8 x 8 pixels, two
   polarities, T=16 binary frames, with background noise at 20 Hz per pixel;
2. two conv networks (conv8 - conv16 stride 2 - dense, LIF) identical but for the
   neuron: ``type="lif"`` (no gate) and ``type="lif-asa"`` with ``asa_split="adaptive"``:
   ASA (Yao et al., ICCV 2023) scales each conv layer's synaptic current by two learned
   spatial maps, one for the channels that score highest on the current input and one
   for the rest, so that noisy feature maps can fall below threshold -- causal, per
   sample and step, in fixed point (:class:`loihi_snn.torch.blocks.ASAConv`);
3. ``train`` fits each, exports it (the gate is the ``asa/`` group of the conv layers
   in the NetX file) and runs the first test recordings on Lava fixed_pt beside the
   torch quantized forward: identical output spikes;
4. accuracy and spikes per sample of the two.

The study behind the README's figures (four arms with a gain control and a static
split, three noise rates, 5 seeds, noise-only recordings, verdicts per noise rate):
``python -m studies.asa`` -> ``results/asa/asa.md``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

SIZES = {"small": {"num_train": 400, "num_test": 100, "epochs": 3, "lava": 4},
         "full": {"num_train": 1000, "num_test": 300, "epochs": 12, "lava": 20}}
NEURON = {"threshold": 1.0, "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.25,
          "scale_grad": 3.0}
ARMS = {"no gate": {"type": "lif", **NEURON},
        "ASA, adaptive split": {"type": "lif-asa", **NEURON, "asa_ratio": 0.5,
                                "asa_split": "adaptive", "asa_map_bias": 3.0}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 3 epochs on 400 recordings (CI, ~40 s); full: 12 epochs on 1000")
    p.add_argument("--out", default=None, help="folder for the trained networks (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import torch

    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.loop import train

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_asa_")
    cards = {}
    for i, (arm, neuron) in enumerate(ARMS.items()):
        config = TrainConfig(
            name=f"events_{'asa' if i else 'plain'}", dataset="events", encoding="binary", T=16,
            dataset_options={"height": 8, "width": 8, "num_classes": 4, "noise_rate": 20.0,
                             "num_train": size["num_train"], "num_test": size["num_test"]},
            val_fraction=0.1, neuron=neuron,
            architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1,
                           "weight_scale": 3, "weight_norm": False},
                          {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                           "weight_scale": 3, "weight_norm": False},
                          {"type": "flatten"},
                          {"type": "dense", "weight_scale": 2, "weight_norm": False}],
            loss={"type": "cross_entropy", "scale": 1.0}, optimizer={"type": "adam", "lr": 0.01},
            epochs=size["epochs"], batch_size=16, seed=args.seed, device="cpu")
        print(f"== 1-3. {arm}: train {config.epochs} epoch(s), export, Lava on "
              f"{size['lava']} test recordings")
        result = train(config, os.path.join(out, config.name), progress=False, verbose=False,
                       lava_limit=size["lava"])
        print(f"   {result.net_path}")
        cards[arm] = result.card

    print("\n== 4. report (the exported network on the test recordings)")
    print(f"{'':22s}{'accuracy':>10s}{'spikes/sample':>15s}{'Lava == torch':>15s}")
    for arm, card in cards.items():
        print(f"{arm:22s}{card['torch']['test_accuracy']:>10.3f}"
              f"{card['spikes_per_sample']['total']:>15.1f}"
              f"{str(card['lava']['identical_output_spikes']):>15s}")
    ok = all(c["lava"]["identical_output_spikes"] for c in cards.values())
    print("asa: " + ("OK, Lava reproduces both networks spike for spike" if ok
                     else "MISMATCH between Lava and torch"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
