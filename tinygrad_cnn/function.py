"""`Function`, the base class of every op; the grad mode (`no_grad`); and the engine: the one
reverse-mode traversal behind `Value.backward()` and `grad()`."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping

import numpy as np

_grad_enabled = True
_module_scope: list[str] = []
_profiler = None          # the active tinygrad_cnn.profiler.profile, set only by it; None: off


class _NoParams(Mapping):
    """The params of every op applied without keyword params: one shared, read-only, empty
    mapping (a million ops, no dicts), which copy and pickle keep as that one object."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self) -> Iterator:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __reduce__(self) -> str:
        return "_NO_PARAMS"             # the module's global of that name


_NO_PARAMS = _NoParams()


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


class no_grad:
    """Build no graph inside the block or the decorated function: results never require grad.

    `with tc.no_grad(): ...` or `@tc.no_grad()` (or `@tc.no_grad`, as PyTorch allows) above a
    function; the previous mode comes back on exit, also when the block raises. The mode
    belongs to the whole process: while one thread is inside no_grad, ops that other threads
    run record no graph either.
    """

    def __new__(cls, func: Callable | None = None):
        if func is not None:            # @tc.no_grad without parentheses: decorate func
            return cls()(func)
        return super().__new__(cls)

    def __init__(self) -> None:
        self._previous: list[bool] = []   # a stack, so one instance may be entered re-entrantly

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        if inspect.isgeneratorfunction(func):
            # its body runs only as the caller iterates, after the decorator has exited
            raise TypeError(f"no_grad cannot decorate the generator function {func.__name__}: "
                            f"its body runs later, step by step, outside the decorator; "
                            f"expected a plain function; put `with tc.no_grad():` inside the "
                            f"generator's body instead")

        @functools.wraps(func)
        def without_grad(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)
        return without_grad


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    """Set the grad mode for the block (the engine records a rule's ops only under create_graph)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


class ModuleCall(str):
    """A module's dotted name as stamped on the Values that one call of it makes: equal to the
    name, but each call's is an object of its own, so a drawing can tell two calls apart even
    when one feeds the other directly (self.f(self.f(x)))."""


@contextlib.contextmanager
def module_scope(name: str) -> Iterator[None]:
    """Stamp every Value made inside the block with the dotted module name (for drawing), as a
    ModuleCall of this block's own."""
    _module_scope.append(ModuleCall(name))
    try:
        yield
    finally:
        _module_scope.pop()


def current_module() -> str | None:
    """The dotted name of the innermost module being called, or None outside every module."""
    return _module_scope[-1] if _module_scope else None


class Function:
    """One op: `forward` maps numpy arrays to a numpy array, `backward` maps the gradient of the
    output to one gradient per input (None where an input needs none).

    A rule is written once and serves every order of derivative: inside `backward`,
    `self.saved()` gives forward's inputs and output -- numpy arrays in an ordinary backward,
    Values under `grad(..., create_graph=True)`, when the rule itself is recorded -- and
    `grad` is likewise an array or a Value. So a rule computes with operators (`+ * @ ...`),
    methods that arrays and Values share (`.sum`, `.reshape`, `.T`) and other ops through
    `Op.run(...)`. Forward keeps on `self` only constants (shapes, axes, bool masks, integer
    indices): a float array kept there carries no graph, and the engine refuses to
    differentiate such a rule again.

    `self.needs_input_grad[i]` tells whether input i requires a gradient (all False under
    no_grad), so backward can skip work nobody will use. Users call
    `MyOp.apply(*inputs, **params)`: inputs may be Values, numpy arrays, numbers or None;
    keyword params are passed to forward unchanged and kept on `self.params` (drawings show
    them).
    """

    # What the graph needs after backward lives in slots, set by apply (inputs and released
    # only on a recorded node); what forward keeps on self goes to the instance's __dict__, so
    # release() drops it all at once without making a new object per op.
    __slots__ = ("needs_input_grad", "params", "inputs", "released", "__dict__")
    _output: Value | None = None    # set by the engine while backward runs
    _create_graph = False

    def forward(self, *arrays, **params) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, *arrays)")

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} must define backward(self, grad)")

    @classmethod
    def apply(cls, *inputs, **params) -> Value:
        """Run forward on the inputs' data; record the node when some input requires grad."""
        values = _as_values(inputs)
        arrays, requires_grad, parents = [], [], []     # one pass over the inputs
        for v in values:
            if v is None:
                arrays.append(None)
                requires_grad.append(False)
            else:
                arrays.append(v.data)
                requires_grad.append(v.requires_grad)
                parents.append(v)
        fn = cls()
        fn.needs_input_grad = _needs_input_grad(requires_grad)
        if params:
            _check_params(cls, params)
        fn.params = params or _NO_PARAMS     # one shared empty mapping: a million ops, no dicts
        if _profiler is None:
            data = fn.forward(*arrays, **params)
        else:
            data = _profiler._timed(fn.name, "forward", fn.forward, *arrays, **params)
        if type(data) is not np.ndarray:      # numpy returns 0-d results as numpy scalars
            data = np.asarray(data) if isinstance(data, np.generic) else _forward_result(fn, data)
        module = _module_scope[-1] if _module_scope else None
        if True not in fn.needs_input_grad or data.dtype.kind != "f":
            if data.dtype.kind not in "biuf":
                _forward_result(fn, data)                    # raises: not a numeric array
            return Value._make(data, module=module)         # a constant: no node recorded
        fn.inputs, fn.released = values, False
        parents = values if len(parents) == len(values) else tuple(parents)  # no None: one tuple
        return Value._make(data, fn, parents, module)

    @classmethod
    def run(cls, *inputs, **params):
        """The op as a step of a backward rule: on Values it is applied and recorded (so the
        rule can be differentiated again); on plain arrays only its forward runs and an array
        comes back -- the ordinary backward's fast path."""
        for x in inputs:
            if isinstance(x, Value):
                return cls.apply(*inputs, **params)
        fn = cls()
        fn.needs_input_grad = (False,) * len(inputs)
        fn.params = params or _NO_PARAMS
        return fn.forward(*inputs, **params)

    def saved(self) -> tuple:
        """Forward's inputs (in argument order, None for a None input) and then its output:
        numpy arrays in an ordinary backward, Values under create_graph=True."""
        output = self._output
        if output is None:
            raise RuntimeError(f"{self.name}.saved(): only available while backward runs; "
                               f"expected a call from inside {self.name}.backward")
        if self._create_graph:
            return (*self.inputs, output)
        return (*[None if v is None else v.data for v in self.inputs], output.data)

    def release(self) -> None:
        """Drop what forward saved, so a finished backward frees its memory."""
        del self.__dict__       # what forward kept on self; the slots above stay
        self.released = True

    @property
    def name(self) -> str:
        """The op's name as drawn and profiled, e.g. 'Conv2d'."""
        return type(self).__name__


def _check_params(cls: type, params: dict) -> None:
    """A keyword param is a constant: a Value there would silently get no gradient."""
    for key, value in params.items():
        if isinstance(value, Value):
            raise TypeError(f"{cls.__name__}.apply: keyword {key}= is a Value; expected inputs "
                            f"positionally, as {cls.__name__}.apply(x, {key}): keyword params "
                            f"are constants and get no gradient (pass {key}.data for a "
                            f"constant)")


_NEEDS_INPUT_GRAD: dict[tuple[bool, ...], tuple[bool, ...]] = {}


def _needs_input_grad(requires_grad: list[bool]) -> tuple[bool, ...]:
    """Which inputs need a gradient (none under no_grad), as one shared tuple per pattern: a
    graph of a million ops then holds no million tuples for the garbage collector to walk."""
    needs = tuple(requires_grad) if _grad_enabled else (False,) * len(requires_grad)
    return _NEEDS_INPUT_GRAD.setdefault(needs, needs)


def _forward_result(fn: Function, data) -> np.ndarray:
    """forward's result as a numeric ndarray, or an error naming the op and the mistake."""
    if data is None:
        raise TypeError(f"{fn.name}.forward returned None; expected a numpy array (did forward "
                        f"forget its `return`?)")
    if isinstance(data, Value):
        raise TypeError(f"{fn.name}.forward returned a Value; expected a numpy array: forward "
                        f"receives and returns plain arrays (use .data inside forward)")
    if isinstance(data, (tuple, list)):     # np.asarray would stack them into one array
        raise TypeError(f"{fn.name}.forward returned a {type(data).__name__} of "
                        f"{len(data)}; expected one numpy array: an op has one output (no cache "
                        f"to return: backward gets forward's inputs and output from "
                        f"self.saved(); for several outputs write one op per output)")
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{fn.name}.forward returned {type(data).__name__} of dtype "
                        f"{array.dtype}; expected a numeric numpy array")
    return array


_NUMBERS = (int, float, complex, np.number)    # Python and numpy scalars (bool is an int)


def _as_values(inputs: tuple) -> tuple[Value | None, ...]:
    """Values and None pass through; arrays and numbers become constants (no gradient work)."""
    for x in inputs:
        if x is not None and not isinstance(x, Value):
            break
    else:
        return inputs                   # the common case: nothing to convert
    values = [x if x is None or isinstance(x, (Value, *_NUMBERS)) else
              Value(x, requires_grad=False) for x in inputs]
    dtypes = tuple([v.dtype for v in values if isinstance(v, Value)])
    return tuple([_constant(v, dtypes) if isinstance(v, _NUMBERS) else v for v in values])


def _constant(number, dtypes: tuple[np.dtype, ...]) -> Value:
    """A number as a constant of the dtype numpy gives a Python number next to arrays of
    `dtypes`, so `x32 * 2.0` stays float32: a number never changes a Value's dtype. Numbers
    alone become float64, as Value(number) does."""
    number = number.item() if isinstance(number, np.number) else number
    dtype = _number_dtype(dtypes, type(number))
    if dtype.kind not in "biuf":
        raise TypeError(f"Value: number {number!r} gives dtype {dtype}; expected a real number")
    return Value._make(np.asarray(number, dtype=dtype))


@functools.lru_cache(maxsize=256)
def _number_dtype(dtypes: tuple[np.dtype, ...], number_type: type) -> np.dtype:
    """numpy's result dtype for a Python number of `number_type` next to arrays of `dtypes`."""
    return np.result_type(*dtypes, number_type(0)) if dtypes else np.dtype(np.float64)


# ---- the engine: one reverse-mode traversal for backward() and grad() ----

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
        elif node not in seen:          # a Value hashes by identity (== is not overloaded)
            seen.add(node)
            stack.append(node)
            stack.append(None)
            for parent in reversed(node.parents):     # first arguments come out first
                if parent.requires_grad and parent not in seen:
                    stack.append(parent)
    return order


def backward(root: Value, grad, retain_graph: bool) -> None:
    """Accumulate d(root)/d(node) into `.grad` of every node of root's graph (Value.backward)."""
    order = _checked_order(root, "backward")
    _refuse_freed(order, None, "backward")
    _propagate(order, _root_grad(root, grad, "backward", create_graph=False),
               create_graph=False, retain_graph=retain_graph)


def grad(output: Value, inputs, grad_output=None, create_graph: bool = False,
         retain_graph: bool | None = None) -> list[Value]:
    """d(output)/d(input) for each input, as Values, without touching any `.grad`.

    Parameters
    ----------
    output : Value
        What to differentiate; a single element unless `grad_output` is given.
    inputs : Value or sequence of Values
        Leaves or intermediates of output's graph. One that output does not depend on gets a
        zero gradient.
    grad_output : array or Value, optional
        The upstream gradient (output's shape). A Value that requires grad is itself
        differentiated too under create_graph.
    create_graph : bool
        Record the gradient computation, so the results can be differentiated again (to any
        order). False: the results are constants, computed on the fast path of backward().
    retain_graph : bool, optional
        Keep the graph for another backward pass; defaults to create_graph.

    Returns
    -------
    list of Value, one per input, each of its input's shape.
    """
    inputs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad: input {i} is a {type(x).__name__}; expected Values of "
                            f"output's graph")
        if not x.requires_grad:         # no gradient flows into it: zeros would be a lie
            raise ValueError(
                f"grad: input {i} (shape {x.shape}, dtype {x.dtype}) does not require grad, so "
                f"no gradient reaches it; expected Values with requires_grad=True; make it "
                f"with tc.Value(data) (requires_grad=True is the default) before computing "
                f"output from it, outside no_grad()")
    retain_graph = create_graph if retain_graph is None else retain_graph
    wanted = set(inputs)
    order = _on_paths_to(wanted, _checked_order(output, "grad"))
    needed = set(order)
    _refuse_freed(order, needed, "grad")
    found = {}
    if order:
        found = _propagate(order, _root_grad(output, grad_output, "grad", create_graph),
                           create_graph=create_graph, retain_graph=retain_graph, wanted=wanted,
                           needed=needed)
    results = []
    for x in inputs:
        g = found.get(x)
        if g is None:
            g = np.zeros_like(x.data)
        results.append(g if isinstance(g, Value) else Value._make(np.array(g, dtype=x.dtype)))
    return results


def _checked_order(root: Value, caller: str) -> list[Value]:
    """root's topological order, after checking that root has a graph to walk."""
    if not isinstance(root, Value):
        raise TypeError(f"{caller}: output is a {type(root).__name__}; expected a Value")
    if not root.requires_grad:
        raise ValueError(
            f"{caller}: this Value (shape {root.shape}, dtype {root.dtype}) does not require "
            f"grad; expected the result of ops on inputs with requires_grad=True, computed "
            f"outside no_grad(). A gradient from tc.grad(..., create_graph=True) is itself such "
            f"a constant where it does not depend on the inputs (relu's and max_pool2d's are "
            f"piecewise constant, say), and then its own derivative is 0")
    return topo_order(root)


def _refuse_freed(order: list[Value], needed: set[Value] | None, caller: str) -> None:
    """Check, before any rule runs, that no node of `order` whose rule will run (_runs_rule) was
    freed by an earlier backward pass (so a refused pass neither accumulates nor frees
    anything)."""
    for node in order:
        fn = node.fn
        if fn is not None and fn.released and _runs_rule(fn, needed):    # released: rarely
            raise ValueError(
                f"{caller}: the graph through {fn.name} was already freed by an earlier "
                f"backward pass; expected a graph with its saved arrays; pass "
                f"retain_graph=True to the first backward() or tc.grad() to walk the graph "
                f"again")


def _runs_rule(fn: Function | None, needed: set[Value] | None) -> bool:
    """Whether a pass runs this node's rule: backward() (needed=None) runs every op's; grad()
    only an op's with an input in `needed`, the nodes on paths to the wanted ones."""
    return fn is not None and (needed is None or any(v in needed for v in fn.inputs))


def _root_grad(root: Value, grad, caller: str, create_graph: bool):
    """The upstream gradient as an array of root's dtype, or a Value under create_graph."""
    name = "grad" if caller == "backward" else "grad_output"
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"{caller}: output has shape {root.shape}; an implicit gradient needs a single "
                f"element; pass {name}= (an array of shape {root.shape}) or reduce first, e.g. "
                f"loss.sum()")
        grad = np.ones_like(root.data)
    data = grad.data if isinstance(grad, Value) else np.asarray(grad)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: {name} has dtype {data.dtype}; expected real numbers (a "
                        f"complex gradient would lose its imaginary part)")
    if data.shape != root.shape:
        raise ValueError(f"{caller}: {name} has shape {data.shape} but the output has shape "
                         f"{root.shape}; expected equal shapes")
    if create_graph:
        if not isinstance(grad, Value):
            return Value(data.astype(root.dtype), requires_grad=False)
        return grad if grad.dtype == root.dtype else grad.astype(root.dtype)
    return data.astype(root.dtype, copy=False)


def _on_paths_to(wanted: set[Value], order: list[Value]) -> list[Value]:
    """The nodes of `order` through which some wanted node reaches the root: only they need a
    gradient for grad()."""
    leads: set[Value] = set()
    for node in order:                  # parents come first
        if node in wanted or any(p in leads for p in node.parents):
            leads.add(node)
    return [node for node in order if node in leads]


def _propagate(order: list[Value], root_grad, create_graph: bool, retain_graph: bool,
               wanted: set[Value] | None = None,
               needed: set[Value] | None = None) -> dict[Value, object]:
    """Hand each node of `order` (root last) its total gradient, then apply its rule.

    The chain rule in reverse: a node's gradient is the sum of what its consumers sent it
    (each consumer has a later place in the order), and its rule turns that into its parents'
    shares. wanted=None (backward()): every node's gradient is added to its `.grad`, in an
    array of its own. Else (grad()): the gradients of the wanted nodes are returned, keyed by
    node, `order` holds only the nodes on paths from them to the root, and `needed` is the
    set of those nodes.
    """
    pending = {order[-1]: root_grad}    # gradients not yet handed to a node, by node
    found: dict[Value, object] = {}
    # ids of arrays that some node's .grad already is, or that the caller still holds (the
    # upstream gradient passed to backward()): a node's .grad must not be either
    stored: set[int] = {id(root_grad)}
    with _grad_mode(create_graph):
        for node in reversed(order):
            g = pending.pop(node, None)
            if g is None:               # every gradient flowing here was None
                continue
            if wanted is None:
                if (node.fn is None or id(g) in stored or type(g) is not np.ndarray
                        or g.base is not None):
                    g = np.array(g)     # an array that no other node's .grad shares
                    # (a sum of 0-d arrays is a numpy scalar: that becomes an array too)
                stored.add(id(g))
                node.grad = g if node.grad is None else _accumulated(node, g)
            elif node in wanted:
                found[node] = g
            fn = node.fn
            # not _runs_rule(fn, needed), written out, as this loop is the hot path
            if fn is None or (needed is not None and not any(v in needed for v in fn.inputs)):
                continue    # a leaf, or (grad()) a wanted node none of whose inputs leads to
                            # another: its rule is not needed, so it neither runs nor is freed
            grads = _input_grads(fn, node, g, create_graph, needed)   # one per input
            for i, parent in enumerate(fn.inputs):      # indexing: cheaper than a zip here
                parent_grad = grads[i]
                if parent_grad is None or not fn.needs_input_grad[i]:
                    continue
                data = parent.data
                if (create_graph or type(parent_grad) not in _PLAIN_GRADS
                        or parent_grad.dtype is not data.dtype or parent_grad.shape != data.shape):
                    # not plainly right (the common case, checked inline as the hot path):
                    # converted, or an error naming the op, the input and what was expected
                    parent_grad = _checked_grad(fn, i, parent_grad, data, create_graph)
                pending[parent] = (parent_grad if parent not in pending
                                   else pending[parent] + parent_grad)
            if not retain_graph:
                fn.release()
    return found


def _accumulated(node: Value, g: np.ndarray) -> np.ndarray:
    """node.grad + g, a new array of g's shape and dtype; node.grad may have been set by hand
    (micrograd's zero_grad sets it to 0), but not to an array that changes the shape."""
    total = np.asarray(node.grad + g)   # asarray: a sum of 0-d arrays is a numpy scalar
    if total.shape != g.shape:
        name = f" '{node.name}'" if node.name else ""
        raise ValueError(f"backward: the Value{name} of shape {node.shape} has a .grad of shape "
                         f"{np.shape(node.grad)}, and adding its new gradient gives shape "
                         f"{total.shape}; expected a .grad of the Value's shape; set .grad = "
                         f"None (what zero_grad() does) to start again")
    return total if total.dtype == g.dtype else total.astype(g.dtype)


def _input_grads(fn: Function, node: Value, grad, create_graph: bool, needed) -> tuple:
    """fn's rule applied to `grad`: a tuple of one gradient (or None) per input, each still to
    be checked by _checked_grad."""
    if needed is not None:              # grad(): skip inputs off every path to the wanted nodes
        saved_needs = fn.needs_input_grad
        fn.needs_input_grad = tuple([n and v in needed
                                     for n, v in zip(saved_needs, fn.inputs, strict=True)])
    if create_graph:
        _check_twice_differentiable(fn)
        fn._create_graph = True
    fn._output = node                   # for self.saved()
    try:
        if _profiler is None:
            grads = fn.backward(grad)
        else:
            grads = _profiler._timed(fn.name, "backward", fn.backward, grad)
    except TypeError as error:
        if not create_graph:
            raise
        raise TypeError(f"{fn.name}.backward failed on Values under create_graph=True: {error}; "
                        f"a rule that is differentiated again must compute with Value "
                        f"operators, self.saved(), Op.run(...) and the numpy functions that "
                        f"have an op, not others (see "
                        f"docs/autograd.md)") from error
    finally:
        fn._output = None
        if create_graph:
            fn._create_graph = False
        if needed is not None:
            fn.needs_input_grad = saved_needs
    if type(grads) is not tuple:
        if grads is None and True in fn.needs_input_grad:
            raise TypeError(f"{fn.name}.backward returned None; expected one gradient per "
                            f"input (did backward forget its `return`?)")
        grads = tuple(grads) if isinstance(grads, list) else (grads,)
    if len(grads) != len(fn.inputs):
        raise ValueError(f"{fn.name}.backward: returned {len(grads)} gradients for "
                         f"{len(fn.inputs)} inputs; expected one per input (None where an "
                         f"input needs none)")
    return grads


def _check_twice_differentiable(fn: Function) -> None:
    """Refuse a rule that reads floats forward computed and kept on self (numpy arrays or
    scalars, also inside tuples, lists and dicts): they carry no graph, so its second derivative
    would silently miss their dependence on the inputs. Params passed to apply are constants
    and pass. A Python float computed from the data (float(x.mean())) cannot be told from a
    constant; the rule's author must take it from self.saved() instead."""
    params = [id(v) for v in fn.params.values()]
    kept = [name for name, v in vars(fn).items() if id(v) not in params and _holds_floats(v)]
    if kept:
        raise TypeError(
            f"{fn.name}: its backward cannot be differentiated again (create_graph=True): "
            f"forward kept the float value(s) self.{', self.'.join(kept)}, which carry no "
            f"graph; to make {fn.name} twice differentiable, take forward's inputs and output "
            f"from self.saved() inside backward and apply ops with Op.run(...) (see "
            f"docs/autograd.md, 'One rule for every order of derivative')")


def _holds_floats(v) -> bool:
    """Whether v is a numpy float array or scalar, or a container holding one."""
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype.kind in "fc"
    if isinstance(v, (tuple, list)):
        return any(_holds_floats(item) for item in v)
    if isinstance(v, dict):
        return any(_holds_floats(item) for item in v.values())
    return False


# What a rule returns for an input when nothing needs converting (0-d arithmetic gives numpy
# scalars, which are immutable, so they may be shared until `.grad` stores them as an array)
_PLAIN_GRADS = (np.ndarray, np.float64, np.float32)


def _checked_grad(fn: Function, i: int, g, data: np.ndarray, create_graph: bool):
    """The gradient g that fn's rule returned for input i (whose data is `data`), checked: of
    the input's shape and dtype. A 0-d gradient may stay a numpy scalar (what numpy gives for
    0-d arithmetic): it is immutable, so it can be shared, and `.grad` gets an array of its
    own when stored."""
    if create_graph or type(g) not in _PLAIN_GRADS or g.dtype is not data.dtype:
        g = _converted_grad(fn, i, g, data.dtype, create_graph)
    if g.shape != data.shape:
        raise ValueError(
            f"{fn.name}.backward: returned a gradient of shape {g.shape} for input {i} of "
            f"shape {data.shape}; expected equal shapes (sum over broadcast axes)")
    return g


def _converted_grad(fn: Function, i: int, g, dtype: np.dtype, create_graph: bool):
    """A gradient that is not an ndarray of its input's dtype: a Value under create_graph (it
    must be), else an array of the input's dtype."""
    if create_graph:
        if not isinstance(g, Value):
            raise TypeError(
                f"{fn.name}.backward returned a {type(g).__name__} for input {i} under "
                f"create_graph=True; expected a Value computed from grad and self.saved(), "
                f"so the gradient can be differentiated again")
        return g if g.dtype == dtype else g.astype(dtype)    # recorded, so it stays in the graph
    if np.iscomplexobj(g):
        raise TypeError(f"{fn.name}.backward returned a complex gradient for input {i}; "
                        f"expected real numbers (its imaginary part would be lost); take "
                        f".real where that is what the rule means")
    if isinstance(g, Value):
        raise TypeError(
            f"{fn.name}.backward returned a Value for input {i}; expected a numpy array: in an "
            f"ordinary backward, grad and self.saved() are arrays (a Value kept from forward on "
            f"self would cause this)")
    if dtype.kind != "f":               # its gradient would be cut to integers
        raise TypeError(
            f"{fn.name}: input {i} has dtype {dtype} but requires grad; expected floating-point "
            f"data, as only floats hold a gradient (requires_grad was set by hand, or .data "
            f"replaced by integers); make it a float Value, e.g. tc.Value(x.data.astype("
            f"np.float64))")
    return np.asarray(g, dtype=dtype)


from tinygrad_cnn.value import Value  # noqa: E402  (value.py needs Function defined first)
