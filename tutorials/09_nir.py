"""NIR: train in snnTorch, export to NIR, import onto Lava, run with the cutoff controller.

    python tutorials/09_nir.py --size small    # ~1 min: 3 epochs, 64-32-10, 120 test digits on Lava
    python tutorials/09_nir.py --size full     # a few minutes: 15 epochs, 64-64-10, all 359

The same import from the shell:

    loihi-snn import model.nir --out net.net --reset hard --check inputs.npy --labels labels.npy

(``--reset hard``: these ``Leaky`` neurons reset to zero; snnTorch's default "subtract"
is ``--reset soft``.  NIR cannot record it, so ``import`` asks for it.)

What happens:
1. a 64-H-10 snnTorch network of ``Leaky`` neurons (reset "zero", no reset delay: the
   reset NIR can express) is trained on rate-coded digits with BPTT;
2. snnTorch's own exporter writes it to NIR (``export_to_nir`` -> ``nir.write``);
   snnTorch assumes dt = 1e-4, so its ``beta`` comes back as tau = dt / (1 - beta);
3. ``loihi_snn.from_nir`` lowers it to a NetX file: stock CUBA neurons (iDecay 4096,
   vDecay = round(4096 (1 - beta))), 8-bit weights with one scale per layer, the
   threshold scaled with them, and ``layer_start = "first_input"``: every backend
   starts each layer when its first input arrives (NIR's timing), so the Linear
   layers' biases do not act while the input is still on its way;
4. ``check_import`` runs NIR's equations in float beside the fixed-point network;
5. the cutoff thresholds are calibrated on the training digits (fixed point), and the
   test digits stream through one Lava run with the cutoff controller (lava-fixed):
   accuracy and steps against snnTorch's own float accuracy.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

SIZES = {"small": dict(epochs=3, hidden=32, test=120), "full": dict(epochs=15, hidden=64, test=None)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 3 epochs, 120 test digits on Lava (CI); full: 15 epochs, all 359")
    p.add_argument("--out", default=None, help="directory for model.nir / net.net (default: a "
                                               "temporary one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    # Lava's runtime first: it sets multiprocessing's start method
    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    import nir
    import numpy as np
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    import loihi_snn
    from loihi_snn.nir import check_import, from_nir, normalise
    from loihi_snn.train.datasets import load_dataset

    torch.set_num_threads(1)
    size = SIZES[args.size]
    out = args.out or tempfile.mkdtemp(prefix="loihi_snn_nir_")
    os.makedirs(out, exist_ok=True)
    T = 16
    train = load_dataset("digits", "train", T=T, encoding="rate", seed=args.seed)
    test = load_dataset("digits", "test", T=T, encoding="rate", seed=args.seed,
                        limit=size["test"])
    Xtr, ytr = np.asarray(train.inputs, np.float32), np.asarray(train.labels)
    Xte, yte = np.asarray(test.inputs, np.float32), np.asarray(test.labels)

    # 1. snnTorch: per-neuron beta / threshold (its exporter needs them per neuron)
    def leaky(n, output=False):
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", reset_delay=False, output=output)
    torch.manual_seed(args.seed)
    H = size["hidden"]
    net = torch.nn.Sequential(torch.nn.Linear(64, H), leaky(H), torch.nn.Linear(H, 10),
                              leaky(10, output=True))

    def counts(x):
        for m in net.modules():
            if isinstance(m, snn.SpikingNeuron) and hasattr(m, "mem"):
                m.reset_mem()
        c = 0
        for t in range(x.shape[-1]):
            c = c + net(x[..., t])[0]
        return c
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(args.seed)
    print(f"== 1. snnTorch: 64-{H}-10 Leaky, {size['epochs']} epochs on {len(Xtr)} digits")
    for epoch in range(size["epochs"]):
        perm = torch.randperm(len(Xtr), generator=g)
        for i in range(0, len(Xtr), 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(counts(torch.tensor(Xtr[idx])),
                                                     torch.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        src_pred = counts(torch.tensor(Xte)).numpy().argmax(1)
    src_acc = float(np.mean(src_pred == yte))
    print(f"   snnTorch float test accuracy {src_acc:.3f} ({len(Xte)} digits)")

    # 2. export with snnTorch's own code
    nir_path = os.path.join(out, "model.nir")
    nir.write(nir_path, export_to_nir(net, torch.zeros(64)))
    print(f"== 2. snnTorch export_to_nir -> {nir_path}")

    # 3. import
    net_path = from_nir(nir_path, os.path.join(out, "net.net"))
    spec = loihi_snn.read_netx(net_path)
    for layer in spec.layers:
        p_ = layer.neuron.params
        print(f"== 3. layer {layer.index}: {layer.type} {layer.shape}, {layer.neuron.type} "
              f"iDecay {p_['iDecay']} vDecay {p_['vDecay']} vThMant {p_['vThMant']}, weights "
              f"{int(layer.fields['weight'].min())}..{int(layer.fields['weight'].max())}")
    print(f"   layer start: {spec.layer_start} (each layer starts when its first input arrives)")

    # 4. float NIR reference vs fixed point
    chain = normalise(nir_path)
    r = check_import(chain, net_path, Xte.astype(np.int64), dt=1e-4, reset="hard")
    print(f"== 4. float vs fixed: prediction agreement {r['prediction_agreement']:.3f}, spike "
          f"agreement per layer {[round(l['spike_agreement'], 3) for l in r['layers']]}")

    # 5. cutoff: calibrate on the training digits (fixed point, emulator), stream on Lava
    delay = r["output_delay"]          # Lava's output lags by one step per layer
    pad = lambda X: np.concatenate(  # noqa: E731
        [X, np.zeros(X.shape[:-1] + (delay,), X.dtype)], axis=-1).astype(np.int64)
    calib = loihi_snn.calibrate(loihi_snn.emulate(net_path, pad(Xtr)), ytr, epsilon=0.02)
    full = loihi_snn.run_cutoff(net_path, pad(Xte), beta=calib.beta, cutoff=False)
    cut = loihi_snn.run_cutoff(net_path, pad(Xte), beta=calib.beta)
    acc_full = float(np.mean(full.predictions == yte))
    acc_cut = float(np.mean(cut.predictions == yte))
    print(f"== 5. Lava fixed_pt, all {T + delay} steps: accuracy {acc_full:.3f}; with the cutoff "
          f"(eps 0.02): {acc_cut:.3f} in {cut.mean_steps:.2f} steps per sample")
    print(f"\nsnnTorch float {src_acc:.3f} -> Lava fixed_pt {acc_full:.3f} "
          f"({100 * (acc_full - src_acc):+.1f} pts); cutoff {acc_cut:.3f} at "
          f"{(T + delay) / cut.mean_steps:.2f}x fewer steps")
    ok = abs(acc_full - src_acc) <= 0.05 and r["prediction_agreement"] >= 0.9
    print("nir: OK" if ok else "nir: FAILED (Lava far from the source network)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
