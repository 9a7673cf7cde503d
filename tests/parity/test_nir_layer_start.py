"""``layer_start``: a NetX file may declare that each layer starts at its first input
(NIR's timing, the default of ``from_nir``); every backend then applies the same reset
schedule (:func:`loihi_snn.netx.lower.reset_schedule`) without being asked, an explicit
``reset_interval`` wins, and the attribute is validated like any other field."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from helpers.nir_graphs import DT, chain_graph, if_node, ints  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.core.errors import NetxFormatError  # noqa: E402
from loihi_snn.netx.lower import FIRST_INPUT_RESET_INTERVAL, reset_schedule  # noqa: E402
from loihi_snn.nir import NirError, check_import, from_nir, normalise, to_nir  # noqa: E402
from loihi_snn.sim.runtime import stream  # noqa: E402


def biased_dense(rng):
    """Integer weights and biases; one neuron per layer fires on its bias alone (above
    the threshold), so both layers spike before any input reaches them."""
    b1, b2 = ints(rng, (12,), -4, 6), ints(rng, (5,), -4, 6)
    b1[-1], b2[-1] = 8.0, 10.0
    return chain_graph({"fc1": nir.Affine(ints(rng, (12, 10)), b1), "if1": if_node(12, 6),
                        "fc2": nir.Affine(ints(rng, (5, 12)), b2),
                        "if2": if_node(5, 8)}, [10], [5]), (10,)


def biased_conv(rng):
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.array([2.0, -2.0, 6.0]))
    return chain_graph({"conv": conv, "if1": if_node((3, 6, 6), 4),
                        "flat": nir.Flatten(input_type={"input": np.array([3, 6, 6])}, start_dim=0),
                        "fc": nir.Affine(ints(rng, (4, 108)), np.array([4.0, 0, -2, 12])),
                        "if2": if_node(4, 10)}, [2, 6, 6], [4]), (2, 6, 6)


def biased_recurrent(rng):
    """Recurrent, and three neurons' bias (8) alone crosses the threshold (6)."""
    g, shape = biased_dense(rng)
    bias = np.asarray(g.nodes["fc1"].bias).copy()
    bias[:3] = 8.0
    g.nodes["fc1"].bias = bias
    g.nodes["rec"] = nir.Linear(ints(rng, (12, 12), -4, 4))
    g.edges += [("if1", "rec"), ("rec", "if1")]
    return g, shape


@pytest.fixture(scope="module")
def dense_files(tmp_path_factory):
    """(first_input file, step_1 file, inputs (4, 10, 20)) of one biased dense graph."""
    d = tmp_path_factory.mktemp("layer_start")
    rng = np.random.default_rng(3)
    graph, shape = biased_dense(rng)
    first = from_nir(graph, str(d / "first.net"), dt=DT)
    fresh = from_nir(graph, str(d / "fresh.net"), dt=DT, layer_start="step_1")
    x = (rng.random((4,) + shape + (20,)) < 0.3).astype(np.int64)
    return first, fresh, x


def test_first_input_start_is_the_same_on_every_backend(dense_files, monkeypatch):
    """Emulator, lava-fixed, lava-fused, run_many (every backend) and the file loaded with
    the explicit schedule run spike for spike alike; the step_1 file differs (the
    attribute is what makes the difference)."""
    first, fresh, x = dense_files
    T, L = x.shape[-1], 2
    want = loihi_snn.emulate(first, x)
    np.testing.assert_array_equal(
        want, loihi_snn.emulate(first, x, reset_interval=T + L + 1, reset_offset=1))
    np.testing.assert_array_equal(
        want, loihi_snn.emulate(fresh, x, reset_interval=FIRST_INPUT_RESET_INTERVAL,
                                reset_offset=1))
    counts = [loihi_snn.emulate(p, x, return_spike_counts=True)[1] for p in (first, fresh)]
    assert not np.array_equal(*counts)           # the attribute changes what runs
    assert want.sum() > 10
    np.testing.assert_array_equal(loihi_snn.run(first, x[0], backend="lava-fixed"), want[0])
    np.testing.assert_array_equal(loihi_snn.run(first, x[1], backend="lava-fused"), want[1])
    explicit = loihi_snn.load(first, reset_interval=T + L + 1, reset_offset=1)
    np.testing.assert_array_equal(loihi_snn.run(explicit, x[2]), want[2])
    monkeypatch.setattr(stream, "FUSED_LANES", 2)
    for backend in ("emulator", "lava-fused", "lava-fixed"):
        # lava-fixed streams through the cutoff controller: its reset restarts the
        # schedule, so every sample, not only the first, starts at its first input
        np.testing.assert_array_equal(
            loihi_snn.run_many(first, x, backend=backend, progress=False), want, backend)


def test_lava_networks_of_both_precisions_carry_the_schedule(dense_files):
    """load / build_network (fixed and float) and the fused processes build the schedule
    the file declares: interval 2**30, block k zeroed at step 2 + k."""
    from loihi_snn.sim.lava.procs.fused.process import FusedNetwork
    first, fresh, _ = dense_files
    for precision in ("fixed", "float"):
        net = loihi_snn.load(first, precision=precision)
        assert (net.reset_interval, net.reset_offset) == (FIRST_INPUT_RESET_INTERVAL, 1)
        params = [b.neuron.proc_params for b in net.layers]
        assert [(p["reset_interval"], p["reset_offset"]) for p in params] == \
            [(FIRST_INPUT_RESET_INTERVAL, 2), (FIRST_INPUT_RESET_INTERVAL, 3)]
        assert loihi_snn.load(fresh, precision=precision).reset_interval is None
    fused = FusedNetwork(spec=first)
    assert fused.emulator.reset_interval == FIRST_INPUT_RESET_INTERVAL
    assert [st.reset_phase for st in fused.emulator.stages] == [2, 3]


def test_explicit_reset_interval_wins(dense_files):
    """A caller's reset_interval replaces the file's schedule: one that never fires makes
    the first_input file run like the step_1 file, on the emulator and on Lava."""
    first, fresh, x = dense_files
    never = dict(reset_interval=1000, reset_offset=500)     # block k at step 501 + k
    want = loihi_snn.emulate(fresh, x)
    np.testing.assert_array_equal(loihi_snn.emulate(first, x, **never), want)
    np.testing.assert_array_equal(loihi_snn.run(loihi_snn.load(first, **never), x[0]), want[0])
    spec = loihi_snn.read_netx(first)
    assert reset_schedule(spec) == (FIRST_INPUT_RESET_INTERVAL, 1)
    assert reset_schedule(spec, 7, 2) == (7, 2)
    assert reset_schedule(loihi_snn.read_netx(fresh), None, 3) == (None, 3)


@pytest.mark.parametrize("build", [biased_dense, biased_conv], ids=["dense", "conv"])
def test_first_input_start_matches_the_nir_reference_spike_for_spike(build, tmp_path):
    """Leak-free integer graphs with biases: with first_input (the default) every layer's
    fixed-point spikes equal NIR's float equations; with step_1 they do not."""
    rng = np.random.default_rng(3)
    graph, shape = build(rng)
    x = (rng.random((6,) + shape + (25,)) < 0.3).astype(np.int64)
    agree = {}
    for start in ("first_input", "step_1"):
        path = from_nir(graph, str(tmp_path / f"{start}.net"), dt=DT, layer_start=start)
        r = check_import(normalise(graph), path, x, dt=DT, reset="hard")
        agree[start] = [l["spike_agreement"] for l in r["layers"]]
        if start == "first_input":
            assert r["prediction_agreement"] == 1.0
            assert all(l["float_spikes_per_sample"] > 0 for l in r["layers"]), r["layers"]
    assert agree["first_input"] == [1.0, 1.0], agree
    assert min(agree["step_1"]) < 1.0, agree


def test_biased_recurrent_layer_lava_equals_emulator(tmp_path):
    """dense_rec whose bias alone fires it before its first input: the spikes of the step
    before its reset arrive through the recurrent synapse with its first input, on Lava
    and in the emulator alike -- the residual difference from NIR that
    ``reset_schedule`` documents and the import notes (the feed-forward layers of the
    same graph without the recurrent weight are exact: the test above)."""
    rng = np.random.default_rng(4)
    graph, shape = biased_recurrent(rng)
    path = from_nir(graph, str(tmp_path / "rec.net"), dt=DT)
    x = (rng.random((3,) + shape + (20,)) < 0.3).astype(np.int64)
    want = loihi_snn.emulate(path, x)
    assert want.sum() > 0
    np.testing.assert_array_equal(loihi_snn.run(path, x[0]), want[0])
    np.testing.assert_array_equal(loihi_snn.run_many(path, x, progress=False), want)
    notes = loihi_snn.read_netx(path).extensions["nir"]["notes"]
    assert "recurrent weight" in notes
    r = check_import(normalise(graph), path, x, dt=DT, reset="hard")
    assert r["layers"][0]["spike_agreement"] < 1.0       # the documented residual


def test_input_layer_with_neurons_starts_with_offset_0(tmp_path):
    """An input layer with neurons receives the input at step 1: offset 0, so block k
    resets at step 1 + k; Lava and the emulator agree with the explicit schedule."""
    from helpers import CUBA, write_netx
    rng = np.random.default_rng(6)
    path = write_netx(tmp_path / "inp.net", [
        {"type": "input", "shape": np.array([6]), "neuron": dict(CUBA, vThMant=1)},
        {"type": "dense", "shape": np.array([5]), "weight": rng.integers(-60, 120, (5, 6)),
         "bias": np.array([0, 300, -200, 600, 100]), "neuron": dict(CUBA)}])
    with h5py.File(path, "a") as f:
        f.attrs["layer_start"] = "first_input"
    spec = loihi_snn.read_netx(path)
    assert reset_schedule(spec) == (FIRST_INPUT_RESET_INTERVAL, 0)
    x = (rng.random((2, 6, 12)) < 0.5).astype(np.int64)
    want = loihi_snn.emulate(path, x)
    np.testing.assert_array_equal(want, loihi_snn.emulate(path, x, reset_interval=15,
                                                          reset_offset=0))
    assert not np.array_equal(want, loihi_snn.emulate(path, x, reset_interval=15,
                                                      reset_offset=14))
    np.testing.assert_array_equal(loihi_snn.run(path, x[0]), want[0])


def test_the_attribute_round_trips_and_stock_netx_loads_the_file(dense_files, tmp_path):
    """from_nir writes the root attribute, read_netx parses it, to_nir records it in the
    node metadata so a re-import keeps it; stock lava-dl netx loads the CUBA-only file
    (and runs it from step 1: the attribute is ours)."""
    from helpers import run_stock_netx
    first, fresh, x = dense_files
    assert loihi_snn.read_netx(first).layer_start == "first_input"
    assert loihi_snn.read_netx(fresh).layer_start == "step_1"
    with h5py.File(first, "r") as f:
        assert f.attrs["layer_start"] == "first_input"
    for path in (first, fresh):
        to_nir(path, str(tmp_path / "m.nir"))
        back = from_nir(str(tmp_path / "m.nir"), str(tmp_path / "back.net"))
        assert loihi_snn.read_netx(back).layer_start == loihi_snn.read_netx(path).layer_start
    stock = run_stock_netx(first, x[0].astype(np.int32), steps=x.shape[-1])
    np.testing.assert_array_equal(stock, loihi_snn.emulate(fresh, x[:1])[0])


@pytest.mark.parametrize("value", ["First_Input", "", b"\xff", 3, np.array([1, 2])])
def test_a_bad_layer_start_is_refused_in_one_line(dense_files, tmp_path, value):
    first, _, _ = dense_files
    path = tmp_path / "bad.net"
    path.write_bytes(open(first, "rb").read())
    with h5py.File(path, "a") as f:
        f.attrs["layer_start"] = value
    with pytest.raises(NetxFormatError) as exc:
        loihi_snn.read_netx(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and "'layer_start'" in msg, msg


def test_from_nir_and_the_cli_take_the_option(dense_files, tmp_path, capsys):
    from loihi_snn.app.cli import main
    rng = np.random.default_rng(3)
    graph, _ = biased_dense(rng)
    with pytest.raises(NirError, match="layer_start must be one of step_1, first_input"):
        from_nir(graph, str(tmp_path / "x.net"), layer_start="now")
    assert not (tmp_path / "x.net").exists()
    nir.write(str(tmp_path / "g.nir"), graph)
    out = tmp_path / "cli.net"
    assert main(["import", str(tmp_path / "g.nir"), "--out", str(out), "--reset", "hard",
                 "--layer-start", "step_1"]) == 0
    assert "layer start step_1" in capsys.readouterr().out
    assert loihi_snn.read_netx(out).layer_start == "step_1"
    assert main(["info", dense_files[0]]) == 0
    assert "layer start: first_input" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    assert "--layer-start" in capsys.readouterr().out


def test_cutoff_controller_starts_every_sample_at_its_first_input(dense_files):
    """run_cutoff with early exit: variable-length samples, each run like a single
    first-input run, so its decisions are the offline rule applied to the emulator."""
    from loihi_snn.core.cutoff import calibrate, offline_cutoff
    first, _, x = dense_files
    x = np.concatenate([x, x[:, ::-1]])
    outputs = loihi_snn.emulate(first, x)
    beta = calibrate(outputs, outputs.sum(-1).argmax(1), epsilon=0.2).beta
    result = loihi_snn.run_cutoff(first, x, beta=beta, progress=False)
    preds, steps = offline_cutoff(outputs, beta)
    np.testing.assert_array_equal(result.predictions, preds)
    np.testing.assert_array_equal(result.steps, steps)
    assert result.steps.min() < x.shape[-1]          # samples of different lengths
