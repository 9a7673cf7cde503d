"""Hostile file content (issue 29): a ``.net`` / ``.nir`` file never reads another local
file, no size a file, header or option declares is allocated before it is checked,
inputs must be regular files, outputs keep their mode, and content that would give
silently wrong results (or a traceback) is one line.

Every refusal is checked the way a user meets it: ``loihi-snn ...`` prints one line
``error: ...`` and exits 2, writes nothing, and -- for the files that point elsewhere --
no byte of the other file (a sentinel with a unique byte string) reaches any output:
stdout, stderr or a file written.  From the API it is the package's error class.
"""
from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import loihi_snn
from loihi_snn.app.cli import main
from loihi_snn.core.errors import LoihiSnnError, NetxFormatError
from loihi_snn.netx.schema import read_netx

from helpers import REPO_ROOT, CUBA, assert_one_error_line, cli, dense_netx, write_netx

SENTINEL = b"LOIHI-SNN-SENTINEL-7f3a9c1e-"
W = np.full((2, 16), 2)                  # input (16,) -> dense (2,) CUBA


# ----------------------------------------------------------------------------- helpers

@pytest.fixture
def secret(tmp_path) -> Path:
    """A local file the networks below try to read: the sentinel, repeated."""
    path = tmp_path / "secret.txt"
    path.write_bytes(SENTINEL * 64)
    return path


def run_cli(capsys, *args):
    """``loihi-snn ARGS`` in this process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def one_line(result, *words) -> str:
    """Exit status 2 and exactly one stderr line ``error: ...`` holding ``words``."""
    status, out, err = result
    lines = err.strip("\n").splitlines()
    assert status == 2, result
    assert len(lines) == 1 and lines[0].startswith("error: "), result
    assert "Traceback" not in err + out
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def assert_no_leak(root: Path, *texts: str, skip=()) -> None:
    """No file under ``root`` (except the sentinel file and ``skip``) and none of
    ``texts`` holds the sentinel bytes."""
    for text in texts:
        assert SENTINEL.decode() not in text
        assert SENTINEL[:12].decode() not in text
    for path in root.rglob("*"):
        if path.is_file() and path.name != "secret.txt" and path not in skip \
                and not path.name.endswith(".src.h5"):      # the other files themselves
            assert SENTINEL[:12] not in path.read_bytes(), path


def base_net(path: Path) -> Path:
    return dense_netx(path, W)


def replace_dataset(f, name: str, **kwargs) -> None:
    del f[name]
    f.create_dataset(name, **kwargs)


# ----------------------------------------------------------------------------- .net: other files

def _external_weight(path: Path, secret: Path) -> Path:
    base_net(path)
    with h5py.File(path, "r+") as f:
        replace_dataset(f, "layer/1/weight", shape=W.shape, dtype="u1",
                        external=[(str(secret), 0, W.size)])
    return path


def _external_extension(path: Path, secret: Path) -> Path:
    base_net(path)
    with h5py.File(path, "r+") as f:
        f.create_group("loihi_snn").create_dataset("note", shape=(64,), dtype="u1",
                                                   external=[(str(secret), 0, 64)])
    return path


def _virtual_weight(path: Path, secret: Path) -> Path:
    src = path.with_suffix(".src.h5")
    with h5py.File(src, "w") as f:
        f["w"] = np.frombuffer(secret.read_bytes()[:W.size], np.uint8).reshape(W.shape)
    base_net(path)
    with h5py.File(path, "r+") as f:
        del f["layer/1/weight"]
        layout = h5py.VirtualLayout(shape=W.shape, dtype="u1")
        layout[:] = h5py.VirtualSource(str(src), "w", shape=W.shape)
        f["layer/1"].create_virtual_dataset("weight", layout)
    return path


def _external_link(path: Path, secret: Path) -> Path:
    src = path.with_suffix(".src.h5")
    with h5py.File(src, "w") as f:
        f["w"] = np.frombuffer(secret.read_bytes()[:W.size], np.uint8).reshape(W.shape)
    base_net(path)
    with h5py.File(path, "r+") as f:
        del f["layer/1/weight"]
        f["layer/1/weight"] = h5py.ExternalLink(str(src), "/w")
    return path


def _external_link_group(path: Path, secret: Path) -> Path:
    src = path.with_suffix(".src.h5")
    with h5py.File(src, "w") as f:
        f.create_group("g")["note"] = np.frombuffer(secret.read_bytes(), np.uint8)
    base_net(path)
    with h5py.File(path, "r+") as f:
        f["training"] = h5py.ExternalLink(str(src), "/g")
    return path


def _dangling_soft_link(path: Path, secret: Path) -> Path:
    base_net(path)
    with h5py.File(path, "r+") as f:
        f["layer/1/extra"] = h5py.SoftLink(str(secret))
    return path


def _soft_link_cycle(path: Path, secret: Path) -> Path:
    base_net(path)
    with h5py.File(path, "r+") as f:
        f["layer/1/neuron/up"] = h5py.SoftLink("/layer/1")
    return path


HOSTILE_NETS = {
    "external-storage": (_external_weight, (1, "weight"), "external file"),
    "external-storage-in-extension": (_external_extension, (None, "/loihi_snn/note"),
                                      "external file"),
    "virtual-dataset": (_virtual_weight, (1, "weight"), "virtual dataset"),
    "external-link": (_external_link, (1, "weight"), "external link"),
    "external-link-group": (_external_link_group, (None, "/training"), "external link"),
    "dangling-soft-link": (_dangling_soft_link, (1, "extra"), "dangling"),
    "soft-link-cycle": (_soft_link_cycle, (1, "neuron/up"), "cycle"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NETS))
def test_a_net_file_that_points_elsewhere_is_refused_from_the_api(tmp_path, secret, case):
    make, (layer, field), words = HOSTILE_NETS[case]
    path = make(tmp_path / "hostile.net", secret)
    with pytest.raises(NetxFormatError) as exc:
        read_netx(path)
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and words in text, text
    assert (exc.value.layer, exc.value.field) == (layer, field), text
    assert SENTINEL[:12].decode() not in text
    with pytest.raises(NetxFormatError):
        loihi_snn.emulate(str(path), np.zeros((1, 16, 4), np.int8))


@pytest.mark.parametrize("case", sorted(HOSTILE_NETS))
def test_a_net_file_that_points_elsewhere_leaks_nothing_through_the_cli(tmp_path, secret,
                                                                         capsys, case):
    """info, run, export-nir: one line, exit 2, nothing written, the other file's bytes
    in no output (before the fix export-nir wrote /etc/passwd's bytes into the weights)."""
    make, _, words = HOSTILE_NETS[case]
    path = make(tmp_path / "hostile.net", secret)
    np.save(tmp_path / "x.npy", np.zeros((16, 4), np.int8))
    texts = []
    for args in (("info", path), ("info", "--json", path),
                 ("run", path, "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy",
                  "--backend", "emulator"),
                 ("export-nir", path, "--out", tmp_path / "leak.nir")):
        result = run_cli(capsys, *args)
        one_line(result, str(path), words)
        texts += [result[1], result[2]]
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "leak.nir").exists()
    assert_no_leak(tmp_path, *texts)


def test_soft_link_inside_the_file_is_read(tmp_path):
    """A soft link that resolves inside the file is harmless and still accepted."""
    path = base_net(tmp_path / "soft.net")
    with h5py.File(path, "r+") as f:
        f["layer/1/weight_copy"] = h5py.SoftLink("/layer/1/weight")
        f.create_group("loihi_snn")["w"] = h5py.SoftLink("/layer/1/weight")
    spec = read_netx(path)
    np.testing.assert_array_equal(spec.extensions["loihi_snn"]["w"], W)


def test_hard_links_shared_between_groups_are_read(tmp_path):
    """The walk checks each object once: a dataset hard-linked from two groups (a DAG,
    not a cycle) is accepted."""
    path = base_net(tmp_path / "dag.net")
    with h5py.File(path, "r+") as f:
        f.create_group("loihi_snn")["w"] = f["layer/1/weight"]
        f["loihi_snn"]["again"] = f["loihi_snn"]["w"]
    spec = read_netx(path)
    np.testing.assert_array_equal(spec.extensions["loihi_snn"]["again"], W)


def test_a_hard_link_cycle_is_refused_by_the_walk(tmp_path):
    from loihi_snn.core.hdf5 import Hdf5Refused, check_self_contained
    path = base_net(tmp_path / "cycle.net")
    with h5py.File(path, "r+") as f:
        f["layer/1/neuron/loop"] = f["layer"]
    with h5py.File(path, "r") as f, pytest.raises(Hdf5Refused, match="cycle") as exc:
        check_self_contained(f)
    assert exc.value.name == "/layer/1/neuron/loop"


def test_store_calibration_refuses_a_file_with_external_storage(tmp_path, secret):
    """store_calibration copies every group of the file: it must not copy external
    bytes into the new file (it reads the file through the same checks)."""
    from loihi_snn.core.cutoff import Calibration
    from loihi_snn.netx.calibration import store_calibration
    path = _external_extension(tmp_path / "cal.net", secret)
    before = path.read_bytes()
    with pytest.raises(NetxFormatError, match="external file"):
        store_calibration(str(path), Calibration(beta=np.zeros(4), epsilon=0.0))
    assert path.read_bytes() == before
    assert_no_leak(tmp_path, skip=(path,))


def test_a_fifo_or_device_as_network_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "net.net"
    os.mkfifo(fifo)
    assert_one_error_line(cli("info", fifo, timeout=60), "named pipe")
    with pytest.raises(NetxFormatError, match="character device"):
        read_netx("/dev/zero")


def test_a_file_larger_than_the_read_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = base_net(tmp_path / "big.net")
    monkeypatch.setenv("LOIHI_SNN_MAX_READ_BYTES", "1000")
    with pytest.raises(NetxFormatError, match="LOIHI_SNN_MAX_READ_BYTES"):
        read_netx(path)


# ----------------------------------------------------------------------------- .nir: other files

try:
    import nir
except ImportError:     # the optional `nir` extra
    nir = None
needs_nir = pytest.mark.skipif(nir is None, reason="the optional nir package is not installed")


def _nir_file(path: Path) -> Path:
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([16])),
               "fc": nir.Affine(weight=np.ones((2, 16)), bias=np.zeros(2)),
               "lif": nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                              v_threshold=np.ones(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(str(path), graph)
    return path


def _nir_external(path: Path, secret: Path) -> Path:
    _nir_file(path)
    with h5py.File(path, "r+") as f:
        replace_dataset(f, "node/nodes/fc/weight", shape=(2, 16), dtype="u1",
                        external=[(str(secret), 0, 32)])
    return path


def _nir_external_link(path: Path, secret: Path) -> Path:
    src = path.with_suffix(".src.h5")
    with h5py.File(src, "w") as f:
        f["w"] = np.frombuffer(secret.read_bytes()[:32], np.uint8).reshape(2, 16) * 1.0
    _nir_file(path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/weight"]
        f["node/nodes/fc/weight"] = h5py.ExternalLink(str(src), "/w")
    return path


def _nir_virtual(path: Path, secret: Path) -> Path:
    src = path.with_suffix(".src.h5")
    with h5py.File(src, "w") as f:
        f["w"] = np.frombuffer(secret.read_bytes()[:32], np.uint8).reshape(2, 16) * 1.0
    _nir_file(path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/weight"]
        layout = h5py.VirtualLayout(shape=(2, 16), dtype="f8")
        layout[:] = h5py.VirtualSource(str(src), "w", shape=(2, 16))
        f["node/nodes/fc"].create_virtual_dataset("weight", layout)
    return path


HOSTILE_NIR = {"external-storage": (_nir_external, "external file"),
               "external-link": (_nir_external_link, "external link"),
               "virtual-dataset": (_nir_virtual, "virtual dataset")}


@pytest.mark.parametrize("case", sorted(HOSTILE_NIR))
@needs_nir
def test_a_nir_file_that_points_elsewhere_is_refused(tmp_path, secret, capsys, case):
    from loihi_snn.nir import normalise
    from loihi_snn.nir.graph import NirError
    make, words = HOSTILE_NIR[case]
    path = make(tmp_path / "hostile.nir", secret)
    with pytest.raises(NirError) as exc:
        normalise(str(path))
    assert words in str(exc.value) and "/node/nodes/fc/weight" in str(exc.value)
    result = run_cli(capsys, "import", path, "--out", tmp_path / "leak.net", "--reset", "hard")
    one_line(result, str(path), "node/nodes/fc/weight", words)
    assert not (tmp_path / "leak.net").exists()
    assert_no_leak(tmp_path, result[1], result[2])


@needs_nir
def test_the_plain_nir_file_imports(tmp_path, capsys):
    """The control: the same file without the hostile part imports."""
    path = _nir_file(tmp_path / "ok.nir")
    status, out, err = run_cli(capsys, "import", path, "--out", tmp_path / "ok.net",
                               "--reset", "hard")
    assert status == 0, err
    assert read_netx(tmp_path / "ok.net").layers[-1].fields["weight"].shape == (2, 16)


@needs_nir
def test_nir_declared_sizes_are_bounded_before_reading(tmp_path, monkeypatch):
    from loihi_snn.nir import normalise
    from loihi_snn.nir.graph import NirError
    path = _nir_file(tmp_path / "m.nir")
    with h5py.File(path, "r+") as f:        # 16 GiB declared, nothing written
        f["node"].create_dataset("huge", shape=(1 << 31,), dtype="f8", chunks=(1 << 16,))
    with pytest.raises(NirError, match="GiB"):
        normalise(str(path))


@needs_nir
@pytest.mark.parametrize("value", [np.array([b"a", b"b"]), np.array(["1e-3", "2e-3"],
                                                                     dtype=h5py.string_dtype())])
def test_nir_tau_stored_as_strings_is_one_line(tmp_path, capsys, value):
    path = _nir_file(tmp_path / "tau.nir")
    with h5py.File(path, "r+") as f:
        replace_dataset(f, "node/nodes/lif/tau", data=value)
    one_line(run_cli(capsys, "import", path, "--out", tmp_path / "o.net", "--reset", "hard"),
             "node 'lif'", "field 'tau'", "numbers")
    assert not (tmp_path / "o.net").exists()


# ----------------------------------------------------------------------------- input arrays

def _huge_header(shape=(10 ** 12, 16)) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + bytes(64)


@pytest.fixture(scope="module")
def small_net(tmp_path_factory) -> Path:
    return base_net(tmp_path_factory.mktemp("hostile_files") / "net.net")


def test_npy_header_declaring_a_huge_array_is_refused_from_the_header(small_net, tmp_path,
                                                                       capsys):
    (tmp_path / "x.npy").write_bytes(_huge_header())
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
        z.writestr("x.npy", _huge_header())
    for name in ("x.npy", "x.npz"):
        one_line(run_cli(capsys, "run", small_net, "--input", tmp_path / name, "--out",
                         tmp_path / "y.npy", "--backend", "emulator"),
                 name, "(1000000000000, 16)")
    assert not (tmp_path / "y.npy").exists()
    if nir is not None:
        nir_path = _nir_file(tmp_path / "m.nir")
        one_line(run_cli(capsys, "import", nir_path, "--out", tmp_path / "o.net",
                         "--reset", "hard", "--check", tmp_path / "x.npy"), "x.npy")
        assert not (tmp_path / "o.net").exists()


def test_npy_within_its_file_but_over_the_run_limit_is_refused(small_net, tmp_path, capsys,
                                                               monkeypatch):
    np.save(tmp_path / "x.npy", np.zeros((16, 100), np.int8))
    monkeypatch.setenv("LOIHI_SNN_MAX_RUN_BYTES", "1000")
    one_line(run_cli(capsys, "run", small_net, "--input", tmp_path / "x.npy", "--out",
                     tmp_path / "y.npy", "--backend", "emulator"), "LOIHI_SNN_MAX_RUN_BYTES")


def test_npz_with_one_array_runs_and_object_arrays_are_refused(small_net, tmp_path, capsys):
    x = (np.random.default_rng(0).random((16, 6)) < 0.5).astype(np.int8)
    np.savez(tmp_path / "one.npz", x=x)
    status, _, err = run_cli(capsys, "run", small_net, "--input", tmp_path / "one.npz",
                             "--out", tmp_path / "y.npy", "--backend", "emulator")
    assert status == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  loihi_snn.run(small_net, x, backend="emulator"))
    np.savez(tmp_path / "two.npz", x=x, y=x)
    one_line(run_cli(capsys, "run", small_net, "--input", tmp_path / "two.npz", "--out",
                     tmp_path / "z.npy"), "exactly one array")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    one_line(run_cli(capsys, "run", small_net, "--input", tmp_path / "obj.npy", "--out",
                     tmp_path / "z.npy"), "Python objects")
    assert not (tmp_path / "z.npy").exists()


def test_input_that_is_not_a_regular_file_is_refused_without_blocking(small_net, tmp_path):
    fifo = tmp_path / "in.npy"
    os.mkfifo(fifo)
    (tmp_path / "adir").mkdir()
    for source, words in ((fifo, "named pipe"), ("/dev/zero", "character device"),
                          (tmp_path / "adir", "directory")):
        assert_one_error_line(cli("run", small_net, "--input", source, "--out",
                                  tmp_path / "y.npy", timeout=60), str(source), words)
    assert not (tmp_path / "y.npy").exists()


# ----------------------------------------------------------------------------- outputs

def test_replacing_a_private_output_keeps_its_mode_and_never_touches_the_umask(
        small_net, tmp_path, capsys, monkeypatch):
    from loihi_snn.core import files
    x = np.zeros((16, 4), np.int8)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    os.chmod(out, 0o600)

    def no_umask(*_):
        raise AssertionError("the process umask must never be changed")
    monkeypatch.setattr(os, "umask", no_umask)
    assert run_cli(capsys, "run", small_net, "--input", tmp_path / "x.npy", "--out", out,
                   "--backend", "emulator")[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert np.load(out).shape == (2, 4)
    new = tmp_path / "new.npy"          # a new file: the mode open() gives it
    monkeypatch.undo()
    mask = files.umask()
    assert run_cli(capsys, "run", small_net, "--input", tmp_path / "x.npy", "--out", new,
                   "--backend", "emulator")[0] == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~mask
    assert os.umask(mask) == mask and files.umask() == mask


def test_umask_is_read_without_changing_it(monkeypatch):
    from loihi_snn.core import files
    mask = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda *_: pytest.fail("umask changed"))
        assert files.umask() == 0o027
    finally:
        monkeypatch.undo()
        os.umask(mask)


# ----------------------------------------------------------------------------- silent wrong results

def test_dense_layer_without_neurons_is_refused(tmp_path):
    path = write_netx(tmp_path / "noneuron.net",
                      [{"type": "input", "shape": [16]},
                       {"type": "dense", "shape": [2], "weight": W, "neuron": None}])
    with pytest.raises(NetxFormatError, match="needs a neuron group") as exc:
        read_netx(path)
    assert (exc.value.layer, exc.value.field) == (1, "neuron")


@pytest.mark.parametrize("field,value", [("bias", np.array([1.5, 2.0])),
                                         ("delay", np.array([1.0, 2.7]))])
def test_fractional_bias_and_delay_are_refused(tmp_path, field, value):
    path = dense_netx(tmp_path / f"{field}.net", W, **{field: value})
    with pytest.raises(NetxFormatError, match="must be integers") as exc:
        read_netx(path)
    assert (exc.value.layer, exc.value.field) == (1, field)
    ok = dense_netx(tmp_path / f"{field}_ok.net", W, **{field: np.round(value)})
    assert field in read_netx(ok).layers[1].fields


def test_fractional_input_layer_bias_is_refused(tmp_path):
    path = write_netx(tmp_path / "inbias.net",
                      [{"type": "input", "shape": [16], "bias": np.array(0.5),
                        "neuron": dict(CUBA)},
                       {"type": "dense", "shape": [2], "weight": W, "neuron": dict(CUBA)}])
    with pytest.raises(NetxFormatError, match="must be integers") as exc:
        read_netx(path)
    assert (exc.value.layer, exc.value.field) == (0, "bias")


# ----------------------------------------------------------------------------- /training, /cutoff

MODELS = REPO_ROOT / "netx_models"


def _model_copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / f"{name}.net"
    shutil.copyfile(MODELS / name / f"{name}.net", dst)
    os.chmod(dst, 0o644)
    return dst


def _set(path: Path, key: str, value) -> None:
    with h5py.File(path, "r+") as f:
        if key in f:
            del f[key]
        if value is not None:
            f[key] = value


HOSTILE_TRAINING = [
    ("training/T", 10 ** 7, "GiB"),
    ("training/T", 16.7, "training/T"),
    ("training/T", b"sixteen", "training/T"),
    ("training/T", -3, "training/T"),
    ("training/T", np.array([16, 16]), "training/T"),
    ("training/seed", b"zero", "training/seed"),
    ("training/seed", 0.5, "training/seed"),
    ("training/input_scale", b"big", "training/input_scale"),
    ("training/input_scale", np.nan, "training/input_scale"),
    ("training/dataset", 7, "training/dataset"),
    ("training/encoding", np.arange(3), "training/encoding"),
    ("training/dataset_options", b"{not json", "training/dataset_options"),
    ("training/dataset_options", b"[1, 2]", "training/dataset_options"),
    ("training/dataset_options", b'{"max_rate": [1, 2]}', "max_rate"),
    ("training/dataset_options", b'{"layout": 5}', "layout"),
    ("training/dataset_options", b'{"bogus": 1}', "bogus"),
]


@pytest.mark.parametrize("key,value,words", HOSTILE_TRAINING,
                         ids=[f"{k}={v!r}"[:40] for k, v, _ in HOSTILE_TRAINING])
def test_eval_on_a_hostile_training_group_is_one_line(tmp_path, capsys, key, value, words):
    path = _model_copy(tmp_path, "digits_cuba")
    _set(path, key, value)
    one_line(run_cli(capsys, "eval", path, "--backend", "emulator", "--limit", "2"),
             str(path), words)


def test_eval_with_a_huge_T_option_is_refused_before_allocating(tmp_path, capsys):
    path = _model_copy(tmp_path, "digits_cuba")
    one_line(run_cli(capsys, "eval", path, "--backend", "emulator", "--T", "10000000"),
             "T=10000000", "LOIHI_SNN_MAX_RUN_BYTES")
    one_line(run_cli(capsys, "eval", path, "--backend", "emulator", "--T", "10000000",
                     "--limit", "3"), "3 samples")


def test_a_file_cannot_choose_where_eval_writes_a_cache(tmp_path):
    from loihi_snn.app.evaluation import _training_info
    path = _model_copy(tmp_path, "mnist1d_rlif")
    _set(path, "training/dataset_options",
         b'{"levels": 16, "num_samples": 10000, "cache_dir": "/tmp/elsewhere"}')
    info = _training_info(read_netx(path))
    assert info["dataset_options"] == {"levels": 16, "num_samples": 10000}


BAD_BETA = [(np.zeros(8), "holds 8 thresholds"), (np.zeros(0), "non-empty 1-D"),
            (np.zeros((4, 4)), "non-empty 1-D"), (np.array([b"a", b"b"]), "thresholds"),
            (np.full(16, np.nan), "NaN")]


@pytest.mark.parametrize("beta,words", BAD_BETA, ids=["short", "empty", "2-D", "strings",
                                                      "nan"])
def test_stored_beta_is_refused_the_same_way_on_every_backend(tmp_path, capsys, beta, words):
    """Before: padded on lava-fixed, IndexError in core/cutoff on lava-fused and the
    emulator, a 2-D beta silently flattened.  Now one line naming cutoff/beta, before
    any run."""
    path = _model_copy(tmp_path, "digits_lif")
    _set(path, "cutoff/beta", beta)
    for backend in ("lava-fixed", "lava-fused", "emulator"):
        one_line(run_cli(capsys, "eval", path, "--cutoff", "--backend", backend,
                         "--limit", "2", "--no-spikes"),
                 "field 'cutoff/beta'", words)
    with pytest.raises(NetxFormatError, match="cutoff/beta"):
        loihi_snn.run_cutoff(str(path), np.zeros((1, 64, 16), np.int8))


@pytest.mark.parametrize("key,value", [("cutoff/epsilon", b"small"), ("cutoff/bins", 0),
                                       ("cutoff/bins", 2.5)])
def test_hostile_cutoff_fields_are_one_line(tmp_path, capsys, key, value):
    path = _model_copy(tmp_path, "digits_lif")
    _set(path, key, value)
    one_line(run_cli(capsys, "eval", path, "--cutoff", "--backend", "emulator", "--limit",
                     "2", "--no-spikes"), f"field '{key}'")


def test_stored_beta_longer_than_T_still_runs(tmp_path):
    from loihi_snn.netx.calibration import load_calibration
    path = _model_copy(tmp_path, "digits_lif")
    cal = load_calibration(read_netx(path), steps=8)
    assert cal is not None and cal.beta.shape == (16,)


def test_every_refusal_is_a_package_error():
    """The error classes used above are the package's (the CLI's exit 2)."""
    from loihi_snn.nir.graph import NirError
    from loihi_snn.core.errors import ShapeError
    for cls in (NetxFormatError, NirError, ShapeError):
        assert issubclass(cls, LoihiSnnError)
