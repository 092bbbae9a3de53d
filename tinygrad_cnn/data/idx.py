"""Read and write IDX files, the format of MNIST: a 4-byte magic number, big-endian uint32
dimensions, then the big-endian data; raw or gzip-compressed."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_cnn.fileio import atomic_write

# IDX dtype code -> big-endian numpy dtype (single bytes have no byte order)
CODE_TO_DTYPE = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in CODE_TO_DTYPE.items()}
_SUPPORTED = ", ".join(f"0x{code:02x} ({dt.newbyteorder('=').name})"
                       for code, dt in CODE_TO_DTYPE.items())
_GZIP_MAGIC = b"\x1f\x8b"
MAX_NDIM = 32              # numpy's own limit was 32 before 2.0; MNIST has 1 or 3
_DEFLATE_MAX_RATIO = 1032  # deflate never inflates more than this: a bound on what a .gz holds
_CHUNK = 1 << 24           # bytes read at a time
_PROBE = 1 << 20           # trailing bytes of a gzip stream inflated to count them, at most


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw, or gzip detected by its 1f 8b magic bytes) into a numpy array.

    The header is read and checked first: the magic number, the dtype code, at most
    MAX_NDIM dimensions, and the data size they give (computed with Python ints, so it
    cannot overflow) against the file's size -- for gzip against the most a file of its size
    can inflate to. Only then is the array allocated and filled, inflating a gzip stream only
    as far as the header says (a small .gz that inflates to gigabytes is refused after the
    header and the declared data, never inflated whole).

    Parameters
    ----------
    path : str or os.PathLike
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    np.ndarray
        A writable, native-byte-order array of the shape and dtype the header gives,
        e.g. uint8 (60000, 28, 28) for MNIST's training images.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If the file is not a complete IDX file: bad gzip stream, wrong magic number,
        unknown dtype code, too many dimensions, truncated header or data, or bytes after
        the data.
    """
    path = os.fspath(path)
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"read_idx: no file at '{path}'; expected an IDX file (raw or .gz); check the "
            f"path, or for MNIST call load_mnist(split, download=True) to fetch the files"
        ) from None
    with file:
        size = os.fstat(file.fileno()).st_size
        if file.read(2) != _GZIP_MAGIC:
            file.seek(0)
            return _read_stream(file, f"'{path}'", size, compressed=False)
        file.seek(0)
        try:
            with gzip.GzipFile(fileobj=file) as stream:
                return _read_stream(stream, f"'{path}' (after gunzip)", size, compressed=True)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"read_idx: '{path}' starts like a gzip file but cannot be decompressed ({e}); "
                f"expected a complete gzip stream; the download was probably cut short, "
                f"delete the file and fetch it again") from e


def _read_stream(stream, where: str, size: int, compressed: bool) -> np.ndarray:
    """The array in an IDX byte stream of a file of `size` bytes, its header checked before
    the data is allocated or read."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise ValueError(
            f"read_idx: {where} is truncated: it has {len(magic)} bytes; expected at least "
            f"the 4-byte IDX magic number; the file is incomplete, fetch it again")
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"read_idx: {where} has the wrong magic number: it starts with bytes "
            f"{magic.hex(' ')}; expected 00 00 <dtype code> <ndim>; is it an IDX file?")
    if code not in CODE_TO_DTYPE:
        raise ValueError(
            f"read_idx: {where} has unknown dtype code 0x{code:02x}; expected one of "
            f"{_SUPPORTED}; the file is corrupt or not an IDX file")
    if ndim > MAX_NDIM:
        raise ValueError(
            f"read_idx: {where} has {ndim} dimensions; expected at most {MAX_NDIM} (MNIST has "
            f"1 or 3); the file is corrupt or not an IDX file")
    dtype = CODE_TO_DTYPE[code]
    header_size = 4 + 4 * ndim
    dims = _read_up_to(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        got = 4 + len(dims)
        raise ValueError(
            f"read_idx: {where} is truncated: its header needs {header_size} bytes for "
            f"{ndim} dimensions but the file has {got}; expected a complete file; "
            f"fetch it again")
    shape = struct.unpack(f">{ndim}I", dims)
    nbytes = math.prod(shape) * dtype.itemsize     # Python ints: 65536**4 does not wrap to 0
    expected = header_size + nbytes
    says = (f"the header says shape {shape} of {dtype.newbyteorder('=').name}, {expected} "
            f"bytes in all")
    if not compressed and size < expected:
        _truncated(where, says, expected, size)
    if not compressed and size > expected:
        _trailing(where, says, expected, size)
    if compressed and expected > size * _DEFLATE_MAX_RATIO:
        raise ValueError(
            f"read_idx: {where}: {says}, more than a gzip file of {size} bytes can hold (deflate "
            f"inflates at most {_DEFLATE_MAX_RATIO}-fold); expected a header that matches the "
            f"data; the file is corrupt")

    array = np.empty(shape, dtype)                 # big-endian, filled in place
    flat = array.reshape(-1).view(np.uint8)        # a view of its bytes
    done = 0
    while done < nbytes:
        count = stream.readinto(flat[done:done + _CHUNK])
        if not count:
            _truncated(where, says, expected, header_size + done)
        done += count
    if compressed:                                 # inflate just past the data, boundedly
        extra = len(_read_up_to(stream, _PROBE))
        if extra:
            more = stream.read(1)
            _trailing(where, says, expected, header_size + nbytes + extra, at_least=bool(more))
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _read_up_to(stream, count: int) -> bytes:
    """Up to `count` bytes: fewer only at the end of the stream."""
    parts, got = [], 0
    while got < count:
        part = stream.read(count - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _truncated(where: str, says: str, expected: int, size: int):
    raise ValueError(
        f"read_idx: {where} is truncated: {says}, but the file has {size} bytes; expected "
        f"{expected}; the file is incomplete, fetch it again")


def _trailing(where: str, says: str, expected: int, size: int, at_least: bool = False):
    more = "at least " if at_least else ""
    raise ValueError(
        f"read_idx: {where} has {more}{size - expected} trailing bytes: {says}, but the file "
        f"has {more}{size}; expected exactly {expected}; the file is corrupt or its header is "
        f"wrong")


def write_idx(path: str | os.PathLike, array: ArrayLike) -> None:
    """Write an array as an IDX file, atomically; gzip-compressed when `path` ends in ``.gz``.

    The bytes go to a temporary file in the same folder, which then replaces `path`
    (``os.replace``), so a reader never sees a half-written file.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write; its folder must exist.
    array : array_like
        Any shape; dtype uint8, int8, int16, int32, float32 or float64 (stored big-endian).

    Raises
    ------
    TypeError
        If the dtype has no IDX code (e.g. int64 or bool).
    ValueError
        If the array has more than MAX_NDIM dimensions or a dimension does not fit the
        header's uint32.
    FileNotFoundError
        If the folder of `path` does not exist.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"write_idx: array has dtype {array.dtype}, which IDX cannot store; expected one of "
            f"{_SUPPORTED}; convert it first, e.g. labels.astype(np.uint8)")
    if array.ndim > MAX_NDIM:
        raise ValueError(
            f"write_idx: array has {array.ndim} dimensions; expected at most {MAX_NDIM}, as "
            f"read_idx reads; reshape it first")
    if any(n > 0xFFFFFFFF for n in array.shape):
        raise ValueError(
            f"write_idx: array shape {array.shape} has a dimension above 2**32 - 1; expected "
            f"each dimension to fit the header's uint32; split the array")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"write_idx: cannot write '{path}': folder '{folder}' does not exist; expected an "
            f"existing folder; create it first (os.makedirs)")

    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = array.astype(CODE_TO_DTYPE[code], copy=False).tobytes()   # big-endian, C order
    with atomic_write(path) as f:
        if path.endswith(".gz"):
            # level 6 (gzip's own default): 15x faster than Python's 9 on MNIST, 2% larger;
            # mtime=0 and a fixed name in the header: same array, same bytes
            name = os.path.basename(path)
            with gzip.GzipFile(name, "wb", compresslevel=6, fileobj=f, mtime=0) as g:
                g.write(header)
                g.write(data)
        else:
            f.write(header)
            f.write(data)
