"""Tutorial 8: the RCS regulariser and the Top-K cutoff, on an events conv net and Lava.

    python tutorials/08_rcs.py --size small     # ~1 min: 4 epochs, 600 recordings
    python tutorials/08_rcs.py --size full      # a few minutes: 20 epochs, 1500

What happens:
1. synthetic DVS events (a dot moving in one of 4 directions, 2 x 8 x 8, T=16) and a
   conv net (conv8 - conv16 stride 2 - dense, LIF), cross-entropy on output spike counts;
2. RCS (Wu et al., 2025; :mod:`loihi_snn.train.rcs`) rewards each hidden layer for
   representing a sample early the way it does at the end, so that the cutoff can stop
   sooner.  It is one entry of the loss add-ons table
   (``loihi_snn.train.regularizers.REGULARIZERS``), here on the hidden layers only, and a
   config switches it on with ``rcs_weight``; two nets are trained, weight 0 and 0.03;
3. each exported net runs on the bit-exact emulator; the cutoff thresholds are
   calibrated on the training recordings and epsilon chosen on the validation ones;
4. the first test recordings stream through Lava's cutoff controller, whose decisions
   equal the offline rule on the emulator's outputs;
5. accuracy and mean steps with the cutoff, with and without RCS.

The study behind the README's figures (five weights, 10 seeds, 1000 test recordings,
paired 95 % intervals, a diagnosis of an earlier recipe): ``python -m studies.rcs`` ->
``results/rcs/rcs.md``; where the evidence is early (digits in direct code, RCS on the
hidden layer or on every layer, every arm tuned): ``python -m studies.rcs_digits``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

SIZES = {"small": {"num_train": 600, "num_test": 100, "epochs": 4, "lava": 20},
         "full": {"num_train": 1500, "num_test": 1000, "epochs": 20, "lava": 100}}
WEIGHTS = (0.0, 0.03)
EPSILONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 4 epochs on 600 recordings (CI, ~1 min); full: 20 epochs")
    p.add_argument("--out", default=None, help="folder for the trained networks (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import torch

    from loihi_snn import emulate, run_cutoff
    from loihi_snn.core.cutoff import choose_epsilon, offline_cutoff
    from loihi_snn.train import rcs
    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train
    from loihi_snn.train.regularizers import REGULARIZERS

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_rcs_")
    REGULARIZERS["rcs"] = rcs.make_regularizer(hidden_only=True)   # hidden layers only
    rows, ok = [], True
    for weight in WEIGHTS:
        config = TrainConfig(
            name=f"events_rcs{weight:g}".replace(".", "p"), dataset="events", encoding="binary",
            T=16, dataset_options={"height": 8, "width": 8, "num_classes": 4,
                                   "num_train": size["num_train"], "num_test": size["num_test"]},
            val_fraction=0.1, rcs_weight=weight,
            neuron={"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
                    "voltage_decay": 0.1, "tau_grad": 0.03, "scale_grad": 3.0},
            architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1,
                           "weight_scale": 3, "weight_norm": False},
                          {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                           "weight_scale": 3, "weight_norm": False},
                          {"type": "flatten"},
                          {"type": "dense", "weight_scale": 2, "weight_norm": False}],
            loss={"type": "cross_entropy", "scale": 1.0},
            optimizer={"type": "adam", "lr": 0.001, "schedule": "cosine"}, select="last",
            epochs=size["epochs"], batch_size=16, seed=args.seed, device="cpu")
        print(f"== 1-2. RCS weight {weight:g}: train {config.epochs} epoch(s) and export")
        result = train(config, os.path.join(out, config.name), progress=False, verbose=False,
                       lava=False)
        splits = load_data(config)

        print("== 3. emulate, calibrate on training, choose epsilon on validation")
        y_test = emulate(result.net_path, splits.test.inputs)
        cal, _ = choose_epsilon(emulate(result.net_path, splits.train.inputs),
                                splits.train.labels,
                                emulate(result.net_path, splits.val.inputs), splits.val.labels,
                                EPSILONS)
        pred, steps = offline_cutoff(y_test, cal.beta)

        k = size["lava"]
        print(f"== 4. the first {k} test recordings through Lava's cutoff controller")
        lava = run_cutoff(result.net_path, splits.test.inputs[:k], beta=cal.beta,
                          progress=False)
        same = bool((lava.predictions == pred[:k]).all() and (lava.steps == steps[:k]).all())
        ok &= same
        labels = splits.test.labels
        rows.append((weight, float((y_test.sum(-1).argmax(1) == labels).mean()), cal.epsilon,
                     float((pred == labels).mean()), float(steps.mean()), same))

    print("\n== 5. report (test recordings; cutoff: the offline rule = Lava's decisions)")
    print(f"{'RCS weight':>10s}{'acc, 16 steps':>15s}{'epsilon':>9s}{'acc, cutoff':>13s}"
          f"{'mean steps':>12s}{'Lava == rule':>14s}")
    for weight, full, eps, acc, mean_steps, same in rows:
        print(f"{weight:>10g}{full:>15.3f}{eps:>9g}{acc:>13.3f}{mean_steps:>12.2f}"
              f"{str(same):>14s}")
    print("rcs: " + ("OK, Lava's cutoff controller equals the offline rule" if ok
                     else "MISMATCH between Lava and the offline rule"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
