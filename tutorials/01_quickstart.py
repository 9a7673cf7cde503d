"""Quickstart: train a spiking network, export it to NetX, run it on Lava, read the report.

    python tutorials/01_quickstart.py --size small     # ~20 s: the digits-small preset
    python tutorials/01_quickstart.py --size full      # ~1 min: the digits preset (>= 90 %)

The same run from the shell is one command:

    loihi-snn train --preset digits-small --out runs/quickstart

What happens (see loihi_snn/train/loop.py):
1. a preset (a TrainConfig) names the data set (scikit-learn's 8x8 digits, rate
   coded over T steps), the network (64-H-10, SLAYER CUBA neurons), loss, optimiser;
2. ``train`` fits it with SLAYER and keeps the epoch with the best validation accuracy;
3. the best checkpoint is exported to ``<name>.net`` (NetX HDF5);
4. the test digits are run through Lava's fixed-point simulator AND through SLAYER's
   quantized forward: both must give the same spikes, hence the same predictions;
5. a model card (model_card.json + MODEL_CARD.md) records all of it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Files go to --out (default: a new temporary directory).")
    p.add_argument("--size", choices=("small", "full"), default="small",
                   help="small: the digits-small preset (CI, ~20 s); full: the digits preset "
                        "(15 epochs, the whole test set on Lava)")
    p.add_argument("--out", default=None, help="output directory (default: a temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Import Lava's runtime first: it sets multiprocessing's start method, which must
    # happen before tqdm or a DataLoader touch multiprocessing.
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    from loihi_snn.netx import read_netx
    from loihi_snn.train.config import get_preset
    from loihi_snn.train.loop import train

    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_quickstart_")
    preset = "digits-small" if args.size == "small" else "digits"
    config = get_preset(preset).replace(seed=args.seed)
    print(f"== 1. config: preset {preset!r}: {config.description}")
    print(f"   architecture {config.architecture}, neuron {config.neuron['type']}, "
          f"{config.epochs} epochs")

    print("== 2-5. train -> export -> Lava -> model card")
    result = train(config, out, command=f"python tutorials/01_quickstart.py --size {args.size}")

    card = result.card
    lava = card["lava"]
    spec = read_netx(result.net_path)
    print("\n== report")
    print(f"exported {result.net_path}: input {spec.input_shape} -> output {spec.output_shape}, "
          f"{len(spec.layers)} layers, neurons {spec.neuron_types}")
    print(f"{'':30s}{'torch':>10s}{'Lava':>10s}")
    print(f"{'test accuracy':30s}{card['torch']['test_accuracy']:>10.3f}"
          f"{lava['accuracy']:>10.3f}   (Lava on {lava['samples']} samples)")
    print(f"{'accuracy on the same samples':30s}{lava['torch_accuracy']:>10.3f}{lava['accuracy']:>10.3f}")
    print(f"prediction agreement {lava['agreement']:.3f}; identical output spikes "
          f"{lava['identical_output_spikes']}")
    print(f"spikes per sample: {card['spikes_per_sample']['total']:.1f}; "
          f"wall time {card['wall_seconds']:.1f} s")
    print(f"model card: {os.path.join(out, 'MODEL_CARD.md')}")
    ok = lava["identical_output_spikes"] and lava["agreement"] == 1.0
    print("quickstart: " + ("OK, Lava reproduces the trained network spike for spike" if ok
                            else "MISMATCH between Lava and torch"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
