"""The scratch memory of the convolution kernels (tinygrad_cnn/ops/scratch.py): what is lent
where, when it is taken back, its limit and threads; and that no kernel hands out lent memory:
every result survives the next call, and once warm a kernel takes nothing from the heap but its
results."""

import threading
import tracemalloc

import numpy as np
import pytest

from tinygrad_cnn.ops import conv_kernels as kernels
from tinygrad_cnn.ops import scratch


@pytest.fixture(autouse=True)
def own_buffer(monkeypatch):
    """Each test starts with an empty buffer of its own thread state."""
    monkeypatch.setattr(scratch, "_stack", scratch._Stack())


def lent(array: np.ndarray) -> bool:
    return np.shares_memory(array, scratch._stack.buffer)


def test_outside_a_frame_arrays_are_fresh():
    a = scratch.empty((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.base is None
    assert scratch._stack.wanted == 0


def test_a_frame_that_does_not_fit_takes_fresh_arrays_and_the_next_one_lends():
    with scratch.frame():
        a = scratch.empty((100,), np.float64)
        b = scratch.zeros((7, 3), np.complex64)
        assert not lent(a) and not lent(b)
        assert np.array_equal(b, np.zeros((7, 3)))
    assert scratch._stack.wanted >= 800 + 168
    with scratch.frame():
        a = scratch.empty((100,), np.float64)
        b = scratch.zeros((7, 3), np.complex64)
        assert lent(a) and lent(b) and not np.shares_memory(a, b)
        assert a.ctypes.data % 64 == 0 and b.ctypes.data % 64 == 0     # on cache lines
        assert np.array_equal(b, np.zeros((7, 3))) and b.dtype == np.complex64
        a[:] = 1.0
        assert np.array_equal(b, np.zeros((7, 3)))                       # a did not touch b


def test_leaving_a_frame_takes_back_what_it_lent_and_frames_nest():
    for _ in range(2):                  # the first pass sizes the buffer
        with scratch.frame():
            outer = scratch.empty((16,), np.float32)
            with scratch.frame():
                inner = scratch.empty((32,), np.float32)
            with scratch.frame():
                again = scratch.empty((32,), np.float32)
            after = scratch.empty((8,), np.float32)
    assert lent(outer) and lent(inner)
    assert again.ctypes.data == inner.ctypes.data       # the inner frame's bytes, lent again
    assert after.ctypes.data == inner.ctypes.data       # and then to the outer frame
    assert not np.shares_memory(outer, after)
    with scratch.frame():
        assert scratch.empty((16,), np.float32).ctypes.data == outer.ctypes.data


def test_a_frame_left_by_an_exception_takes_back_too():
    with scratch.frame():
        scratch.empty((10,), np.float32)
    with pytest.raises(RuntimeError), scratch.frame():
        scratch.empty((10,), np.float32)
        raise RuntimeError("inside a kernel")
    assert scratch._stack.top == 0 and scratch._stack.marks == []


def test_the_buffer_keeps_at_most_the_limit(monkeypatch):
    monkeypatch.setattr(scratch, "LIMIT", 1024)
    for _ in range(2):
        with scratch.frame():
            small = scratch.empty((100,), np.float32)     # 400 bytes: lent
            large = scratch.empty((1000,), np.float32)    # past 1024 bytes: fresh
    assert lent(small) and not lent(large)
    assert scratch._stack.buffer.size <= 1024 + 64
    assert large.shape == (1000,) and large.base is None


def test_each_thread_lends_from_a_buffer_of_its_own():
    seen, both_lent = {}, threading.Barrier(2, timeout=10)

    def lend(name):
        for _ in range(2):              # the first frame sizes this thread's buffer
            with scratch.frame():
                array = scratch.empty((256,), np.float64)
        with scratch.frame():
            array = scratch.empty((256,), np.float64)
            array[:] = ord(name)
            both_lent.wait()            # the other thread holds its array now too
            seen[name] = (lent(array), array.ctypes.data, array.copy())
            both_lent.wait()

    threads = [threading.Thread(target=lend, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["a"][0] and seen["b"][0]
    assert seen["a"][1] != seen["b"][1]
    assert (seen["a"][2] == ord("a")).all() and (seen["b"][2] == ord("b")).all()


def conv_calls(rng, dtype=np.float32):
    """Each kernel route once, on fresh inputs at each call: name -> function of nothing."""
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    x1, w1, w1_one = r(4, 1, 12, 12), r(3, 1, 6, 6), r(1, 1, 6, 6)    # banded (1 channel in)
    x2, w2 = r(4, 4, 11, 11), r(5, 4, 5, 5)                            # spectral
    x3, w3 = r(3, 2, 12, 12), r(4, 2, 6, 6)                            # 2 channels: tiles
    w4 = r(3, 2, 3, 3)                                                 # stride 2: rows
    return {
        "banded forward": lambda: kernels.conv2d_forward(x1, w1, None, (1, 1), (1, 1)),
        "banded forward, one channel out": lambda: kernels.conv2d_forward(
            x1, w1_one, r(1), (1, 1), (0, 0)),
        "banded weight grad": lambda: kernels.conv2d_weight_grad(x1, r(4, 3, 7, 7), (6, 6),
                                                                 (1, 1), (0, 0)),
        "input grad by tiles": lambda: kernels.conv2d_input_and_weight_grad(
            x3, r(3, 4, 7, 7), w3, (1, 1), (0, 0)),
        "input grad by rows": lambda: kernels.conv2d_input_grad(r(3, 3, 4, 4), w4, (9, 9),
                                                                (2, 2), (0, 0)),
        "spectral forward": lambda: kernels.conv2d_forward(x2, w2, r(5), (1, 1), (1, 2)),
        "spectral weight grad": lambda: kernels.conv2d_weight_grad(x2, r(4, 5, 7, 7), (5, 5),
                                                                   (1, 1), (0, 0)),
        "spectral input grad": lambda: kernels.conv2d_input_grad(r(4, 5, 7, 7), w2, (11, 11),
                                                                 (1, 1), (0, 0)),
        "spectral backward": lambda: kernels.conv2d_input_and_weight_grad(
            x2, r(4, 5, 9, 8), w2, (1, 1), (1, 1)),
        "dilated phases": lambda: kernels.dilated_input_and_weight_grad(
            x2, r(4, 5, 7, 7), w2[:, :, :3, :3], (1, 1), (0, 0), (2, 2)),
    }


def test_every_result_is_its_own_memory_and_survives_the_next_call(rng):
    for name, call in conv_calls(rng).items():
        call()                                              # sizes the buffer
        first = call()
        results = first if isinstance(first, tuple) else (first,)
        kept = [r.copy() for r in results]
        call()                                              # lends the same bytes again
        for result, copy in zip(results, kept, strict=True):
            assert not lent(result), name
            np.testing.assert_array_equal(result, copy, err_msg=name)


def test_warm_kernels_take_only_their_results_from_the_heap(rng):
    """conv2 of the seed at (16, 32), batch 64: forward and backward, once the buffer holds their
    temporaries, take from numpy's heap (traced by tracemalloc) only what they return, plus
    under 64 kB of small arrays."""
    x = rng.standard_normal((64, 16, 19, 19)).astype(np.float32)
    w = rng.standard_normal((32, 16, 10, 10)).astype(np.float32)
    g = rng.standard_normal((64, 32, 10, 10)).astype(np.float32)
    calls = [lambda: kernels.conv2d_forward(x, w, None, (1, 1), (0, 0)),
             lambda: kernels.conv2d_input_and_weight_grad(x, g, w, (1, 1), (0, 0))]
    tracemalloc.start()
    try:
        for call in calls:
            call()                      # sizes the buffer
            call()                      # which the next outermost frame allocates
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = call()
            taken = tracemalloc.get_traced_memory()[1] - before
            results = result if isinstance(result, tuple) else (result,)
            returned = sum(r.nbytes for r in results)
            assert returned <= taken < returned + (64 << 10)
    finally:
        tracemalloc.stop()
