"""Study: networks trained in snnTorch and Norse, exported by their own code, imported
onto Lava; our shipped networks exported to NIR and re-imported by snnTorch.

Writes results/nir/nir_study.json and results/nir/nir_study.md (and the .nir / .net files
under results/nir/models/), with the provenance record of :mod:`loihi_snn.core.provenance`.

    OMP_NUM_THREADS=1 python -m studies.nir_study --seeds 0 1 2 --epochs 15 \
        --norse-seeds 0 1 2 3 4 5 6 7 8 9 --mnist1d-epochs 15 --mnist1d-lava-limit 1000
    python -m studies.nir_study --size small --out /tmp/nir    # a check: one network, 1 epoch

Import part, per network and seed: the source framework's own float forward on the
digits test split (359 samples, rate code, T=16, argmax of output spike counts) or the
MNIST-1D test split of the shipped mnist1d_conv (4000 samples, 1 x 1 x 40 maps, x16 graded
input, T=16; Lava on the first --mnist1d-lava-limit samples, the emulator on all), our
float reference of the NIR graph (NIR's equations at dt), and the imported NetX network
on Lava fixed_pt (``run_many``, backend lava-fixed, each sample padded with one zero step
per layer, since Lava delays each layer by one step).  Export part: our shipped networks
through ``loihi_snn.nir.to_nir`` -> ``nir.write`` / ``nir.read`` ->
``snntorch.import_nir.import_from_nir``, run in snnTorch on each file's own test split,
against the same network in fixed point (the bit-exact emulator of Lava fixed_pt).  The
snnTorch interop (running a NIR file in snnTorch's own neurons with Loihi's reset, the
fix-ups its exporter and importer need) is library code: :mod:`loihi_snn.nir.snntorch`.
The walk-through: tutorials/09_nir.py.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import nir  # noqa: E402
import norse.torch as norse  # noqa: E402
import snntorch as snn  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

if __package__ in (None, ""):      # run as a file (python studies/nir_study.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.app.evaluation import load_eval_data  # noqa: E402
from loihi_snn.core import provenance  # noqa: E402
from loihi_snn.nir import check_import, from_nir, normalise, to_nir  # noqa: E402
from loihi_snn.nir.reference import simulate  # noqa: E402
from loihi_snn.netx.lower import broadcast_to_layer, has_bias  # noqa: E402
from loihi_snn.nir.dynamics import stage_dynamics  # noqa: E402
from loihi_snn.nir.graph import read_graph  # noqa: E402
from loihi_snn.nir.snntorch import (SNNTORCH_DT, batch_flatten, extract_graph,  # noqa: E402
                                    honour_reset_metadata, run_snntorch, snntorch_loihi_exact)
from loihi_snn.train.data import scale_inputs  # noqa: E402
from loihi_snn.train.datasets import load_dataset  # noqa: E402

ROOT = str(harness.ROOT)
OUT = os.path.join(ROOT, "results", "nir")
#: the packages whose versions the result records besides the usual ones
PACKAGES = ("nir", "nirtorch", "snntorch", "norse")
T = 16
NORSE_DT = 1e-3


# ----------------------------------------------------------------------------- data
def digits(split: str, layout: str):
    ds = load_dataset("digits", split, T=T, encoding="rate", seed=0, layout=layout)
    return np.asarray(ds.inputs, dtype=np.float32), np.asarray(ds.labels, dtype=np.int64)


MNIST1D = {"num_samples": 20000, "layout": "space"}   # the mnist1d_conv preset's data
MNIST1D_SCALE = 16.0                                   # its input_scale (graded input)


def mnist1d(split: str, layout: str):
    """MNIST-1D as the shipped ``mnist1d_conv`` sees it: 20000 generated sequences (16000
    train / 4000 test), each 40-value sequence a 1 x 1 x 40 map (layout ``space``, direct
    code) shown for T=16 steps, x16 and rounded to integers (graded input events, what
    Lava gets); ``layout="flat"``: (40,) per step."""
    ds = load_dataset("mnist1d", split, T=T, encoding="direct", seed=0, **MNIST1D)
    X = scale_inputs(np.asarray(ds.inputs), MNIST1D_SCALE, "mnist1d").astype(np.float32)
    if layout == "flat":
        X = X.reshape(len(X), -1, X.shape[-1])
    return X, np.asarray(ds.labels, dtype=np.int64)


MNIST1D_SEQ = {"num_samples": 10000, "threshold": 0.25, "levels": 16, "value_range": 2.5}
T_SEQ = 40


def mnist1d_seq(split: str):
    """MNIST-1D as the shipped ``mnist1d_rlif`` sees it: 10000 generated sequences (8000
    train / 2000 test), the sequence over time (T=40 steps), each value level-coded into
    16 binary channels."""
    ds = load_dataset("mnist1d", split, T=T_SEQ, encoding="level", seed=0, **MNIST1D_SEQ)
    return (np.asarray(ds.inputs, dtype=np.float32), np.asarray(ds.labels, dtype=np.int64))


def dataset_of(kind: str) -> str:
    """digits, mnist1d (a static 1 x 40 map, graded) or mnist1d_seq (over time, level)."""
    return ("mnist1d_seq" if kind.startswith("mnist1d_rleaky") else
            "mnist1d" if kind.startswith("mnist1d") else "digits")


def data_for(kind: str, split: str):
    """(X, y) of the split a network kind is trained and tested on."""
    name = dataset_of(kind)
    if name == "mnist1d_seq":
        return mnist1d_seq(split)
    return (mnist1d if name == "mnist1d" else digits)(split, layout_of(kind))


# ----------------------------------------------------------------------------- snnTorch
def _vec(shape, value):
    return torch.full(shape, float(value))


def leaky(shape, reset="zero", output=False):
    """snnTorch Leaky with per-neuron beta/threshold (snnTorch 1.0's exporter needs them
    per neuron: scalars give NIR nodes of shape () that nir's type check rejects)."""
    return snn.Leaky(beta=_vec(shape, 0.9), threshold=_vec(shape, 1.0), init_hidden=True,
                     reset_mechanism=reset, reset_delay=False, output=output)


class RecurrentNet(torch.nn.Module):
    def __init__(self, hidden=64, inputs=64):
        super().__init__()
        self.fc1 = torch.nn.Linear(inputs, hidden)
        self.lif1 = snn.RLeaky(beta=_vec((hidden,), 0.9), threshold=_vec((hidden,), 1.0),
                               linear_features=hidden, init_hidden=True,
                               reset_mechanism="zero", reset_delay=False)
        self.fc2 = torch.nn.Linear(hidden, 10)
        self.lif2 = leaky((10,), output=True)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


class Q8:
    """Mixin: the weight rounded in the forward to the grid ``from_nir`` will put it on
    (threshold 1, unit gain: ``S = floor(254 / max|w|)`` integer units per threshold,
    8-bit signed mantissa = multiples of ``2/S`` in ``[-256/S, 254/S]``), with a
    straight-through gradient: the source trained with the import's rounding in the loop."""

    def qweight(self):
        w = self.weight
        scale = torch.floor(254.0 / w.detach().abs().max().clamp_min(1e-12))
        q = torch.clamp(torch.round(w * scale / 2.0), -128, 127) * 2.0 / scale
        return w + (q - w).detach()

    def round_weight_(self):
        with torch.no_grad():
            self.weight.copy_(self.qweight())


class Q8Conv2d(Q8, torch.nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, self.qweight(), self.bias)


class Q8Linear(Q8, torch.nn.Linear):
    def forward(self, x):
        return torch.nn.functional.linear(x, self.qweight(), self.bias)


def build_snntorch(kind: str, reset: str = "zero"):
    """An snnTorch network of ``kind`` (``..._q8``: its Conv2d / Linear without bias,
    weights rounded to 8 bits in the forward)."""
    q8 = kind.endswith("_q8")
    bias = not q8
    kind = kind.replace("_q8", "")
    conv2d, linear = (Q8Conv2d, Q8Linear) if q8 else (torch.nn.Conv2d, torch.nn.Linear)
    if kind == "dense":
        return torch.nn.Sequential(torch.nn.Linear(64, 64), leaky((64,), reset),
                                   torch.nn.Linear(64, 10), leaky((10,), reset, output=True))
    if kind == "recurrent":
        return RecurrentNet()
    if kind == "mnist1d_rleaky":  # 16 level channels over 40 steps: 16 - 128 (recurrent) - 10
        return RecurrentNet(hidden=128, inputs=16)
    if kind == "conv":
        return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), leaky((8, 8, 8)),
                                   torch.nn.Flatten(), torch.nn.Linear(512, 10),
                                   leaky((10,), output=True))
    if kind == "mnist1d_conv":    # 1 x 40 map: conv8 (1x5) - conv16 (1x5, stride 2) - 10
        net = torch.nn.Sequential(
            conv2d(1, 8, (1, 5), padding=(0, 2), bias=bias), leaky((8, 1, 40), reset),
            conv2d(8, 16, (1, 5), stride=(1, 2), padding=(0, 2), bias=bias),
            leaky((16, 1, 20), reset), torch.nn.Flatten(), linear(320, 10, bias=bias),
            leaky((10,), reset, output=True))
        return _scale_first(net)
    if kind == "mnist1d_dense":   # 40 - 256 - 10
        net = torch.nn.Sequential(linear(40, 256, bias=bias), leaky((256,), reset),
                                  linear(256, 10, bias=bias),
                                  leaky((10,), reset, output=True))
        return _scale_first(net)
    raise ValueError(kind)


def _scale_first(net):
    """The input is x16 integers (graded events): start the first weights 16x smaller."""
    with torch.no_grad():
        net[0].weight.div_(MNIST1D_SCALE)
        if net[0].bias is not None:
            net[0].bias.div_(MNIST1D_SCALE)
    return net


# ----------------------------------------------------------------------------- Norse
def build_norse(hidden=64):
    def cell(n):
        p = norse.LIFBoxParameters(tau_mem_inv=torch.full((n,), 100.0), v_th=torch.ones(n),
                                   v_leak=torch.zeros(n), v_reset=torch.zeros(n))
        return norse.LIFBoxCell(p)     # per-neuron values: nir.write fails on scalars
    model = norse.SequentialState(torch.nn.Linear(64, hidden), cell(hidden),
                                  torch.nn.Linear(hidden, 10), cell(10))
    with torch.no_grad():             # LIFBox scales its input by dt * tau_mem_inv = 0.1
        for m in model:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(10.0)
    return model


def run_norse(model, x: torch.Tensor) -> torch.Tensor:
    state, counts = None, 0
    for t in range(x.shape[-1]):
        out, state = model(x[..., t], state)
        counts = counts + out
    return counts


# ----------------------------------------------------------------------------- training
def train(run, net, X, y, epochs: int, seed: int, lr=5e-3, batch=64):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(run(net, Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def predict(run, net, X) -> np.ndarray:
    with torch.no_grad():
        return run(net, torch.tensor(X)).numpy().argmax(1)


# ----------------------------------------------------------------------------- exports
def export_source(framework: str, kind: str, net):
    if framework == "norse":
        return norse.to_nir(net, torch.zeros(64), dt=NORSE_DT)
    if "conv" in kind:
        # snnTorch 1.0's export_to_nir fails on conv nets (its final infer_types raises on
        # the batched sample a Flatten(1) needs); its own extractor + numpy_graph instead
        sample = torch.zeros(1, 1, 1, 40) if kind.startswith("mnist1d") else torch.zeros(1, 1, 8, 8)
        return extract_graph(net, sample)
    width = 16 if kind.startswith("mnist1d_rleaky") else 40 if kind.startswith("mnist1d") else 64
    return export_to_nir(net, torch.zeros(width))


def dequantized_chain(chain, net_path: str, dt: float):
    """``chain`` with its synapse weights and biases replaced by the imported file's
    integers mapped back to NIR units (``w_q / (S k)``, ``k = a b / theta`` per neuron,
    ``S = vThMant``): NIR's float equations with the rounded weights.  Splits the
    float-vs-fixed differences into weight rounding (float vs this) and the fixed-point
    dynamics and Lava's timing (this vs fixed)."""
    chain = copy.deepcopy(chain)
    layers = [l for l in loihi_snn.read_netx(net_path).layers if l.type != "input"]
    for stage, layer in zip(chain.stages, layers):
        if stage.kind == "flatten":
            continue
        d = stage_dynamics(chain.source, stage, dt)
        k = (d.a * d.b / d.v_threshold) * float(layer.neuron.params["vThMant"])
        wq = np.asarray(layer.fields["weight"], dtype=np.float64)
        bq = broadcast_to_layer(layer.fields.get("bias"), tuple(layer.shape))
        if stage.kind == "dense":
            stage.synapse.weight = wq / k.reshape(-1, 1)
            if stage.recurrent is not None:
                stage.recurrent.weight = np.asarray(layer.fields["weight_rec"], np.float64) / k.reshape(-1, 1)
                if getattr(stage.recurrent, "bias", None) is not None:
                    stage.recurrent.bias = np.zeros_like(np.asarray(stage.recurrent.bias))
            if bq is not None:
                stage.synapse.bias = np.asarray(bq, np.float64).reshape(-1) / k.reshape(-1)
        elif stage.kind == "conv":
            kc = k.reshape(k.shape[0], -1)[:, 0]
            stage.synapse.weight = wq / kc.reshape(-1, 1, 1, 1)
            if bq is not None:
                stage.synapse.bias = np.asarray(bq, np.float64).reshape(k.shape[0], -1)[:, 0] / kc
    return chain


def per_layer_rounding(result: Dict[str, Any], limit: int = 1000) -> List[Dict[str, Any]]:
    """For seed 0 of each imported network: prediction agreement of the float reference
    with the same graph where only one layer's weights (and bias) are the imported,
    rounded ones (first ``limit`` test samples): which layer's 8-bit rounding matters."""
    out = []
    for name, rs in _groups(result["imports"]).items():
        r = rs[0]
        spec = next(s for s in IMPORTS if s[0] == name)
        kind, dt, reset = spec[2], spec[5], spec[4]
        X, _ = data_for(kind, "test")
        X = X[:limit]
        base = os.path.join(OUT, "models", f"{name}_seed{r['seed']}")
        chain = normalise(base + ".nir")
        deq = dequantized_chain(chain, base + ".net", dt)
        p_float = simulate(chain, X, dt=dt, reset=reset)[-1].sum(-1).reshape(len(X), -1).argmax(1)
        layers = []
        spiking = [l for l in loihi_snn.read_netx(base + ".net").layers if l.neuron is not None]
        for i, stage in enumerate(chain.stages):
            if stage.kind == "flatten":
                continue
            # how much of the 8-bit mantissa each neuron's (conv: channel's) weights use
            # with one exponent per layer: max |w_int| per row / 254, median over rows
            w = np.abs(spiking[len(layers)].fields["weight"].astype(np.float64))
            use = w.reshape(w.shape[0], -1).max(1) / 254.0
            one = copy.deepcopy(chain)
            one.stages[i] = deq.stages[i]
            p = simulate(one, X, dt=dt, reset=reset)[-1].sum(-1).reshape(len(X), -1).argmax(1)
            layers.append({"stage": i, "kind": stage.kind, "synapse": stage.synapse_name,
                           "agreement": float(np.mean(p == p_float)),
                           "mantissa_use_median": float(np.median(use)),
                           "mantissa_use_min": float(use.min())})
        row = {"network": name, "seed": r["seed"], "samples": int(len(X)), "layers": layers}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def pad(X: np.ndarray, steps: int) -> np.ndarray:
    return np.concatenate([X, np.zeros(X.shape[:-1] + (steps,), X.dtype)], axis=-1)


IMPORTS = [  # name, framework, kind, reset trained, import reset, import dt
    ("snntorch_dense_leaky", "snntorch", "dense", "zero", "hard", SNNTORCH_DT),
    ("snntorch_rleaky", "snntorch", "recurrent", "zero", "hard", SNNTORCH_DT),
    ("snntorch_conv", "snntorch", "conv", "zero", "hard", SNNTORCH_DT),
    ("snntorch_dense_subtract", "snntorch", "dense", "subtract", "soft", SNNTORCH_DT),
    ("norse_lifbox", "norse", "dense", "zero", "hard", NORSE_DT ** 2),
    ("snntorch_mnist1d_conv", "snntorch", "mnist1d_conv", "zero", "hard", SNNTORCH_DT),
    ("snntorch_mnist1d_dense", "snntorch", "mnist1d_dense", "zero", "hard", SNNTORCH_DT),
    ("snntorch_mnist1d_rleaky", "snntorch", "mnist1d_rleaky", "zero", "hard", SNNTORCH_DT),
    ("snntorch_mnist1d_conv_q8", "snntorch", "mnist1d_conv_q8", "zero", "hard", SNNTORCH_DT),
    ("snntorch_mnist1d_dense_q8", "snntorch", "mnist1d_dense_q8", "zero", "hard", SNNTORCH_DT),
]


EPOCHS = {"mnist1d_rleaky": 30}   # MNIST-1D kinds that need more than --mnist1d-epochs
LR = {"mnist1d_dense": 1e-3, "mnist1d_rleaky": 2e-3}    # Adam lr where 5e-3 (the default) is too high


def decision_margin(counts: np.ndarray) -> np.ndarray:
    """Output spike count of the winner minus the runner-up, per sample ((N, classes))."""
    srt = np.sort(counts.reshape(len(counts), -1), axis=1)
    return srt[:, -1] - srt[:, -2]


def layout_of(kind: str) -> str:
    """The data layout a network kind takes: image (digits conv), space (the MNIST-1D
    conv nets: a 1 x 1 x 40 map) or flat."""
    return "image" if kind == "conv" else "space" if kind.startswith("mnist1d_conv") else "flat"


def import_study(name, framework, kind, reset_src, reset, dt, seed, epochs, lava_limit,
                 mnist1d_epochs=None, mnist1d_lava_limit=None):
    is_1d = kind.startswith("mnist1d")
    Xtr, ytr = data_for(kind, "train")
    Xte, yte = data_for(kind, "test")
    if is_1d:
        epochs = EPOCHS.get(kind, mnist1d_epochs or epochs)
        lava_limit = mnist1d_lava_limit
    torch.manual_seed(seed)
    t0 = time.time()
    if framework == "norse":
        net, run = build_norse(), run_norse
    else:
        net, run = build_snntorch(kind, reset_src), run_snntorch
    base_kind = kind.replace("_q8", "")
    train(run, net, Xtr, ytr, epochs, seed, lr=LR.get(base_kind, 5e-3))
    for m in net.modules():      # the rounded weights are the network (forward and export)
        if isinstance(m, Q8):
            m.round_weight_()
    t_train = time.time() - t0
    p_src = predict(run, net, Xte)
    graph = export_source(framework, kind, net)
    path = os.path.join(OUT, "models", f"{name}_seed{seed}.nir")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nir.write(path, graph)
    net_path = path[:-4] + ".net"
    from_nir(path, net_path, dt=dt, reset=reset)
    chain = normalise(path)
    ref = simulate(chain, Xte, dt=dt, reset=reset)[-1]
    counts_ref = ref.sum(-1).reshape(len(Xte), -1)
    p_ref = counts_ref.argmax(1)
    chk = check_import(chain, net_path, Xte, dt=dt, reset=reset)
    p_fix = np.asarray(chk["fixed_predictions"])
    margin = decision_margin(counts_ref)
    # weight rounding alone: NIR's float equations with the imported integer weights
    deq = simulate(dequantized_chain(chain, net_path, dt), Xte, dt=dt, reset=reset)[-1]
    p_deq = deq.sum(-1).reshape(len(Xte), -1).argmax(1)
    delay = chk["output_delay"]
    n = len(Xte) if lava_limit is None else min(lava_limit, len(Xte))
    t1 = time.time()
    y_lava = loihi_snn.run_many(net_path, pad(Xte[:n].astype(np.int64), delay), backend="lava-fixed")
    t_lava = time.time() - t1
    # NIR's T steps are Lava's steps delay .. delay + T - 1 (before them the output layer
    # sees only biases): the same window as check_import's fixed-point predictions
    p_lava = np.asarray(y_lava)[..., delay:].sum(-1).reshape(n, -1).argmax(1)
    y_emu = loihi_snn.emulate(net_path, pad(Xte[:n].astype(np.int64), delay),
                              Xte.shape[-1] + delay)
    row = {
        "network": name, "framework": framework, "seed": seed, "samples": int(len(Xte)),
        "dataset": dataset_of(kind), "epochs": epochs,
        "lava_samples": int(n), "dt": dt, "reset": reset, "train_seconds": round(t_train, 1),
        "source_float_acc": float(np.mean(p_src == yte)),
        "nir_reference_acc": float(np.mean(p_ref == yte)),
        "reference_equals_source": float(np.mean(p_ref == p_src)),
        "fixed_emulator_acc": float(np.mean(p_fix == yte)),
        "lava_fixed_acc": float(np.mean(p_lava == yte[:n])),
        "lava_equals_emulator": bool(np.array_equal(p_lava, p_fix[:n])),
        "lava_equals_emulator_spike_for_spike": bool(np.array_equal(np.asarray(y_lava),
                                                                    np.asarray(y_emu))),
        "float_vs_fixed_agreement": chk["prediction_agreement"],
        "source_vs_lava_agreement": float(np.mean(p_src[:n] == p_lava)),
        "layer_spike_agreement": [l["spike_agreement"] for l in chk["layers"]],
        "float_vs_rounded_weights_agreement": float(np.mean(p_ref == p_deq)),
        "rounded_weights_vs_fixed_agreement": float(np.mean(p_deq == p_fix)),
        "winner_spikes_mean": float(counts_ref.max(1).mean()),
        "margin_le1_fraction": float(np.mean(margin <= 1)),
        "float_fixed_disagreements": int(np.sum(p_ref != p_fix)),
        "float_fixed_disagreements_margin_le1": int(np.sum((p_ref != p_fix) & (margin <= 1))),
        "lava_seconds": round(t_lava, 1),
    }
    # the same graph imported with a fresh start (every layer from Lava step 1): a biased
    # layer integrates its bias while the input is still on its way to it
    if any(has_bias(l) for l in loihi_snn.read_netx(net_path).layers):
        with tempfile.TemporaryDirectory() as tmp:
            fresh = from_nir(path, os.path.join(tmp, "fresh.net"), dt=dt, reset=reset,
                             layer_start="step_1")
            chk_f = check_import(chain, fresh, Xte, dt=dt, reset=reset)
        p_fresh = np.asarray(chk_f["fixed_predictions"])
        row["fresh_start_fixed_acc"] = float(np.mean(p_fresh == yte))
        row["fresh_start_float_vs_fixed_agreement"] = chk_f["prediction_agreement"]
    if reset == "soft":   # what NIR's own rule (hard reset) would have given
        ref_h = simulate(chain, Xte, dt=dt, reset="hard")[-1]
        row["nir_reference_acc_with_hard_reset"] = float(
            np.mean(ref_h.sum(-1).reshape(len(Xte), -1).argmax(1) == yte))
    print(json.dumps(row), flush=True)
    return row


# ----------------------------------------------------------------------------- export
SHIPPED = ["digits_cuba", "digits_lif", "mnist1d_conv", "mnist1d_rlif", "digits_ternary",
           "events_asa"]


def read_nir(path: str):
    """``nir.read``, checked like every NIR file loihi_snn reads and unchecked where nir
    1.0.8's type inference fails (it takes a Conv2d's kernel as square: a 1 x 5 kernel
    over a 1 x 40 map is refused): :func:`loihi_snn.nir.graph.read_graph`."""
    return read_graph(path)[0]


def export_study(name: str) -> Dict[str, Any]:
    path = os.path.join(ROOT, "netx_models", name, f"{name}.net")
    out = os.path.join(OUT, "models", f"exported_{name}.nir")
    try:
        to_nir(path, out)
    except loihi_snn.LoihiSnnError as exc:
        row = {"network": name, "exported": False, "refused": str(exc).replace(ROOT + "/", "")}
        print(json.dumps(row), flush=True)
        return row
    spec = loihi_snn.read_netx(path)
    data = load_eval_data(spec)
    X, y = data.inputs.astype(np.float32), data.labels
    delay = sum(1 for l in spec.layers if l.type not in ("input", "flatten"))
    ours = loihi_snn.emulate(path, X.astype(np.int64), X.shape[-1] + delay)
    p_ours = ours.sum(-1).reshape(len(X), -1).argmax(1)
    p_card = ours[..., :X.shape[-1]].sum(-1).reshape(len(X), -1).argmax(1)
    graph = read_nir(out)
    net = import_from_nir(graph)
    n_flat = batch_flatten(net)
    p_snn = predict(run_snntorch, net, X)
    row = {"network": name, "exported": True, "samples": int(len(X)), "T": int(X.shape[-1]),
           "dataset": data.dataset, "our_fixed_acc": float(np.mean(p_ours == y)),
           "our_fixed_acc_first_T_steps": float(np.mean(p_card == y)),
           "snntorch_acc": float(np.mean(p_snn == y)),
           "same_predictions": float(np.mean(p_snn == p_ours)),
           "flatten_modules_shifted": n_flat,
           "reset_modes": sorted({l.neuron.params.get("resetMode", "hard") for l in spec.layers
                                  if l.neuron is not None})}
    # the exported graph under NIR's own equations (our float reference), same reset
    mode = row["reset_modes"][0] if len(row["reset_modes"]) == 1 else "hard"
    ref = simulate(normalise(out), X, dt=1e-4, reset=mode)[-1]
    row["nir_reference_same_predictions"] = float(
        np.mean(ref.sum(-1).reshape(len(X), -1).argmax(1) == p_ours))
    row["recurrent"] = any(l.type == "dense_rec" for l in spec.layers)
    if row["reset_modes"] != ["hard"]:
        net2 = import_from_nir(read_nir(out))
        batch_flatten(net2)
        row["modules_with_reset_from_metadata"] = honour_reset_metadata(net2, read_nir(out))
        stats = {"spikes": 0.0, "above": 0.0}

        def count(m, _inp, out):    # v still above threshold after snnTorch's subtraction
            spk = out[0] if isinstance(out, tuple) else out
            stats["spikes"] += float(spk.sum())
            stats["above"] += float(((m.mem > m.threshold) & (spk > 0)).sum())
        hooks = [m.register_forward_hook(count) for m in net2.modules()
                 if isinstance(m, snn.SpikingNeuron) and m.reset_mechanism == "subtract"]
        p2 = predict(run_snntorch, net2, X)
        for h in hooks:
            h.remove()
        row["spikes_with_v_above_threshold_after_subtract"] = (
            stats["above"] / stats["spikes"] if stats["spikes"] else 0.0)
        row["snntorch_acc_reset_from_metadata"] = float(np.mean(p2 == y))
        row["same_predictions_reset_from_metadata"] = float(np.mean(p2 == p_ours))
    if "soft" in row["reset_modes"] or row["recurrent"]:
        net4 = snntorch_loihi_exact(out)
        row["snntorch_loihi_reset_build"] = net4.built     # per spiking layer
        p4 = predict(run_snntorch, net4, X)
        row["snntorch_loihi_reset_acc"] = float(np.mean(p4 == y))
        row["same_predictions_snntorch_loihi_reset"] = float(np.mean(p4 == p_ours))
    print(json.dumps(row), flush=True)
    return row


# ----------------------------------------------------------------------------- report
def _ms(values: List[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def _fixed_acc(r) -> float:
    """Our fixed-point accuracy on all test samples: Lava's where Lava ran them all, else
    the emulator's (equal to Lava spike for spike on the samples Lava ran)."""
    return r["lava_fixed_acc"] if r["lava_samples"] == r["samples"] else r["fixed_emulator_acc"]


def _diffs(rs) -> List[float]:
    return [100 * (_fixed_acc(r) - r["source_float_acc"]) for r in rs]


def _groups(rows):
    return {name: [r for r in rows if r["network"] == name]
            for name in dict.fromkeys(r["network"] for r in rows)}


def summarise(result: Dict[str, Any]) -> Dict[str, Any]:
    """Per imported network (over its seeds): mean source float accuracy, mean fixed-point
    accuracy, mean and worst difference (pts), seeds within 1 pt, mean float-vs-fixed
    agreement, mean winner spikes and close-decision fraction; the figures the README
    quotes (results/README_NUMBERS.json points here)."""
    out = {}
    for name, rs in _groups(result["imports"]).items():
        diff = _diffs(rs)
        out[name] = {
            "seeds": len(rs),
            "source_float_acc": float(np.mean([r["source_float_acc"] for r in rs])),
            "fixed_acc": float(np.mean([_fixed_acc(r) for r in rs])),
            "diff_pts_mean": float(np.mean(diff)),
            "diff_pts_std": float(np.std(diff)),
            "diff_pts_worst": float(max(diff, key=abs)),
            "seeds_within_1pt": int(sum(abs(d) <= 1.0 for d in diff)),
            "float_vs_fixed_agreement": float(np.mean([r["float_vs_fixed_agreement"]
                                                       for r in rs])),
            "winner_spikes_mean": float(np.mean([r.get("winner_spikes_mean", np.nan)
                                                 for r in rs])),
            "margin_le1_fraction": float(np.mean([r.get("margin_le1_fraction", np.nan)
                                                  for r in rs])),
            "disagreements": int(sum(r.get("float_fixed_disagreements", 0) for r in rs)),
            "disagreements_margin_le1": int(sum(r.get("float_fixed_disagreements_margin_le1", 0)
                                                for r in rs))}
        fresh = [r for r in rs if "fresh_start_fixed_acc" in r]
        if fresh:        # the same imports with every layer starting at Lava step 1
            diff = [100 * (r["fresh_start_fixed_acc"] - r["source_float_acc"]) for r in fresh]
            out[name]["fresh_start"] = {
                "fixed_acc": float(np.mean([r["fresh_start_fixed_acc"] for r in fresh])),
                "diff_pts_mean": float(np.mean(diff)),
                "diff_pts_worst": float(max(diff, key=abs)),
                "seeds_within_1pt": int(sum(abs(d) <= 1.0 for d in diff)),
                "float_vs_fixed_agreement": float(np.mean(
                    [r["fresh_start_float_vs_fixed_agreement"] for r in fresh]))}
    return out


def plot(result: Dict[str, Any], path: str) -> None:
    """results/nir/nir_study.png: per imported network and seed, our fixed-point accuracy
    minus the source framework's float accuracy (points; the 1-point band shaded), as
    imported (each layer starting at its first input) and, for the imports with a bias,
    the same graph from a fresh start."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = list(_groups(result["imports"]).items())
    fig, ax = plt.subplots(figsize=(12, 5))
    ax.axhspan(-1, 1, color="0.9", label="within 1 point")
    ax.axhline(0, color="0.5", lw=0.8)
    for j, (name, rs) in enumerate(groups):
        first = _diffs(rs)
        fresh = [100 * (r["fresh_start_fixed_acc"] - r["source_float_acc"])
                 for r in rs if "fresh_start_fixed_acc" in r]
        shift = 0.12 if fresh else 0.0
        ax.scatter(np.full(len(first), j + shift), first, color="tab:blue", s=20,
                   label="as imported (first-input start)" if j == 0 else None)
        if fresh:
            ax.scatter(np.full(len(fresh), j - shift), fresh, color="tab:red", s=20,
                       marker="x", label="fresh start (a bias acts before the input)"
                       if not any("fresh_start_fixed_acc" in r for _, g in groups[:j]
                                  for r in g) else None)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([n.replace("snntorch_", "snnTorch ").replace("norse_", "Norse ")
                        for n, _ in groups], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("Lava fixed_pt minus source float accuracy (points)")
    ax.set_title("NIR imports on Lava: accuracy difference from the source framework, "
                 "per seed")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _appended_line(a: Dict[str, Any]) -> str:
    """One Markdown line for a run appended to the result (``--append``)."""
    p = provenance.result_provenance(a)
    g = p.get("git") or {}
    rev = (g.get("revision") or "unknown")[:12] + (" (uncommitted changes)" if g.get("dirty")
                                                    else "")
    load = p.get("load_average")
    return (f"- added by `{p['command']}` ({', '.join(a['networks'])}): git revision {rev}, "
            f"load average {', '.join(map(str, load)) if load else 'unknown'}, date "
            f"{p.get('date')}, wall time {a['wall_minutes']:.1f} min")


def write_report(result: Dict[str, Any]) -> None:
    os.makedirs(OUT, exist_ok=True)
    result["summary"] = summarise(result)
    plot(result, os.path.join(OUT, "nir_study.png"))
    rows = result["imports"]
    lines = [
        "# NIR: networks from snnTorch and Norse on Lava, ours back to snnTorch", "",
        *harness.provenance_lines(result),
        f"- wall time {result['wall_minutes']:.1f} min"] + [
        _appended_line(a) for a in result.get("appended", [])] + [
        f"- per-layer rounding pass: `{result['per_layer_rounding_command']}`"
        for _ in [0] if result.get("per_layer_rounding_command")] + ["",
        "## Imported networks", "", "![fixed point minus source float, per seed](nir_study.png)", "",
        "Data: *digits*: the digits test split (359 samples, rate code, T=16); *mnist1d*: "
        "the MNIST-1D test split of the shipped `mnist1d_conv` (20000 generated sequences, "
        "16000 train / 4000 test; each 40-value sequence a 1 x 1 x 40 map shown for T=16 "
        "steps, x16 and rounded: graded integer input events); *mnist1d_seq*: the MNIST-1D "
        "test split of the shipped `mnist1d_rlif` (10000 generated sequences, 8000 train / "
        "2000 test; the sequence over T=40 steps, each value level-coded into 16 binary "
        "channels). Trained in the source "
        f"framework (CE on output spike counts, Adam, {result['epochs']} epochs on digits, "
        f"{result.get('mnist1d_epochs', result['epochs'])} on MNIST-1D ("
        + ", ".join(f"{k}: {v}" for k, v in EPOCHS.items()) + "), 1 thread), exported "
        "by its own code (`snntorch.export_nir.export_to_nir`, its extractor for conv nets, "
        "`norse.torch.to_nir`), written with `nir.write`, imported with "
        "`loihi_snn.nir.from_nir` (defaults: each layer starting at its first input, "
        "`layer_start = first_input`) and run on Lava fixed_pt (`run_many`, backend lava-fixed, "
        "one zero step per layer appended; NIR's T steps are Lava's steps from the output "
        "delay on) on every digits test sample; on MNIST-1D Lava ran the first "
        f"{result.get('mnist1d_lava_limit') or 'all'} test samples and the bit-exact emulator "
        "all of them (the fixed_pt accuracy there is the emulator's on all samples). *Lava = "
        "emulator*: Lava's output spikes equal the emulator's, spike for spike, on every "
        "sample Lava ran. *float vs fixed*: "
        "predictions of our float reference of the NIR graph vs the fixed-point network; "
        "*ref = source*: the reference vs the framework's own forward.", "",
        "| network | data | seeds | source float acc | ours, fixed_pt acc (Lava) | difference (pts) | "
        "float vs fixed agreement | ref = source | spike agreement per layer | Lava = emulator | within 1 pt |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in _groups(rows).items():
        diff = _diffs(rs)
        layers = np.mean([r["layer_spike_agreement"] for r in rs], axis=0)
        ok = all(abs(d) <= 1.0 for d in diff)
        same = all(r.get("lava_equals_emulator_spike_for_spike", r["lava_equals_emulator"])
                   for r in rs)
        lines.append(
            f"| {name} | {rs[0].get('dataset', 'digits')} ({rs[0]['samples']}) | {len(rs)} | "
            f"{_ms([r['source_float_acc'] for r in rs])} | "
            f"{_ms([_fixed_acc(r) for r in rs])} | {np.mean(diff):+.2f} "
            f"(worst {max(diff, key=abs):+.2f}) | {_ms([r['float_vs_fixed_agreement'] for r in rs])} | "
            f"{_ms([r['reference_equals_source'] for r in rs])} | "
            f"{', '.join(f'{a:.3f}' for a in layers)} | {'yes' if same else 'NO'} | "
            f"{'yes' if ok else f'NO ({sum(abs(d) <= 1 for d in diff)} of {len(diff)} seeds)'} |")
    lines += ["", "Per seed (*rounded w*: NIR's float equations with the imported integer "
              "weights mapped back, vs the float reference and vs the fixed-point network: "
              "splits float-vs-fixed into weight rounding and fixed-point dynamics / Lava "
              "timing; *margin <= 1*: test samples whose winning output neuron leads the "
              "runner-up by at most one spike in float; *disagreements*: float-vs-fixed "
              "prediction disagreements, of them on a margin <= 1):", "",
              "| network | seed | source acc | reference acc | emulator acc | Lava acc | diff (pts) | "
              "float = rounded w | rounded w = fixed | winner spikes | margin <= 1 | disagreements (margin <= 1) | "
              "Lava = emulator | train s | Lava s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['network']} | {r['seed']} | {r['source_float_acc']:.3f} | "
            f"{r['nir_reference_acc']:.3f} | {r['fixed_emulator_acc']:.3f} | "
            f"{r['lava_fixed_acc']:.3f}"
            f"{'' if r['lava_samples'] == r['samples'] else ' (first %d)' % r['lava_samples']} | "
            f"{_diffs([r])[0]:+.2f} | "
            f"{r.get('float_vs_rounded_weights_agreement', float('nan')):.3f} | "
            f"{r.get('rounded_weights_vs_fixed_agreement', float('nan')):.3f} | "
            f"{r.get('winner_spikes_mean', float('nan')):.1f} | "
            f"{r.get('margin_le1_fraction', float('nan')):.3f} | "
            f"{r.get('float_fixed_disagreements', '')} ({r.get('float_fixed_disagreements_margin_le1', '')}) | "
            f"{r.get('lava_equals_emulator_spike_for_spike', r['lava_equals_emulator'])} | "
            f"{r['train_seconds']} | {r['lava_seconds']} |")
    soft = [r for r in rows if "nir_reference_acc_with_hard_reset" in r]
    if soft:
        lines += ["", "snnTorch's default `subtract` reset is not recorded in NIR (v_reset = 0 "
                  "only): imported with NIR's own rule (hard reset) the same file gives "
                  + ", ".join(f"{r['nir_reference_acc_with_hard_reset']:.3f}" for r in soft)
                  + " (float reference) instead of "
                  + ", ".join(f"{r['nir_reference_acc']:.3f}" for r in soft)
                  + " with `--reset soft`."]
    lines += ["", "### Where float and fixed point part", ""] + fidelity_notes(rows)
    summ = result["summary"]
    fresh = [n for n in summ if "fresh_start" in summ[n]]
    if fresh:
        lines += ["", "### Each layer starting at its first input (the imports with a bias)", "",
                  "A fresh Lava run starts every layer at step 1, so a layer with a bias "
                  "integrates it for one step per synapse in front of it before its first "
                  "input arrives; NIR starts every node with the input.  `from_nir` therefore "
                  "writes `layer_start = first_input` (the table above): every backend zeroes "
                  "each layer once, at the step its first input arrives.  The same graphs "
                  "imported with `layer_start=\"step_1\"` (a fresh start), fixed point on the "
                  "emulator over the whole test split:", "",
                  "| network | seeds | source float acc | fixed, fresh start | fixed, first-input "
                  "start | difference fresh / first input (pts) | within 1 pt: fresh / first "
                  "input | float vs fixed: fresh / first input |",
                  "|---|---|---|---|---|---|---|---|"]
        for name in fresh:
            f, a = summ[name]["fresh_start"], summ[name]
            lines.append(
                f"| {name} | {a['seeds']} | {a['source_float_acc']:.3f} | {f['fixed_acc']:.3f} | "
                f"{a['fixed_acc']:.3f} | {f['diff_pts_mean']:+.2f} (worst "
                f"{f['diff_pts_worst']:+.2f}) / {a['diff_pts_mean']:+.2f} (worst "
                f"{a['diff_pts_worst']:+.2f}) | {f['seeds_within_1pt']} / "
                f"{a['seeds_within_1pt']} of {a['seeds']} | "
                f"{f['float_vs_fixed_agreement']:.3f} / {a['float_vs_fixed_agreement']:.3f} |")
    if result.get("per_layer_rounding"):
        lines += ["", "One layer rounded at a time (seed 0; all 359 digits, the first "
                  f"{max(r['samples'] for r in result['per_layer_rounding'])} MNIST-1D test "
                  "samples; "
                  f"`{result['per_layer_rounding_command']}`): prediction agreement of the "
                  "float reference with the same graph where only that layer has the "
                  "imported 8-bit weights; in brackets how much of the 8-bit mantissa the "
                  "layer's rows (neurons; conv: output channels) use under the one exponent "
                  "(threshold scale) per layer, max |w| / 254, median and smallest row:", ""]
        for r in result["per_layer_rounding"]:
            lines.append(f"- {r['network']}: " + ", ".join(
                f"{l['synapse']} ({l['kind']}) {l['agreement']:.3f}"
                + (f" [mantissa use median {l['mantissa_use_median']:.2f}, min "
                   f"{l['mantissa_use_min']:.2f}]" if "mantissa_use_median" in l else "")
                for l in r["layers"]))
    lines += ["", "## Our shipped networks exported with `to_nir`, re-imported by snnTorch", "",
              "`loihi_snn.nir.to_nir` -> `nir.write` -> `nir.read` -> "
              "`snntorch.import_nir.import_from_nir`, run in snnTorch (float) on the test "
              "split recorded in each file, against our fixed-point network (bit-exact "
              "emulator of Lava fixed_pt, padded by one step per layer; *first T steps*: "
              "the accuracy as the model card counts it, without the padding).  *NIR "
              "reference*: the exported file under NIR's own equations (our numpy "
              "reference, reset mode from the node metadata).", "",
              "| network | samples | ours fixed acc | (first T steps) | snnTorch acc | same predictions | NIR reference: same predictions | >= 97 % |",
              "|---|---|---|---|---|---|---|---|"]
    for r in result["exports"]:
        if not r["exported"]:
            lines.append(f"| {r['network']} | refused: {r['refused']} | | | | | | |")
            continue
        lines.append(f"| {r['network']} | {r['samples']} | {r['our_fixed_acc']:.3f} | "
                     f"{r['our_fixed_acc_first_T_steps']:.3f} | {r['snntorch_acc']:.3f} | "
                     f"{r['same_predictions']:.3f} | {r['nir_reference_same_predictions']:.3f} | "
                     f"{'yes' if r['same_predictions'] >= 0.97 else 'NO'} |")
        if "same_predictions_reset_from_metadata" in r:
            lines.append(f"| {r['network']}: import_from_nir + reset mode from the metadata "
                         f"| {r['samples']} | | | {r['snntorch_acc_reset_from_metadata']:.3f} | "
                         f"{r['same_predictions_reset_from_metadata']:.3f} | | "
                         f"{'yes' if r['same_predictions_reset_from_metadata'] >= 0.97 else 'NO'} |")
        if "same_predictions_snntorch_loihi_reset" in r:
            lines.append(f"| {r['network']}: snnTorch's own neurons with Loihi's reset "
                         f"({r.get('snntorch_loihi_reset_build', '')}) "
                         f"| {r['samples']} | | | {r['snntorch_loihi_reset_acc']:.3f} | "
                         f"{r['same_predictions_snntorch_loihi_reset']:.3f} | | "
                         f"{'yes' if r['same_predictions_snntorch_loihi_reset'] >= 0.97 else 'NO'} |")
    above = [f"{r['network']} {r['spikes_with_v_above_threshold_after_subtract']:.3f}"
             for r in result["exports"] if "spikes_with_v_above_threshold_after_subtract" in r]
    lines += ["", "Soft reset (the LIF models: `digits_lif`, `mnist1d_conv`, `mnist1d_rlif`): "
              "NIR has no reset mode, so snnTorch's importer builds reset-to-zero neurons "
              "(first row of each model); with the mode from our node metadata it builds "
              "`subtract` neurons (`reset_delay=False`), which equal Loihi's soft reset only "
              "while `v` falls to at most the threshold after the subtraction: when `v` stays "
              "above it, snnTorch subtracts again on the next step before testing (and adds "
              "the threshold back if that step does not fire), Loihi just tests `v`.  Share "
              "of snnTorch's spikes after which `v` still exceeds the threshold: "
              + ", ".join(above) + ".  Under NIR's equations with Loihi's soft reset (our "
              "reference, column *NIR reference*) the exported files give our predictions: "
              "the files are right, snnTorch's `subtract` is a different reset.  Loihi's "
              "soft reset is `v[t] = beta * (v[t-1] - threshold * s[t-1]) + I[t]`: snnTorch's "
              "own `RLeaky` without reset and with a one-to-one self-connection `V = -beta * "
              "threshold` computes exactly that (`mem[t] = beta * mem[t-1] + I[t] + V * "
              "spk[t-1]`); a two-state `CubaLIF` (`mnist1d_rlif`) as its current (snnTorch "
              "`Leaky` without reset or spikes, `beta = alpha`) into such an `RLeaky` "
              "(`RSynaptic` cannot: its self-connection enters the decaying current).  Built "
              "from the NIR file by `loihi_snn.nir.snntorch.snntorch_loihi_exact` (synapses by "
              "snnTorch's own `_nir_to_snntorch_module`), last row of each soft-reset model.", "",
              "snnTorch 1.0's importer and nir 1.0.8, as they are: `import_from_nir` maps NIR "
              "`Flatten(start_dim=0)` (NIR dimensions, no batch, as snnTorch's own exporter "
              "writes it) to `torch.nn.Flatten(0)`, which flattens a batched input across the "
              "batch; the study shifts those modules' `start_dim` by one after import (what its "
              "exporter subtracts).  nir 1.0.8 computes a `Conv2d`'s output type from "
              "`weight.shape[2]` in both dimensions, so the 1 x 5 kernels of `mnist1d_conv` "
              "fail `nir.read`'s type check: `to_nir` writes the true output types, "
              "`from_nir` (and this study) read such files with `type_check=False` and compute "
              "every shape themselves.", "",
              "Recurrent networks: snnTorch 1.0 + nirtorch 2.6 cannot re-import a recurrent "
              "layer faithfully: `import_from_nir` wires its RNN subgraph's input into "
              "`w_rec` (not into the neuron) and nirtorch keeps the loop only in a state dict "
              "that snnTorch's `init_hidden` modules never see; snnTorch's `RSynaptic` with "
              "`reset_delay=False` (what its importer builds) fails in its forward (`spk` is "
              "None).  The composed build above wires the graph's loop itself "
              "(`WiredRecurrent`: the recurrent weight's output of the previous step added to "
              "the layer's input, as on Loihi).", "",
              "Not representable in NIR (refused by `to_nir` with one line naming the layer "
              "and field): ternary spikes (`digits_ternary`), ASA gates (`events_asa`), "
              "sigma-delta neurons, `average` layers, axonal delays, input layers with "
              "neurons, a bias into a decaying synaptic current."]
    lines += ["", "## What the exporters really write (each a test in tests/e2e/test_nir_exporters.py)", "",
              "- snnTorch 1.0: `tau = dt/(1-beta)`, `r = tau/dt`, `w_in = tau_syn/dt` with "
              "dt = 1e-4 (our default `dt`); `v_reset = 0` and no reset mode (its default "
              "`subtract` is lost: `--reset soft`); `beta`/`threshold` must be per-neuron "
              "tensors or `export_to_nir` fails in nir's type inference; `RLeaky` is written "
              "as flat dotted nodes (`lif1.lif`, `lif1.w_rec`) in a cycle; conv nets fail in "
              "`export_to_nir` (batched sample vs `infer_types`), its extractor "
              "(`nirtorch.extract_nir_graph` + `_extract_snntorch_module`) works but records "
              "the batch dimension, torch tensors and untyped nodes (fixed up before "
              "`nir.write`; non-square kernels also need their true output types, see above).",
              "- Norse 1.1: `tau = dt/tau_mem_inv` (its dt once too many): import with "
              "`dt = dt_norse**2` (1e-6); scalar parameters make `nir.write` fail (per-neuron "
              "parameters used here); a batched sample puts the batch dimension into the "
              "Input type (dropped on import); `LIBox` readouts (NIR `LI`) are non-spiking and "
              "refused.",
              "- Lava timing: each layer adds one step, and from a fresh start a layer's bias "
              "(Affine bias, `v_leak`) acts from the first step, i.e. before the layer's "
              "first input arrives; NIR starts both with the input.  `from_nir` writes "
              "`layer_start = first_input`, which every backend honours by zeroing each "
              "layer once when its first input arrives.  Leak-free integer graphs run spike "
              "for spike like NIR's equations (tests/unit/test_nir_lower.py)."]
    lines += ["", "## Verdicts", ""] + [f"- {v}" for v in result["verdicts"]]
    harness.write_files(OUT, "nir_study", result, "\n".join(lines) + "\n", indent=1)


def layer_scales(rs) -> str:
    """Each spiking layer's vThMant range over the seeds' imported files (models/)."""
    per_layer: List[List[int]] = []
    for r in rs:
        path = os.path.join(OUT, "models", f"{r['network']}_seed{r['seed']}.net")
        if not os.path.exists(path):
            return "n/a"
        th = [int(l.neuron.params["vThMant"]) for l in loihi_snn.read_netx(path).layers
              if l.neuron is not None]
        per_layer = [p + [t] for p, t in zip(per_layer, th)] if per_layer else [[t] for t in th]
    return ", ".join(f"{min(v)}-{max(v)}" for v in per_layer)


def fidelity_notes(rows) -> List[str]:
    """Where the float-vs-fixed disagreements come from, from the per-seed numbers."""
    if not rows or "margin_le1_fraction" not in rows[0]:
        return []
    out = []
    for name, rs in _groups(rows).items():
        dis = sum(r["float_fixed_disagreements"] for r in rs)
        dis1 = sum(r["float_fixed_disagreements_margin_le1"] for r in rs)
        diff = _diffs(rs)
        n = rs[0]["samples"]
        # paired difference of two classifiers on the same n samples: its standard error
        # is about sqrt(disagreements) / n (each disagreement moves the accuracy by 1/n)
        se = 100 * np.sqrt(np.mean([r["float_fixed_disagreements"] for r in rs])) / n
        scales = layer_scales(rs)
        out.append(
            f"- {name}: per-layer threshold scale S (vThMant; weights are multiples of "
            f"2/S thresholds) {scales}; "
            f"winner {_ms([r['winner_spikes_mean'] for r in rs])} spikes per sample, "
            f"{_ms([r['margin_le1_fraction'] for r in rs])} of the samples decided by at most "
            f"one spike; {dis} float-vs-fixed disagreements over {len(rs)} seeds, {dis1} of them "
            f"on such samples; float = rounded weights {_ms([r['float_vs_rounded_weights_agreement'] for r in rs])}, "
            f"rounded weights = fixed {_ms([r['rounded_weights_vs_fixed_agreement'] for r in rs])}; "
            f"difference {np.mean(diff):+.2f} ± {np.std(diff):.2f} pts over seeds (standard "
            f"error of the mean {np.std(diff, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0:.2f}; "
            f"a per-seed sampling error of about ±{se:.2f} pts from the disagreements alone)")
    groups = _groups(rows)
    if "norse_lifbox" in groups:
        nb = groups["norse_lifbox"]
        sn = [r for k, rs in groups.items() if k.startswith("snntorch_") and "mnist1d" not in k
              for r in rs]
        out += ["", "Norse `LIFBox` (its closest decisions): the import is exact in float "
                f"(ref = source at least {min(r['reference_equals_source'] for r in nb):.3f} on "
                f"every seed) and its scales are fine (S {layer_scales(nb)}: weights in steps of "
                f"2/S, under 0.003 thresholds); its output layer "
                "(`v <- v + 0.1 (x - v)`) fires few spikes, "
                f"{np.mean([r['winner_spikes_mean'] for r in nb]):.1f} for the winner against "
                f"{min(r['winner_spikes_mean'] for r in sn):.1f}-"
                f"{max(r['winner_spikes_mean'] for r in sn):.1f} in the snnTorch nets, so "
                f"{np.mean([r['margin_le1_fraction'] for r in nb]):.2f} of the digits are "
                "decided by at most one spike (snnTorch: "
                f"{min(r['margin_le1_fraction'] for r in sn):.2f}-"
                f"{max(r['margin_le1_fraction'] for r in sn):.2f}), and "
                f"{sum(r['float_fixed_disagreements_margin_le1'] for r in nb)} of its "
                f"{sum(r['float_fixed_disagreements'] for r in nb)} float-vs-fixed "
                "disagreements are such samples: 8-bit rounding tips close decisions either "
                f"way.  Its worst seed, {max(_diffs(nb), key=abs):+.2f} pts, is "
                f"{round(abs(max(_diffs(nb), key=abs)) * nb[0]['samples'] / 100)} of "
                f"{nb[0]['samples']} digits."]
    m1 = {k: rs for k, rs in groups.items() if "mnist1d" in k and not k.endswith("_q8")}
    q8 = {k: rs for k, rs in groups.items() if k.endswith("_q8")}
    digits_rows = [r for k, rs in groups.items() if "mnist1d" not in k for r in rs]
    if m1 and digits_rows:
        out += ["", "MNIST-1D: the float import is exact (ref = source at least "
                f"{min(r['reference_equals_source'] for rs in m1.values() for r in rs):.3f}"
                ") and Lava equals the emulator spike for spike; the fixed-point "
                "networks part from float in two places.  (1) 8-bit weight rounding: "
                "*float = rounded w* is "
                + ", ".join(f"{k} {np.mean([r['float_vs_rounded_weights_agreement'] for r in rs]):.3f}"
                            for k, rs in m1.items())
                + f" (digits nets {min(r['float_vs_rounded_weights_agreement'] for r in digits_rows):.3f}-"
                f"{max(r['float_vs_rounded_weights_agreement'] for r in digits_rows):.3f}); these nets "
                "decide many samples by one spike (*margin <= 1* above; the conv and dense "
                "nets see a graded input, x16 integers, the same map every step; the "
                "recurrent net's output over 40 steps is nearly tied on half its samples), so "
                "the first layer's rounding alone moves many predictions (per-layer table "
                "below), in both directions: the accuracy moves far less than single "
                "predictions do.  "
                "(2) Fixed-point dynamics (integer state, decays rounded to 12 bits) with "
                "each layer starting at its first input: *rounded w = fixed* is "
                + ", ".join(f"{k} {np.mean([r['rounded_weights_vs_fixed_agreement'] for r in rs]):.3f}"
                            for k, rs in m1.items())
                + " (from a fresh start a bias also acts before the layer's input arrives: "
                "table below).  No import setting removes the rounding: 8-bit weights with "
                "one exponent per layer is NetX's (and Loihi's) weight format."]
        if q8:
            out[-1] += (
                "  What does carry over: the same snnTorch nets without biases, trained with "
                "the import's 8-bit grid in the forward (`Q8Conv2d` / `Q8Linear` in this "
                "study: weights rounded to multiples of 2/S, S = floor(254 / max|w|), "
                "straight-through gradient; the rounded weights are the network and what "
                "snnTorch exports): "
                + "; ".join(
                    f"{k} source {_ms([r['source_float_acc'] for r in rs])}, fixed "
                    f"{_ms([_fixed_acc(r) for r in rs])}, difference {np.mean(_diffs(rs)):+.2f} "
                    f"(worst {max(_diffs(rs), key=abs):+.2f}) pts, float vs fixed "
                    f"{_ms([r['float_vs_fixed_agreement'] for r in rs])}"
                    for k, rs in q8.items())
                + ".  (On this grid every input sum is a multiple of 2/S (integer inputs), "
                "so `v` can land exactly on the threshold, where float32 (snnTorch) and "
                "float64 (our reference) round either way (*ref = source* "
                + ", ".join(f"{k} {_ms([r['reference_equals_source'] for r in rs])}"
                            for k, rs in q8.items())
                + "): the accuracies match closer than single predictions do.)")
    return out


def verdicts(result) -> List[str]:
    out = []
    for name, rs in _groups(result["imports"]).items():
        diff = _diffs(rs)
        worst = max(diff, key=abs)
        within = sum(abs(d) <= 1 for d in diff)
        sem = np.std(diff, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        # a paired difference of two classifiers on n samples: about sqrt(disagreements)/n
        noise = 100 * np.sqrt(np.mean([r.get("float_fixed_disagreements", 0) for r in rs])) \
            / rs[0]["samples"]
        out.append(f"{name}: Lava fixed_pt within 1 point of the source's float accuracy on "
                   f"every seed: {'yes' if within == len(diff) else 'no'} ({within} of "
                   f"{len(diff)} seeds; mean {np.mean(diff):+.2f} +- {sem:.2f} (standard error), "
                   f"worst {worst:+.2f} pts; one seed's difference carries about +-{noise:.2f} "
                   f"pts of sampling error)")
    for r in result["exports"]:
        if r["exported"]:
            exact = r.get("same_predictions_snntorch_loihi_reset")
            best = r["same_predictions"] if exact is None else exact
            how = ("snnTorch's import_from_nir" if exact is None else
                   "snnTorch's own neurons with Loihi's reset, layer by layer: "
                   + r.get("snntorch_loihi_reset_build", ""))
            extra = (f"; import_from_nir as it is {r['same_predictions']:.3f}"
                     if exact is not None else "")
            if "same_predictions_reset_from_metadata" in r:
                extra += (f"; import_from_nir with snnTorch's subtract reset "
                          f"{r['same_predictions_reset_from_metadata']:.3f}")
            extra += f"; NIR reference of the exported file {r['nir_reference_same_predictions']:.3f}"
            out.append(f"{r['network']}: re-imported into snnTorch ({how}), the same "
                       f"predictions on {best:.3f} of the test samples: "
                       f"{'yes' if best >= 0.97 else 'no'} (>= 0.97){extra}")
        else:
            out.append(f"{r['network']}: not representable in NIR, refused")
    return out


#: --size small: one snnTorch import (1 epoch, seed 0, Lava on 30 digits) and one export
SMALL = {"seeds": [0], "epochs": 1, "lava_limit": 30,
         "only": ["snntorch_dense_leaky", "digits_cuba"]}


def main(argv=None) -> int:
    ap = harness.parser(__doc__, {"small": SMALL, "full": {}})
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="seeds (default 0 1 2; --size small: 0)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 15; small: 1)")
    ap.add_argument("--lava-limit", type=int, default=None,
                    help="run only the first N test samples on Lava (default: all; small: 30)")
    ap.add_argument("--norse-seeds", type=int, nargs="+", default=None,
                    help="seeds of norse_lifbox (default: --seeds)")
    ap.add_argument("--mnist1d-epochs", type=int, default=None,
                    help="epochs of the MNIST-1D networks (default: --epochs)")
    ap.add_argument("--mnist1d-lava-limit", type=int, default=None,
                    help="run only the first N MNIST-1D test samples on Lava (the emulator, "
                         "equal to Lava spike for spike, runs all)")
    ap.add_argument("--only", nargs="*", default=None, help="network names to run")
    ap.add_argument("--report-only", action="store_true",
                    help="re-render results/nir/nir_study.md from the JSON")
    ap.add_argument("--per-layer-rounding", action="store_true",
                    help="add the per-layer weight-rounding analysis (seed 0 of each imported "
                         "network, stored files) to the JSON and re-render the report")
    ap.add_argument("--append", action="store_true",
                    help="run only the --only networks (imports and shipped exports) and put "
                         "their rows into the existing JSON (replacing earlier rows of those "
                         "networks)")
    ap.add_argument("--out", default=OUT, help="result folder (default results/nir)")
    args = ap.parse_args(argv)
    small = SMALL if args.size == "small" else {}
    args.seeds = args.seeds or small.get("seeds", [0, 1, 2])
    args.epochs = args.epochs or small.get("epochs", 15)
    args.lava_limit = args.lava_limit or small.get("lava_limit")
    args.only = args.only if args.only is not None else small.get("only")
    globals()["OUT"] = os.path.abspath(args.out)
    study = harness.Study("nir_study", argv, packages=PACKAGES)
    if args.report_only or args.per_layer_rounding:
        with open(os.path.join(OUT, "nir_study.json")) as fh:
            result = json.load(fh)
        if args.per_layer_rounding:
            result["per_layer_rounding"] = per_layer_rounding(result)
            result["per_layer_rounding_command"] = study.command
        result["verdicts"] = verdicts(result)
        write_report(result)
        return 0
    imports = [import_study(*spec, seed=s, epochs=args.epochs, lava_limit=args.lava_limit,
                            mnist1d_epochs=args.mnist1d_epochs,
                            mnist1d_lava_limit=args.mnist1d_lava_limit)
               for spec in IMPORTS if args.only is None or spec[0] in args.only
               for s in (args.norse_seeds or args.seeds if spec[1] == "norse" else args.seeds)]
    exports = [export_study(n) for n in SHIPPED if args.only is None or n in args.only]
    if args.append:
        with open(os.path.join(OUT, "nir_study.json")) as fh:
            result = json.load(fh)
        names = {r["network"] for r in imports}
        result["imports"] = [r for r in result["imports"] if r["network"] not in names] + imports
        done = {r["network"]: r for r in exports}
        result["exports"] = [done.pop(r["network"], r) for r in result["exports"]] + list(
            done.values())
        names |= set(r["network"] for r in exports)
        result.setdefault("appended", []).append({
            "networks": sorted(names), "provenance": harness.stamped(study),
            "wall_minutes": study.wall() / 60})
        result["verdicts"] = verdicts(result)
        write_report(result)
        print("\n".join(result["verdicts"]))
        return 0
    result = {"provenance": harness.stamped(study), "size": args.size,
              "epochs": args.epochs, "seeds": args.seeds,
              "mnist1d_epochs": args.mnist1d_epochs or args.epochs,
              "norse_seeds": args.norse_seeds or args.seeds,
              "mnist1d_lava_limit": args.mnist1d_lava_limit,
              "imports": imports, "exports": exports,
              "wall_minutes": study.wall() / 60}
    result["verdicts"] = verdicts(result)
    write_report(result)
    print("\n".join(result["verdicts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
