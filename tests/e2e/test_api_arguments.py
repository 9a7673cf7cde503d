"""Bad arguments to the public API (issue 29): one of the package's errors, one line.

Every name ``loihi_snn/__init__.py`` exports is called with wrong types, counts below one,
wrong shapes and bogus strings; each call must raise a :class:`LoihiSnnError` subclass
(still a ``ValueError`` / ``RuntimeError`` / ``OSError`` where it used to raise one)
whose message is one line, before any Lava process starts and without writing anything.
Also: ``emulate`` takes inputs through the same boundary as ``run`` (the graded limit),
every numeric environment variable is read by ``core.limits.env_int``, ``export_blocks``
says to run one forward pass first, and a ``NetSpec`` prints in one short line.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import (BackendError, LoihiSnnError, OptionError, OutputError,
                                   ShapeError)
from loihi_snn.netx.inputs import max_graded_input
from loihi_snn.nir import NirError

from helpers import CUBA, write_netx

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small dense network (input (6,) -> dense (8,) CUBA), its NIR export, inputs."""
    d = tmp_path_factory.mktemp("api_args")
    net = d / "net.net"
    w = np.random.default_rng(0).integers(-128, 128, (8, 6)) * 2
    write_netx(net, [{"type": "input", "shape": [6]},
                     {"type": "dense", "shape": [8], "weight": w,
                      "neuron": dict(CUBA, vThMant=1000)}])
    nir_path = d / "m.nir"
    pytest.importorskip("nir")
    loihi_snn.to_nir(str(net), str(nir_path))
    X = (np.random.default_rng(1).random((3, 6, 10)) < 0.5).astype(np.int8)
    return {"net": str(net), "nir": str(nir_path), "X": X, "dir": d}


def _out(f):
    return str(f["dir"] / "written.net")


#: (id, call(files), error class, words in the message)
BAD_CALLS = [
    # run / run_many / run_cutoff
    ("run-net-int", lambda f: loihi_snn.run(123, f["X"][0]), OptionError, "net_or_path"),
    ("run-net-none-emulator", lambda f: loihi_snn.run(None, f["X"][0], backend="emulator"),
     OptionError, "net_or_path"),
    ("run-backend-list", lambda f: loihi_snn.run(f["net"], f["X"][0], backend=["x"]),
     BackendError, "unknown backend"),
    ("run-steps-0", lambda f: loihi_snn.run(f["net"], f["X"][0], steps=0), OptionError,
     "steps"),
    ("run-progress-str", lambda f: loihi_snn.run(f["net"], f["X"][0], backend="emulator",
                                                  progress="yes"), OptionError, "progress"),
    ("run_many-path-none", lambda f: loihi_snn.run_many(None, f["X"]), OptionError, "path"),
    ("run_many-timeout-neg", lambda f: loihi_snn.run_many(f["net"], f["X"], backend="emulator",
                                                          timeout=-1), OptionError, "timeout"),
    ("run_many-ragged", lambda f: loihi_snn.run_many(f["net"], [[1, 2], [3]]), ShapeError,
     "cannot be read as an array"),
    ("run_cutoff-max_steps-0", lambda f: loihi_snn.run_cutoff(f["net"], f["X"], max_steps=0,
                                                              beta=np.zeros(10)),
     OptionError, "max_steps"),
    ("run_cutoff-max_steps-str", lambda f: loihi_snn.run_cutoff(f["net"], f["X"],
                                                                max_steps="abc"),
     OptionError, "max_steps"),
    ("run_cutoff-record-with-cutoff", lambda f: loihi_snn.run_cutoff(
        f["net"], f["X"], beta=np.zeros(10), record_output=True), OptionError, "cutoff=False"),
    ("run_cutoff-beta-str", lambda f: loihi_snn.run_cutoff(f["net"], f["X"], beta="abc"),
     ShapeError, "beta"),
    ("run_cutoff-beta-2d", lambda f: loihi_snn.run_cutoff(f["net"], f["X"],
                                                          beta=np.zeros((2, 10))),
     ShapeError, "1-D"),
    ("run_cutoff-beta-nan", lambda f: loihi_snn.run_cutoff(f["net"], f["X"],
                                                           beta=[np.nan] * 10),
     ShapeError, "NaN"),
    ("run_cutoff-timeout-0", lambda f: loihi_snn.run_cutoff(f["net"], f["X"],
                                                            beta=np.zeros(10), timeout=0),
     OptionError, "timeout"),
    ("run_cutoff-lava-fused", lambda f: loihi_snn.run_cutoff(f["net"], f["X"], beta=np.zeros(10),
                                                           backend="lava-fused"),
     BackendError, "offline_cutoff(run_many"),
    # emulate / Emulator
    ("emulate-cuda-or-bogus", lambda f: loihi_snn.emulate(
        f["net"], f["X"], device="cuda:99" if torch.cuda.is_available() else "cuda"),
     BackendError, "CUDA"),
    ("emulate-device-bogus", lambda f: loihi_snn.emulate(f["net"], f["X"], device="bogus"),
     BackendError, "unknown device"),
    ("emulate-arithmetic", lambda f: loihi_snn.emulate(f["net"], f["X"], arithmetic="bogus"),
     OptionError, "arithmetic"),
    ("emulate-steps-neg-counts", lambda f: loihi_snn.emulate(f["net"], f["X"], steps=-1,
                                                             return_spike_counts=True),
     OptionError, "steps"),
    ("emulate-steps-str", lambda f: loihi_snn.emulate(f["net"], f["X"], steps="abc"),
     OptionError, "steps"),
    ("emulate-bits-99", lambda f: loihi_snn.emulate(f["net"], f["X"], input_message_bits=99),
     OptionError, "input_message_bits"),
    ("emulate-reset-0", lambda f: loihi_snn.emulate(f["net"], f["X"], reset_interval=0),
     OptionError, "reset_interval"),
    ("emulate-offset-str", lambda f: loihi_snn.emulate(f["net"], f["X"], reset_offset="a"),
     OptionError, "reset_offset"),
    ("emulate-ragged", lambda f: loihi_snn.emulate(f["net"], [[1, 2], [3]]), ShapeError,
     "cannot be read as an array"),
    ("emulate-no-batch", lambda f: loihi_snn.emulate(f["net"], f["X"][0]), ShapeError,
     "does not match"),
    ("emulate-path-int", lambda f: loihi_snn.emulate(123, f["X"]), OptionError,
     "path_or_spec"),
    ("Emulator-reset-0", lambda f: loihi_snn.Emulator(f["net"], reset_interval=0), OptionError,
     "reset_interval"),
    ("Emulator-spec-none", lambda f: loihi_snn.Emulator(None), OptionError, "spec"),
    ("Emulator.run-steps-str", lambda f: loihi_snn.Emulator(f["net"]).run(f["X"], steps="x"),
     OptionError, "steps"),
    # load / read_netx
    ("load-precision", lambda f: loihi_snn.load(f["net"], precision="bogus"), OptionError,
     "precision"),
    ("load-bits", lambda f: loihi_snn.load(f["net"], input_message_bits="abc"), OptionError,
     "input_message_bits"),
    ("load-reset-0", lambda f: loihi_snn.load(f["net"], reset_interval=0), OptionError,
     "reset_interval"),
    ("load-input_shape-str", lambda f: loihi_snn.load(f["net"], input_shape="abc"),
     OptionError, "input_shape"),
    ("load-path-none", lambda f: loihi_snn.load(None), OptionError, "path"),
    ("read_netx-int", lambda f: loihi_snn.read_netx(123), OptionError, "path"),
    # offline_cutoff / calibrate
    ("offline_cutoff-1d", lambda f: loihi_snn.offline_cutoff(np.zeros(5), np.zeros(5)),
     ShapeError, "(N, classes, T)"),
    ("offline_cutoff-one-class", lambda f: loihi_snn.offline_cutoff(np.zeros((2, 1, 5)),
                                                                    np.zeros(5)),
     ShapeError, "2 classes"),
    ("offline_cutoff-max_steps-99", lambda f: loihi_snn.offline_cutoff(
        np.zeros((2, 3, 5)), np.zeros(5), max_steps=99), OptionError, "max_steps"),
    ("offline_cutoff-str", lambda f: loihi_snn.offline_cutoff("abc", np.zeros(5)), ShapeError,
     "numeric"),
    ("calibrate-labels-length", lambda f: loihi_snn.calibrate(np.zeros((4, 3, 5)),
                                                              np.zeros(3, int)),
     ShapeError, "one label per sample"),
    ("calibrate-labels-range", lambda f: loihi_snn.calibrate(np.zeros((4, 3, 5)),
                                                             np.full(4, 7)),
     ShapeError, "0 to 2"),
    ("calibrate-epsilon", lambda f: loihi_snn.calibrate(np.zeros((4, 3, 5)), np.zeros(4, int),
                                                        epsilon="a"), OptionError, "epsilon"),
    ("calibrate-bins-0", lambda f: loihi_snn.calibrate(np.zeros((4, 3, 5)), np.zeros(4, int),
                                                       bins=0), OptionError, "bins"),
    # export_blocks
    ("export_blocks-ints", lambda f: loihi_snn.export_blocks([1, 2], _out(f)), OptionError,
     "no export_hdf5"),
    ("export_blocks-none", lambda f: loihi_snn.export_blocks(None, _out(f)), OptionError,
     "sequence"),
    ("export_blocks-empty", lambda f: loihi_snn.export_blocks([], _out(f)), OptionError,
     "empty"),
    ("export_blocks-folder", lambda f: loihi_snn.export_blocks(
        [loihi_snn.blocks.Dense(NEURON, 6, 4)], str(f["dir"])), OutputError, "is a folder"),
    ("export_blocks-input_shape", lambda f: loihi_snn.export_blocks(
        [loihi_snn.blocks.Dense(NEURON, 6, 4)], _out(f), input_shape="abc"), OptionError,
     "input_shape"),
    ("export_blocks-extensions", lambda f: loihi_snn.export_blocks(
        [loihi_snn.blocks.Dense(NEURON, 6, 4)], _out(f), extensions=5), OptionError,
     "extensions"),
    # from_nir / to_nir
    ("from_nir-reset", lambda f: loihi_snn.from_nir(f["nir"], _out(f), reset="bogus"),
     NirError, "reset must be one of"),
    ("from_nir-dt-str", lambda f: loihi_snn.from_nir(f["nir"], _out(f), dt="abc"),
     NirError, "dt"),
    ("from_nir-bits-str", lambda f: loihi_snn.from_nir(f["nir"], _out(f), weight_bits="8"),
     NirError, "weight_bits"),
    ("from_nir-graph-int", lambda f: loihi_snn.from_nir(123, _out(f)), NirError,
     "path_or_graph"),
    ("from_nir-out-folder", lambda f: loihi_snn.from_nir(f["nir"], str(f["dir"])),
     OutputError, "is a folder"),
    ("from_nir-out-none", lambda f: loihi_snn.from_nir(f["nir"], None), OptionError, "out"),
    ("to_nir-none", lambda f: loihi_snn.to_nir(None), OptionError, "net_path"),
    ("to_nir-out-folder", lambda f: loihi_snn.to_nir(f["net"], str(f["dir"])), OutputError,
     "is a folder"),
    ("to_nir-out-device", lambda f: loihi_snn.to_nir(f["net"], "/dev/null"), OutputError,
     "is a device"),
    # evaluate_file (checked before any data set is built)
    ("evaluate_file-limit-0", lambda f: loihi_snn.evaluate_file(f["net"], "digits", limit=0),
     OptionError, "limit"),
    ("evaluate_file-split", lambda f: loihi_snn.evaluate_file(f["net"], "digits", split="x"),
     OptionError, "split"),
    ("evaluate_file-epsilon", lambda f: loihi_snn.evaluate_file(f["net"], "digits", epsilon=2),
     OptionError, "epsilon"),
    ("evaluate_file-T-0", lambda f: loihi_snn.evaluate_file(f["net"], "digits", T=0),
     OptionError, "T must be"),
    ("evaluate_file-input_scale", lambda f: loihi_snn.evaluate_file(f["net"], "digits",
                                                                   input_scale=-1),
     OptionError, "input_scale"),
    ("evaluate_file-net-none", lambda f: loihi_snn.evaluate_file(None), OptionError, "net"),
    # blocks
    ("blocks-Dense-params-none", lambda f: loihi_snn.blocks.Dense(None, 3, 4), OptionError,
     "neuron_params"),
    ("blocks-Dense-missing-threshold", lambda f: loihi_snn.blocks.Dense({}, 3, 4),
     OptionError, "threshold"),
    ("blocks-Dense-unknown-key", lambda f: loihi_snn.blocks.Dense(dict(NEURON, foo=1), 3, 4),
     OptionError, "foo"),
    ("blocks-Dense-reset", lambda f: loihi_snn.blocks.Dense(dict(NEURON, reset="x"), 3, 4),
     OptionError, "reset mode"),
    ("blocks-Dense-spike", lambda f: loihi_snn.blocks.Dense(dict(NEURON, spike="x"), 3, 4),
     OptionError, "spike mode"),
    ("blocks-Dense-negative", lambda f: loihi_snn.blocks.Dense(NEURON, -3, 4), OptionError,
     "in_neurons"),
    ("blocks-Conv-kernel-0", lambda f: loihi_snn.blocks.Conv(NEURON, 2, 4, 0), OptionError,
     "kernel_size"),
    ("blocks-Pool-kernel-0", lambda f: loihi_snn.blocks.Pool(NEURON, 0), OptionError,
     "kernel_size"),
    ("blocks-Recurrent-0", lambda f: loihi_snn.blocks.Recurrent(NEURON, 0, 4), OptionError,
     "in_neurons"),
    ("blocks-ASAConv-split", lambda f: loihi_snn.blocks.ASAConv(NEURON, 2, 4, 3,
                                                               asa_split="bogus"),
     OptionError, "split"),
]

NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03}


@pytest.mark.parametrize("case,call,error,words", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_argument_is_one_line_of_the_package(files, case, call, error, words):
    before = sorted(p.name for p in files["dir"].iterdir())
    with pytest.raises(LoihiSnnError) as exc:
        call(files)
    assert isinstance(exc.value, error), (type(exc.value), exc.value)
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 400, msg
    assert words in msg, msg
    assert sorted(p.name for p in files["dir"].iterdir()) == before     # nothing written


def test_error_classes_keep_the_builtin_bases():
    """Existing ``except ValueError`` (etc.) clauses keep catching the package's errors."""
    assert issubclass(OptionError, ValueError) and issubclass(ShapeError, ValueError)
    assert issubclass(BackendError, RuntimeError) and issubclass(OutputError, OSError)
    assert issubclass(NirError, ValueError)
    with pytest.raises(ValueError):
        loihi_snn.calibrate(np.zeros((4, 3, 5)), np.zeros(4, int), epsilon=2)


# ----------------------------------------------------------------------------- one input boundary

def test_emulate_applies_the_graded_limit_like_every_runner(files):
    """A graded value above max_graded_input is refused by emulate (it used to run and
    give spikes that differ from lava-fixed), in the same words as run; at the limit it
    runs and equals the other backends."""
    spec = loihi_snn.read_netx(files["net"])
    limit = max_graded_input(spec)
    too_big = np.full((2, 6, 8), limit + 1, np.int64)
    with pytest.raises(ShapeError, match=rf"\|x\| <= {limit}"):
        loihi_snn.emulate(files["net"], too_big)
    with pytest.raises(ShapeError, match=rf"\|x\| <= {limit}"):
        loihi_snn.emulate(spec, too_big)
    with pytest.raises(ShapeError, match=rf"\|x\| <= {limit}"):
        loihi_snn.run(files["net"], too_big[0], backend="emulator")
    x = np.random.default_rng(4).integers(-limit, limit + 1, (6, 8))
    ref = loihi_snn.emulate(files["net"], x[None])[0]
    for backend in ("lava-fixed", "lava-fused"):
        np.testing.assert_array_equal(loihi_snn.run(files["net"], x, backend=backend), ref)


def test_offline_cutoff_pads_short_thresholds_like_lava(files):
    """A beta shorter than T never stops in the missing steps (as run_cutoff pads it on
    lava-fixed); before, offline_cutoff (lava-fused, emulator) raised IndexError."""
    out = (np.random.default_rng(5).random((7, 3, 6)) < 0.4).astype(np.int32)
    short = np.array([0.0, 1.0])
    padded = np.concatenate([short, np.full(4, np.inf)])
    for a, b in zip(loihi_snn.offline_cutoff(out, short), loihi_snn.offline_cutoff(out, padded)):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- env variables

@pytest.mark.parametrize("text,value", [("12", 12), (" 7 ", 7), ("1e3", 1000), ("4.0", 4)])
def test_env_int_accepts_integers(monkeypatch, text, value):
    from loihi_snn.core.limits import env_int
    monkeypatch.setenv("LOIHI_SNN_TEST_KNOB", text)
    assert env_int("LOIHI_SNN_TEST_KNOB", 3) == value
    monkeypatch.setenv("LOIHI_SNN_TEST_KNOB", "")
    assert env_int("LOIHI_SNN_TEST_KNOB", 3) == 3


@pytest.mark.parametrize("text", ["abc", "2.5", "0", "-1", "nan", "inf", "1e999"])
def test_env_int_refuses_anything_else_in_one_line(monkeypatch, text):
    from loihi_snn.core.limits import env_int
    monkeypatch.setenv("LOIHI_SNN_TEST_KNOB", text)
    with pytest.raises(OptionError) as exc:
        env_int("LOIHI_SNN_TEST_KNOB", 3)
    msg = str(exc.value)
    assert "LOIHI_SNN_TEST_KNOB" in msg and repr(text) in msg and "integer >= 1" in msg
    assert "\n" not in msg


def test_every_env_var_reader_names_the_variable(files, monkeypatch):
    from loihi_snn.sim.lava.loader import lava_max_layers
    from loihi_snn.train.loop import pin_torch_threads
    monkeypatch.setenv("LOIHI_SNN_MAX_RUN_BYTES", "abc")
    with pytest.raises(OptionError, match="LOIHI_SNN_MAX_RUN_BYTES='abc'"):
        loihi_snn.run(files["net"], files["X"][0], backend="emulator")
    monkeypatch.delenv("LOIHI_SNN_MAX_RUN_BYTES")
    monkeypatch.setenv("LOIHI_SNN_MAX_LAYERS", "abc")
    with pytest.raises(OptionError) as exc:          # not "corrupt HDF5 content"
        loihi_snn.read_netx(files["net"])
    assert "LOIHI_SNN_MAX_LAYERS" in str(exc.value) and "corrupt" not in str(exc.value)
    monkeypatch.delenv("LOIHI_SNN_MAX_LAYERS")
    monkeypatch.setenv("LOIHI_SNN_LAVA_MAX_LAYERS", "0")
    with pytest.raises(OptionError, match="LOIHI_SNN_LAVA_MAX_LAYERS"):
        lava_max_layers()
    monkeypatch.setenv("LOIHI_SNN_TORCH_THREADS", "abc")     # was silently ignored
    threads = torch.get_num_threads()
    with pytest.raises(OptionError, match="LOIHI_SNN_TORCH_THREADS='abc'.*integer >= 0"):
        pin_torch_threads()
    assert torch.get_num_threads() == threads


# ----------------------------------------------------------------------------- export_blocks

def test_export_blocks_says_to_run_one_forward_pass_first(tmp_path):
    slayer = pytest.importorskip("lava.lib.dl.slayer")
    sdnn = {"threshold": 0.1, "tau_grad": 0.5, "scale_grad": 1, "requires_grad": True,
            "shared_param": True, "activation": torch.nn.functional.relu}
    cases = [(loihi_snn.blocks.Dense(NEURON, 6, 4), torch.rand(1, 6, 4)),
             (slayer.block.cuba.Dense(NEURON, 6, 4), torch.rand(1, 6, 4)),
             (slayer.block.sigma_delta.Dense(sdnn, 6, 4), torch.rand(1, 6, 4)),
             # sigma_delta.Output sets only its sigma's shape: the hint must hold there too
             (slayer.block.sigma_delta.Output(sdnn, 6, 4), torch.rand(1, 6, 4))]
    for block, x in cases:
        out = tmp_path / "b.net"
        with pytest.raises(OptionError, match="run the network once") as exc:
            loihi_snn.export_blocks([block], str(out))
        assert "\n" not in str(exc.value) and type(block).__name__ in str(exc.value)
        assert not out.exists() and list(tmp_path.iterdir()) == []
        with torch.no_grad():
            block(x)
        assert loihi_snn.export_blocks([block], str(out)) == str(out)
        assert loihi_snn.read_netx(str(out)).layers[0].type == "dense"
        out.unlink()


# ----------------------------------------------------------------------------- reprs

def test_netspec_prints_in_one_short_line(files):
    spec = loihi_snn.read_netx(files["net"])
    text = repr(spec)
    assert "\n" not in text and len(text) < 300 and "array" not in text, text
    assert "2 layers [input, dense]" in text and "input_shape=(6,)" in text
    layer = repr(spec.layers[1])
    assert "\n" not in layer and "array" not in layer and "fields=[weight]" in layer
