"""Bad NetX files and bad run inputs give one-line errors that say where and what.

Every malformed network must raise :class:`loihi_snn.NetxFormatError` (also a
``ValueError``) whose text names the file, the layer index and the field, on one
line, from both ``read_netx`` and ``netx.load`` (before any Lava process exists).
Run-time input errors (shape, NaN, backend, non-integer fixed-point input) are
raised before Lava runs.  Exports are atomic: a failed export leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

import h5py
import numpy as np
import pytest

import loihi_snn
from loihi_snn import BackendError, NetxFormatError, ShapeError
from loihi_snn import load, read_netx
from loihi_snn.netx.export import atomic_h5
from loihi_snn.torch.export import export_blocks

from helpers import CUBA_BASIC, NETWORKS, put, put_type, shared_network, write_layer, write_netx

# ----------------------------------------------------------------------------- helpers

def copy_net(shared_netx: Path, tmp_path: Path, source: str, name: str = "bad.net") -> Path:
    """A writable copy of one of the shared reference networks."""
    dst = tmp_path / name
    shutil.copyfile(shared_network(source, shared_netx), dst)
    os.chmod(dst, 0o644)
    return dst


def assert_netx_error(exc: BaseException, path: Path, layer: Optional[int] = None,
                      field: Optional[str] = None, *words: str) -> None:
    """The error is a one-line NetxFormatError naming path, layer and field."""
    assert isinstance(exc, NetxFormatError), repr(exc)
    assert isinstance(exc, ValueError)
    text = str(exc)
    assert "\n" not in text, f"multi-line error: {text!r}"
    assert str(path) in text, text
    assert exc.path == str(path)
    assert exc.layer == layer, text
    if layer is not None:
        assert f"layer {layer}:" in text, text
    else:
        assert ": layer " not in text, text
    assert exc.field == field, text
    if field is not None:
        assert f"field '{field}'" in text, text
    assert text.startswith(f"{path}: "), text
    for w in words:
        assert w.lower() in text.lower(), f"{w!r} not in {text!r}"
    # the message says something beyond the location
    assert len(exc.message.strip()) > 5


def read_error(path: Path) -> NetxFormatError:
    with pytest.raises(NetxFormatError) as info:
        read_netx(path)
    return info.value


# ----------------------------------------------------------------------------- the file itself

def test_missing_file(tmp_path):
    path = tmp_path / "nothere.net"
    assert_netx_error(read_error(path), path, None, None, "not found")


def test_missing_file_as_str(tmp_path):
    path = str(tmp_path / "nothere.net")
    exc = read_error(path)
    assert_netx_error(exc, Path(path), None, None, "not found")


def test_directory(tmp_path):
    path = tmp_path / "a_dir.net"
    path.mkdir()
    assert_netx_error(read_error(path), path, None, None, "directory")


def test_text_file(tmp_path):
    path = tmp_path / "notes.net"
    path.write_text("this is not a network\n" * 20)
    assert_netx_error(read_error(path), path, None, None, "HDF5")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.net"
    path.write_bytes(b"")
    assert_netx_error(read_error(path), path, None, None, "HDF5")


def test_truncated_hdf5(shared_netx, tmp_path):
    path = copy_net(shared_netx, tmp_path, "oxford")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    assert_netx_error(read_error(path), path, None, None)


def test_hdf5_without_layer_group(tmp_path):
    path = tmp_path / "nolayer.net"
    with h5py.File(path, "w") as f:
        f.create_group("something_else").create_dataset("x", data=np.arange(3))
    assert_netx_error(read_error(path), path, None, "layer", "/layer")


def test_layer_is_a_dataset_not_a_group(tmp_path):
    """'/layer' exists but is an array: must be a NetxFormatError, not AttributeError."""
    path = tmp_path / "layerds.net"
    with h5py.File(path, "w") as f:
        f.create_dataset("layer", data=np.zeros(3))
    assert_netx_error(read_error(path), path, None, "layer")


def test_empty_layer_group(tmp_path):
    path = tmp_path / "emptylayer.net"
    with h5py.File(path, "w") as f:
        f.create_group("layer")
    assert_netx_error(read_error(path), path, None, "layer", "empty")


@pytest.mark.parametrize("rename", [("1", "2"), ("0", "5"), ("1", "one")])
def test_layers_not_numbered_from_zero(shared_netx, tmp_path, rename):
    path = copy_net(shared_netx, tmp_path, "oxford")
    with h5py.File(path, "r+") as f:
        f["layer"].move(rename[0], rename[1])
    assert_netx_error(read_error(path), path, None, "layer", "numbered")


def test_dangling_link_inside_a_layer(shared_netx, tmp_path):
    """A soft link to nowhere is corrupt content: a NetxFormatError, not a TypeError."""
    path = copy_net(shared_netx, tmp_path, "oxford")
    with h5py.File(path, "r+") as f:
        f["layer/1/extra"] = h5py.SoftLink("/does/not/exist")
    exc = read_error(path)
    text = str(exc)
    assert text.startswith(f"{path}: ") and "\n" not in text, text


# ----------------------------------------------------------------------------- per-layer fields
# (source network, mutation, expected layer, expected field, words the message contains)

def _weight(f, i):
    return f[f"layer/{i}/weight"][()]


def _set_weight_value(i, value, index=(0, 0)):
    def mutate(f):
        w = _weight(f, i).astype(np.float64)
        w[index] = value
        put(f[f"layer/{i}"], "weight", w.astype(np.float32))
    return mutate


def _put_neuron(i, key, value):
    return lambda f: put(f[f"layer/{i}/neuron"], key, value)


CASES = [
    # layer type
    pytest.param("oxford", lambda f: put_type(f["layer/1"], b"bogus"), 1, "type",
                 ("bogus",), id="unknown-layer-type-bogus"),
    pytest.param("tiny", lambda f: put_type(f["layer/2"], b"upsample"), 2, "type",
                 ("upsample",), id="unknown-layer-type-upsample"),
    pytest.param("oxford", lambda f: f["layer/1"].__delitem__("type"), 1, "type",
                 ("missing",), id="missing-type"),
    pytest.param("tiny", lambda f: put_type(f["layer/1"], b"input"), 1, "type",
                 ("input",), id="input-layer-not-first"),
    # neurons
    pytest.param("oxford", _put_neuron(1, "type", b"IZHIKEVICH"), 1, "neuron/type",
                 ("IZHIKEVICH",), id="unknown-neuron-type"),
    pytest.param("oxford", lambda f: f["layer/0/neuron"].__delitem__("type"), 0,
                 "neuron/type", ("missing",), id="missing-neuron-type"),
    pytest.param("oxford", lambda f: f["layer/1/neuron"].__delitem__("vThMant"), 1,
                 "neuron/vThMant", ("missing",), id="missing-vThMant"),
    pytest.param("pilotnet", lambda f: f["layer/3/neuron"].__delitem__("vThMant"), 3,
                 "neuron/vThMant", ("missing",), id="missing-vThMant-sdnn"),
    pytest.param("oxford", _put_neuron(1, "vThMant", -3), 1, "neuron/vThMant",
                 ("-3",), id="vThMant-negative"),
    pytest.param("oxford", _put_neuron(0, "vDecay", 5000), 0, "neuron/vDecay",
                 ("5000", "4096"), id="vDecay-above-4096"),
    pytest.param("oxford", _put_neuron(1, "vDecay", -1), 1, "neuron/vDecay",
                 ("-1",), id="vDecay-negative"),
    pytest.param("oxford", _put_neuron(1, "iDecay", 4097), 1, "neuron/iDecay",
                 ("4097", "4096"), id="iDecay-above-4096"),
    pytest.param("tiny", _put_neuron(2, "iDecay", -10), 2, "neuron/iDecay",
                 ("-10",), id="iDecay-negative"),
    # weights
    pytest.param("oxford", lambda f: f["layer/1"].__delitem__("weight"), 1, "weight",
                 ("missing",), id="missing-weight"),
    pytest.param("tiny", lambda f: f["layer/1"].__delitem__("weight"), 1, "weight",
                 ("missing",), id="missing-weight-conv"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "weight", _weight(f, 1).T), 1,
                 "weight", ("(200, 256)", "(256, 200)"), id="weight-transposed"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "weight", _weight(f, 1)[:, :-1]), 1,
                 "weight", ("(200, 255)",), id="weight-column-cut"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "weight", _weight(f, 0)[:-1]), 0,
                 "weight", ("(255, 200)",), id="weight-row-cut-first-layer"),
    pytest.param("tiny", lambda f: put(f["layer/2"], "weight", _weight(f, 2)[:, :-1]), 2,
                 "weight", ("24",), id="conv-weight-wrong-in-channels"),
    pytest.param("oxford", _set_weight_value(1, np.nan), 1, "weight",
                 ("NaN",), id="weight-nan"),
    pytest.param("oxford", _set_weight_value(0, np.inf, (3, 7)), 0, "weight",
                 ("(3, 7)",), id="weight-inf"),
    pytest.param("oxford", _set_weight_value(1, 300), 1, "weight",
                 ("300", "255"), id="weight-300"),
    pytest.param("oxford", _set_weight_value(1, -300), 1, "weight",
                 ("-300", "-256"), id="weight-minus-300"),
    pytest.param("oxford", _set_weight_value(1, 0.5, (2, 5)), 1, "weight",
                 ("0.5", "(2, 5)", "integer"), id="weight-non-integer"),
    pytest.param("tiny", _set_weight_value(1, 0.5, (0, 0, 0, 0, 0)), 1, "weight",
                 ("0.5", "integer"), id="conv-weight-non-integer"),
    # bias
    pytest.param("tiny", lambda f: put(f["layer/1"], "bias",
                                       np.r_[np.inf, np.zeros(23)].astype(np.float32)),
                 1, "bias", ("infinite",), id="bias-inf"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "bias", np.full(7, np.nan)), 1,
                 "bias", ("NaN",), id="bias-nan"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "bias", np.zeros(7)), 1, "bias",
                 ("(7,)",), id="bias-wrong-shape"),
    # dense geometry
    pytest.param("oxford", lambda f: put(f["layer/1"], "inFeatures", 255), 1, "inFeatures",
                 ("255", "256"), id="inFeatures-inconsistent"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "outFeatures", 255), 0, "outFeatures",
                 ("255", "256"), id="outFeatures-inconsistent"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "inFeatures", np.nan), 0,
                 "inFeatures", ("NaN",), id="first-layer-inFeatures-nan"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "inFeatures", b"two hundred"), 0,
                 "inFeatures", (), id="first-layer-inFeatures-text"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "inFeatures", 199), 0,
                 "inFeatures", ("199", "200"), id="first-layer-inFeatures-vs-weight"),
    pytest.param("oxford", lambda f: put(f["layer/0"], "inFeatures", 0), 0,
                 "inFeatures", ("0",), id="first-layer-inFeatures-zero"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "shape", np.array([199])), 1,
                 "weight", ("199",), id="dense-shape-vs-weight"),
    # conv geometry
    pytest.param("tiny", lambda f: put(f["layer/1"], "shape", np.array([24, 7, 7])), 1,
                 "shape", ("(24, 7, 7)", "(24, 6, 6)", "stride"), id="conv-shape-vs-kernel"),
    pytest.param("tiny", lambda f: put(f["layer/1"], "stride", np.array([1, 1])), 1,
                 "shape", ("(24, 12, 12)",), id="conv-shape-vs-stride"),
    pytest.param("pilotnet", lambda f: put(f["layer/3"], "shape", np.array([64, 4, 21])), 3,
                 "shape", ("(64, 4, 22)",), id="conv-shape-vs-padding"),
    pytest.param("tiny", lambda f: put(f["layer/1"], "groups", 2), 1, "groups",
                 ("2",), id="conv-groups-not-dividing"),
    pytest.param("tiny", lambda f: put(f["layer/1"], "kernelSize", np.array([3, 3])), 1,
                 "kernelSize", ("(5, 5)",), id="conv-kernelSize-vs-weight"),
    pytest.param("tiny", lambda f: put(f["layer/1"], "inChannels", 4), 1, "inChannels",
                 ("4", "3"), id="conv-inChannels-inconsistent"),
    pytest.param("tiny", lambda f: put(f["layer/1"], "stride", np.array([0, 2])), 1,
                 "stride", ("0",), id="conv-stride-zero"),
    pytest.param("pilotnet", lambda f: put(f["layer/5"], "shape", np.array([2561, 1, 1])), 5,
                 "shape", ("2560",), id="flatten-size"),
    pytest.param("tiny", lambda f: f["layer/1"].__delitem__("neuron"), 1, "neuron",
                 ("missing",), id="conv-without-neuron"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "shape", np.zeros(0, np.int64)), 1,
                 "shape", (), id="shape-empty"),
    pytest.param("oxford", lambda f: f["layer/1"].__delitem__("shape"), 1, "shape",
                 ("missing",), id="shape-missing"),
    # delays
    pytest.param("oxford", lambda f: put(f["layer/1"], "delay", np.full(256, 63)), 1,
                 "delay", ("63", "62"), id="delay-above-62"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "delay", np.full(7, 3)), 1,
                 "delay", ("(7,)",), id="delay-wrong-shape"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "delay", np.ones((200, 255))), 1,
                 "delay", ("(200, 255)",), id="delay-wrong-2d-shape"),
    pytest.param("oxford", lambda f: put(f["layer/1"], "delay", -np.ones(256)), 1,
                 "delay", ("-1",), id="delay-negative"),
]


@pytest.mark.parametrize("source, mutate, layer, field, words", CASES)
def test_bad_layer_field(shared_netx, tmp_path, source, mutate, layer, field, words):
    path = copy_net(shared_netx, tmp_path, source)
    with h5py.File(path, "r+") as f:
        mutate(f)
    assert_netx_error(read_error(path), path, layer, field, *words)


def test_the_unmodified_copies_are_valid(shared_netx, tmp_path):
    """Control: the cases above fail because of the mutation, not the copy."""
    for source in NETWORKS:
        path = copy_net(shared_netx, tmp_path, source, name=f"{source}.net")
        spec = read_netx(path)
        assert spec.path == str(path)


def _write_dense_average(path: Path, n_avg: int) -> None:
    """input-less dense 4 -> 6 CUBA, then an average layer of shape (n_avg,)."""
    write_netx(path, [
        {"type": "dense", "shape": np.array([6]), "inFeatures": 4, "outFeatures": 6,
         "weight": np.arange(24, dtype=np.float32).reshape(6, 4) * 2, "neuron": CUBA_BASIC},
        {"type": "average", "shape": np.array([n_avg])}])


def test_average_layer_with_indivisible_groups(tmp_path):
    path = tmp_path / "avg.net"
    _write_dense_average(path, 4)
    assert_netx_error(read_error(path), path, 1, "shape", "6", "4")


def test_average_layer_with_divisible_groups_is_valid(tmp_path):
    path = tmp_path / "avg_ok.net"
    _write_dense_average(path, 3)
    spec = read_netx(path)
    assert spec.input_shape == (4,)
    assert spec.output_shape == (3,)
    assert spec.layers[1].fields["group_size"] == 2


# ----------------------------------------------------------------------------- load()

LOAD_CASES = [
    ("missing", None),
    ("text", None),
    ("vth", lambda f: f["layer/1/neuron"].__delitem__("vThMant")),
    ("weight", lambda f: put(f["layer/1"], "weight", _weight(f, 1)[:, :-1])),
    ("type", lambda f: put_type(f["layer/1"], b"bogus")),
]


@pytest.mark.parametrize("kind, mutate", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_load_raises_the_same_error_before_building(shared_netx, tmp_path, monkeypatch,
                                                    kind, mutate):
    """netx.load reports exactly what read_netx reports, before any Lava process exists."""
    import loihi_snn.sim.lava.loader as loader

    def no_build(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("build_network reached for an invalid file")

    monkeypatch.setattr(loader, "build_network", no_build)
    if kind == "missing":
        path = tmp_path / "nothere.net"
    elif kind == "text":
        path = tmp_path / "text.net"
        path.write_text("hello")
    else:
        path = copy_net(shared_netx, tmp_path, "oxford")
        with h5py.File(path, "r+") as f:
            mutate(f)
    expected = read_error(path)
    for precision in ("fixed", "float"):
        with pytest.raises(NetxFormatError) as info:
            load(path, precision=precision)
        assert str(info.value) == str(expected)
        assert_netx_error(info.value, path, expected.layer, expected.field)


# ----------------------------------------------------------------------------- run() inputs

@pytest.fixture
def oxford(shared_netx) -> Path:
    return shared_netx / "oxford" / "network.net"


def test_run_wrong_input_shape(oxford):
    x = np.zeros((199, 10), dtype=np.int8)
    with pytest.raises(ShapeError) as info:
        loihi_snn.run(oxford, x)
    text = str(info.value)
    assert "\n" not in text
    assert "(200,)" in text and "(199,)" in text, text
    assert isinstance(info.value, ValueError)


def test_run_time_first_input_rejected(oxford):
    """(T, N) instead of (N, T): 30 steps of the 200 oxford inputs."""
    x = (np.random.default_rng(0).random((30, 200)) < 0.1).astype(np.int8)
    with pytest.raises(ShapeError) as info:
        loihi_snn.run(oxford, x)
    text = str(info.value)
    assert "\n" not in text
    assert "(200,)" in text and "(30,)" in text, text
    assert "last" in text, text


def test_run_1d_input_rejected(oxford):
    with pytest.raises(ShapeError) as info:
        loihi_snn.run(oxford, np.zeros(200))
    assert "(200,)" in str(info.value)


def test_run_nan_input_rejected(oxford):
    x = np.zeros((200, 5))
    x[3, 2] = np.nan
    with pytest.raises(ShapeError) as info:
        loihi_snn.run(oxford, x)
    assert "nan" in str(info.value).lower()
    assert "\n" not in str(info.value)


def test_run_unknown_backend(oxford):
    with pytest.raises(BackendError) as info:
        loihi_snn.run(oxford, np.zeros((200, 5)), backend="loihi3")
    text = str(info.value)
    assert "loihi3" in text
    assert "lava-fixed" in text and "lava-float" in text
    assert "\n" not in text


def test_run_non_integer_input_on_lava_fixed(oxford):
    x = np.full((200, 5), 0.5)
    with pytest.raises(ShapeError) as info:
        loihi_snn.run(oxford, x, backend="lava-fixed")
    text = str(info.value)
    assert "integer" in text and "\n" not in text


def test_run_bad_network_file(tmp_path):
    path = tmp_path / "nothere.net"
    with pytest.raises(NetxFormatError) as info:
        loihi_snn.run(path, np.zeros((200, 5)))
    assert_netx_error(info.value, path, None, None)


# ----------------------------------------------------------------------------- atomic export

def _dir_listing(d: Path):
    return sorted(p.name for p in d.iterdir())


def test_atomic_h5_leaves_nothing_when_the_body_raises(tmp_path):
    path = tmp_path / "out.net"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_h5(path) as f:
            f.create_group("layer").create_dataset("x", data=np.arange(10))
            raise RuntimeError("boom")
    assert not path.exists()
    assert _dir_listing(tmp_path) == []


def test_atomic_h5_keeps_an_existing_file_unchanged(shared_netx, tmp_path):
    path = copy_net(shared_netx, tmp_path, "oxford", name="keep.net")
    before = path.read_bytes()
    with pytest.raises(KeyError):
        with atomic_h5(path) as f:
            f.create_group("layer")
            raise KeyError("half way")
    assert path.read_bytes() == before
    assert _dir_listing(tmp_path) == ["keep.net"]


def test_atomic_h5_rejected_by_check_leaves_nothing(tmp_path):
    path = tmp_path / "checked.net"

    def check(tmp):
        assert os.path.exists(tmp) and tmp != str(path)
        raise NetxFormatError(str(path), "rejected")

    with pytest.raises(NetxFormatError):
        with atomic_h5(path, check) as f:
            f.create_group("layer")
    assert _dir_listing(tmp_path) == []


def test_atomic_h5_success_replaces_file(tmp_path):
    path = tmp_path / "ok.net"
    path.write_text("old")
    with atomic_h5(path) as f:
        f.create_dataset("x", data=np.arange(3))
    with h5py.File(path, "r") as f:
        assert list(f["x"][()]) == [0, 1, 2]
    assert _dir_listing(tmp_path) == ["ok.net"]


class _GoodDense:
    """Minimal exportable block: a dense CUBA layer 4 -> 3."""

    def export_hdf5(self, g):
        write_layer(g, {"type": "dense", "shape": np.array([3]), "inFeatures": 4,
                        "outFeatures": 3, "weight": np.full((3, 4), 2.0, np.float32),
                        "neuron": CUBA_BASIC})


class _FailingBlock:
    def export_hdf5(self, g):
        g.create_dataset("type", data=b"dense")
        raise RuntimeError("export failed half way")


class _BadWeightBlock(_GoodDense):
    def export_hdf5(self, g):
        super().export_hdf5(g)
        put(g, "weight", np.full((3, 4), 0.25, np.float32))


def test_export_blocks_with_failing_block_leaves_no_file(tmp_path):
    path = tmp_path / "net.net"
    with pytest.raises(RuntimeError, match="half way"):
        export_blocks([_GoodDense(), _FailingBlock()], path)
    assert _dir_listing(tmp_path) == []


def test_export_blocks_with_failing_block_keeps_existing_file(tmp_path):
    path = tmp_path / "net.net"
    export_blocks([_GoodDense()], path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        export_blocks([_GoodDense(), _FailingBlock()], path)
    assert path.read_bytes() == before
    assert _dir_listing(tmp_path) == ["net.net"]


def test_export_blocks_invalid_result_names_destination(tmp_path):
    path = tmp_path / "net.net"
    with pytest.raises(NetxFormatError) as info:
        export_blocks([_BadWeightBlock()], path)
    assert_netx_error(info.value, path, 0, "weight", "nothing was written")
    assert _dir_listing(tmp_path) == []


def test_export_blocks_roundtrip(tmp_path):
    path = tmp_path / "sub" / "net.net"
    assert export_blocks([_GoodDense()], path, input_shape=(4,)) == path
    spec = read_netx(path)
    assert [l.type for l in spec.layers] == ["input", "dense"]
    assert spec.input_shape == (4,) and spec.output_shape == (3,)
    assert _dir_listing(path.parent) == ["net.net"]
