"""`save` and `load`: nested dicts of numpy arrays and plain values (numbers, strings, lists) in
one .npz file, written atomically and read without pickle."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from tinygrad_cnn import safetensors_format
from tinygrad_cnn.fileio import atomic_write

# The npz entry holding the JSON layout of the saved structure; a top-level key may not use it.
TREE_KEY = "__tree__"


def save(state_dict: dict, path: str | os.PathLike) -> None:
    """Write a nested dict of arrays and plain values to `path` as .npz, atomically.

    Arrays are stored as the npz entries "key/subkey/..." (readable with np.load); the nesting,
    and every leaf that is not an array (None, bool, int, float, str), are stored as JSON in the
    entry "__tree__". Lists and tuples may hold either kind (tuples load as lists); numpy
    scalars load as Python numbers. Keys must be strings without "/".

    The file is written to a temporary file in the same folder, flushed to disk and renamed over
    `path`, so `path` holds either its old content or the complete new file, never a part.

    A path ending in .safetensors writes that format instead (needs the `safetensors` extra): a
    flat {name: array} dict, such as model.state_dict(), that PyTorch's safetensors loader reads;
    nested dicts and plain values are refused there (see tinygrad_cnn.safetensors_format).
    """
    if Path(path).suffix.lower() == ".safetensors":
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


def load(path: str | os.PathLike) -> dict:
    """Read a file written by `save`: the same nested dict, arrays as numpy arrays.

    Never unpickles: a file holding object arrays is refused. An .npz without the "__tree__"
    entry (e.g. written by np.savez) loads as a flat dict of its arrays. A path ending in
    .safetensors is read as that format: a flat {name: array} dict, names in sorted order.
    """
    if Path(path).suffix.lower() == ".safetensors":
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
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"load: {str(path)!r} is a damaged or unsafe .npz file "
                         f"({type(error).__name__}: {error}); expected a file written by "
                         f"tc.save") from None
    if TREE_KEY not in arrays:
        return arrays
    try:
        return _decode(json.loads(str(arrays.pop(TREE_KEY))), arrays)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"load: {str(path)!r} has a damaged layout entry {TREE_KEY!r} "
                         f"({type(error).__name__}: {error}); expected a file written by "
                         f"tc.save") from None


def _encode(value, key: str, arrays: dict[str, np.ndarray]):
    """The JSON layout of value, each node tagged by kind; arrays go into `arrays` under key."""
    if isinstance(value, dict):
        items = {}
        for name, item in value.items():
            if not isinstance(name, str) or "/" in name:
                raise TypeError(f"save: key {name!r} at {key or 'the top level'!r} must be a "
                                f"string without '/'; rename it")
            items[name] = _encode(item, f"{key}/{name}" if key else name, arrays)
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(item, f"{key}/{i}", arrays) for i, item in enumerate(value)]}
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


def _decode(node: dict, arrays: dict[str, np.ndarray]):
    """The value that `_encode` turned into this layout node."""
    (kind, content), = node.items()
    if kind == "dict":
        return {name: _decode(item, arrays) for name, item in content.items()}
    if kind == "list":
        return [_decode(item, arrays) for item in content]
    if kind == "array":
        return arrays[content]
    if kind == "value":
        return content
    raise ValueError(f"unknown node kind {kind!r}")


def _write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed npz, as np.savez writes it; done by hand because np.savez takes the array
    names as keyword arguments, where names like 'file' would collide with its own."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
