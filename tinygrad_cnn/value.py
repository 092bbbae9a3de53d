"""`Value`: a numpy array that remembers the op and the inputs that made it, so that
`backward()` can walk the graph in reverse and give every node its gradient."""

from __future__ import annotations

import numbers

import numpy as np


class Value:
    """A node of the computation graph: `data` (numpy array, 0-d for a scalar) and its `grad`.

    Parameters
    ----------
    data : number, sequence or numpy.ndarray
        Python numbers and lists become float64; numpy arrays keep their dtype.
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
    __array_priority__ = 1000   # numpy array (op) Value defers to Value's reflected operator

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad) and self.data.dtype.kind == "f"
        self.grad: np.ndarray | None = None
        self.name = name
        self.fn = None           # the Function that made this Value (None for a leaf)
        self.parents: tuple[Value, ...] = ()   # that Function's Value inputs, in argument order
        self.module: str | None = None         # dotted name of the nn.Module that made it

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
                             f"expected exactly one element")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data array itself (not a copy)."""
        return self.data

    def detach(self) -> Value:
        """A new leaf sharing this data, cut off from the graph (requires no grad)."""
        return Value(self.data, requires_grad=False)

    def __repr__(self) -> str:
        origin = f", op={self.fn.name}" if self.fn is not None else ""
        label = f"{self.name!r}, " if self.name else ""
        if self.data.ndim == 0:
            grad = "None" if self.grad is None else f"{self.grad.item():.6g}"
            return f"Value({label}data={self.data.item():.6g}, grad={grad}{origin})"
        flag = "" if self.requires_grad else ", requires_grad=False"
        return f"Value({label}shape={self.shape}, dtype={self.dtype}{origin}{flag})"

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) into `.grad` of every node that requires grad.

        `grad` is the upstream gradient (same shape as self); it may be omitted only for a
        single-element Value. Saved arrays are freed afterwards unless retain_graph=True.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this Value does not require grad (no input of the graph "
                               "has requires_grad=True, or it was built under no_grad)")
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

        pending = {id(self): grad}      # gradients not yet handed to a node, by node id
        for node in reversed(topo_order(self)):
            grad = pending.pop(id(node), None)
            if grad is None:
                continue
            node.grad = grad if node.grad is None else node.grad + grad
            fn = node.fn
            if fn is None:
                continue
            if fn.released:
                raise RuntimeError(
                    f"backward: the graph through {fn.name} was already freed by an earlier "
                    f"backward(); pass retain_graph=True to the first backward() to call it again")
            input_grads = fn.backward(grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if len(input_grads) != len(fn.inputs):
                raise RuntimeError(f"{fn.name}.backward returned {len(input_grads)} gradients "
                                   f"for {len(fn.inputs)} inputs; expected one per input")
            for parent, parent_grad in zip(fn.inputs, input_grads):
                if parent is None or not parent.requires_grad or parent_grad is None:
                    continue
                parent_grad = np.asarray(parent_grad, dtype=parent.dtype)
                if parent_grad.shape != parent.shape:
                    raise RuntimeError(
                        f"{fn.name}.backward returned a gradient of shape {parent_grad.shape} "
                        f"for an input of shape {parent.shape}; expected equal shapes")
                key = id(parent)
                pending[key] = parent_grad if key not in pending else pending[key] + parent_grad
            if not retain_graph:
                fn.release()

    # Operator sugar: each operator is an op from tinygrad_cnn.ops.
    def _lift(self, other) -> Value:
        """A Python number takes this Value's dtype, so `x * 2` never changes x's dtype."""
        if isinstance(other, Value):
            return other
        if isinstance(other, numbers.Number) and self.dtype.kind == "f":
            return Value(np.asarray(other, dtype=self.dtype), requires_grad=False)
        return Value(other, requires_grad=False)

    def __add__(self, other): return elementwise.add(self, self._lift(other))
    def __radd__(self, other): return elementwise.add(self._lift(other), self)
    def __sub__(self, other): return elementwise.sub(self, self._lift(other))
    def __rsub__(self, other): return elementwise.sub(self._lift(other), self)
    def __mul__(self, other): return elementwise.mul(self, self._lift(other))
    def __rmul__(self, other): return elementwise.mul(self._lift(other), self)
    def __truediv__(self, other): return elementwise.div(self, self._lift(other))
    def __rtruediv__(self, other): return elementwise.div(self._lift(other), self)
    def __matmul__(self, other): return linalg.matmul(self, self._lift(other))
    def __rmatmul__(self, other): return linalg.matmul(self._lift(other), self)
    def __neg__(self): return elementwise.neg(self)

    def __pow__(self, exponent):
        return elementwise.pow(self, exponent)

    def __rpow__(self, base):
        # base ** x = exp(x * log(base)) for a positive number base
        if not isinstance(base, numbers.Real) or base <= 0:
            raise TypeError(f"pow: {base!r} ** Value needs a positive real base; got {base!r}")
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

    Nodes that do not require grad are left out: no gradient flows into them.
    """
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if p.requires_grad)
    return order


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Value):
        raise TypeError("Value: data is already a Value; use x.detach() for a new leaf "
                        "sharing its data")
    if isinstance(data, np.ndarray):
        array = data if dtype is None else data.astype(dtype, copy=False)
    elif isinstance(data, np.generic):
        array = np.asarray(data, dtype=dtype)
    else:
        try:
            array = np.asarray(data, dtype=np.float64 if dtype is None else dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(f"Value: cannot make a numeric array from {type(data).__name__} "
                            f"{data!r:.60}; expected a number, a (nested) list of numbers or "
                            f"a numpy array") from error
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Value: data has non-numeric dtype {array.dtype}; expected bool, "
                        f"integer or floating-point numbers")
    return array


# The ops import Value, so they are imported after it exists.
from tinygrad_cnn.ops import elementwise, linalg, reduce  # noqa: E402
from tinygrad_cnn.ops import shape as shape_ops  # noqa: E402
