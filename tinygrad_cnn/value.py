"""`Value`: a numpy array that remembers the op and the inputs that made it, so that
`backward()` can walk the graph in reverse and give every node its gradient."""

from __future__ import annotations

import numpy as np


class Value:
    """A node of the computation graph: `data` (numpy array, 0-d for a scalar) and its `grad`.

    Parameters
    ----------
    data : number, (nested) list of numbers or numpy.ndarray
        Python numbers and lists become float64; numpy arrays and numpy scalars keep their
        dtype, and an array is used as it is (not copied). Backward reads the inputs' data
        when it runs, so change no input's data between a forward pass and its backward.
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
        return self._one_element("item")

    def tolist(self):
        """The data as nested Python lists of numbers (a number for a 0-d Value)."""
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        """The data array itself (not a copy)."""
        return self.data

    def detach(self) -> Value:
        """A new leaf sharing this data, cut off from the graph (requires no grad)."""
        return Value(self.data, requires_grad=False)

    def __repr__(self) -> str:
        parts = [repr(self.name)] if self.name else []
        if self.data.ndim == 0:
            parts.append(f"data={_number(self.data)}")
            if self.requires_grad:      # np.asarray: a .grad set by hand may be a number
                parts.append("grad=None" if self.grad is None
                             else f"grad={_number(np.asarray(self.grad))}")
            if self.dtype != np.float64:
                parts.append(f"dtype={self.dtype}")
        else:                          # the data as numpy prints it, abbreviated when large
            data = np.array2string(self.data, precision=4, floatmode="maxprec_equal",
                                   separator=", ", threshold=20, edgeitems=2,
                                   prefix="Value(data=")
            parts += [f"data={data}", f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.fn is not None:
            parts.append(f"op={self.fn.name}")
        if not self.requires_grad:
            parts.append("requires_grad=False")
        return f"Value({', '.join(parts)})"

    # Python's protocols, as PyTorch: numbers from one-element Values only; comparisons give
    # numpy bool arrays (no graph). == and != are not overloaded: they stay identity, so a
    # Value can be a dict key or a set member, as the engine and graph drawing need.
    def _one_element(self, caller: str):
        """The single element as a Python number, or a ValueError naming `caller`."""
        if self.data.size != 1:
            raise ValueError(f"{caller}: Value has shape {self.shape} ({self.data.size} "
                             f"elements); expected exactly one element; index or reduce it "
                             f"first (for a condition over all elements: (x > 0).all() or "
                             f".any())")
        return self.data.item()

    def __float__(self) -> float: return float(self._one_element("float()"))
    def __int__(self) -> int: return int(self._one_element("int()"))
    def __bool__(self) -> bool: return bool(self._one_element("bool()"))

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Value; expected at least one dimension")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __contains__(self, item) -> bool:
        """`item in x`: whether some element equals item, as numpy's and PyTorch's `in` (which
        would otherwise test the elements against item by ==, identity for a Value)."""
        return bool((self.data == data_of(item)).any())

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(value) is value.data (converted when a dtype is asked for); np.array(value)
        is a copy, as numpy's copy= asks. Refused for a Value that requires grad (outside
        no_grad), as PyTorch refuses it: numpy asks for the array of a Value that it does not
        hand to __array_function__ -- one inside a list, np.mean([loss1, loss2]), or one written
        into an array, a[0] = loss -- and the array made would silently drop its gradient."""
        if self.requires_grad and function.is_grad_enabled():
            raise TypeError(
                f"numpy asked for the array of a Value that requires grad (shape {self.shape}), "
                f"which would cut it from the graph and silently lose its gradient (numpy does "
                f"so for Values inside a list, np.mean([a, b]), or written into an array, "
                f"arr[i] = x); to join Values in the graph use tc.ops.stack([a, b]) (then "
                f".mean()); for a constant pass x.data or x.detach()")
        return array_protocol("Value", self.data, dtype, copy)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.exp(x), `array * x`: the op of that ufunc, a Value (see numpy_protocol.py)."""
        from tinygrad_cnn.numpy_protocol import array_ufunc  # it needs every op imported
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, function, types, args, kwargs):
        """np.sum(x), np.concatenate([x, y]): the op of that function (see numpy_protocol.py)."""
        from tinygrad_cnn.numpy_protocol import array_function
        return array_function(function, args, kwargs)

    def __lt__(self, other) -> np.ndarray: return self.data < data_of(other)
    def __le__(self, other) -> np.ndarray: return self.data <= data_of(other)
    def __gt__(self, other) -> np.ndarray: return self.data > data_of(other)
    def __ge__(self, other) -> np.ndarray: return self.data >= data_of(other)

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) into `.grad` of every node that requires grad.

        `grad` is the upstream gradient (same shape as self); it may be omitted only for a
        single-element Value. Saved arrays are freed afterwards unless retain_graph=True.
        Every node gets a gradient array of its own: no two `.grad`s share memory.
        """
        function.backward(self, grad, retain_graph)

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
    # % and // as numpy arrays': remainder (the sign of the divisor, Python's) and floor_divide,
    # whose gradient is 0 (piecewise constant); divmod(x, y) gives both
    def __mod__(self, other): return elementwise.remainder(self, other)
    def __rmod__(self, other): return elementwise.remainder(other, self)
    def __floordiv__(self, other): return elementwise.floor_divide(self, other)
    def __rfloordiv__(self, other): return elementwise.floor_divide(other, self)
    def __divmod__(self, other): return self // other, self % other
    def __rdivmod__(self, other): return other // self, other % self
    def __matmul__(self, other): return linalg.matmul(self, other)
    def __rmatmul__(self, other): return linalg.matmul(other, self)
    def __neg__(self): return elementwise.neg(self)
    def __pos__(self): return self           # +x is x, as PyTorch's (numpy's copies)
    def __abs__(self): return elementwise.abs(self)
    def __pow__(self, exponent): return elementwise.pow(self, exponent)

    def __rpow__(self, base): return elementwise.pow(base, self)

    def __getitem__(self, index): return indexing.getitem(self, index)

    def __setitem__(self, index, value):
        raise TypeError("Value does not support item assignment (x[index] = v): a Value is a "
                        "node of the graph, and changing it in place would change what earlier "
                        "ops computed from it; expected a new Value instead, e.g. "
                        "x = ops.where(mask, v, x) with a bool mask of x's shape; to change a "
                        "leaf's numbers outside the graph, write x.data[index] = v")

    @property
    def T(self) -> Value:
        """All axes reversed, as transpose() with no axes."""
        return shape_ops.transpose(self)

    @property
    def mT(self) -> Value:
        """The last two axes swapped: each matrix of a stack transposed (numpy's ndarray.mT)."""
        if self.ndim < 2:
            raise ValueError(f"mT: the Value has shape {self.shape}; expected at least 2 axes "
                             f"(a matrix or a stack of them); for all axes reversed use .T")
        return linalg.matrix_transpose(self)

    def relu(self): return elementwise.relu(self)
    def tanh(self): return elementwise.tanh(self)
    def sigmoid(self): return elementwise.sigmoid(self)
    def erf(self): return elementwise.erf(self)
    def exp(self): return elementwise.exp(self)
    def log(self): return elementwise.log(self)
    def log1p(self): return elementwise.log1p(self)
    def expm1(self): return elementwise.expm1(self)
    def sin(self): return elementwise.sin(self)
    def cos(self): return elementwise.cos(self)
    def arcsin(self): return elementwise.arcsin(self)
    def arccos(self): return elementwise.arccos(self)
    def arctan(self): return elementwise.arctan(self)
    def tan(self): return elementwise.tan(self)
    def sinh(self): return elementwise.sinh(self)
    def cosh(self): return elementwise.cosh(self)
    def arcsinh(self): return elementwise.arcsinh(self)
    def arccosh(self): return elementwise.arccosh(self)
    def arctanh(self): return elementwise.arctanh(self)
    def abs(self): return elementwise.abs(self)
    def sqrt(self): return elementwise.sqrt(self)
    def square(self): return elementwise.square(self)
    def astype(self, dtype): return elementwise.astype(self, dtype)
    def clip(self, min=None, max=None): return elementwise.clip(self, min, max)  # noqa: A002
    # numpy's ndarray.round(decimals); no __round__, as numpy's arrays have none
    def round(self, decimals=0): return elementwise.round(self, decimals)

    def sum(self, axis=None, keepdims=False): return reduce.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return reduce.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return reduce.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return reduce.min(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return reduce.var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return reduce.std(self, axis, keepdims, ddof)
    def prod(self, axis=None, keepdims=False): return reduce.prod(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return reduce.logsumexp(self, axis, keepdims)
    def cumsum(self, axis=None): return reduce.cumsum(self, axis)
    def cumprod(self, axis=None): return reduce.cumprod(self, axis)
    def norm(self, ord=2, axis=None, keepdims=False): return reduce.norm(self, ord, axis, keepdims)
    def argmax(self, axis=None) -> np.ndarray: return reduce.argmax(self, axis)
    def argmin(self, axis=None) -> np.ndarray: return reduce.argmin(self, axis)
    def argsort(self, axis=-1) -> np.ndarray: return rearrange.argsort(self, axis)
    def dot(self, other): return linalg.dot(self, other)

    def reshape(self, *shape): return shape_ops.reshape(self, *shape)
    def flatten(self, start_dim=0): return shape_ops.flatten(self, start_dim)
    def ravel(self): return shape_ops.reshape(self, -1)
    def transpose(self, *axes): return shape_ops.transpose(self, *axes)
    def repeat(self, repeats, axis=None): return rearrange.repeat(self, repeats, axis)
    def squeeze(self, axis=None): return rearrange.squeeze(self, axis)
    def swapaxes(self, axis1, axis2): return rearrange.swapaxes(self, axis1, axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return rearrange.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1):
        return rearrange.trace(self, offset, axis1, axis2)


def data_of(x):
    """A Value's data; anything else (an array, a number, None) as it is."""
    return x.data if isinstance(x, Value) else x


def as_value(x) -> Value:
    """x as a Value: a Value itself, anything else (an array, a number) a constant."""
    return x if isinstance(x, Value) else Value(np.asarray(x), requires_grad=False)


def _number(x: np.ndarray) -> str:
    """A one-element array's number as repr shows it: 6 significant digits for a float, the
    exact value otherwise (12345678, True)."""
    return f"{x.item():.6g}" if x.dtype.kind == "f" else str(x.item())


def array_protocol(holder: str, data: np.ndarray, dtype, copy) -> np.ndarray:
    """numpy's __array__ for an object holding `data` (a Value, an nn Buffer): data itself when
    nothing else is asked for, converted when a dtype is, a copy when copy=True; with
    copy=False a needed conversion is an error, as numpy asks."""
    if copy:
        return np.array(data, dtype=dtype, copy=True)
    if copy is False and dtype is not None and np.dtype(dtype) != data.dtype:
        raise ValueError(f"np.asarray({holder}, dtype={np.dtype(dtype)}, copy=False): the "
                         f"{holder}'s dtype is {data.dtype}, so converting needs a copy; "
                         f"expected copy=None or True")
    return data if dtype is None else data.astype(dtype, copy=False)


def _holds_a_value(items: list | tuple) -> bool:
    """Whether a (nested) list holds a Value anywhere."""
    return any(isinstance(item, Value) or (isinstance(item, (list, tuple)) and _holds_a_value(item))
               for item in items)


def _to_array(data, dtype) -> np.ndarray:
    """data as a numeric ndarray: numpy data keeps its dtype, Python numbers/lists -> float64."""
    if isinstance(data, Value):
        raise TypeError("Value: data is already a Value; expected a number, a list or a numpy "
                        "array; use x.detach() for a new leaf sharing its data")
    # a tuple that says how it becomes an array is left to numpy: nn.utils.rnn.PackedSequence, a
    # named tuple holding a Value, refuses there with a message saying how to unpack it
    if (isinstance(data, (list, tuple)) and not hasattr(data, "__array__")
            and _holds_a_value(data)):
        raise TypeError("Value: data is a list holding Values, which would be cut from their "
                        "graph; expected numbers; to join Values in the graph use "
                        "tc.ops.stack(values)")
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


# function.py and the ops import Value, so they are imported after it exists: importing any
# module of the package first then works.
from tinygrad_cnn import function  # noqa: E402
from tinygrad_cnn.function import topo_order  # noqa: E402, F401  (kept importable from here)
from tinygrad_cnn.ops import elementwise, indexing, linalg, rearrange, reduce  # noqa: E402
from tinygrad_cnn.ops import shape as shape_ops  # noqa: E402
