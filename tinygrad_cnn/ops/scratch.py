"""Scratch memory for the convolution kernels: their temporaries, lent from one buffer per
thread that stays from call to call, instead of fresh arrays from the heap.

Why: glibc gives memory freed at the top of the heap back to the system once more than its trim
threshold lies free there, and the next call faults the same pages in again, each zeroed by the
kernel. On the Intel Xeon VM of 2026-12-06 conv2's backward at (16, 32) faulted in 1,468 pages a
call this way, 3.7 ms of its 12 ms.

How: `with frame():` marks the buffer's top; inside it `empty(shape, dtype)` lends the next
bytes above the mark; leaving the frame takes all of them back at once, so frames nest as the
calls do. An array lent here lives only as long as its frame: a kernel never returns one, nor
a view of one. What does not fit comes from the heap as usual; the next outermost frame then
starts with a buffer as large as the most any frame took (at most LIMIT bytes: a batch so large
that its temporaries pass it, an evaluation set at once, takes fresh arrays).
"""

from __future__ import annotations

import math
import threading

import numpy as np

LIMIT = 16 << 20            # bytes kept per thread, at most
_ALIGN = 64                 # each array starts on a cache line


class _Stack(threading.local):
    """One thread's buffer: `top` is the offset of its next free byte (past the end once arrays
    no longer fit), `marks` the tops at which the open frames began, `wanted` the highest top
    any frame reached."""

    def __init__(self) -> None:
        self.buffer = np.empty(0, dtype=np.uint8)
        self.base = self.buffer.ctypes.data
        self.top = 0
        self.marks: list[int] = []
        self.wanted = 0


_stack = _Stack()


class _Frame:
    """`with frame():` lends from the buffer inside the block and takes everything lent in it
    back on exit."""

    def __enter__(self) -> None:
        stack = _stack
        if not stack.marks and stack.buffer.size < min(stack.wanted, LIMIT):
            stack.buffer = np.empty(min(stack.wanted, LIMIT) + _ALIGN, dtype=np.uint8)
            stack.base = stack.buffer.ctypes.data
        stack.marks.append(stack.top)

    def __exit__(self, *exc_info) -> None:
        _stack.top = _stack.marks.pop()


_FRAME = _Frame()


def frame() -> _Frame:
    """A frame of the buffer: `with frame(): ...` (frames nest, as the calls do)."""
    return _FRAME


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array, lent from the buffer when it fits (inside a frame only)."""
    stack, dtype = _stack, np.dtype(dtype)
    if not stack.marks:
        return np.empty(shape, dtype=dtype)
    # the next free byte whose address is a multiple of _ALIGN
    start = stack.top + (-(stack.base + stack.top) % _ALIGN)
    end = start + math.prod(shape) * dtype.itemsize
    stack.top = end
    if end > stack.wanted:
        stack.wanted = end
    if end > stack.buffer.size:
        return np.empty(shape, dtype=dtype)
    return stack.buffer[start:end].view(dtype).reshape(shape)


def zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """empty(), filled with zeros."""
    array = empty(shape, dtype)
    array.fill(0)
    return array
