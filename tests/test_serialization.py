"""Tests of tc.save / tc.load: nested round trips, atomic writes, clear errors, no pickle."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import fileio
from tinygrad_cnn.serialization import MARKER, MAX_DEPTH


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


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"a": np.zeros(2)}, path)
    for mode in (0o600, 0o640):
        path.chmod(mode)
        tc.save({"a": np.ones(2)}, path)
        assert oct(path.stat().st_mode & 0o7777) == oct(mode)
        assert tc.load(path)["a"].tolist() == [1.0, 1.0]
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "ckpt.npz"
    tc.save({"a": np.zeros(2)}, target)
    target.chmod(0o600)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    tc.save({"a": np.ones(3)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert tc.load(target)["a"].tolist() == [1.0, 1.0, 1.0]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(os.listdir(tmp_path / "store")) == ["ckpt.npz"]       # no temporary left
    dangling = tmp_path / "next.npz"              # a link to no file: open() would create it
    dangling.symlink_to(tmp_path / "store" / "new.npz")
    tc.save({"b": 1}, dangling)
    assert dangling.is_symlink() and tc.load(tmp_path / "store" / "new.npz") == {"b": 1}


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


@pytest.mark.parametrize("name, ending, fix", [
    ("model.pt", r"ends in '\.pt'", r"PyTorch's torch.save files are pickles, which tinygrad_cnn "
                                    r"neither writes nor loads; weights cross over as "
                                    r"\.safetensors"),
    ("ckpt", r"has no suffix", r"use 'ckpt\.npz' for a checkpoint"),
    ("w.npy", r"ends in '\.npy'", r"use 'w\.npz' for a checkpoint"),
])
def test_a_suffix_of_another_format_is_refused_both_ways(tmp_path, name, ending, fix):
    """A name that promises another format is an error: tc.save wrote model.pt as an npz that
    torch.load could not read, and tc.load called a PyTorch .pt file damaged."""
    path = tmp_path / name
    expected = (rf"'.*{re.escape(name)}' {ending}; expected a path ending in \.npz \(any nested "
                rf"dict, e.g\. a checkpoint\) or \.safetensors \(a flat dict of arrays, which "
                rf"PyTorch reads\); {fix}")
    with pytest.raises(ValueError, match="save: " + expected):
        tc.save({"w": np.zeros(2)}, path)
    assert os.listdir(tmp_path) == []
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="load: " + expected):
        tc.load(path)


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
    with pytest.raises(ValueError, match=r"load: '.*ckpt.npz' is a damaged or unsafe .npz file: "
                                         r"BadZipFile"):
        tc.load(path)


def test_object_arrays_are_refused_both_ways(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w=np.zeros(2), evil=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"damaged or unsafe .npz file: member 'evil.npy' holds "
                                         r"Python objects \(dtype object\), which only pickle "
                                         r"could load; refused"):
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
    with pytest.raises(ValueError, match=r"damaged or unsafe .npz file: the layout names the "
                                         r"array 'missing' but the file has no such member"):
        tc.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("state, error, message", [
    ([np.zeros(2)], TypeError, r"save: expected a dict \(e.g. model.state_dict\(\)\), got list"),
    ({"__tree__": np.zeros(2)}, ValueError, r"save: the key '__tree__' is reserved"),
    ({"a": {1: np.zeros(2)}}, TypeError, r"save: key 1 at 'a' must be a non-empty string "
                                         r"without '/' or NUL \('\\x00'\); rename it"),
    ({"a/b": np.zeros(2)}, TypeError, r"save: key 'a/b' at 'the top level' must be a non-empty"),
    ({"": {"a": np.zeros(2)}, "a": np.ones(3)}, TypeError,       # both would be the member "a"
     r"save: key '' at 'the top level' must be a non-empty string"),
    ({"a": [{"": 1}]}, TypeError, r"save: key '' at 'a/0' must be a non-empty string"),
    ({"a\x00b": np.zeros(2)}, TypeError,                          # zip cuts names at NUL
     r"save: key 'a\\x00b' at 'the top level' must be a non-empty string without '/' or NUL"),
    ({"w": tc.Value(np.zeros(2))}, TypeError, r"save: 'w' is a Value; expected an array, a "
                                              r"number.*for a Value, save value.data"),
    ({"s": {1, 2}}, TypeError, r"save: 's' is a set; expected an array"),
])
def test_save_errors_write_nothing(tmp_path, state, error, message):
    with pytest.raises(error, match=message):
        tc.save(state, tmp_path / "out.npz")
    assert os.listdir(tmp_path) == []


def test_a_refused_key_leaves_the_old_file_alone(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"epoch": 1}, path)
    for state in ({"": {"a": np.zeros(2)}, "a": np.ones(3)}, {"a\x00b": np.zeros(2)}):
        with pytest.raises(TypeError, match=r"must be a non-empty string without '/' or NUL"):
            tc.save(state, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"] and tc.load(path) == {"epoch": 1}


def test_saved_file_is_a_standard_zip(tmp_path):
    tc.save({"w": np.zeros(2), "n": 1}, tmp_path / "ckpt.npz")
    with zipfile.ZipFile(tmp_path / "ckpt.npz") as archive:
        assert archive.namelist() == ["w.npy", "__tree__.npy"]
        assert archive.testzip() is None


# Damaged and hostile files: every one is a ValueError naming the file, never another structure.

SMALL = {"model": {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(2, np.float32)},
         "optimizer": {"step": 3, "lr": 0.1, "state": [np.zeros(2, np.int64), None]},
         "epoch": 2, "name": "run 1"}


def assert_same(loaded, saved):
    """Equal structure, key order, types, dtypes, shapes and bytes."""
    assert type(loaded) is type(saved) or isinstance(saved, tuple) and type(loaded) is list
    if isinstance(saved, dict):
        assert list(loaded) == list(saved)
        for key in saved:
            assert_same(loaded[key], saved[key])
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved)
        for a, b in zip(loaded, saved, strict=True):
            assert_same(a, b)
    elif isinstance(saved, np.ndarray):
        assert (loaded.dtype, loaded.shape) == (saved.dtype, saved.shape)
        assert loaded.tobytes() == saved.tobytes()
    else:
        assert loaded == saved


def damaged(path):
    """The one error every damaged file gives: a ValueError naming the file."""
    return pytest.raises(ValueError, match=rf"load: '{re.escape(str(path))}' (is a damaged or "
                                           rf"unsafe .npz file: |is not an .npz \(zip\) file)")


def test_every_truncation_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save(SMALL, path)
    size = path.stat().st_size
    with open(path, "ab") as file:
        file.write(b"\0")
    with pytest.raises(ValueError, match=r"it does not end with zip's end record and its "
                                         r"comment: it is truncated or has bytes appended"):
        tc.load(path)
    for length in range(size, -1, -1):         # shortening in place: cheap, every length
        os.truncate(path, length)
        if length == size:
            assert_same(tc.load(path), SMALL)
            continue
        with damaged(path):
            tc.load(path)


def test_single_byte_flips_give_the_clear_error_or_the_saved_structure(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save(SMALL, path)
    data = path.read_bytes()
    flips = [(at, 0xFF) for at in range(len(data))]                  # every byte inverted
    generator = np.random.default_rng(0)
    places, bits = generator.integers(len(data), size=300), generator.integers(8, size=300)
    flips += [(int(at), 1 << int(bit)) for at, bit in zip(places, bits, strict=True)]  # 300 bits
    errors = 0
    with open(path, "r+b") as file:
        for at, mask in flips:
            os.pwrite(file.fileno(), bytes([data[at] ^ mask]), at)
            try:
                loaded = tc.load(path)
            except ValueError as error:
                assert str(path) in str(error)
                assert "expected an intact file written by tc.save" in str(error) or \
                    "is not an .npz (zip) file" in str(error)
                errors += 1
            else:                              # a byte nothing reads (e.g. a timestamp)
                assert_same(loaded, SMALL)
            os.pwrite(file.fileno(), data[at:at + 1], at)
    assert errors > 0.75 * len(flips)          # almost every byte matters
    assert_same(tc.load(path), SMALL)


def central_directory(path):
    """{member name: offset of its central directory record}."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        offset, records = archive.start_dir, {}
        for info in archive.infolist():
            assert data[offset:offset + 4] == b"PK\x01\x02"
            records[info.filename] = offset
            offset += 46 + len(info.filename.encode()) + len(info.extra) + len(info.comment)
    return records


@pytest.mark.parametrize("field, at, value, message", [
    ("zip version", 6, 210, r"it needs an unsupported zip feature \(zip file version 21.0\)"),
    ("encrypted", 8, 1, r"member 'model/w.npy' is encrypted or patched \(zip flags 0x0001\)"),
    ("compression", 10, 99, r"member 'model/w.npy' uses compression method 99; expected 0 "
                            r"\(stored\) or 8 \(deflated\)"),
    ("crc", 16, 0, r"BadZipFile: Bad CRC-32 for file 'model/w.npy'"),
])
def test_damaged_zip_fields_name_the_file_and_the_fault(tmp_path, field, at, value, message):
    path = tmp_path / "ckpt.npz"
    tc.save(SMALL, path)
    data = bytearray(path.read_bytes())
    data[central_directory(path)["model/w.npy"] + at] = value
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"load: '.*ckpt.npz' is a damaged or unsafe .npz file: "
                                         + message):
        tc.load(path)


def write_npz(path, members, comment=b""):
    """A zip of raw .npy members {name: bytes}, as a hostile or damaged writer could make it."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.comment = comment


def npy(array=None, *, shape=None, descr="<f8", data=b""):
    """The bytes of an .npy file: of `array`, or a bare header declaring `shape` and `descr`."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, array)
    else:
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": descr, "fortran_order": False, "shape": shape})
        buffer.write(data)
    return buffer.getvalue()


def layout(tree):
    return npy(np.array(json.dumps(tree)))


@pytest.mark.parametrize("shape, data, message", [
    ((10**6, 10**6), b"\0" * 16, r"member 'w.npy' declares shape \(1000000, 1000000\) of float64, "
                                 r"8000000000000 bytes, but holds 16 bytes of data"),
    ((2**40, 2**40, 2**40), b"", r"declares shape \(1099511627776, 1099511627776, "
                                 r"1099511627776\) of float64, "
                                 r"10633823966279326983230456482242756608 bytes, but holds 0"),
    ((3,), b"\0" * 16, r"declares shape \(3,\) of float64, 24 bytes, but holds 16 bytes"),
    ((1,), b"\0" * 16, r"declares shape \(1,\) of float64, 8 bytes, but holds 16 bytes"),
    ((-2, -4), b"\0" * 64, r"member 'w.npy' declares the negative shape \(-2, -4\)"),
])
def test_array_headers_are_checked_before_allocating(tmp_path, shape, data, message):
    path = tmp_path / "hostile.npz"
    write_npz(path, {"w.npy": npy(shape=shape, data=data),
                     "__tree__.npy": layout({"dict": {"w": {"array": "w"}}})}, MARKER)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"load: '.*hostile.npz' is a damaged or unsafe .npz "
                                             r"file: .*" + message):
            tc.load(path)
        assert tracemalloc.get_traced_memory()[1] < 10**6       # peak bytes: nothing allocated
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("depth", [500, 100_000])
def test_a_deeply_nested_layout_is_refused(tmp_path, depth):
    path = tmp_path / "deep.npz"
    text = '{"dict": {"deep": ' + '{"list": [' * depth + '{"value": "[{"}' + ']}' * depth + '}}'
    write_npz(path, {"__tree__.npy": npy(np.array(text))}, MARKER)
    with pytest.raises(ValueError, match=rf"deep.npz' is a damaged or unsafe .npz file: its "
                                         rf"layout nests {2 * depth + 3} JSON levels; expected at "
                                         rf"most 100 dicts and lists"):
        tc.load(path)


def test_nesting_up_to_the_cap_round_trips_and_deeper_is_refused_by_save(tmp_path):
    deep = leaf = {}
    for _ in range(MAX_DEPTH - 1):
        leaf["x"] = {}
        leaf = leaf["x"]
    leaf["w"] = np.ones(1)
    tc.save(deep, tmp_path / "deep.npz")
    assert_same(tc.load(tmp_path / "deep.npz"), deep)
    leaf["w"] = [np.ones(1)]
    with pytest.raises(ValueError, match=r"save: 'x/x/.*/x/w' is nested more than 100 dicts and "
                                         r"lists deep; expected at most 100 levels"):
        tc.save(deep, tmp_path / "deeper.npz")
    itself = {"a": 1}
    itself["self"] = itself
    with pytest.raises(ValueError, match=r"a dict that contains itself nests forever"):
        tc.save(itself, tmp_path / "loop.npz")
    assert sorted(os.listdir(tmp_path)) == ["deep.npz"]


TREE_W = {"dict": {"w": {"array": "w"}}}


@pytest.mark.parametrize("members, comment, message", [
    ({"w.npy": npy(np.ones(2)), "v.npy": npy(np.ones(2)), "__tree__.npy": layout(TREE_W)},
     MARKER, r"its layout does not name the members \['v'\]"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": layout({"list": [{"array": "w"}]})},
     MARKER, r"its layout does not start with a dict"),
    ({"w.npy": npy(np.ones(2)),
      "__tree__.npy": layout({"dict": {"a": {"array": "w"}, "b": {"array": "w"}}})},
     MARKER, r"the layout names the array 'w' twice"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": layout({"dict": {"w": {"tuple": "w"}}})},
     MARKER, r"layout node \"\{'tuple': 'w'\}\" is not a dict, list, array or value"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": layout({"dict": {"w": {"value": [1]}}})},
     MARKER, r"layout node .* is not a dict, list, array or value"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": npy(np.array(["{}", "{}"]))},
     MARKER, r"its layout entry '__tree__' is a <U2 array of shape \(2,\); expected one JSON"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": npy(np.array("{not json"))},
     MARKER, r"JSONDecodeError|Expecting property name"),
    ({"w.npy": npy(np.ones(2))}, MARKER,
     r"it has no layout entry '__tree__' but a zip comment b'tinygrad_cnn checkpoint"),
    ({"w.npy": npy(np.ones(2)), "__tree__.npy": layout(TREE_W)}, MARKER[:-1],
     r"its zip comment is b'tinygrad_cnn checkpoint; layout in __tree__.np'; expected"),
    ({"w.txt": b"hello", "__tree__.npy": layout(TREE_W)}, MARKER,
     r"member 'w.txt' is not an .npy array"),
    ({"w.npy": b"\x93NUMPY\x09\x00" + b"\0" * 32}, b"", r"\.npy format version|version"),
])
def test_layouts_that_do_not_match_the_members(tmp_path, members, comment, message):
    path = tmp_path / "bad.npz"
    write_npz(path, members, comment)
    with pytest.raises(ValueError, match=r"bad.npz' is a damaged or unsafe .npz file: .*"
                                         + message):
        tc.load(path)


def test_repeated_members_are_refused(tmp_path):
    path = tmp_path / "twice.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_npz(path, {"w.npy": npy(np.ones(2))})
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("w.npy", npy(np.zeros(2)))
    with pytest.raises(ValueError, match=r"twice.npz' is a damaged or unsafe .npz file: it has "
                                         r"repeated members \['w.npy'\]"):
        tc.load(path)


def test_files_without_the_marker_still_load(tmp_path, rng):
    fortran = np.asfortranarray(rng.standard_normal((3, 4)))
    arrays = {"f": fortran, "big_endian": np.arange(3, dtype=">i4"), "empty": np.zeros((0, 5)),
              "text": np.array(["a", "bc"]), "flag": np.array(True)}
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    loaded = tc.load(tmp_path / "compressed.npz")
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    assert loaded["f"].flags.f_contiguous and loaded["f"].flags.writeable
    # a checkpoint from before the marker: the layout entry and no zip comment
    tree = {"dict": {"w": {"array": "w"}, "epoch": {"value": 3}}}
    np.savez(tmp_path / "old.npz", w=fortran, __tree__=np.array(json.dumps(tree)))
    old = tc.load(tmp_path / "old.npz")
    assert list(old) == ["w", "epoch"] and old["epoch"] == 3
    np.testing.assert_array_equal(old["w"], fortran)


def test_saved_files_carry_the_marker(tmp_path):
    tc.save(SMALL, tmp_path / "ckpt.npz")
    with zipfile.ZipFile(tmp_path / "ckpt.npz") as archive:
        assert archive.comment == MARKER


WRITER = """
import sys, time
import numpy as np
import tinygrad_cnn as tc

write_array = np.lib.format.write_array

def write_then_stall(file, array, **kwargs):
    write_array(file, array, **kwargs)
    print("writing", flush=True)
    time.sleep(60)

np.lib.format.write_array = write_then_stall
tc.save({"w": np.ones(100_000)}, sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids are POSIX")
def test_the_next_save_removes_the_temporary_file_of_a_killed_writer(tmp_path):
    path = tmp_path / "ckpt.npz"
    tc.save({"epoch": 1}, path)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline() == "writing\n"      # mid-save: one array written
    finally:
        writer.kill()                                       # SIGKILL: no cleanup can run
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    leftover, = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftover.name.startswith(".ckpt.npz.") and f".{writer.pid}." in leftover.name
    assert leftover.stat().st_size > 800_000                 # the 800 kB array it wrote
    assert tc.load(path) == {"epoch": 1}                     # the old checkpoint is intact
    host = leftover.name.split(".")[3]
    keep = [tmp_path / f".ckpt.npz.{host}.{os.getpid()}.0123abcd.tmp",      # a live writer
            tmp_path / f".other.npz.{host}.{writer.pid}.0123abcd.tmp",     # another target
            tmp_path / f".ckpt.npz.{'0' * 8}.{writer.pid}.0123abcd.tmp",   # another machine
            tmp_path / ".ckpt.npz.0123abcd.tmp"]                           # no process id
    for other in keep:
        other.write_bytes(b"partial")

    tc.save({"epoch": 2}, path)
    assert not leftover.exists()
    assert sorted(tmp_path.iterdir()) == sorted([path, *keep])
    assert tc.load(path) == {"epoch": 2}


def test_remove_stale_temporaries_touches_only_regular_files_of_dead_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = fileio._HOST
    stale = tmp_path / f".ckpt.npz.{host}.{dead.pid}.0123abcd.tmp"
    stale.write_bytes(b"partial")
    folder = tmp_path / f".ckpt.npz.{host}.{dead.pid}.4567abcd.tmp"
    folder.mkdir()
    impossible = tmp_path / f".ckpt.npz.{host}.{2**70}.89abcdef.tmp"
    impossible.write_bytes(b"partial")
    assert sorted(fileio.remove_stale_temporaries(tmp_path / "ckpt.npz")) == \
        sorted([stale, impossible])
    assert folder.is_dir()
    assert fileio.remove_stale_temporaries(tmp_path / "absent" / "ckpt.npz") == []
