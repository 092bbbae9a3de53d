"""`save` and `load`: nested dicts of numpy arrays and plain values (numbers, strings, lists) in
one .npz file, written atomically and read without pickle."""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from tinygrad_cnn import safetensors_format
from tinygrad_cnn.fileio import atomic_write

# The npz entry holding the JSON layout of the saved structure; a top-level key may not use it.
TREE_KEY = "__tree__"
# The zip comment of every .npz that save writes. Together with the layout entry it marks a
# checkpoint: damage that hides one of the two is an error, never a flat dict of the members.
MARKER = b"tinygrad_cnn checkpoint; layout in __tree__.npy"
MAX_DEPTH = 100            # levels of nested dicts and lists in a checkpoint
_DEFLATE_MAX_RATIO = 1032  # deflate never shrinks data more than this: a bound on a member's size
_CHUNK = 1 << 24           # bytes read at a time into an array


def save(state_dict: dict, path: str | os.PathLike) -> None:
    """Write a nested dict of arrays and plain values to `path` as .npz, atomically.

    Arrays are stored as the npz entries "key/subkey/..." (readable with np.load); the nesting,
    and every leaf that is not an array (None, bool, int, float, str), are stored as JSON in the
    entry "__tree__". Lists and tuples may hold either kind (tuples load as lists); numpy
    scalars load as Python numbers. Keys must be non-empty strings without "/" or NUL ("\\x00"):
    a key is one step of an entry's name, and the zip format cuts names at NUL.

    The file is written to a temporary file in the same folder, flushed to disk and renamed over
    `path`, so `path` holds either its old content or the complete new file, never a part. A
    file replaced keeps its permission bits, and a symlink is followed: the file it points to
    is replaced (see tinygrad_cnn.fileio.atomic_write).

    A path ending in .safetensors writes that format instead (needs the `safetensors` extra): a
    flat {name: array} dict, such as model.state_dict(), that PyTorch's safetensors loader reads;
    nested dicts and plain values are refused there (see tinygrad_cnn.safetensors_format).
    Any other suffix (.pt, none) is an error: the file's name would promise another format.
    """
    if _format("save", path) == "safetensors":
        return safetensors_format.save(state_dict, path)
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    if TREE_KEY in state_dict:
        raise ValueError(f"save: the key {TREE_KEY!r} is reserved for the file's layout; "
                         f"rename it")
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(state_dict, "", arrays)
    arrays[TREE_KEY] = np.array(json.dumps(tree))

    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: the folder {str(path.parent)!r} does not exist; expected "
                                f"an existing folder; create it first (e.g. Path.mkdir)")
    with atomic_write(path) as file:
        _write_npz(file, arrays)


_PYTORCH_SUFFIXES = (".pt", ".pth", ".bin")


def _format(caller: str, path) -> str:
    """"npz" or "safetensors", from the path's suffix; any other suffix is an error, so that a
    file is never written under a name that promises another format."""
    suffix = Path(path).suffix.lower()
    if suffix in (".npz", ".safetensors"):
        return suffix[1:]
    ending = f"ends in {suffix!r}" if suffix else "has no suffix"
    if suffix in _PYTORCH_SUFFIXES:
        fix = ("PyTorch's torch.save files are pickles, which tinygrad_cnn neither writes nor "
               "loads; weights cross over as .safetensors: model.load_state_dict("
               "safetensors.torch.load_file(path)) in PyTorch reads tc.save's, and "
               "safetensors.torch.save_file(model.state_dict(), path) there writes one that "
               "tc.load reads")
    else:
        fix = f"use {Path(path).with_suffix('.npz').name!r} for a checkpoint"
    raise ValueError(f"{caller}: {str(path)!r} {ending}; expected a path ending in .npz (any "
                     f"nested dict, e.g. a checkpoint) or .safetensors (a flat dict of arrays, "
                     f"which PyTorch reads); {fix}")


def load(path: str | os.PathLike) -> dict:
    """Read a file written by `save`: the same nested dict, arrays as numpy arrays.

    Every .npz member is checked before its array is allocated (the size its header declares
    must be the size the file holds) and read whole, so zip's CRC-32 is verified; the layout
    must name every member exactly once. Any damage -- a truncated file, a flipped byte, a
    hostile header -- raises ValueError naming the file and what is wrong.

    Never unpickles: a file holding object arrays is refused. An .npz without the "__tree__"
    entry and without a zip comment (e.g. written by np.savez) loads as a flat dict of its
    arrays. A path ending in .safetensors is read as that format: a flat {name: array} dict,
    names in sorted order. Any other suffix is an error (PyTorch's .pt files are pickles).
    """
    if _format("load", path) == "safetensors":
        return safetensors_format.load(path)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {str(path)!r}; expected a checkpoint written "
                                f"by tc.save; check the path")
    with open(path, "rb") as file:
        start = file.read(4)
        if start[:2] != b"PK":
            raise ValueError(f"load: {str(path)!r} is not an .npz (zip) file: it starts with "
                             f"{start!r}; expected a file written by tc.save")
        try:
            return _read_checkpoint(file, os.fstat(file.fileno()).st_size)
        except (ValueError, OSError, EOFError, OverflowError, struct.error, zlib.error,
                zipfile.BadZipFile) as error:
            detail = error if type(error) is ValueError else f"{type(error).__name__}: {error}"
            raise ValueError(f"load: {str(path)!r} is a damaged or unsafe .npz file: {detail}; "
                             f"expected an intact file written by tc.save (or np.savez), without "
                             f"Python objects; restore it from a copy or save it again"
                             ) from error


def _encode(value, key: str, arrays: dict[str, np.ndarray], depth: int = 0):
    """The JSON layout of value, each node tagged by kind; arrays go into `arrays` under key."""
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DEPTH:
        raise ValueError(f"save: {key!r} is nested more than {MAX_DEPTH} dicts and lists deep; "
                         f"expected at most {MAX_DEPTH} levels (a dict that contains itself "
                         f"nests forever); flatten the structure")
    if isinstance(value, dict):
        items = {}
        for name, item in value.items():
            # "/" joins the keys of a member's name ("model/fc.weight"), so a key may not hold
            # one; an empty top-level key would vanish from it ({"": {"a": x}} and {"a": x}
            # both give "a"), and is refused at every level to keep one rule; zip cuts a
            # member's name at NUL.
            if not isinstance(name, str) or not name or "/" in name or "\x00" in name:
                raise TypeError(f"save: key {name!r} at {key or 'the top level'!r} must be a "
                                f"non-empty string without '/' or NUL ('\\x00'); rename it")
            items[name] = _encode(item, f"{key}/{name}" if key else name, arrays, depth + 1)
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(item, f"{key}/{i}", arrays, depth + 1)
                         for i, item in enumerate(value)]}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"save: array {key!r} has dtype {value.dtype}, which only pickle "
                            f"could store; expected numbers, bools or strings")
        arrays[key] = value
        return {"array": key}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TypeError(f"save: {key!r} is a {type(value).__name__}; expected an array, a number, a "
                    f"string, None, or a dict or list of these (for a Value, save value.data)")


def _read_checkpoint(file, file_size: int) -> dict:
    """The structure saved in an open .npz file; ValueError (or a zip/OS error) on any damage."""
    try:
        archive = zipfile.ZipFile(file)
    except NotImplementedError as error:       # e.g. "zip file version 21.0"
        raise ValueError(f"it needs an unsupported zip feature ({error})") from error
    with archive:
        _check_end_record(file, file_size, archive.comment)
        names = [info.filename for info in archive.infolist()]
        if len(set(names)) != len(names):
            raise ValueError(f"it has repeated members {sorted(set(names))}")
        arrays = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an .npy array")
            arrays[info.filename[:-4]] = _read_member(archive, info, file_size)
        comment = archive.comment
    if TREE_KEY not in arrays:
        if comment:
            raise ValueError(f"it has no layout entry {TREE_KEY!r} but a zip comment "
                             f"{comment[:60]!r}: a checkpoint whose layout was lost")
        return arrays                          # a plain npz, e.g. from np.savez
    if comment not in (MARKER, b""):           # b"": written before the marker existed
        raise ValueError(f"its zip comment is {comment[:60]!r}; expected {MARKER!r}")
    tree = arrays.pop(TREE_KEY)
    if tree.shape != () or tree.dtype.kind != "U":
        raise ValueError(f"its layout entry {TREE_KEY!r} is a {tree.dtype} array of shape "
                         f"{tree.shape}; expected one JSON string")
    text = str(tree)
    _check_depth(text)
    root = json.loads(text)
    if not isinstance(root, dict) or list(root) != ["dict"]:
        raise ValueError(f"its layout does not start with a dict: {text[:60]!r}")
    used: set[str] = set()
    result = _decode(root, arrays, used)
    if used != set(arrays):
        raise ValueError(f"its layout does not name the members {sorted(set(arrays) - used)}")
    return result


def _check_end_record(file, file_size: int, comment: bytes) -> None:
    """ValueError unless the file ends with zip's end record and the whole comment it declares
    (zipfile accepts a comment cut short, i.e. a file truncated inside it)."""
    file.seek(max(file_size - len(comment) - 22, 0))
    record = file.read(22)
    if record[:4] != b"PK\x05\x06" or int.from_bytes(record[20:22], "little") != len(comment):
        raise ValueError("it does not end with zip's end record and its comment: it is "
                         "truncated or has bytes appended")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int) -> np.ndarray:
    """One .npy member as an array, its sizes checked against the zip entry before allocating,
    then read to its end so that zipfile checks the CRC-32."""
    name = info.filename
    if info.flag_bits & 0x61:              # bit 0 encrypted, 5 patched data, 6 strong encryption
        raise ValueError(f"member {name!r} is encrypted or patched (zip flags "
                         f"0x{info.flag_bits:04x}); expected a plain member")
    stored = info.compress_type == zipfile.ZIP_STORED
    if not stored and info.compress_type != zipfile.ZIP_DEFLATED:
        raise ValueError(f"member {name!r} uses compression method {info.compress_type}; "
                         f"expected 0 (stored) or 8 (deflated), as np.savez writes")
    limit = info.compress_size if stored else info.compress_size * _DEFLATE_MAX_RATIO
    if info.compress_size > file_size or info.file_size > limit \
            or (stored and info.file_size != info.compress_size):
        raise ValueError(f"member {name!r} claims {info.file_size} bytes stored in "
                         f"{info.compress_size} of a {file_size}-byte file")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"member {name!r} has .npy format version {version}")
        if dtype.hasobject:
            raise ValueError(f"member {name!r} holds Python objects (dtype {dtype}), which only "
                             f"pickle could load; refused")
        if any(n < 0 for n in shape):
            raise ValueError(f"member {name!r} declares the negative shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize       # Python ints: no overflow
        held = info.file_size - member.tell()
        if nbytes != held:
            raise ValueError(f"member {name!r} declares shape {shape} of {dtype}, {nbytes} "
                             f"bytes, but holds {held} bytes of data")
        array = np.empty(shape, dtype, order="F" if fortran else "C")
        flat = (array.T if fortran else array).reshape(-1).view(np.uint8)   # a view of it
        for begin in range(0, nbytes, _CHUNK):
            size = min(_CHUNK, nbytes - begin)
            chunk = member.read(size)
            if len(chunk) != size:
                raise ValueError(f"member {name!r} ends after {begin + len(chunk)} of "
                                 f"{nbytes} bytes of data")
            flat[begin:begin + size] = np.frombuffer(chunk, np.uint8)
        if member.read(1):
            raise ValueError(f"member {name!r} has bytes after its {nbytes} bytes of data")
    return array


def _check_depth(text: str) -> None:
    """ValueError if the JSON layout nests more than MAX_DEPTH levels, checked before json
    parses it (a deep enough nesting would exhaust Python's recursion limit)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text).encode()   # brackets in strings do not count
    codes = np.frombuffer(bare, np.uint8)
    opened = (codes == ord("{")).astype(np.int64) + (codes == ord("["))
    closed = (codes == ord("}")).astype(np.int64) + (codes == ord("]"))
    depth = int(np.cumsum(opened - closed).max(initial=0))
    if depth > 2 * MAX_DEPTH + 1:          # each dict or list level is two JSON levels
        raise ValueError(f"its layout nests {depth} JSON levels; expected at most "
                         f"{MAX_DEPTH} dicts and lists")


def _decode(node, arrays: dict[str, np.ndarray], used: set[str]):
    """The value that `_encode` turned into this layout node, its form checked; each array key
    it names is added to `used` and may be named only once."""
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"layout node {str(node)[:60]!r} is not a one-key dict")
    (kind, content), = node.items()
    if kind == "dict" and isinstance(content, dict):
        return {name: _decode(item, arrays, used) for name, item in content.items()}
    if kind == "list" and isinstance(content, list):
        return [_decode(item, arrays, used) for item in content]
    if kind == "array" and isinstance(content, str):
        if content not in arrays or content in used:
            raise ValueError(f"the layout names the array {content!r} "
                             + ("twice" if content in used else "but the file has no such member"))
        used.add(content)
        return arrays[content]
    if kind == "value" and (content is None or isinstance(content, (bool, int, float, str))):
        return content
    raise ValueError(f"layout node {str(node)[:60]!r} is not a dict, list, array or value")


def _write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed npz, as np.savez writes it; done by hand because np.savez takes the array
    names as keyword arguments, where names like 'file' would collide with its own."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        archive.comment = MARKER
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
