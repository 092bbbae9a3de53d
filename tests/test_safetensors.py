"""tc.save / tc.load with a .safetensors path: flat round trips with dtypes kept, files that the
safetensors library itself reads and writes, atomic writes, and clear errors naming the file.
(PyTorch loading these files: tests/torch_oracle/test_safetensors_torch.py.)"""

import os
import struct
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
from optional import require

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

safetensors_numpy = require("safetensors.numpy", "safetensors")

DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.int8, np.int16, np.int32,
          np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


class TinyCNN(nn.Module):
    """A small model with PyTorch-style names: conv1.weight, conv1.bias, fc.weight, fc.bias."""

    def __init__(self):
        self.conv1 = nn.Conv2d(1, 3, kernel_size=3)
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(ops.flatten(ops.max_pool2d(ops.relu(self.conv1(x)), 2), 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).name for d in DTYPES])
def test_round_trip_keeps_dtype_shape_and_values(tmp_path, rng, dtype):
    arrays = {"matrix": (rng.standard_normal((3, 4)) * 50).astype(dtype),
              "scalar": np.array(7, dtype=dtype),
              "empty": np.zeros((0, 2), dtype=dtype)}
    tc.save(arrays, tmp_path / "a.safetensors")
    loaded = tc.load(tmp_path / "a.safetensors")
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == np.dtype(dtype), name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)


def test_names_load_sorted_and_arrays_are_writable(tmp_path):
    tc.save(OrderedDict([("fc.weight", np.ones(2)), ("conv1.weight", np.zeros(3))]),
            tmp_path / "m.safetensors")
    loaded = tc.load(str(tmp_path / "m.safetensors"))
    assert list(loaded) == ["conv1.weight", "fc.weight"]
    loaded["fc.weight"] += 1
    assert loaded["fc.weight"].tolist() == [2.0, 2.0]


def test_non_contiguous_and_big_endian_arrays_keep_their_values(tmp_path):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    big_endian = np.arange(5, dtype=">i4")
    tc.save({"t": matrix.T, "every_other": matrix[:, ::2], "be": big_endian},
            tmp_path / "v.safetensors")
    loaded = tc.load(tmp_path / "v.safetensors")
    np.testing.assert_array_equal(loaded["t"], matrix.T)
    np.testing.assert_array_equal(loaded["every_other"], matrix[:, ::2])
    assert loaded["be"].dtype == np.int32 and loaded["be"].tolist() == [0, 1, 2, 3, 4]


def test_model_weights_round_trip_into_a_fresh_model(tmp_path, rng):
    tc.manual_seed(0)
    model = TinyCNN()
    tc.save(model.state_dict(), tmp_path / "tiny.safetensors")
    tc.manual_seed(1)
    fresh = TinyCNN()
    fresh.load_state_dict(tc.load(tmp_path / "tiny.safetensors"), strict=True)
    x = rng.standard_normal((2, 1, 10, 10)).astype(np.float32)
    np.testing.assert_array_equal(fresh(tc.Value(x)).data, model(tc.Value(x)).data)
    assert {p.dtype for p in fresh.parameters()} == {np.dtype(np.float32)}


def test_tied_weights_are_saved_under_both_names_and_stay_tied_on_load(tmp_path, rng):
    class Tied(nn.Module):
        def __init__(self):
            self.enc, self.dec = nn.Linear(3, 3), nn.Linear(3, 3)
            self.dec.weight = self.enc.weight

    model = Tied()
    tc.save(model.state_dict(), tmp_path / "tied.safetensors")
    loaded = tc.load(tmp_path / "tied.safetensors")
    assert list(loaded) == ["dec.bias", "dec.weight", "enc.bias", "enc.weight"]   # sorted
    np.testing.assert_array_equal(loaded["dec.weight"], model.enc.weight.data)
    fresh = Tied()
    assert fresh.load_state_dict(loaded) == ([], [])
    assert fresh.dec.weight is fresh.enc.weight
    np.testing.assert_array_equal(fresh.enc.weight.data, model.enc.weight.data)


def test_suffix_is_case_insensitive_and_npz_is_unchanged(tmp_path):
    tc.save({"w": np.arange(3.0)}, tmp_path / "upper.SafeTensors")
    assert safetensors_numpy.load_file(str(tmp_path / "upper.SafeTensors"))["w"].tolist() == \
        [0.0, 1.0, 2.0]
    tc.save({"nested": {"w": np.arange(3.0)}, "epoch": 3}, tmp_path / "ckpt.npz")
    assert (tmp_path / "ckpt.npz").read_bytes()[:2] == b"PK"
    assert tc.load(tmp_path / "ckpt.npz")["epoch"] == 3


def test_the_safetensors_library_reads_our_files_and_we_read_its_files(tmp_path):
    ours = {"conv1.weight": np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2),
            "steps": np.array([3], dtype=np.int64)}
    tc.save(ours, tmp_path / "ours.safetensors")
    theirs = safetensors_numpy.load_file(str(tmp_path / "ours.safetensors"))
    for name, array in ours.items():
        assert theirs[name].dtype == array.dtype
        np.testing.assert_array_equal(theirs[name], array)
    safetensors_numpy.save_file({"fc.bias": np.array([1.5, -2.0], dtype=np.float16)},
                                str(tmp_path / "theirs.safetensors"))
    loaded = tc.load(tmp_path / "theirs.safetensors")
    assert loaded["fc.bias"].dtype == np.float16 and loaded["fc.bias"].tolist() == [1.5, -2.0]


def test_file_layout_is_a_json_header_then_the_raw_bytes(tmp_path):
    tc.save({"w": np.array([1.0, 2.0], dtype=np.float32)}, tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    assert b'"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}' in data[8:8 + header_size]
    assert data[8 + header_size:] == np.array([1.0, 2.0], dtype="<f4").tobytes()


def test_save_overwrites_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "w.safetensors"
    tc.save({"w": np.zeros(2)}, path)
    tc.save({"w": np.ones(3)}, path)
    assert tc.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_save_keeps_the_permissions_and_writes_through_a_symlink(tmp_path):
    target = tmp_path / "w.safetensors"
    tc.save({"w": np.zeros(2)}, target)
    target.chmod(0o600)
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    tc.save({"w": np.ones(3)}, link)
    assert link.is_symlink() and oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert tc.load(target)["w"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["link.safetensors", "w.safetensors"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    tc.save({"w": np.zeros(2)}, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        tc.save({"w": np.ones(5)}, path)
    assert tc.load(path)["w"].tolist() == [0.0, 0.0]
    assert os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("state, error, message", [
    ({"model": {"w": np.zeros(2)}},
     TypeError, r"save: 'model' holds a dict, but a \.safetensors file holds one flat \{name: "
                r"array\} dict .*save checkpoint\['model'\] alone to \.safetensors, or save the "
                r"nested checkpoint to a \.npz file"),
    ({"epoch": 3}, TypeError, r"save: 'epoch' is a int; a \.safetensors file holds only numpy "
                              r"arrays; save np\.asarray\(value\), or use a \.npz file"),
    ({"w": tc.Value(np.zeros(2))}, TypeError, r"'w' is a Value.*\(for a Value, save value\.data\)"),
    ({"names": np.array(["a", "b"])}, TypeError,
     r"save: array 'names' has dtype <U1, which a \.safetensors file cannot hold; expected bool, "
     r"int8\.\.int64, .* convert it with \.astype\(\), or use a \.npz file"),
    ({"z": np.zeros(2, dtype=np.complex128)}, TypeError, r"array 'z' has dtype complex128"),
    ({"__metadata__": np.zeros(2)}, TypeError,
     r"save: key '__metadata__' cannot name a tensor in a \.safetensors file; expected a string "
     r"other than '__metadata__'; rename it"),
    ({1: np.zeros(2)}, TypeError, r"save: key 1 cannot name a tensor"),
    ([np.zeros(2)], TypeError, r"save: expected a dict of arrays \(e\.g\. model\.state_dict\(\)\), "
                               r"got list"),
])
def test_save_refuses_what_the_format_cannot_hold_and_writes_nothing(tmp_path, state, error,
                                                                      message):
    with pytest.raises(error, match=message):
        tc.save(state, tmp_path / "bad.safetensors")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save: the folder '.*missing' does not exist"):
        tc.save({"w": np.zeros(2)}, tmp_path / "missing" / "w.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load: no file at '.*nothing\.safetensors'; "
                                                r"expected a \.safetensors file"):
        tc.load(tmp_path / "nothing.safetensors")


def write_model_file(tmp_path):
    path = tmp_path / "model.safetensors"
    tc.save({"conv1.weight": np.ones((16, 1, 10, 10), dtype=np.float32),
             "fc.bias": np.ones(10, dtype=np.float32)}, path)
    return path


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[:len(data) // 2], "not fully covered"),         # cut in the data
    (lambda data: data[:40], "invalid header length"),                  # cut in the header
    (lambda data: data[:5], "header too small"),                        # cut in the size field
    (lambda data: b"", "header too small"),                             # empty file
    (lambda data: b"\xff" * 64, "header too large"),                    # not this format at all
    (lambda data: data[:8] + b"[" + data[9:], "invalid JSON in header"),  # broken JSON
])
def test_damaged_or_truncated_file_names_the_file(tmp_path, damage, reason):
    path = write_model_file(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=rf"load: '.*model\.safetensors' is not a valid "
                                         rf"\.safetensors file \(.*{reason}.*\); expected a "
                                         rf"complete file .* It may be truncated or damaged"):
        tc.load(path)


def test_an_npz_file_named_safetensors_says_to_rename_it(tmp_path):
    tc.save({"w": np.zeros(2)}, tmp_path / "ckpt.npz")
    os.replace(tmp_path / "ckpt.npz", tmp_path / "ckpt.safetensors")
    with pytest.raises(ValueError, match=r"'.*ckpt\.safetensors' is not a valid \.safetensors "
                                         r"file .* It is a zip file, as tc\.save writes for "
                                         r"\.npz: rename it to \.npz"):
        tc.load(tmp_path / "ckpt.safetensors")


def test_a_dtype_numpy_lacks_is_refused_naming_the_tensor_and_the_file(tmp_path):
    """bfloat16, which PyTorch writes and numpy cannot hold: a header written by hand."""
    header = b'{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x80\x3f\x80\x3f")
    with pytest.raises(ValueError, match=r"load: tensor 'w' in '.*bf16\.safetensors' has dtype "
                                         r"BF16, which numpy cannot hold; expected one of F64, "
                                         r".*; convert it before saving \(in PyTorch: "
                                         r"tensor\.float\(\)\)"):
        tc.load(path)


def test_missing_safetensors_package_says_how_to_install_it(tmp_path, monkeypatch):
    path = write_model_file(tmp_path)
    monkeypatch.setitem(sys.modules, "safetensors", None)     # import safetensors fails
    with pytest.raises(ImportError, match=r"save: \.safetensors files need the 'safetensors' "
                                          r"package, which is not installed .* pip install "
                                          r"'tinygrad_cnn\[safetensors\]'"):
        tc.save({"w": np.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(ImportError, match=r"load: \.safetensors files need"):
        tc.load(path)
    tc.save({"w": np.zeros(2)}, tmp_path / "still.npz")      # .npz needs no extra
    assert tc.load(tmp_path / "still.npz")["w"].tolist() == [0.0, 0.0]


def test_importing_tinygrad_cnn_imports_neither_safetensors_nor_onnx():
    code = ("import sys, tinygrad_cnn; "
            "print(sorted(m for m in ('safetensors', 'onnx', 'onnxruntime', 'torch') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
