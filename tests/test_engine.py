"""The engine: Value construction and dtype rules, reverse-mode backward, no_grad, custom
Functions, retain_graph, deep graphs, manual_seed."""

import gc
from fractions import Fraction

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.function import current_module, is_grad_enabled, module_scope
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.value import topo_order


class Swish(tc.Function):
    """x * sigmoid(x), the custom op of DESIGN.md."""

    def forward(self, x):
        self.s = 1 / (1 + np.exp(-x))
        self.x = x
        return x * self.s

    # d(x s(x))/dx = s + x s (1 - s)
    def backward(self, grad):
        return grad * (self.s + self.x * self.s * (1 - self.s))


class Spy(tc.Function):
    """a * b that records what the engine asked of it, on the class."""

    log: list = []

    def forward(self, a, b):
        self.a, self.b = a, b
        Spy.log.append(("forward", self.needs_input_grad))
        return a * b

    # d(ab)/da = b, d(ab)/db = a; only the gradients that are needed are computed
    def backward(self, grad):
        da = grad * self.b if self.needs_input_grad[0] else None
        db = grad * self.a if self.needs_input_grad[1] else None
        Spy.log.append(("backward", da is not None, db is not None))
        return da, db


@pytest.fixture
def spy():
    Spy.log = []
    return Spy


# Value construction and dtypes

@pytest.mark.parametrize("data, shape", [(3, ()), (-2.5, ()), (True, ()), ([1, 2, 3], (3,)),
                                         ([[1.0, 2.0], [3.0, 4.0]], (2, 2))])
def test_python_numbers_and_lists_become_float64(data, shape):
    x = tc.Value(data)
    assert x.dtype == np.float64 and x.shape == shape and x.ndim == len(shape)
    assert x.requires_grad and x.grad is None and x.fn is None and x.parents == ()
    np.testing.assert_array_equal(x.data, np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_numpy_arrays_keep_dtype_and_memory(dtype):
    array = np.arange(6, dtype=dtype).reshape(2, 3)
    x = tc.Value(array)
    assert x.dtype == dtype and x.data is array and x.requires_grad and x.size == 6
    assert tc.Value(dtype(1.5)).dtype == dtype      # a numpy scalar keeps its dtype too


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_and_bool_data_never_require_grad(dtype):
    x = tc.Value(np.ones(3, dtype=dtype), requires_grad=True)
    assert x.dtype == dtype and not x.requires_grad


def test_dtype_argument_converts():
    x = tc.Value([1, 2], dtype=np.float32)
    assert x.dtype == np.float32 and x.data.tolist() == [1.0, 2.0]
    assert tc.Value(np.arange(3), dtype="float64").dtype == np.float64
    assert not tc.Value(1.0, requires_grad=False).requires_grad


@pytest.mark.parametrize("data, match", [
    ("abc", "non-numeric dtype <U3"),
    ("1.5", "non-numeric dtype <U3"),
    (None, "non-numeric dtype object"),
    ([1, "a"], "non-numeric dtype <U"),
    ({"a": 1}, "non-numeric dtype object"),
    (1 + 2j, "non-numeric dtype complex128"),
    ([[1.0, 2.0], [3.0]], "cannot make a numeric array from list"),
])
def test_non_numeric_data_raises_type_error(data, match):
    with pytest.raises(TypeError, match=match):
        tc.Value(data)


def test_value_of_value_and_bad_dtype_raise():
    with pytest.raises(TypeError, match="data is already a Value; .* use x.detach()"):
        tc.Value(tc.Value(1.0))
    with pytest.raises(TypeError, match="dtype=complex128 is not numeric"):
        tc.Value([1.0], dtype=np.complex128)


def test_python_numbers_never_change_a_float32_value_dtype():
    x = tc.Value(np.array([1.5, 2.0], dtype=np.float32))
    results = [x + 2, 2 + x, x - 1.5, 1.5 - x, x * 2.5, 2.5 * x, x / 3, 3 / x, x ** 2, x ** 0.5,
               2 ** x, -x, x * np.float64(2.0), np.float64(2.0) * x, x + True,
               tc.ops.add(x, 2.0), tc.ops.mul(3, x), tc.ops.pow(x, np.float64(2.0))]
    assert [r.dtype for r in results] == [np.float32] * len(results)


def test_numbers_alone_and_with_integer_values_follow_numpy():
    assert tc.ops.add(2, 3).dtype == np.float64           # numbers alone: as Value(number)
    n = tc.Value(np.array([1, 2], dtype=np.int64))
    assert (n + 2).dtype == np.int64 and (n * 2.5).dtype == np.float64
    with pytest.raises(TypeError, match=r"number \(1\+2j\) gives dtype complex128"):
        tc.Value(1.0) * (1 + 2j)


def f32(rng, *shape, low=0.5, high=2.0):
    """float32 test data away from kinks and from 0."""
    return rng.uniform(low, high, shape).astype(np.float32)


FLOAT32_OPS = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)]),
    "sub": (lambda a, b: a - b, [(2, 3), (2, 1)]),
    "mul": (lambda a, b: a * b, [(2, 3), (3,)]),
    "div": (lambda a, b: a / b, [(2, 3), (3,)]),
    "pow": (lambda a: a ** 1.5, [(2, 3)]),
    "neg": (lambda a: -a, [(2, 3)]),
    "exp": (lambda a: a.exp(), [(2, 3)]),
    "log": (lambda a: a.log(), [(2, 3)]),
    "relu": (lambda a: a.relu(), [(2, 3)]),
    "tanh": (lambda a: a.tanh(), [(2, 3)]),
    "sigmoid": (lambda a: a.sigmoid(), [(2, 3)]),
    "sum": (lambda a: a.sum(axis=1), [(2, 3)]),
    "mean": (lambda a: a.mean(axis=(0, 1), keepdims=True), [(2, 3)]),
    "max": (lambda a: a.max(axis=0), [(2, 3)]),
    "reshape": (lambda a: a.reshape(3, 2), [(2, 3)]),
    "flatten": (lambda a: tc.ops.flatten(a), [(2, 3, 2)]),
    "transpose": (lambda a: a.transpose(), [(2, 3)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul_1d": (lambda a, b: a @ b, [(3,), (3, 4)]),
    "linear": (lambda x, w, b: tc.ops.linear(x, w, b), [(5, 3), (4, 3), (4,)]),
    "swish": (lambda a: Swish.apply(a), [(2, 3)]),
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_no_float64_upcast_of_float32_through_op_or_its_gradient(rng, monkeypatch, name):
    fn, shapes = FLOAT32_OPS[name]
    inputs = [tc.Value(f32(rng, *shape)) for shape in shapes]
    out = fn(*inputs)
    assert out.dtype == np.float32
    # the op's own backward, before the engine's cast, must already give float32
    op, raw = type(out.fn), []
    rule = op.backward
    monkeypatch.setattr(op, "backward", lambda self, grad: raw.append(rule(self, grad)) or raw[-1])
    out.backward(np.ones(out.shape, dtype=np.float32), retain_graph=True)
    raw = raw[0] if isinstance(raw[0], tuple) else (raw[0],)
    assert [g.dtype for g in raw] == [np.float32] * len(inputs)
    monkeypatch.undo()
    for x in inputs:
        x.grad = None
    out.sum().backward()
    assert [x.grad.dtype for x in inputs] == [np.float32] * len(inputs)


def test_backward_casts_a_custom_ops_gradient_to_the_input_dtype():
    class Upcasting(tc.Function):
        def forward(self, x):
            return x * 2

        # d(2x)/dx = 2, deliberately returned as float64
        def backward(self, grad):
            return grad.astype(np.float64) * 2

    x = tc.Value(np.ones(3, dtype=np.float32))
    Upcasting.apply(x).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]


# repr, item, numpy, detach

def test_repr():
    x = tc.Value(-4.0)
    assert repr(x) == "Value(data=-4, grad=None)"
    y = x * 2 + 1
    y.backward()
    assert repr(y) == "Value(data=-7, grad=1, op=Add)"
    assert repr(x) == "Value(data=-4, grad=2)"
    assert repr(tc.Value(np.float32(0.5), name="w")) == \
        "Value('w', data=0.5, grad=None, dtype=float32)"
    assert repr(tc.Value(np.zeros((2, 3), np.float32))) == (
        "Value(data=[[0., 0., 0.],\n"
        "            [0., 0., 0.]], shape=(2, 3), dtype=float32)")
    assert repr(tc.Value(np.arange(100.0))) == (
        "Value(data=[ 0.,  1., ..., 98., 99.], shape=(100,), dtype=float64)")
    assert repr(tc.Value(np.zeros(2), requires_grad=False)) == \
        "Value(data=[0., 0.], shape=(2,), dtype=float64, requires_grad=False)"
    assert repr(tc.Value(np.ones((2, 2))) @ tc.Value(np.ones(2))) == \
        "Value(data=[2., 2.], shape=(2,), dtype=float64, op=MatMul)"
    assert repr(tc.Value(np.array(3))) == "Value(data=3, dtype=int64, requires_grad=False)"


def test_item_numpy_detach():
    x = tc.Value([[2.5]])
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert x.numpy() is x.data
    with pytest.raises(ValueError, match=r"item: Value has shape \(2,\) \(2 elements\); "
                                         r"expected exactly one element"):
        tc.Value([1.0, 2.0]).item()
    y = x * 3
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.fn is None and d.parents == ()
    z = d * x                   # only x's path is recorded
    z.backward()
    assert x.grad.item() == 7.5 and d.grad is None and y.grad is None


# backward: micrograd's examples and the engine rules

def test_micrograd_sanity_check():
    x = tc.Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0 and x.grad == 46.0


def test_micrograd_more_ops():
    a, b = tc.Value(-4.0), tc.Value(2.0)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    # By hand, with b + a < 0 and b - a > 0: e = 4a + 3b + 3 - 12ab - 12b^3 and
    # g = e^2/2 + 10/e^2, so dg/de = e - 20/e^3, de/da = 4 - 12b, de/db = 3 - 12a - 36b^2.
    fa, fb = Fraction(-4), Fraction(2)
    fe = 4 * fa + 3 * fb + 3 - 12 * fa * fb - 12 * fb ** 3
    dg_de = fe - 20 / fe ** 3
    assert fe == -7
    assert g.data == pytest.approx(float(fe ** 2 / 2 + 10 / fe ** 2), rel=1e-15, abs=0)
    assert a.grad == pytest.approx(float(dg_de * (4 - 12 * fb)), rel=1e-14, abs=0)
    assert b.grad == pytest.approx(float(dg_de * (3 - 12 * fa - 36 * fb ** 2)), rel=1e-14, abs=0)
    assert float(dg_de * (4 - 12 * fb)) == pytest.approx(138.83381924198252)   # micrograd's


def test_reused_node_counts_every_use():
    a = tc.Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and c.grad == 1.0


def test_fan_out_accumulates():
    x = tc.Value(1.5)
    y = x * x + x * 3.0 - x.exp()          # dy/dx = 2x + 3 - e^x
    y.backward()
    assert x.grad == pytest.approx(2 * 1.5 + 3 - np.exp(1.5), rel=1e-15)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = tc.Value(2.0)
    for _ in range(3):
        (x * 5).backward()
    assert x.grad == 15.0
    x.grad = None
    (x * x).backward()
    assert x.grad == 4.0


def test_a_grad_set_by_hand_is_added_to_in_the_values_shape_and_dtype():
    w = tc.Value(np.ones(3, dtype=np.float32))
    w.grad = 0                                   # micrograd's zero_grad: a number is fine
    (w * 2.0).sum().backward()
    assert w.grad.tolist() == [2.0] * 3 and w.grad.dtype == np.float32
    w.grad = np.zeros(3)                         # "zeroed" in float64: stays float32
    (w * 2.0).sum().backward()
    assert w.grad.dtype == np.float32
    w.grad = np.zeros((3, 1))                    # would broadcast to (3, 3)
    with pytest.raises(ValueError, match=r"backward: the Value of shape \(3,\) has a .grad of "
                                         r"shape \(3, 1\), and adding its new gradient gives "
                                         r"shape \(3, 3\); expected a .grad of the Value's shape; "
                                         r"set .grad = None"):
        (w * 2.0).sum().backward()
    w.grad = None                                # the fix works
    (w * 2.0).sum().backward()
    assert w.grad.tolist() == [2.0] * 3


def test_every_node_that_requires_grad_has_a_grad(rng):
    w = tc.Value(rng.standard_normal((3, 4)))
    x = tc.Value(rng.standard_normal((5, 4)), requires_grad=False)
    loss = ((x @ w.transpose()).tanh() * 2).sum()
    loss.backward()
    nodes = topo_order(loss)
    assert len(nodes) == 6 and all(node.grad is not None for node in nodes)
    assert all(n.grad.shape == n.shape and isinstance(n.grad, np.ndarray) for n in nodes)
    assert x.grad is None and x not in nodes


def test_leaf_grads_are_writable_arrays_of_their_own(rng):
    a, b = tc.Value(rng.standard_normal(3)), tc.Value(rng.standard_normal(3))
    (a + b).sum().backward()         # Add and Sum pass one (read-only, broadcast) array along
    assert a.grad is not b.grad and a.grad.flags.writeable and b.grad.flags.writeable
    a.grad += 1.0
    assert b.grad.tolist() == [1.0, 1.0, 1.0] and a.grad.tolist() == [2.0, 2.0, 2.0]
    s = tc.Value(2.0)
    (s * 3).backward()
    assert type(s.grad) is np.ndarray and s.grad.shape == ()


def test_the_callers_upstream_gradient_is_not_the_roots_grad(rng):
    x = tc.Value(rng.standard_normal(3))
    for y in (x * 2, x + 1):         # Mul makes a new array; Add passes the gradient along
        upstream = np.ones(3)
        y.backward(upstream)
        assert y.grad is not upstream and not np.shares_memory(y.grad, upstream)
        upstream[:] = 5.0            # the caller reuses its buffer: no .grad changes
        assert y.grad.tolist() == [1.0, 1.0, 1.0]
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_backward_with_explicit_upstream_gradient(rng):
    x = tc.Value(rng.standard_normal((2, 3)))
    upstream = rng.standard_normal((2, 3))
    (x * 3.0).backward(upstream)
    np.testing.assert_array_equal(x.grad, 3.0 * upstream)
    y = tc.Value(rng.standard_normal((2, 3)))
    (y * 1.0).backward(tc.Value(upstream))
    np.testing.assert_array_equal(y.grad, upstream)


def test_backward_on_non_scalar_without_grad_raises():
    y = tc.Value(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match=r"backward: output has shape \(2, 3\); an implicit "
                                         r"gradient needs a single element; pass grad="):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the output has shape "
                                         r"\(2, 3\); expected equal shapes"):
        y.backward(np.ones(3))
    (tc.Value([[2.0]]) * 2).backward()           # one element of any shape is fine


def test_backward_on_a_value_without_grad_raises():
    with pytest.raises(ValueError, match=r"backward: this Value \(shape \(\), dtype float64\) "
                                         r"does not require grad"):
        tc.Value(1.0, requires_grad=False).backward()


def test_second_backward_through_a_freed_graph_raises():
    x = tc.Value(3.0)
    y = x * x
    z = y + 1
    z.backward()
    assert x.grad == 6.0 and y.fn.released
    with pytest.raises(ValueError, match=r"already freed .* pass retain_graph=True to the "
                                         r"first backward\(\)"):
        z.backward()
    assert x.grad == 6.0 and z.grad == 1.0          # the failed call changed no gradient
    w = y * 2                           # a new graph on top of a freed one fails the same way
    with pytest.raises(ValueError, match=r"graph through Mul was already freed"):
        w.backward()


def test_release_drops_what_forward_kept_and_keeps_the_graph():
    class ScaledProduct(tc.Function):
        def forward(self, a, b, scale):
            self.a, self.b = a, b
            return scale * a * b

        # d(s a b)/da = s b, d(s a b)/db = s a
        def backward(self, grad):
            scale = self.params["scale"]
            return grad * scale * self.b, grad * scale * self.a

    x, y = tc.Value(2.0), tc.Value(3.0)
    z = ScaledProduct.apply(x, y, scale=2.0)
    assert set(vars(z.fn)) == {"a", "b"}                # forward's arrays, on self
    z.backward()
    assert vars(z.fn) == {} and z.fn.released           # the arrays are gone...
    assert z.fn.inputs == (x, y) and z.fn.params == {"scale": 2.0}    # ...the graph is not
    assert z.fn.needs_input_grad == (True, True) and (x.grad, y.grad) == (6.0, 4.0)


def test_backward_leaves_no_new_object_per_node_for_the_collector():
    """Each object that outlives a step counts towards the cyclic collector's next run; a
    backward that left one per node (a new __dict__ in release, say) made micrograd's demo
    run a full collection in every backward pass."""
    x = tc.Value(0.5)
    y = x
    for _ in range(1000):
        y = y * x + x
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = gc.get_count()[0]
        y.backward()
        after = gc.get_count()[0]
    finally:
        if was_enabled:
            gc.enable()
    assert after - before < 100, f"{after - before} new container objects for 2000 nodes"


def test_retain_graph_allows_a_second_backward_that_doubles_the_grads():
    x = tc.Value(3.0)
    y = x * x
    z = y.exp()
    z.backward(retain_graph=True)
    first = (x.grad.copy(), y.grad.copy(), z.grad.copy())
    assert first[0] == pytest.approx(6.0 * np.exp(9.0), rel=1e-15)
    z.backward()
    assert (x.grad, y.grad, z.grad) == (2 * first[0], 2 * first[1], 2 * first[2])


@pytest.mark.slow
def test_a_300_000_op_chain_backpropagates_and_is_freed():
    n = 300_000                         # 300 times Python's recursion limit
    x = tc.Value(0.5)
    y = x
    for _ in range(n):
        y = y + x
    y.backward()                        # a recursive topological sort would overflow here
    assert y.data == 0.5 * (n + 1) and x.grad == n + 1
    del y                               # deallocating a million-deep chain must not crash
    gc.collect()


# no_grad

def test_no_grad_context_builds_no_graph():
    x = tc.Value(2.0)
    with tc.no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
    assert is_grad_enabled()
    assert y.data == 7.0 and not y.requires_grad and y.fn is None and y.parents == ()
    with pytest.raises(ValueError, match="does not require grad"):
        y.backward()


def test_no_grad_decorator_and_restores_mode_after_an_exception(spy):
    @tc.no_grad()
    def scaled(v, depth):
        return scaled(v, depth - 1) if depth else spy.apply(v, 2.0)

    x = tc.Value(2.0)
    y = scaled(x, 3)                    # re-entered recursively through one instance
    assert is_grad_enabled() and not y.requires_grad and y.fn is None and y.parents == ()
    assert spy.log == [("forward", (False, False))]
    with pytest.raises(KeyError, match="inside"), tc.no_grad():
        raise KeyError("inside")
    assert is_grad_enabled()
    guard = tc.no_grad()
    with guard:
        with guard:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled() and (x * 2).requires_grad


def test_no_grad_refuses_to_decorate_a_generator_function():
    # its body would run as the caller iterates, after the decorator had exited
    with pytest.raises(TypeError, match=r"no_grad cannot decorate the generator function "
                                        r"halves: .* put `with tc.no_grad\(\):` inside the "
                                        r"generator's body instead"):
        @tc.no_grad()
        def halves(values):
            for v in values:
                yield v * 0.5

    def halves(values):                          # the fix works
        with tc.no_grad():
            for v in values:
                yield v * 0.5

    assert [h.requires_grad for h in halves([tc.Value(1.0), tc.Value(2.0)])] == [False, False]


# requires_grad=False inputs cost no gradient work

def test_inputs_without_grad_get_no_grad_and_no_backward_work(spy, rng):
    w = tc.Value(rng.standard_normal(3))
    images = tc.Value(rng.standard_normal(3), requires_grad=False)
    spy.apply(w, images).sum().backward()
    assert spy.log == [("forward", (True, False)), ("backward", True, False)]
    np.testing.assert_array_equal(w.grad, images.data)
    assert images.grad is None
    spy.log.clear()
    spy.apply(rng.standard_normal(3), w).sum().backward()       # a raw array is a constant
    assert spy.log == [("forward", (False, True)), ("backward", False, True)]


def test_a_subgraph_of_constants_is_never_backpropagated(spy):
    c = spy.apply(tc.Value(2.0, requires_grad=False), 3.0)
    x = tc.Value(4.0)
    y = spy.apply(x, c)
    y.backward()
    assert c.fn is None and not c.requires_grad and c.grad is None
    assert spy.log == [("forward", (False, False)), ("forward", (True, False)),
                       ("backward", True, False)]
    assert x.grad == 6.0


# custom Functions

def test_custom_function_works_like_a_builtin_and_passes_gradcheck(rng):
    x = tc.Value(rng.standard_normal((3, 4)))
    y = Swish.apply(x)
    np.testing.assert_allclose(y.data, x.data / (1 + np.exp(-x.data)), rtol=1e-15)
    assert y.fn.name == "Swish" and y.parents == (x,) and repr(y).endswith("op=Swish)")
    (y * 2).sum().backward()
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad, 2 * (s + x.data * s * (1 - s)), rtol=1e-14)
    for shape in [(), (5,), (2, 3, 4)]:
        assert tc.gradcheck(Swish.apply, [rng.standard_normal(shape)])


def test_function_params_are_kept_and_passed_to_forward():
    class Scale(tc.Function):
        def forward(self, x, factor):
            self.factor = factor
            return x * factor

        # d(cx)/dx = c
        def backward(self, grad):
            return grad * self.factor

    x = tc.Value([1.0, 2.0])
    y = Scale.apply(x, factor=3.0)
    assert y.fn.params == {"factor": 3.0} and y.data.tolist() == [3.0, 6.0]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and y.fn.params == {"factor": 3.0}   # kept on release


def test_function_with_a_none_input():
    class AddMaybe(tc.Function):
        def forward(self, x, b):
            return x if b is None else x + b

        # d(x + b)/dx = d(x + b)/db = 1
        def backward(self, grad):
            return grad, None if self.inputs[1] is None else grad

    x = tc.Value([1.0, 2.0])
    y = AddMaybe.apply(x, None)
    assert y.parents == (x,) and y.fn.inputs == (x, None)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_custom_backward_mistakes_raise():
    class TwoGrads(tc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad, grad

    class WrongShape(tc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad.sum()

    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"TwoGrads.backward: returned 2 gradients for 1 inputs"):
        TwoGrads.apply(x).sum().backward()
    with pytest.raises(ValueError, match=r"WrongShape.backward: returned a gradient of shape \(\) "
                                         r"for input 0 of shape \(2, 3\)"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(NotImplementedError, match="Function must define forward"):
        tc.Function.apply(x)

    class ForwardOnly(tc.Function):
        def forward(self, x):
            return x * 2

    with pytest.raises(NotImplementedError, match="ForwardOnly must define backward"):
        ForwardOnly.apply(x).sum().backward()

    class ComplexGrad(tc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad * (2 + 1j)

    with pytest.raises(TypeError, match=r"ComplexGrad.backward returned a complex gradient for "
                                        r"input 0; expected real numbers"):
        ComplexGrad.apply(x).sum().backward()


def test_a_value_given_as_a_keyword_param_is_refused():
    class Scale(tc.Function):
        def forward(self, x, w):
            return x * w

        def backward(self, grad):
            x, w, _ = self.saved()
            return grad * w, grad * x

    x, w = tc.Value([1.0, 2.0]), tc.Value([3.0, 4.0])
    with pytest.raises(TypeError, match=r"Scale.apply: keyword w= is a Value; expected inputs "
                                        r"positionally, as Scale.apply\(x, w\)"):
        Scale.apply(x, w=w)
    Scale.apply(x, w).sum().backward()           # the fix works
    assert w.grad.tolist() == [1.0, 2.0]


def test_a_list_of_values_is_refused_as_data():
    a, b = tc.Value(1.0), tc.Value(2.0)
    for data in ([a, b], [[1.0, a]], (b,)):
        with pytest.raises(TypeError, match=r"Value: data is a list holding Values, which would "
                                            r"be cut from their graph; .* tc.ops.stack"):
            tc.Value(data)
    joined = tc.ops.stack([a, b])                # the fix works
    (joined * joined).sum().backward()
    assert (a.grad, b.grad) == (2.0, 4.0)


def test_integer_output_records_no_node():
    class ArgMax(tc.Function):
        def forward(self, x):
            return np.argmax(x, axis=-1)

    out = ArgMax.apply(tc.Value([[1.0, 3.0, 2.0]]))
    assert out.data.tolist() == [1] and not out.requires_grad and out.fn is None


def test_module_scope_stamps_values():
    x = tc.Value(1.0)
    with module_scope("encoder.fc1"):
        assert current_module() == "encoder.fc1"
        y = x * 2
    assert current_module() is None and y.module == "encoder.fc1" and (y + 1).module is None


def test_numpy_operands_defer_to_value(rng):
    x = tc.Value(rng.standard_normal(3))
    array = rng.standard_normal(3)
    for y, expected in [(array * x, array * x.data), (array + x, array + x.data),
                        (array - x, array - x.data), (array / x, array / x.data)]:
        assert isinstance(y, tc.Value)
        np.testing.assert_array_equal(y.data, expected)
    y = np.exp(x)                        # a numpy function with an op runs that op
    assert isinstance(y, tc.Value) and y.fn.name == "Exp"
    np.testing.assert_array_equal(y.data, np.exp(x.data))


# determinism

def test_topological_order_is_deterministic_first_arguments_first():
    def build():
        a, b, c = tc.Value(1.0, name="a"), tc.Value(2.0, name="b"), tc.Value(3.0, name="c")
        ab = a * b
        ab.name = "ab"
        d = ab + c
        d.name = "d"
        e = d * a
        e.name = "e"
        return e

    orders = [[v.name for v in topo_order(build())] for _ in range(5)]
    assert orders == [["a", "b", "ab", "c", "d", "e"]] * 5


def test_manual_seed_makes_the_default_generator_repeatable():
    returned = tc.manual_seed(123)
    assert returned is default_generator()
    first = default_generator().standard_normal(4)
    tc.manual_seed(123)
    np.testing.assert_array_equal(default_generator().standard_normal(4), first)
    tc.manual_seed(124)
    assert not np.array_equal(default_generator().standard_normal(4), first)
    with pytest.raises(ValueError, match="seed is -1; expected a non-negative int"):
        tc.manual_seed(-1)
    with pytest.raises(TypeError, match="seed is float 1.5; expected a non-negative int"):
        tc.manual_seed(1.5)


# Python's protocols on a Value

def test_comparisons_give_bool_arrays_and_equality_stays_identity():
    x, y = tc.Value([1.0, -2.0, 3.0]), tc.Value([0.0, 0.0, 5.0])
    for result, expected in [(x < y, [False, True, True]), (x <= 1.0, [True, True, False]),
                             (x > y, [True, False, False]), (x >= 3.0, [False, False, True])]:
        assert type(result) is np.ndarray and result.dtype == bool
        assert result.tolist() == expected
    twin = tc.Value([1.0, -2.0, 3.0])
    assert x == x and x != twin and not (x == twin)
    assert {x: "x", twin: "twin"}[twin] == "twin"          # hashable by identity


def test_numbers_length_arrays_iteration_and_transpose():
    assert float(tc.Value(2.5)) == 2.5 and int(tc.Value(np.array([7.9]))) == 7
    assert bool(tc.Value(0.0)) is False and bool(tc.Value([[1.0]])) is True
    x = tc.Value(np.arange(6.0).reshape(2, 3), requires_grad=False)    # numpy may read it
    assert len(x) == 2 and np.asarray(x) is x.data
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    copy = np.array(x)                                       # np.array copies, as for arrays
    copy[0, 0] = 99.0
    assert x.data[0, 0] == 0.0 and not np.shares_memory(np.array(x, copy=True), x.data)
    assert np.asarray(x, dtype=np.float64, copy=False) is x.data
    with pytest.raises(ValueError, match=r"np.asarray\(Value, dtype=float32, copy=False\): the "
                                         r"Value's dtype is float64, so converting needs a copy"):
        np.asarray(x, dtype=np.float32, copy=False)
    x = tc.Value(np.arange(6.0).reshape(2, 3))
    rows = list(x)
    assert [r.data.tolist() for r in rows] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    sum(r.sum() for r in rows).backward()                    # iteration is indexing: a graph
    assert x.grad.tolist() == [[1.0] * 3] * 2
    assert x.T.shape == (3, 2) and x.T.data.tolist() == x.data.T.tolist()


def test_item_assignment_raises_and_its_suggested_fixes_work():
    x = tc.Value([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"Value does not support item assignment \(x\[index\] "
                                        r"= v\): .* x = ops.where\(mask, v, x\) .* write "
                                        r"x.data\[index\] = v"):
        x[0] = 5.0
    y = tc.ops.where(np.array([True, False, False]), 5.0, x)
    y.sum().backward()
    assert y.data.tolist() == [5.0, 2.0, 3.0] and x.grad.tolist() == [0.0, 1.0, 1.0]
    x.data[0] = 5.0
    assert x.data.tolist() == [5.0, 2.0, 3.0]


def test_abs_pos_ravel_mt_dot_and_tolist_are_numpys(rng):
    data = rng.standard_normal((2, 3, 4))
    x = tc.Value(data)
    assert +x is x
    np.testing.assert_array_equal(abs(x).data, np.abs(data))
    np.testing.assert_array_equal(x.ravel().data, data.ravel())
    np.testing.assert_array_equal(x.mT.data, data.mT)
    assert x.tolist() == data.tolist() and tc.Value(2.5).tolist() == 2.5
    v, w = tc.Value(data[0, 0]), tc.Value(data[1, 1])
    np.testing.assert_allclose(v.dot(w).data, data[0, 0].dot(data[1, 1]), rtol=1e-15)
    (abs(x).sum() + x.ravel()[5] + x.mT[0, 1, 2]).backward()
    expected = np.sign(data)
    expected[0, 1, 1] += 1                                    # ravel position 5
    expected[0, 2, 1] += 1                                    # mT[0, 1, 2] is x[0, 2, 1]
    np.testing.assert_array_equal(x.grad, expected)
    with pytest.raises(ValueError, match=r"mT: the Value has shape \(4,\); expected at least 2 "
                                         r"axes .*; for all axes reversed use .T"):
        _ = w.mT


@pytest.mark.parametrize("convert", [float, int, bool, lambda v: v.item()])
def test_numbers_from_a_value_with_several_elements_raise(convert):
    with pytest.raises(ValueError, match=r"Value has shape \(3,\) \(3 elements\); expected "
                                         r"exactly one element; index or reduce it first"):
        convert(tc.Value([1.0, 2.0, 3.0]))


def test_len_of_a_0d_value_raises():
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d Value; expected at least one "
                                        r"dimension"):
        len(tc.Value(1.0))


def test_numpy_cannot_make_an_array_of_a_value_that_requires_grad():
    w = tc.Value([1.0, 2.0])
    first, second = (w * w).sum(), (3 * w).sum()
    for cut in (lambda: np.mean([first, second]), lambda: np.array([first, second]),
                lambda: np.asarray(w)):
        with pytest.raises(TypeError, match=r"numpy asked for the array of a Value that requires "
                                            r"grad .* use tc\.ops\.stack\(\[a, b\]\) \(then "
                                            r"\.mean\(\)\); for a constant pass x\.data"):
            cut()
    with pytest.raises(TypeError, match="numpy asked for the array"):
        np.zeros(3)[:2] = w
    loss = tc.ops.stack([first, second]).mean()        # the fix the message gives
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.5, 3.5])
    assert np.mean([first.detach(), second.data]) == 7.0
    with tc.no_grad():
        assert np.mean([first, second]) == 7.0
    np.testing.assert_array_equal(np.asarray(tc.Value([1.0, 2.0], requires_grad=False)), [1, 2])


def test_integer_data_that_was_made_to_require_grad_is_refused_at_backward():
    x = tc.Value(np.array([1, 2]))
    assert not x.requires_grad
    x.requires_grad = True                      # by hand: its gradient would be cut to ints
    with pytest.raises(TypeError, match=r"Mul: input 0 has dtype int64 but requires grad; "
                                        r"expected floating-point data.* "
                                        r"tc\.Value\(x\.data\.astype\(np\.float64\)\)"):
        (x * 0.5).sum().backward()
    fixed = tc.Value(x.data.astype(np.float64))
    (fixed * 0.5).sum().backward()
    np.testing.assert_array_equal(fixed.grad, [0.5, 0.5])


def test_a_graph_can_be_copied_and_pickled():
    import copy
    import pickle
    x = tc.Value([1.0, 2.0])
    y = x * 2                                   # an op with no keyword params
    for copied in (copy.deepcopy(y), pickle.loads(pickle.dumps(y))):
        np.testing.assert_array_equal(copied.data, [2.0, 4.0])
        copied.sum().backward()
        np.testing.assert_array_equal(copied.parents[0].grad, [2.0, 2.0])
    assert x.grad is None                       # the copies have leaves of their own


def test_a_forward_that_returns_several_arrays_is_refused():
    class Cached(tc.Function):
        def forward(self, x):
            return x * 2, (x,)                  # the habit of returning a cache

        def backward(self, grad):
            return 2 * grad

    with pytest.raises(TypeError, match=r"Cached\.forward returned a tuple of 2; expected one "
                                        r"numpy array: .*self\.saved\(\)"):
        Cached.apply(tc.Value([1.0, 2.0, 3.0]))


def test_no_grad_decorates_without_parentheses_too():
    @tc.no_grad
    def doubled(v):
        return v * 2, is_grad_enabled()

    out, enabled = doubled(tc.Value(1.0))
    assert not out.requires_grad and not enabled and is_grad_enabled()
    assert doubled.__name__ == "doubled"


def test_in_tests_the_elements():
    x = tc.Value([1.0, 2.0])
    assert 2.0 in x and 1 in x and 3.0 not in x and tc.Value(2.0) in x


def test_repr_with_a_grad_set_to_a_number_and_of_integers():
    v = tc.Value(2.0)
    v.grad = 0                                  # micrograd's zero_grad
    assert repr(v) == "Value(data=2, grad=0)"
    assert repr(tc.Value(np.array(12345678))) == \
        "Value(data=12345678, dtype=int64, requires_grad=False)"
    assert repr(tc.Value(np.array(True))) == "Value(data=True, dtype=bool, requires_grad=False)"
