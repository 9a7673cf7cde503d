"""Deploy your own SLAYER network on Lava: build, train, export, inspect, run, check parity.

    python tutorials/06_deploy_slayer_network.py --size small    # ~30 s
    python tutorials/06_deploy_slayer_network.py --size full     # a few minutes

You already have a lava-dl SLAYER network (here: a small convolutional network on
scikit-learn's 8x8 digits, built directly from ``slayer.block.cuba`` blocks, no
loihi_snn config involved).  Deploying it takes four calls:

1. ``export_blocks(blocks, "net.net", input_shape=(C, H, W))`` -- atomic NetX export
   (a conv-first network states its input shape; run one forward pass first, SLAYER
   sets some shapes lazily);
2. ``loihi-snn info net.net`` -- check what was written (layers, weight bits, neurons);
3. ``run_many("net.net", X)`` -- stream every sample through one Lava fixed-point run;
4. compare with SLAYER's eval forward: the output spikes must be identical.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

SIZES = {  # training samples, epochs, Lava samples
    "small": {"train": 300, "epochs": 4, "lava": 20},
    "full": {"train": None, "epochs": 15, "lava": None},
}


def build_network():
    """Conv(1->8, 3x3) -> Conv(8->16, 3x3, stride 2) -> Flatten -> Dense(256->10), CUBA neurons."""
    import torch

    from loihi_snn.core.lavadl import lava_dl
    slayer = lava_dl().slayer
    neuron = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
              "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
    return torch.nn.ModuleList([
        slayer.block.cuba.Conv(dict(neuron), 1, 8, 3, padding=1, weight_scale=1, weight_norm=True),
        slayer.block.cuba.Conv(dict(neuron), 8, 16, 3, stride=2, padding=1, weight_scale=1,
                               weight_norm=True),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(dict(neuron), 16 * 4 * 4, 10, weight_scale=2, weight_norm=True),
    ])


def forward(blocks, x):
    for block in blocks:
        x = block(x)
    return x


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 300 training digits, 4 epochs, 20 digits on Lava (CI); "
                        "full: all 1438 training digits, 15 epochs, all 359 test digits on Lava")
    p.add_argument("--out", default=None, help="directory for net.net (default: a temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    size = SIZES[args.size]

    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()          # before anything creates a multiprocessing context
    warnings.filterwarnings("ignore", message=".*weight_norm is deprecated.*")
    import torch

    from loihi_snn.core.lavadl import lava_dl
    from loihi_snn.torch.export import export_blocks
    from loihi_snn.sim.runtime.stream import run_many
    from loihi_snn.train.datasets import load_dataset
    slayer = lava_dl().slayer

    torch.manual_seed(args.seed)
    T = 16
    train = load_dataset("digits", "train", T=T, encoding="rate", seed=args.seed,
                         limit=size["train"], layout="image")
    test = load_dataset("digits", "test", T=T, encoding="rate", seed=args.seed,
                        limit=size["lava"], layout="image")
    print(f"== 0. data: {len(train)} training / {len(test)} test digits, input "
          f"{train.input_shape} x T={T} (rate code, time last)")

    print("== 1. build and train a SLAYER network (plain lava-dl)")
    blocks = build_network()
    opt = torch.optim.Adam(blocks.parameters(), lr=0.01)
    loss_fn = slayer.loss.SpikeRate(true_rate=0.4, false_rate=0.02, reduction="sum")
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(args.seed))
    t0 = time.time()
    for epoch in range(size["epochs"]):
        blocks.train()
        correct = 0
        for x, y in loader:
            out = forward(blocks, x)
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((out.sum(-1).argmax(1) == y).sum())
        print(f"   epoch {epoch + 1}: train accuracy {correct / len(train):.3f}")
    print(f"   trained in {time.time() - t0:.1f} s")

    # SLAYER's eval forward uses the quantized weights that the export writes
    blocks.eval()
    with torch.no_grad():
        expect = forward(blocks, torch.from_numpy(test.inputs)).numpy()

    out_dir = args.out or tempfile.mkdtemp(prefix="loihi_snn_deploy_")
    path = os.path.join(out_dir, "net.net")
    print(f"== 2. export_blocks -> {path}")
    export_blocks(blocks, path, input_shape=train.input_shape)

    print("== 3. loihi-snn info")
    subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", "info", path], check=True)

    print(f"== 4. run {len(test)} test digits on Lava (fixed point, one run)")
    t1 = time.time()
    got = run_many(path, test.inputs)
    print(f"   {time.time() - t1:.1f} s")

    got = got.reshape(expect.shape)
    same = bool(np.array_equal(got, expect))
    lava_pred, torch_pred = got.sum(-1).argmax(1), expect.sum(-1).argmax(1)
    print("== 5. parity")
    print(f"   accuracy: SLAYER {np.mean(torch_pred == test.labels):.3f}, "
          f"Lava {np.mean(lava_pred == test.labels):.3f}; agreement "
          f"{np.mean(lava_pred == torch_pred):.3f}")
    print(f"   output spikes: SLAYER {int(expect.sum())}, Lava {int(got.sum())}; identical: {same}")
    print("parity: " + ("OK, identical output spikes" if same else "MISMATCH"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
