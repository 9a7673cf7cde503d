"""The training pipeline: config, model builder, trainer, checkpoint/export, model card, CLI, DDP."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from loihi_snn.app import cli
from loihi_snn.train import cards
from loihi_snn.train.config import (ConfigError, PRESETS, TrainConfig, get_preset, load_config,
                                    resolve_config)
from loihi_snn import families
from loihi_snn.train.checkpoint import CHECKPOINT_NAME, export_checkpoint, load_checkpoint
from loihi_snn.train.loop import train
from loihi_snn.train.models import build_model, parameter_digest, slayer_style_factory
from loihi_snn.train.verify import evaluate_model

from helpers import REPO_ROOT


# a tiny digits run: a few hundred samples, 1-2 seconds per epoch on one core
TINY = {"preset": "digits-small", "name": "tiny", "train_limit": 160, "test_limit": 40,
        "val_fraction": 0.25, "T": 8, "architecture": [{"type": "dense", "out": 16},
                                                      {"type": "dense"}],
        "epochs": 1, "batch_size": 16}


def _tiny(**changes) -> TrainConfig:
    return TrainConfig.from_dict({**TINY, **changes})


# ----------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------

def test_presets_are_valid_and_listed_in_errors():
    for name in PRESETS:
        cfg = get_preset(name)
        assert cfg.validate() is cfg
        assert cfg.to_dict() == TrainConfig.from_dict(cfg.to_dict()).to_dict()
    with pytest.raises(ConfigError) as exc:
        get_preset("digitz")
    for name in ("digits", "digits-small", "mnist1d", "events-conv"):
        assert name in str(exc.value)


def test_config_file_json_with_preset_and_overrides(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"preset": "digits", "epochs": 2, "neuron": {"threshold": 1.5},
                                "dataset_options": {"max_rate": 0.5}}))
    cfg = load_config(str(path))
    assert cfg.epochs == 2 and cfg.T == 16 and cfg.name == "digits_cuba"
    # nested dicts are merged with the preset's, not replaced
    assert cfg.neuron["threshold"] == 1.5 and cfg.neuron["current_decay"] == 0.25
    assert cfg.dataset_options == {"max_rate": 0.5}
    saved = cfg.save(str(tmp_path / "round.json"))
    assert load_config(saved).to_dict() == cfg.to_dict()
    assert resolve_config(config=str(path), seed=4).seed == 4


@pytest.mark.parametrize("content,needle", [
    ({"preset": "digits", "epoch": 3}, "unknown config field(s) epoch; valid fields"),
    ({"dataset": "cifar"}, "valid data sets: digits"),
    ({"dataset": "digits", "encoding": "delta"}, "choose one of: rate, latency, direct"),
    ({"dataset": "digits", "dataset_options": {"layot": "image"}}, "valid: layout"),
    ({"preset": "digits", "epochs": 0}, "epochs must be an integer >= 1"),
    ({"preset": "digits", "device": "tpu"}, "device must be one of auto, cpu, cuda"),
    ({"preset": "digits", "val_fraction": 1.0}, "val_fraction"),
    ({"preset": "digits", "loss": {"type": "mse"}}, "valid: spike_rate"),
    ({"preset": "digits", "optimizer": {"type": "adam", "lr": -1}}, "lr must be a positive"),
    ({"preset": "digits", "neuron": {"type": "izhikevich"}}, "registered types: cuba"),
    ({"preset": "digits", "neuron": {"treshold": 1}}, "unknown parameter(s) treshold"),
    ({"preset": "digits", "dataset_options": {"layout": "image"},
      "architecture": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "dense"}]},
     "add {'type': 'flatten'}"),
    ({"preset": "digits", "architecture": [{"type": "conv", "out": 4, "kernel": 3}]},
     "needs a (C, H, W) input"),
    ({"preset": "digits", "architecture": [{"type": "dense", "out": 7}]}, "must have 10 outputs"),
    ({"preset": "digits", "architecture": [{"type": "dense", "units": 7}]}, "unknown key(s) units"),
    ({"preset": "digits", "architecture": [{"type": "lstm"}]}, "unknown layer type 'lstm'"),
    ({"preset": "digits", "architecture": []}, "non-empty list"),
])
def test_config_validation_errors(tmp_path, content, needle):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as exc:
        load_config(str(path))
    assert needle in str(exc.value)
    assert str(path) in str(exc.value)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(str(bad))
    yml = tmp_path / "c.yaml"
    yml.write_text("preset: digits\nepochs: 2\n")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pyyaml"):
            load_config(str(yml))
    else:
        assert load_config(str(yml)).epochs == 2
    with pytest.raises(ConfigError, match="exactly one"):
        resolve_config()


def test_cli_train_reports_config_errors_in_one_line(tmp_path, capsys):
    assert cli.main(["train", "--preset", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown preset 'nope'") and "digits-small" in err
    assert "\n" not in err
    assert cli.main(["export", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.net")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    torch.save({"weights": torch.zeros(2)}, junk)
    assert cli.main(["export", str(junk), "--out", str(tmp_path / "x.net")]) == 2
    assert "not a loihi-snn checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.net").exists()


def test_cli_help_explains_every_option():
    for command in ("train", "export"):
        out = subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", command, "--help"],
                             capture_output=True, text=True, check=True).stdout
        options = set(re.findall(r"(--[a-z][a-z-]+)", out)) - {"--help"}
        assert options, out
        for option in options:   # every option has a line of explanation after it
            assert re.search(re.escape(option) + r"[^\n]*\n?\s+\S", out), option
    out = subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for needle in ("--preset", "--config", "--lava-limit", "--no-lava", "torchrun", "digits-small"):
        assert needle in out


# ----------------------------------------------------------------------------
# model builder
# ----------------------------------------------------------------------------

def test_build_conv_model_shapes_and_layer_spikes():
    torch.manual_seed(0)
    arch = get_preset("events-conv").architecture
    model = build_model(arch, {"type": "cuba"}, (2, 16, 16), 4)
    assert [l["out_shape"] for l in model.layers] == [[8, 16, 16], [8, 8, 8], [16, 8, 8],
                                                      [16, 4, 4], [256], [4]]
    assert model.spiking == [0, 1, 2, 3, 5]            # flatten has no neurons
    x = (torch.rand(3, 2, 16, 16, 10) < 0.2).float()
    out, layers = model(x, return_layers=True)
    assert out.shape == (3, 4, 10)
    assert [tuple(l.shape[1:-1]) for l in layers] == [(8, 16, 16), (8, 8, 8), (16, 8, 8),
                                                      (16, 4, 4), (4,)]
    assert model.layer_names() == ["0:conv", "1:pool", "2:conv", "3:pool", "5:dense"]


def test_recurrent_state_does_not_leak_between_calls():
    """SLAYER's Recurrent keeps neuron state across calls; SpikingNet starts each from rest."""
    torch.manual_seed(1)
    model = build_model([{"type": "recurrent", "out": 12}, {"type": "dense"}],
                        {"type": "cuba", "threshold": 0.5}, (3,), 5).eval()
    x = torch.randint(0, 4, (2, 3, 20)).float()
    with torch.no_grad():
        first = model(x)
        second = model(x)
        alone = model(x[1:])
    assert first.sum() > 0
    assert torch.equal(first, second)
    assert torch.equal(first[1:], alone)


def test_neuron_registry_dispatches_on_type():
    """A new family plugs in through the registry without touching the builder."""
    from loihi_snn.core.lavadl import lava_dl
    calls = []

    def factory(kind, params, **kw):
        calls.append((kind, dict(params)))
        return slayer_style_factory(lambda: lava_dl().slayer.block.cuba)(kind, params, **kw)

    families.register_training(families.TrainingFamily(
        "test-family", description="test only", blocks=factory,
        defaults={"threshold": 0.75, "current_decay": 0.5, "voltage_decay": 0.03},
        allowed_params=None))
    try:
        cfg = TrainConfig.from_dict({"preset": "digits", "neuron": {"type": "test-family",
                                                                    "voltage_decay": 0.1}})
        assert cfg.neuron == {"type": "test-family", "voltage_decay": 0.1}  # not merged with cuba's
        model = build_model(cfg.architecture, cfg.neuron, (64,), 10)
        assert [c[0] for c in calls] == ["dense", "dense"]
        assert calls[0][1] == {"threshold": 0.75, "current_decay": 0.5, "voltage_decay": 0.1}
        assert model.neuron["type"] == "test-family"
    finally:
        families.unregister_training("test-family")


# ----------------------------------------------------------------------------
# trainer
# ----------------------------------------------------------------------------

def test_training_is_deterministic_for_a_seed(tmp_path):
    a = train(_tiny(), str(tmp_path / "a"), lava=False, verbose=False)
    b = train(_tiny(), str(tmp_path / "b"), lava=False, verbose=False)
    c = train(_tiny(seed=1), str(tmp_path / "c"), lava=False, verbose=False)
    assert a.parameter_digest == b.parameter_digest
    assert a.history[0]["loss"] == b.history[0]["loss"]
    assert a.parameter_digest != c.parameter_digest
    sa = torch.load(tmp_path / "a" / CHECKPOINT_NAME, weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / CHECKPOINT_NAME, weights_only=True)["state_dict"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.card["lava"] == {"skipped": "disabled (--no-lava)"}
    # the process-wide deterministic-algorithms switch is restored afterwards
    assert not torch.are_deterministic_algorithms_enabled()


def test_rcs_weight_calls_the_registered_regulariser(tmp_path):
    """rcs_weight > 0 adds weight x REGULARIZERS['rcs'](model, output, layers, labels, config)."""
    from loihi_snn.train import regularizers
    seen = []

    def fake_rcs(model, output, layers, labels, config):
        seen.append((tuple(output.shape), [tuple(l.shape) for l in layers], tuple(labels.shape),
                     config.rcs_weight))
        return output.mean() * 0 + 1.0

    saved = regularizers.REGULARIZERS.get("rcs")
    regularizers.REGULARIZERS["rcs"] = fake_rcs
    try:
        res = train(_tiny(rcs_weight=0.5), str(tmp_path), lava=False, verbose=False)
    finally:
        if saved is None:
            regularizers.REGULARIZERS.pop("rcs")
        else:
            regularizers.REGULARIZERS["rcs"] = saved
    assert len(seen) == 8          # 120 training samples / batch 16
    assert seen[0] == ((16, 10, 8), [(16, 16, 8), (16, 10, 8)], (16,), 0.5)
    base = train(_tiny(), str(tmp_path / "base"), lava=False, verbose=False)
    # a constant regulariser adds exactly weight x 1 to every batch loss, nothing else
    assert res.history[0]["loss"] == pytest.approx(base.history[0]["loss"] + 0.5)
    assert res.parameter_digest == base.parameter_digest


def test_direct_encoding_needs_input_scale(tmp_path):
    cfg = _tiny(encoding="direct")
    with pytest.raises(ConfigError, match="input_scale"):
        train(cfg, str(tmp_path), lava=False, verbose=False)


def test_cutoff_epsilon_is_validated():
    assert _tiny(cutoff_epsilon=0.03).cutoff_epsilon == 0.03
    for bad in (-0.1, 1.0, "0.1", True):
        with pytest.raises(ConfigError, match="cutoff_epsilon"):
            _tiny(cutoff_epsilon=bad)


@pytest.mark.slow
def test_cutoff_calibration_is_stored_and_run_on_lava(tmp_path):
    """cutoff_epsilon: thresholds calibrated on the training split, stored in the file's
    /cutoff group, and the Lava cutoff controller's decisions recorded in the card."""
    from loihi_snn.core.cutoff import calibrate, offline_cutoff
    from loihi_snn.netx.calibration import load_calibration
    from loihi_snn.netx import read_netx
    from loihi_snn.train.data import load_data

    cfg = _tiny(cutoff_epsilon=0.2, lava_limit=8, epochs=2)
    res = train(cfg, str(tmp_path), verbose=False)
    cut = res.card["cutoff"]
    assert cut["epsilon"] == 0.2 and cut["calibration_samples"] == 160 and len(cut["beta"]) == 8
    cal = load_calibration(read_netx(res.net_path))
    assert [None if not np.isfinite(b) else b for b in cal.beta] == cut["beta"]
    # the same thresholds from the quantized forward of every training sample
    model, _ = load_checkpoint(res.checkpoint)
    splits = load_data(cfg)
    out = np.concatenate([evaluate_model(model, s.inputs)["output"] for s in (splits.train, splits.val)])
    labels = np.concatenate([splits.train.labels, splits.val.labels])
    assert np.array_equal(calibrate(out, labels, epsilon=0.2).beta, cal.beta)
    lava = cut["lava"]
    assert lava["samples"] == 8 and lava["equals_offline_rule"] is True
    preds, steps = offline_cutoff(evaluate_model(model, splits.test.inputs[:8])["output"], cal.beta)
    assert lava["reference_subset"]["predictions"] == preds.tolist()
    assert lava["reference_subset"]["steps"] == steps.tolist()
    assert res.card["cutoff_steps"] == lava["mean_steps"] == float(steps.mean())
    assert res.card["export"]["extensions"] == ["cutoff", "training"]
    assert "## Cutoff (early exit)" in (tmp_path / cards.CARD_MD).read_text()
    # what the deployment costs, at T and with the stored cutoff (loihi_snn.metrics)
    dep = res.card["deployment"]
    assert dep["samples"] == len(splits.test.labels) and dep["cutoff"]["cutoff"] is True
    assert dep["cutoff"]["latency"]["mean_steps"] <= dep["full_T"]["latency"]["mean_steps"] == 8
    assert "## Deployment cost" in (tmp_path / cards.CARD_MD).read_text()


@pytest.mark.slow
def test_ternary_network_is_evaluated_as_exported(tmp_path):
    """Amplitudes folded into the next weights are quantized again at export: the card's
    torch numbers come from that folded network, which Lava matches spike for spike."""
    cfg = _tiny(neuron={"type": "lif", "spike": "ternary", "threshold": 1.25,
                        "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03,
                        "scale_grad": 3.0}, lava_limit=10, epochs=2)
    res = train(cfg, str(tmp_path), verbose=False)
    model, _ = load_checkpoint(res.checkpoint)
    amps = [float(b.neuron.amplitude) for b in model.blocks]
    assert all(a != 1.0 for a in amps)               # the amplitudes were learned
    lava = res.card["lava"]
    assert lava["identical_output_spikes"] is True and lava["agreement"] == 1.0
    assert lava["accuracy"] == lava["torch_accuracy"]


def test_mnist1d_level_code_one_spike_per_step():
    from loihi_snn.train.encoders import level_encode
    x = np.array([[-3.0, -2.5, -0.01, 0.0, 1.2, 2.49, 7.0]])
    out = level_encode(x, levels=4, value_range=2.5)          # bins of width 1.25
    assert out.shape == (1, 4, 7) and out.dtype == np.float32
    assert out.sum(1).tolist() == [[1.0] * 7]
    assert out[0].argmax(0).tolist() == [0, 0, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="levels"):
        level_encode(x, levels=1, value_range=1.0)
    cfg = get_preset("mnist1d_rlif")
    assert cfg.encoding == "level" and cfg.dataset_options["levels"] == 16


def test_lif_asa_family_gates_conv_layers():
    from loihi_snn.torch.blocks import ASAConv
    model = build_model([{"type": "conv", "out": 4, "kernel": 3, "padding": 1},
                         {"type": "flatten"}, {"type": "dense"}],
                        {"type": "lif-asa", "asa_ratio": 0.25}, (2, 6, 6), 4)
    assert isinstance(model.blocks[0], ASAConv) and not isinstance(model.blocks[2], ASAConv)
    assert model.blocks[0].gate.num_important == 1
    assert get_preset("events_asa").neuron["type"] == "lif-asa"


@pytest.mark.slow
def test_recurrent_direct_input_end_to_end(tmp_path):
    """Graded (direct x input_scale) input and a recurrent layer: export, Lava, fresh runs."""
    cfg = _tiny(encoding="direct", input_scale=4, lava_limit=6,
                architecture=[{"type": "recurrent", "out": 16}, {"type": "dense"}])
    res = train(cfg, str(tmp_path), verbose=False)
    card = res.card
    assert card["data"]["input_scale"] == 4
    assert [l["type"] for l in card["export"]["layers"]] == ["dense_rec", "dense"]
    assert card["export"]["extensions"] == ["training"]
    lava = card["lava"]
    assert lava["samples"] == 6
    fresh = lava["fresh_runs"]
    assert fresh["samples"] == 3 and fresh["identical_to_torch"] == 3
    X, _ = cards.reference_inputs(card)
    assert X.max() > 1 and np.array_equal(X, np.round(X))      # integer graded input


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The digits-small preset end to end through the CLI (train, export, Lava on 20 samples)."""
    out = tmp_path_factory.mktemp("digits_small")
    rc = cli.main(["train", "--preset", "digits-small", "--out", str(out), "--lava-limit", "20",
                   "--no-progress"])
    assert rc == 0
    return out


@pytest.mark.slow
def test_digits_small_end_to_end(small_run):
    out = small_run
    for name in (CHECKPOINT_NAME, "digits_small_cuba.net", "config.json", cards.CARD_JSON,
                 cards.CARD_MD):
        assert (out / name).stat().st_size > 0, name
    card = cards.load_card(str(out))
    lava, torch_res = card["lava"], card["torch"]
    assert lava["samples"] == 20 and lava["backend"] == "lava-fixed"
    assert lava["identical_output_spikes"] is True
    assert lava["agreement"] == 1.0
    assert lava["accuracy"] == lava["torch_accuracy"]
    assert torch_res["test_samples"] == 100 and torch_res["test_accuracy"] > 0.5
    assert card["data"]["splits"] == {"train": 540, "validation": 60, "test": 100}
    assert card["command"].startswith("loihi-snn train --preset digits-small")
    assert card["export"]["max_weight_bits"] <= 8
    assert [l["type"] for l in card["export"]["layers"]] == ["dense", "dense"]
    sp = card["spikes_per_sample"]
    assert set(sp["per_layer"]) == {"0:dense", "1:dense"}
    assert sp["total"] == pytest.approx(sum(sp["per_layer"].values()))
    assert card["cutoff_steps"] is None
    assert card["training"]["best_epoch"] >= 1 and len(card["training"]["history"]) == 8
    prov = card["provenance"]
    assert prov["schema"] == "loihi_snn.provenance/1" and prov["command"] == card["command"]
    assert prov["machine"]["logical_cores"] >= 1 and prov["machine"]["device"] == "cpu"
    assert prov["machine"]["versions"]["lava-nc"] == "0.10.0"
    assert prov["git"]["revision"] and isinstance(prov["git"]["clean"], bool)
    md = (out / cards.CARD_MD).read_text()
    assert "# Model card: digits_small_cuba" in md and "Lava fixed_pt" in md
    # the reference subset can be regenerated from the card alone
    ref = card["reference_subset"]
    X, labels = cards.reference_inputs(card)
    assert X.shape == (20, 64, 8) and labels.tolist() == ref["labels"]
    assert ref["lava_predictions"] == ref["torch_predictions"]
    # the checkpoint's torch forward gives the predictions the card recorded
    model, ckpt = load_checkpoint(str(out / CHECKPOINT_NAME))
    assert ckpt["epoch"] == card["training"]["best_epoch"]
    assert evaluate_model(model, X)["predictions"].tolist() == ref["torch_predictions"]


def test_checkpoint_export_round_trip(small_run, tmp_path, capsys):
    """`loihi-snn export` rebuilds the model from the checkpoint and writes the same network."""
    new = tmp_path / "again.net"
    assert cli.main(["export", str(small_run / CHECKPOINT_NAME), "--out", str(new)]) == 0
    assert "exported to" in capsys.readouterr().out

    def contents(path):
        items = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: items.__setitem__(name, obj[()])
                         if isinstance(obj, h5py.Dataset) else None)
        return items

    a, b = contents(small_run / "digits_small_cuba.net"), contents(new)
    assert a.keys() == b.keys() and "layer/0/weight" in a and "training/T" in a
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert export_checkpoint(str(small_run / CHECKPOINT_NAME), str(tmp_path / "b.net"))
    info = json.loads(subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", "info", str(new),
                                      "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["input_shape"] == [64] and info["output_shape"] == [10]


# ----------------------------------------------------------------------------
# data-parallel training
# ----------------------------------------------------------------------------

@pytest.mark.slow
def test_ddp_two_processes_keep_weights_in_sync(tmp_path):
    """torchrun with 2 CPU processes (gloo): both finish with bit-identical weights although
    each saw a different half of the data, and only rank 0 wrote files."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "train_limit": 128, "val_fraction": 0.25}))
    out = tmp_path / "out"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m",
                           "loihi_snn.app.cli", "train", "--config", str(cfg), "--out", str(out),
                           "--no-lava", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d)/2: finished 1 epochs, parameter digest ([0-9a-f]{64})",
                              proc.stdout))
    assert set(digests) == {"0", "1"}, proc.stdout
    assert digests["0"] == digests["1"]
    card = cards.load_card(str(out))
    assert card["training"]["processes"] == 2
    assert sorted(os.listdir(out)) == sorted([CHECKPOINT_NAME, "tiny.net", "config.json",
                                              cards.CARD_JSON, cards.CARD_MD])
    model, ckpt = load_checkpoint(str(out / CHECKPOINT_NAME))
    assert ckpt["epoch"] == 1
    assert parameter_digest(model) == digests["0"]


@pytest.mark.lava  # trains with SLAYER (lava-dl)
def test_the_card_records_the_tree_as_it_was_before_training_wrote(tmp_path, monkeypatch):
    """The card's provenance is taken before the run writes anything (a run whose --out lies
    inside the repository must not record itself as a dirty tree)."""
    from loihi_snn.core import provenance
    from loihi_snn.train import loop
    out = tmp_path / "run"
    seen = []
    real = provenance.record

    def record(command, **kw):
        seen.append(out.exists())
        return {**real(command, **kw), "marker": len(seen)}

    monkeypatch.setattr(loop.provenance, "record", record)
    res = loop.train(_tiny(), str(out), progress=False, verbose=False, lava=False)
    assert seen == [False]               # one record, taken before out/ was created
    assert res.card["provenance"]["marker"] == 1
