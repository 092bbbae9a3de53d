"""Tests of tc.save / tc.load: nested round trips, atomic writes, clear errors, no pickle."""

import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc


@pytest.fixture
def checkpoint(rng):
    generator = np.random.default_rng(42)
    generator.standard_normal(3)
    return {
        "model": OrderedDict([("conv1.weight", rng.standard_normal((2, 1, 3, 3)).astype("f4")),
                              ("conv1.bias", rng.standard_normal(2).astype(np.float32)),
                              ("fc.weight", rng.standard_normal((4, 2)))]),
        "optimizer": {"type": "Adam", "hyperparameters": {"lr": 1e-3, "betas": (0.9, 0.999)},
                      "state": {"0": {"step": 3, "exp_avg": np.arange(4, dtype=np.float32)}}},
        "epoch": 3,
        "rng": generator.bit_generator.state,
        "history": [{"loss": np.float32(0.25), "accuracy": 0.5}, {"loss": 0.125, "ok": True}],
        "arrays in a list": [np.array([1, 2], dtype=np.int8), np.array(True), "text", None],
        "empty": {},
        "scalar array": np.array(2.5),
    }


def test_round_trip_nested(tmp_path, checkpoint):
    path = tmp_path / "ckpt.npz"
    tc.save(checkpoint, path)
    loaded = tc.load(str(path))
    assert list(loaded) == list(checkpoint)
    assert list(loaded["model"]) == ["conv1.weight", "conv1.bias", "fc.weight"]
    for name, array in checkpoint["model"].items():
        assert loaded["model"][name].dtype == array.dtype
        np.testing.assert_array_equal(loaded["model"][name], array)
    assert loaded["optimizer"]["hyperparameters"] == {"lr": 1e-3, "betas": [0.9, 0.999]}
    assert loaded["optimizer"]["state"]["0"]["step"] == 3
    np.testing.assert_array_equal(loaded["optimizer"]["state"]["0"]["exp_avg"], np.arange(4))
    assert loaded["epoch"] == 3 and isinstance(loaded["epoch"], int)
    assert loaded["history"] == [{"loss": 0.25, "accuracy": 0.5}, {"loss": 0.125, "ok": True}]
    int8, flag, text, none = loaded["arrays in a list"]
    assert int8.dtype == np.int8 and int8.tolist() == [1, 2]
    assert flag.dtype == bool and flag.shape == () and bool(flag)
    assert (text, none) == ("text", None)
    assert loaded["empty"] == {}
    assert loaded["scalar array"].shape == () and loaded["scalar array"] == 2.5


def test_generator_state_round_trips(tmp_path, checkpoint):
    tc.save(checkpoint, tmp_path / "ckpt.npz")
    restored = np.random.default_rng()
    restored.bit_generator.state = tc.load(tmp_path / "ckpt.npz")["rng"]
    original = np.random.default_rng(42)
    original.standard_normal(3)
    np.testing.assert_array_equal(restored.standard_normal(5), original.standard_normal(5))


def test_arrays_are_plain_npz_entries(tmp_path, checkpoint):
    tc.save(checkpoint, tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as npz:
        assert "model/conv1.weight" in npz.files and "arrays in a list/0" in npz.files
        np.testing.assert_array_equal(npz["optimizer/state/0/exp_avg"], np.arange(4))


def test_save_overwrites_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"a": np.zeros(2)}, path)
    tc.save({"b": np.ones(3)}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert list(tc.load(path)) == ["b"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tc.save({"epoch": 1, "w": np.zeros(2)}, path)
    write_array = np.lib.format.write_array
    calls = []

    def fail_on_second_array(file, array, **kwargs):
        calls.append(array)
        if len(calls) == 2:
            raise OSError("disk full")
        write_array(file, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_on_second_array)
    with pytest.raises(OSError, match="disk full"):
        tc.save({"epoch": 2, "w": np.ones(2), "v": np.ones(3)}, path)
    assert len(calls) == 2                      # it failed halfway through the file
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    monkeypatch.undo()
    old = tc.load(path)
    assert old["epoch"] == 1 and old["w"].tolist() == [0.0, 0.0]


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(OSError, match="disk full"):
        tc.save({"w": np.ones(2)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save: the folder '.*absent' does not exist"):
        tc.save({"w": np.zeros(2)}, tmp_path / "absent" / "ckpt.npz")
    assert os.listdir(tmp_path) == []


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load: no file at '.*nothing.npz'; expected a "
                                                r"checkpoint written by tc.save"):
        tc.load(tmp_path / "nothing.npz")


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"load: '.*notes.npz' is not an .npz \(zip\) file: it "
                                         r"starts with b'hell'"):
        tc.load(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"w": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"load: '.*ckpt.npz' is a damaged or unsafe .npz file "
                                         r"\(BadZipFile"):
        tc.load(path)


def test_object_arrays_are_refused_both_ways(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w=np.zeros(2), evil=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"damaged or unsafe .npz file \(ValueError: Object "
                                         r"arrays cannot be loaded when allow_pickle=False"):
        tc.load(path)
    with pytest.raises(TypeError, match=r"save: array 'x/evil' has dtype object, which only "
                                        r"pickle could store"):
        tc.save({"x": {"evil": np.array([None])}}, tmp_path / "out.npz")
    assert sorted(os.listdir(tmp_path)) == ["pickled.npz"]


def test_plain_npz_loads_as_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.ones((2, 2)))
    loaded = tc.load(tmp_path / "plain.npz")
    assert sorted(loaded) == ["a", "b"] and loaded["a"].tolist() == [0, 1, 2]


def test_damaged_layout_entry(tmp_path):
    np.savez(tmp_path / "bad.npz", __tree__=np.array('{"dict": {"w": {"array": "missing"}}}'))
    with pytest.raises(ValueError, match=r"has a damaged layout entry '__tree__' \(KeyError: "
                                         r"'missing'\)"):
        tc.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("state, error, message", [
    ([np.zeros(2)], TypeError, r"save: expected a dict \(e.g. model.state_dict\(\)\), got list"),
    ({"__tree__": np.zeros(2)}, ValueError, r"save: the key '__tree__' is reserved"),
    ({"a": {1: np.zeros(2)}}, TypeError, r"save: key 1 at 'a' must be a string without '/'"),
    ({"a/b": np.zeros(2)}, TypeError, r"save: key 'a/b' at 'the top level' must be a string"),
    ({"w": tc.Value(np.zeros(2))}, TypeError, r"save: 'w' is a Value; expected an array, a "
                                              r"number.*for a Value, save value.data"),
    ({"s": {1, 2}}, TypeError, r"save: 's' is a set; expected an array"),
])
def test_save_errors_write_nothing(tmp_path, state, error, message):
    with pytest.raises(error, match=message):
        tc.save(state, tmp_path / "out.npz")
    assert os.listdir(tmp_path) == []


def test_saved_file_is_a_standard_zip(tmp_path):
    tc.save({"w": np.zeros(2), "n": 1}, tmp_path / "ckpt.npz")
    with zipfile.ZipFile(tmp_path / "ckpt.npz") as archive:
        assert archive.namelist() == ["w.npy", "__tree__.npy"]
        assert archive.testzip() is None
