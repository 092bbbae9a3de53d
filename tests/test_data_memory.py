"""The MNIST fallback's memory: unpickling holds each array once, and converting pixels / 256
to uint8 makes no full-size float temporary (numpy reports its allocations to tracemalloc)."""

import gzip
import io
import pickle
import tracemalloc

import numpy as np

from tinygrad_cnn.data import mnist


def traced_peak(fn, *args):
    """fn(*args) and the peak bytes allocated while it ran (on top of what existed before)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn(*args)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


def test_pixels_convert_a_chunk_at_a_time(monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(mnist, "_CHUNK_ROWS", 100)
    splits = tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / np.float32(256),
                    rng.integers(0, 10, n)) for n in (1000, 200, 300))
    floats = sum(x.nbytes for x, _ in splits)                       # 6 MB
    arrays, peak = traced_peak(mnist.mnist_from_pickle, splits)
    out = sum(a.nbytes for a in arrays.values())                    # 1.2 MB of uint8
    assert peak < out + 4 * 100 * 784 * 8, (peak, out, floats)      # + a few chunk temporaries
    expected = np.rint(np.concatenate([splits[0][0], splits[1][0]]) * 256).astype(np.uint8)
    np.testing.assert_array_equal(arrays["train-images-idx3-ubyte"].reshape(-1, 784), expected)


def test_unpickling_holds_each_array_once():
    data = np.arange(2_000_000, dtype=np.float32)                   # 8 MB
    payload = gzip.compress(pickle.dumps((data, np.arange(3)), protocol=4), compresslevel=1)

    def load():
        with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
            return mnist.RestrictedUnpickler(stream, encoding="bytes").load()

    (back, _), peak = traced_peak(load)
    np.testing.assert_array_equal(back, data)
    assert peak < 1.5 * data.nbytes, (peak, data.nbytes)
