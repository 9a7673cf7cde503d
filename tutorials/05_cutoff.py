"""Tutorial 5: stop each sample once its answer is settled (the Top-K cutoff), on Lava.

    python tutorials/05_cutoff.py --size small     # ~30 s: 4 epochs, 600 training digits
    python tutorials/05_cutoff.py --size full      # a few minutes: 15 epochs, every digit

What happens:
1. a 64-128-10 LIF network is trained on rate-coded digits (T=16 steps) and exported
   to NetX;
2. the exported file runs on the bit-exact emulator (no Lava needed) for the training,
   validation and test digits;
3. per-step thresholds ``beta`` are calibrated on the training digits for a few
   epsilons, and epsilon is chosen on the validation digits (``choose_epsilon``: the
   largest whose accuracy stays within 1 point of running all 16 steps);
4. the test digits stream through one Lava run with the cutoff controller
   (``run_cutoff``): a sample stops at the first step where the gap between its two
   largest output counts reaches ``beta``; Lava's decisions equal the offline rule
   (``offline_cutoff``) on the emulator's outputs, sample for sample;
5. accuracy and mean steps, against running every sample for all 16 steps.

The study behind the README's figures (5 seeds, against networks trained at each
shorter T, every T tuned on validation, equal mean steps and equal synaptic operations,
paired 95 % intervals): ``python -m studies.cutoff`` -> ``results/cutoff/cutoff.md``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile

SIZES = {"small": {"train_limit": 600, "test_limit": 100, "epochs": 4},
         "full": {"train_limit": None, "test_limit": None, "epochs": 15}}
EPSILONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 4 epochs on 600 digits (CI, ~30 s); full: 15 epochs, all digits")
    p.add_argument("--out", default=None, help="folder for the trained network (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import torch

    from loihi_snn import emulate, run_cutoff
    from loihi_snn.core.cutoff import choose_epsilon, offline_cutoff
    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_cutoff_")
    config = TrainConfig(
        name="digits_lif", dataset="digits", encoding="rate", T=16,
        train_limit=size["train_limit"], test_limit=size["test_limit"], val_fraction=0.1,
        neuron={"type": "lif", "reset": "hard", "threshold": 1.25, "current_decay": 0.25,
                "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3.0},
        architecture=[{"type": "dense", "out": 128}, {"type": "dense"}],
        loss={"type": "cross_entropy", "scale": 1.0}, optimizer={"type": "adam", "lr": 0.01},
        epochs=size["epochs"], batch_size=32, seed=args.seed, device="cpu")

    print(f"== 1. train {config.epochs} epoch(s) and export")
    result = train(config, out, progress=False, verbose=False, lava=False)
    splits = load_data(config)

    print("== 2. the exported file on the emulator")
    y_train = emulate(result.net_path, splits.train.inputs)     # (N, 10, T) output spikes
    y_val = emulate(result.net_path, splits.val.inputs)
    y_test = emulate(result.net_path, splits.test.inputs)
    labels = splits.test.labels
    full_acc = float((y_test.sum(-1).argmax(1) == labels).mean())

    print("== 3. calibrate beta on the training digits, choose epsilon on validation")
    cal, sweep = choose_epsilon(y_train, splits.train.labels, y_val, splits.val.labels,
                                EPSILONS, tolerance=0.01)
    for row in sweep:
        print(f"   epsilon {row['epsilon']:<5g} validation accuracy {row['val_accuracy']:.3f} in "
              f"{row['val_mean_steps']:.2f} steps")
    print(f"   chosen epsilon {cal.epsilon:g}")

    print("== 4. the test digits through Lava's cutoff controller")
    lava = run_cutoff(result.net_path, splits.test.inputs, beta=cal.beta, progress=False)
    rule_pred, rule_steps = offline_cutoff(y_test, cal.beta)
    same = bool((lava.predictions == rule_pred).all() and (lava.steps == rule_steps).all())
    acc = float((lava.predictions == labels).mean())

    print("\n== report")
    print(f"all 16 steps:         accuracy {full_acc:.3f}")
    print(f"cutoff (Lava):        accuracy {acc:.3f} in {lava.steps.mean():.2f} steps on "
          f"average ({16 / lava.steps.mean():.2f}x fewer), {len(labels)} test digits")
    print(f"Lava's decisions equal the offline rule on every sample: {same}")
    print("cutoff: " + ("OK" if same else "MISMATCH between Lava and the offline rule"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
