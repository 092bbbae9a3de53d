"""`Value`: a numpy array that remembers the op and the inputs that made it, so that
`backward()` can walk the graph in reverse and give every node its gradient."""

from __future__ import annotations

import numbers

import numpy as np


class Value:
    """A node of the computation graph: `data` (numpy array, 0-d for a scalar) and its `grad`.

    Parameters
    ----------
    data : number, (nested) list of numbers or numpy.ndarray
        Python numbers and lists become float64; numpy arrays and numpy scalars keep their
        dtype, and an array is used as it is (not copied).
    requires_grad : bool
        Whether backward() should compute d(root)/d(this). True by default, as in micrograd;
        integer and bool data never require grad. Pass False for inputs such as an image
        batch, so that no gradient work is spent on them.
    dtype : numpy dtype, optional
        Convert the data to this dtype.
    name : str, optional
        A label for drawings and error messages.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "fn", "parents", "module")
    __array_ufunc__ = None   # `array * value` calls Value.__rmul__ instead of numpy's ufunc

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad) and self.data.dtype.kind == "f"
        self.grad: np.ndarray | None = None
        self.name = name
        self.fn = None                         # the Function that made this Value (None: a leaf)
        self.parents: tuple[Value, ...] = ()   # that Function's Value inputs, in argument order
        self.module: str | None = None         # dotted name of the nn.Module that made it

    @classmethod
    def _make(cls, data: np.ndarray, fn=None, parents: tuple[Value, ...] = (),
                module: str | None = None) -> Value:
        """An op's output (Function.apply calls this): `data` is already a numeric ndarray, so
        none of __init__'s conversions are needed; it requires grad iff `fn` is recorded."""
        out = cls.__new__(cls)
        out.data, out.grad, out.name = data, None, None
        out.requires_grad = fn is not None
        out.fn, out.parents, out.module = fn, parents, module
        return out

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def item(self) -> float:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: Value has shape {self.shape} ({self.data.size} elements); "
                             f"expected exactly one element; index or reduce it first")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data array itself (not a copy)."""
        return self.data

    def detach(self) -> Value:
        """A new leaf sharing this data, cut off from the graph (requires no grad)."""
        return Value(self.data, requires_grad=False)

    def __repr__(self) -> str:
        parts = [repr(self.name)] if self.name else []
        if self.data.ndim == 0:
            parts.append(f"data={self.data.item():.6g}")
            if self.requires_grad:
                parts.append("grad=None" if self.grad is None else f"grad={self.grad.item():.6g}")
            if self.dtype != np.float64:
                parts.append(f"dtype={self.dtype}")
        else:
            parts += [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.fn is not None:
            parts.append(f"op={self.fn.name}")
        if not self.requires_grad:
            parts.append("requires_grad=False")
        return f"Value({', '.join(parts)})"

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) into `.grad` of every node that requires grad.

        `grad` is the upstream gradient (same shape as self); it may be omitted only for a
        single-element Value. Saved arrays are freed afterwards unless retain_graph=True.
        Leaves get their own writable gradient arrays; an intermediate's `.grad` may share
        memory with its neighbours', so treat those as read-only.
        """
        if not self.requires_grad:
            raise ValueError(
                f"backward: this Value (shape {self.shape}, dtype {self.dtype}) does not require "
                f"grad; expected the result of ops on inputs with requires_grad=True, computed "
                f"outside no_grad()")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: output has shape {self.shape}; an implicit gradient needs a "
                    f"single element; pass grad= (an array of shape {self.shape}) or reduce "
                    f"first, e.g. loss.sum().backward()")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Value) else grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward: grad has shape {grad.shape} but the output has shape "
                             f"{self.shape}; expected equal shapes")

        order = topo_order(self)
        for node in order:              # check first, so a failing call changes no .grad
            if node.fn is not None and node.fn.released:
                raise ValueError(
                    f"backward: the graph through {node.fn.name} was already freed by an "
                    f"earlier backward(); expected a graph with its saved arrays; pass "
                    f"retain_graph=True to the first backward() to call backward() again")

        profiler = function._profiler   # tc.profile() times each backward when active
        pending = {id(self): grad}      # gradients not yet handed to a node, by node id
        for node in reversed(order):
            grad = pending.pop(id(node), None)
            if grad is None:            # every gradient flowing here was None
                continue
            fn = node.fn
            if fn is None:              # a leaf: give it an array of its own
                node.grad = np.array(grad) if node.grad is None else node.grad + grad
                continue
            node.grad = grad if node.grad is None else node.grad + grad
            if profiler is None:
                grads = _input_grads(fn, grad)
            else:
                grads = profiler._timed(fn.name, "backward", _input_grads, fn, grad)
            for parent, parent_grad in zip(fn.inputs, grads, strict=True):
                if parent_grad is None:
                    continue
                key = id(parent)
                pending[key] = parent_grad if key not in pending else pending[key] + parent_grad
            if not retain_graph:
                fn.release()

    # Operator sugar: each operator is an op from tinygrad_cnn.ops. A Python number operand
    # takes the Value's dtype (see Function.apply), so `x * 2` keeps a float32 x float32.
    def __add__(self, other): return elementwise.add(self, other)
    def __radd__(self, other): return elementwise.add(other, self)
    def __sub__(self, other): return elementwise.sub(self, other)
    def __rsub__(self, other): return elementwise.sub(other, self)
    def __mul__(self, other): return elementwise.mul(self, other)
    def __rmul__(self, other): return elementwise.mul(other, self)
    def __truediv__(self, other): return elementwise.div(self, other)
    def __rtruediv__(self, other): return elementwise.div(other, self)
    def __matmul__(self, other): return linalg.matmul(self, other)
    def __rmatmul__(self, other): return linalg.matmul(other, self)
    def __neg__(self): return elementwise.neg(self)
    def __pow__(self, exponent): return elementwise.pow(self, exponent)

    def __rpow__(self, base):
        # base ** x = exp(x ln(base)) for a positive number base
        if isinstance(base, bool) or not isinstance(base, numbers.Real) or not base > 0:
            raise TypeError(f"pow: {base!r:.60} ** Value needs a positive real number as the "
                            f"base; expected e.g. 2 ** x; for other bases write the exp/log form")
        return (self * float(np.log(base))).exp()

    def relu(self): return elementwise.relu(self)
    def tanh(self): return elementwise.tanh(self)
    def sigmoid(self): return elementwise.sigmoid(self)
    def exp(self): return elementwise.exp(self)
    def log(self): return elementwise.log(self)

    def sum(self, axis=None, keepdims=False): return reduce.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return reduce.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return reduce.max(self, axis, keepdims)

    def reshape(self, *shape): return shape_ops.reshape(self, *shape)
    def flatten(self, start_dim=0): return shape_ops.flatten(self, start_dim)
    def transpose(self, *axes): return shape_ops.transpose(self, *axes)


def topo_order(root: Value) -> list[Value]:
    """Every node feeding root, each after its parents; iterative, so deep graphs never recurse.

    Nodes that do not require grad are left out: no gradient flows into them. The order
    depends only on the graph (first arguments first), never on memory addresses.
    """
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node is None:                # the marker pushed above a node: its parents are done
            order.append(stack.pop())
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append(node)
            stack.append(None)
            for parent in reversed(node.parents):     # first arguments come out first
                if parent.requires_grad and id(parent) not in seen:
                    stack.append(parent)
    return order


def _input_grads(fn, grad: np.ndarray) -> list:
    """fn.backward(grad) as one ndarray (or None) per input, each of its input's shape and dtype."""
    grads = fn.backward(grad)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != len(fn.inputs):
        raise ValueError(f"{fn.name}.backward: returned {len(grads)} gradients for "
                         f"{len(fn.inputs)} inputs; expected one per input (None where an "
                         f"input needs none)")
    checked = []
    for value, g in zip(fn.inputs, grads, strict=True):
        if g is None or value is None or not value.requires_grad:
            checked.append(None)
            continue
        data = value.data
        if type(g) is not np.ndarray or g.dtype is not data.dtype:   # 0-d results are scalars
            g = np.asarray(g, dtype=data.dtype)
        if g.shape != data.shape:
            raise ValueError(
                f"{fn.name}.backward: returned a gradient of shape {g.shape} for input "
                f"{fn.inputs.index(value)} of shape {data.shape}; expected equal shapes (sum "
                f"over broadcast axes)")
        checked.append(g)
    return checked


def _to_array(data, dtype) -> np.ndarray:
    """data as a numeric ndarray: numpy data keeps its dtype, Python numbers/lists -> float64."""
    if isinstance(data, Value):
        raise TypeError("Value: data is already a Value; expected a number, a list or a numpy "
                        "array; use x.detach() for a new leaf sharing its data")
    try:
        array = np.asarray(data)
    except ValueError as error:        # e.g. ragged nested lists
        raise TypeError(f"Value: cannot make a numeric array from {type(data).__name__} "
                        f"{data!r:.60}; expected a number, a (nested) list of numbers of "
                        f"equal lengths or a numpy array") from error
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Value: data {data!r:.60} has non-numeric dtype {array.dtype}; expected "
                        f"bool, integer or floating-point numbers")
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        dtype = np.float64             # Python numbers and lists
    if dtype is not None:
        array = array.astype(dtype, copy=False)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Value: dtype={array.dtype} is not numeric; expected a bool, "
                            f"integer or floating-point dtype such as np.float32")
    return array


# The ops and function.py import Value, so they are imported after it exists.
from tinygrad_cnn import function  # noqa: E402
from tinygrad_cnn.ops import elementwise, linalg, reduce  # noqa: E402
from tinygrad_cnn.ops import shape as shape_ops  # noqa: E402
