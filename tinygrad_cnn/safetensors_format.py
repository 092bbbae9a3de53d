"""The .safetensors format for `tc.save` / `tc.load`: a flat {name: array} dict that PyTorch's
safetensors loader reads, so a PyTorch model with the same module names accepts our weights.

Written and read with the `safetensors` package (an optional extra, imported only here and only
when a .safetensors file is saved or loaded). The file is a little-endian header of JSON (each
tensor's name, dtype, shape and byte range) followed by the raw bytes: no code, no pickle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinygrad_cnn.fileio import atomic_write
from tinygrad_cnn.value import Value

# safetensors' dtype names and the numpy dtypes they hold (the file is little-endian). PyTorch
# also writes BF16 and float8 types, which numpy has no dtype for: those are refused on load.
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "C64": "<c8",
          "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_SAVABLE = {np.dtype(dtype) for dtype in DTYPES.values()}
# The header entry that holds the file's text metadata; no tensor may have this name.
METADATA_KEY = "__metadata__"
INSTALL_HINT = "pip install 'tinygrad_cnn[safetensors]' (or pip install safetensors)"


def save(state_dict: dict, path: str | os.PathLike) -> None:
    """Write a flat {name: array} dict to `path` in the safetensors format, atomically.

    Every value must be a numpy array of a numeric or bool dtype (float16/32/64, int8..64,
    uint8..64, bool, complex64); dtypes and shapes are kept exactly. Nested dicts and plain
    values (numbers, strings, lists) are refused: a .safetensors file holds tensors only, and
    loading it must give back what was saved. Save such checkpoints as .npz instead.
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: expected a dict of arrays (e.g. model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    arrays = {name: _checked(name, value) for name, value in state_dict.items()}
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: the folder {str(path.parent)!r} does not exist; expected "
                                f"an existing folder; create it first (e.g. Path.mkdir)")
    safetensors_numpy = _import_safetensors("save").numpy
    data = safetensors_numpy.save(arrays)
    with atomic_write(path) as file:
        file.write(data)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a .safetensors file (written by `save` or by safetensors/PyTorch) as {name: array}.

    The names come in sorted order, whatever order the file's header lists them in (the
    safetensors writer orders them by dtype first); each array is a writable
    numpy array of the stored dtype and shape. A damaged or truncated file raises a ValueError
    naming it; a tensor of a dtype numpy lacks (bfloat16, float8) raises one naming the tensor.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {str(path)!r}; expected a .safetensors file "
                                f"written by tc.save or safetensors' save_file; check the path")
    safetensors = _import_safetensors("load")
    data = path.read_bytes()
    try:
        entries = safetensors.deserialize(data)
    except safetensors.SafetensorError as error:
        hint = (" It is a zip file, as tc.save writes for .npz: rename it to .npz."
                if data[:2] == b"PK" else " It may be truncated or damaged: write it again.")
        raise ValueError(f"load: {str(path)!r} is not a valid .safetensors file ({error}); "
                         f"expected a complete file written by tc.save or safetensors' "
                         f"save_file.{hint}") from error
    arrays = {}
    for name, entry in sorted(entries):
        if entry["dtype"] not in DTYPES:
            raise ValueError(
                f"load: tensor {name!r} in {str(path)!r} has dtype {entry['dtype']}, which numpy "
                f"cannot hold; expected one of {', '.join(DTYPES)}; convert it before saving "
                f"(in PyTorch: tensor.float())")
        # (bytes,) -> shape; frombuffer on the bytearray gives a writable array without a copy
        arrays[name] = np.frombuffer(entry["data"], dtype=DTYPES[entry["dtype"]]).reshape(
            entry["shape"])
    return arrays


def _checked(name, value) -> np.ndarray:
    """value as a C-contiguous array for the file, or a TypeError saying why it cannot go in."""
    if not isinstance(name, str) or name == METADATA_KEY:
        raise TypeError(f"save: key {name!r} cannot name a tensor in a .safetensors file; "
                        f"expected a string other than {METADATA_KEY!r}; rename it")
    if isinstance(value, dict):
        raise TypeError(
            f"save: {name!r} holds a dict, but a .safetensors file holds one flat {{name: "
            f"array}} dict (e.g. model.state_dict()); save checkpoint[{name!r}] alone to "
            f".safetensors, or save the nested checkpoint to a .npz file")
    if not isinstance(value, np.ndarray):
        hint = " (for a Value, save value.data)" if isinstance(value, Value) else ""
        raise TypeError(
            f"save: {name!r} is a {type(value).__name__}; a .safetensors file holds only numpy "
            f"arrays{hint}; save np.asarray(value), or use a .npz file for numbers, strings "
            f"and lists")
    if value.dtype.newbyteorder("<") not in _SAVABLE:      # big-endian arrays are swapped
        raise TypeError(
            f"save: array {name!r} has dtype {value.dtype}, which a .safetensors file cannot "
            f"hold; expected bool, int8..int64, uint8..uint64, float16/32/64 or complex64; "
            f"convert it with .astype(), or use a .npz file")
    # safetensors copies the raw buffer: a transposed view would be written in the wrong order
    # (not np.ascontiguousarray, which turns a 0-d array into shape (1,))
    return value if value.flags.c_contiguous else value.copy(order="C")


def _import_safetensors(caller: str):
    """The safetensors package (with its numpy module), or an ImportError saying how to get it."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401  (makes safetensors.numpy available)
    except ImportError as error:
        raise ImportError(f"{caller}: .safetensors files need the 'safetensors' package, which "
                          f"is not installed ({error}); install it with {INSTALL_HINT}, or use "
                          f"a .npz file") from error
    return safetensors
