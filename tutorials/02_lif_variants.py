"""Tutorial 2: LIF variants -- leak on or off, on a memory task, checked on Lava.

    python tutorials/02_lif_variants.py --size small     # ~30 s: 4 epochs, 800 samples
    python tutorials/02_lif_variants.py --size full      # a few minutes: 8 epochs, 2000

What happens:
1. the ``lif_memory`` probe task (:mod:`loihi_snn.train.tasks`): a cue spike pattern,
   a silent delay of variable length, then the network must say which cue it saw;
2. two networks (input -> 32 hidden -> classes) of the single-state LIF neuron
   (``synapse="single"``, soft reset) that differ in one switch: ``leak=True`` (the
   voltage decays 10 % per step) or ``leak=False`` (a pure integrate-and-fire neuron);
   any switch of :func:`loihi_snn.train.models.build_model`'s neuron -- ``reset``
   hard / soft / none, a ``recurrent`` layer -- is set the same way;
3. each is trained with a plain torch loop (cross-entropy on the output spike counts of
   the readout window) and its accuracy measured after short and long delays;
4. each is exported to NetX (``export_blocks``) and the first test samples run on Lava
   fixed_pt (``run_many``): every output spike equals the torch quantized forward.

The study behind the README's figures (2 leaks x 3 resets x recurrence on four probe
tasks, 3 seeds, streams without reset, noise robustness, paired differences):
``python -m studies.lif_variants`` -> ``results/lif_variants/lif_variants.md``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

SIZES = {"small": {"train": 800, "test": 200, "epochs": 4, "lava": 4},
         "full": {"train": 2000, "test": 500, "epochs": 8, "lava": 16}}
NEURON = {"type": "lif", "synapse": "single", "reset": "soft", "threshold": 1.0,
          "voltage_decay": 0.1, "tau_grad": 0.5, "scale_grad": 1.0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 4 epochs on 800 samples (CI, ~30 s); full: 8 epochs on 2000")
    p.add_argument("--out", default=None, help="folder for the exported networks (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import numpy as np
    import torch

    from loihi_snn import export_blocks, run_many
    from loihi_snn.train.datasets import load_dataset
    from loihi_snn.train.models import build_model

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_lif_variants_")
    print("== 1. the lif_memory task: cue, silent delay, answer")
    train = load_dataset("lif_memory", "train", seed=args.seed, limit=size["train"])
    test = load_dataset("lif_memory", "test", seed=args.seed, limit=size["test"])
    readout = train.task_info["readout"]          # the steps the answer is read from
    delay = test.task_info["delay"]
    long = delay > np.median(delay)
    print(f"   inputs {train.inputs.shape} (N, channels, T), {train.num_classes} classes, "
          f"delays {delay.min()}..{delay.max()} steps, answer in the last {readout} steps")

    def counts(out):                              # output spikes in the readout window
        return out[..., out.shape[-1] - readout:].sum(-1)

    ok = True
    for leak in (True, False):
        name = "leak" if leak else "no leak"
        print(f"== 2-3. {name}: build and train {size['epochs']} epoch(s)")
        torch.manual_seed(args.seed)
        model = build_model([{"type": "dense", "out": 32, "weight_scale": 2},
                             {"type": "dense", "weight_scale": 2}], {**NEURON, "leak": leak},
                            train.input_shape, train.num_classes)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        x, y = torch.from_numpy(train.inputs), torch.from_numpy(train.labels)
        model.train()
        for _ in range(size["epochs"]):
            for idx in torch.randperm(len(y)).split(64):
                loss = torch.nn.functional.cross_entropy(counts(model(x[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():                     # the quantized forward = Lava fixed_pt
            expect = model(torch.from_numpy(test.inputs)).numpy()
        right = counts(expect).argmax(1) == test.labels
        print(f"   accuracy {right.mean():.3f}: short delays {right[~long].mean():.3f}, "
              f"long delays {right[long].mean():.3f}")

        print(f"== 4. {name}: export, the first {size['lava']} test samples on Lava")
        path = os.path.join(out, f"lif_memory_{'leak' if leak else 'noleak'}.net")
        export_blocks(list(model.blocks), path, input_shape=model.input_shape)
        got = run_many(path, test.inputs[:size["lava"]], backend="lava-fixed", progress=False)
        equal = sum(np.array_equal(np.asarray(g), e) for g, e in zip(got, expect))
        print(f"   {path}: {equal} of {size['lava']} samples equal to torch spike for spike")
        ok &= equal == size["lava"]
    print("lif variants: " + ("OK, Lava reproduces both networks spike for spike" if ok
                              else "MISMATCH between Lava and torch"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
