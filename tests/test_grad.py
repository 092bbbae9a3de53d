"""tc.grad: gradients as Values, gradients of gradients under create_graph, and the errors for
rules that cannot be differentiated again."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc

ROOT = Path(__file__).resolve().parents[1]


class Cube(tc.Function):
    """x^3, written in the style that gives double backward for free."""

    def forward(self, x):
        return x ** 3

    # d(x^3)/dx = 3 x^2
    def backward(self, grad):
        x, _ = self.saved()
        return grad * 3 * x * x


def test_grad_returns_values_and_leaves_dot_grad_alone():
    x, y = tc.Value(2.0), tc.Value(3.0)
    dx, dy = tc.grad(x * y + x, [x, y])
    assert isinstance(dx, tc.Value) and dx.item() == 4.0 and dy.item() == 2.0
    assert not dx.requires_grad and x.grad is None and y.grad is None


def test_a_single_input_and_an_unused_input():
    x, unused = tc.Value([1.0, 2.0]), tc.Value(np.ones((2, 3)))
    (dx,) = tc.grad((x * x).sum(), x)
    np.testing.assert_array_equal(dx.data, [2.0, 4.0])
    du, = tc.grad((x * x).sum(), [unused])
    assert du.shape == (2, 3) and not du.data.any()


def test_third_derivative_of_a_scalar_expression_equals_its_closed_form():
    # f(x) = x^4 e^x: f' = (x^4 + 4x^3) e^x, f'' = (x^4 + 8x^3 + 12x^2) e^x,
    # f''' = (x^4 + 12x^3 + 36x^2 + 24x) e^x
    for value in [-1.3, 0.4, 2.0]:
        x = tc.Value(value)
        f = x * x * x * x * x.exp()
        (d1,) = tc.grad(f, [x], create_graph=True)
        (d2,) = tc.grad(d1, [x], create_graph=True)
        (d3,) = tc.grad(d2, [x])
        e = np.exp(value)
        np.testing.assert_allclose(d1.item(), (value**4 + 4 * value**3) * e, rtol=1e-13)
        np.testing.assert_allclose(d2.item(), (value**4 + 8 * value**3 + 12 * value**2) * e,
                                   rtol=1e-13)
        np.testing.assert_allclose(
            d3.item(), (value**4 + 12 * value**3 + 36 * value**2 + 24 * value) * e, rtol=1e-13)


def test_a_custom_op_in_the_house_style_is_twice_differentiable():
    x = tc.Value(np.array([0.5, -2.0, 3.0]))
    (d1,) = tc.grad(Cube.apply(x).sum(), [x], create_graph=True)
    (d2,) = tc.grad(d1.sum(), [x])
    np.testing.assert_allclose(d1.data, 3 * x.data**2, rtol=1e-14)
    np.testing.assert_allclose(d2.data, 6 * x.data, rtol=1e-14)


def test_hessian_vector_product_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    x, v = tc.Value(rng.standard_normal(4)), rng.standard_normal(4)
    f = (x @ (tc.Value(a, requires_grad=False) @ x)) * 0.5   # f = x^T A x / 2, H = (A + A^T)/2
    (g,) = tc.grad(f, [x], create_graph=True)
    (hv,) = tc.grad((g * v).sum(), [x])
    np.testing.assert_allclose(hv.data, (a + a.T) / 2 @ v, rtol=1e-12)


def test_a_grad_output_that_requires_grad_is_differentiated_too():
    x = tc.Value(np.array([1.0, 2.0, 3.0]))
    u = tc.Value(np.array([0.5, -1.0, 2.0]))
    (g,) = tc.grad(Cube.apply(x), [x], grad_output=u, create_graph=True)   # g = 3 x^2 u
    du, dx = tc.grad(g.sum(), [u, x])
    np.testing.assert_allclose(du.data, 3 * x.data**2, rtol=1e-14)
    np.testing.assert_allclose(dx.data, 6 * x.data * u.data, rtol=1e-14)


def test_retain_graph_defaults_to_create_graph():
    x = tc.Value(2.0)
    y = Cube.apply(x)
    tc.grad(y, [x], create_graph=True)
    tc.grad(y, [x])                  # the graph was kept by create_graph=True
    with pytest.raises(ValueError, match="already freed by an earlier backward"):
        tc.grad(y, [x])


def test_a_freed_node_whose_rule_grad_does_not_run_is_no_error():
    """As PyTorch: only the rules grad() runs need their saved arrays. A refused pass frees
    nothing, so the graph still serves a later call that needs no freed rule."""
    z = tc.Value(np.array([0.3, -0.7]))
    e = z.exp()
    tc.grad(e.sum(), [z])                                # frees Exp
    x = tc.Value(np.array([0.5, 2.0]))
    loss = (e * x).sum()
    with pytest.raises(ValueError, match=r"grad: the graph through Exp was already freed"):
        tc.grad(loss, [z])                               # needs Exp's rule
    (dx,) = tc.grad(loss, [x])                           # needs only Mul's and Sum's
    np.testing.assert_allclose(dx.data, np.exp([0.3, -0.7]), rtol=1e-15)
    (de,) = tc.grad((e * x).sum(), [e])                  # e is wanted, its rule is not needed
    np.testing.assert_array_equal(de.data, x.data)


def test_grad_errors():
    x = tc.Value(np.ones(3))
    with pytest.raises(ValueError, match=r"grad: output has shape \(3,\); an implicit gradient "
                                         r"needs a single element"):
        tc.grad(x * 2.0, [x])
    with pytest.raises(TypeError, match="grad: input 0 is a ndarray; expected Values"):
        tc.grad((x * 2.0).sum(), [np.ones(3)])
    with pytest.raises(ValueError, match=r"grad: grad_output has shape \(2,\) but the output "
                                         r"has shape \(3,\)"):
        tc.grad(x * 2.0, [x], grad_output=np.ones(2))


def test_grad_refuses_an_input_that_does_not_require_grad():
    # a saliency map of an image batch made without requires_grad: zeros would be a lie
    w = tc.Value([[1.0, -2.0], [0.5, 3.0]])
    images = tc.Value(np.array([[1.0, 2.0]]), requires_grad=False)
    loss = (images @ w).sum()
    with pytest.raises(ValueError, match=r"grad: input 0 \(shape \(1, 2\), dtype float64\) does "
                                         r"not require grad, so no gradient reaches it"):
        tc.grad(loss, [images])
    images = tc.Value(images.data)                 # the fix works
    (g,) = tc.grad((images @ w).sum(), [images])
    assert g.data.tolist() == [[-1.0, 3.5]]


def test_a_rule_reading_float_arrays_kept_on_self_is_refused_under_create_graph():
    class Swish(tc.Function):        # the first-order style: s and x kept from forward
        def forward(self, x):
            self.s = 1 / (1 + np.exp(-x))
            self.x = x
            return x * self.s

        def backward(self, grad):
            return grad * (self.s + self.x * self.s * (1 - self.s))

    x = tc.Value(np.array([0.3, -1.2]))
    (g,) = tc.grad(Swish.apply(x).sum(), [x])          # first order works
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(g.data, s + x.data * s * (1 - s), rtol=1e-14)
    with pytest.raises(TypeError, match=r"Swish: its backward cannot be differentiated again "
                                        r"\(create_graph=True\): forward kept the float "
                                        r"value\(s\) self.s, self.x"):
        tc.grad(Swish.apply(x).sum(), [x], create_graph=True)


@pytest.mark.parametrize("keep", [
    lambda x: x.mean(),                  # a numpy scalar, not an array
    lambda x: (x.mean(), x.size),        # an array inside a container
    lambda x: {"mean": x.mean()},
])
def test_floats_kept_in_scalars_and_containers_are_refused_too(keep):
    class ScaleByMean(tc.Function):      # y = x * mean(x), its mean kept on self
        def forward(self, x):
            self.kept = keep(x)
            self.m, self.n = x.mean(), x.size
            return x * self.m

        def backward(self, grad):
            x, _ = self.saved()
            return grad * self.m + (grad * x).sum() / self.n

    x = tc.Value([1.0, 2.0, 4.0])
    with pytest.raises(TypeError, match=r"ScaleByMean: its backward cannot be differentiated "
                                        r"again .* the float value\(s\) self.kept, self.m"):
        tc.grad((ScaleByMean.apply(x) ** 2).sum(), [x], create_graph=True)


def test_a_float_param_kept_on_self_is_a_constant_and_passes():
    class Scale(tc.Function):            # y = s x, s a param: constant, so d2y/dx2 = 0 is right
        def forward(self, x, s):
            self.s = s
            return x * s

        def backward(self, grad):
            return grad * self.s

    x = tc.Value([1.0, -2.0])
    s = np.array([3.0, 0.5])
    (g,) = tc.grad((Scale.apply(x, s=s) ** 2).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.data, 2 * s * s * x.data)
    np.testing.assert_allclose(tc.grad(g.sum(), [x])[0].data, 2 * s * s)


def test_grad_of_an_intermediate_does_not_run_its_rule():
    class Swish(tc.Function):            # first-order only: floats kept on self
        def forward(self, x):
            self.s = 1 / (1 + np.exp(-x))
            return x * self.s

        def backward(self, grad):
            raise AssertionError("Swish's rule is not on the path from h to the output")

    x = tc.Value(np.array([0.5, -1.0]))
    h = Swish.apply(x)
    (g,) = tc.grad((h * h).sum(), [h], create_graph=True)
    np.testing.assert_allclose(g.data, 2 * h.data)
    assert not h.fn.released                            # not run, so not freed either


def test_create_graph_gradients_have_their_inputs_dtype():
    # a float32 parameter in a float64 graph (a float64 target): its gradient is float32 in
    # both modes, and under create_graph the cast is recorded, so it differentiates again
    w = tc.Value(np.array([0.5, -1.5], dtype=np.float32))
    target = np.array([1.0, 2.0])
    loss = ((w * w - target) ** 2).sum()
    (plain,) = tc.grad(loss, [w], retain_graph=True)
    (g,) = tc.grad(loss, [w], create_graph=True)
    assert plain.dtype == g.dtype == np.float32
    np.testing.assert_allclose(g.data, 4 * w.data * (w.data ** 2 - target), rtol=1e-6)
    (h,) = tc.grad(g.sum(), [w])
    assert h.dtype == np.float32
    np.testing.assert_allclose(h.data, 12 * w.data ** 2 - 4 * target, rtol=1e-6)


def test_a_rule_calling_a_numpy_function_without_an_op_is_refused_under_create_graph():
    class NumpyExp2(tc.Function):
        def forward(self, x):
            return np.exp2(x)

        # d 2^x/dx = 2^x ln 2, through np.float_power, which has no op here
        def backward(self, grad):
            x, _ = self.saved()
            return grad * np.float_power(2.0, x) * np.log(2.0)

    x = tc.Value(np.array([0.3, -1.2]))
    (g,) = tc.grad(NumpyExp2.apply(x).sum(), [x])
    np.testing.assert_allclose(g.data, np.exp2(x.data) * np.log(2), rtol=1e-15)
    with pytest.raises(TypeError, match=r"NumpyExp2.backward failed on Values under "
                                        r"create_graph=True: np.float_power has no gradient "
                                        r"rule here.*numpy functions that have an op, not "
                                        r"others"):
        tc.grad(NumpyExp2.apply(x).sum(), [x], create_graph=True)


def test_a_rule_returning_arrays_under_create_graph_is_refused():
    class Detached(tc.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return np.full(grad.shape, 2.0)      # an array: the dependence on grad is lost

    x = tc.Value(np.ones(2))
    with pytest.raises(TypeError, match=r"Detached.backward returned a ndarray for input 0 "
                                        r"under create_graph=True; expected a Value"):
        tc.grad(Detached.apply(x).sum(), [x], create_graph=True)


def test_gradients_never_share_memory():
    a, b = tc.Value(np.array([1.0, 2.0])), tc.Value(np.array([3.0, 4.0]))
    c = a * b
    d = c + 0.0
    e = d.reshape(2, 1).sum()
    e.backward()
    grads = [a.grad, b.grad, c.grad, d.grad, e.grad]
    for i, g in enumerate(grads):
        for h in grads[i + 1:]:
            assert not np.shares_memory(g, h)
    c.grad[0] = 100.0
    assert d.grad.tolist() == [1.0, 1.0]


def test_scalar_gradients_are_arrays_of_their_own():
    # numpy's 0-d arithmetic gives numpy scalars (Mul's rule returns them, Add passes them on):
    # each .grad is still a 0-d array that no other node's .grad shares
    a, b = tc.Value(2.0), tc.Value(3.0)
    c = a * b
    d = c + c
    e = d * 1.0 + a
    e.backward()
    nodes = [a, b, c, d, e]
    assert all(type(n.grad) is np.ndarray and n.grad.shape == () for n in nodes)
    assert [n.grad.item() for n in nodes] == [7.0, 4.0, 2.0, 1.0, 1.0]
    for i, n in enumerate(nodes):
        for m in nodes[i + 1:]:
            assert not np.shares_memory(n.grad, m.grad)


def test_mistakes_in_a_custom_function_are_named():
    class NoForwardReturn(tc.Function):
        def forward(self, x):
            x * 2

    class NoBackwardReturn(tc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            grad * 2

    class ValueFromBackward(tc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return tc.Value(grad * 2)

    x = tc.Value(np.ones(2))
    with pytest.raises(TypeError, match=r"NoForwardReturn.forward returned None; expected a "
                                        r"numpy array \(did forward forget its `return`\?\)"):
        NoForwardReturn.apply(x)
    with pytest.raises(TypeError, match=r"NoBackwardReturn.backward returned None; expected one "
                                        r"gradient per input \(did backward forget"):
        NoBackwardReturn.apply(x).sum().backward()
    with pytest.raises(TypeError, match=r"ValueFromBackward.backward returned a Value for input "
                                        r"0; expected a numpy array"):
        ValueFromBackward.apply(x).sum().backward()


def test_an_accumulated_scalar_gradient_stays_an_array():
    a = tc.Value(2.0)
    (a * a + a).backward()
    (a * a).backward()
    assert type(a.grad) is np.ndarray and a.grad.shape == () and a.grad == 9.0
    c = a * a                           # an intermediate used twice: its gradient is a sum
    (c * c + c).backward()
    assert type(c.grad) is np.ndarray and c.grad == 2 * 4.0 + 1


def test_backward_refuses_a_complex_gradient():
    x = tc.Value(np.ones(2))
    with pytest.raises(TypeError, match=r"backward: grad has dtype complex128; expected real"):
        (x * 2.0).backward(np.ones(2) * 1j)


def test_reshape_names_a_non_integer_shape():
    with pytest.raises(TypeError, match=r"reshape: shape \(2.0, 3\) has a non-integer entry"):
        tc.Value(np.ones(6)).reshape(2.0, 3)


MODULES = ["value", "function", "gradcheck", "ops", "ops.elementwise", "ops.shape", "ops.conv",
           "ops.loss", "nn", "optim", "viz", "serialization", "profiler"]


@pytest.mark.parametrize("first", MODULES)
def test_any_module_can_be_imported_first(first):
    # an empty package object stands in for tinygrad_cnn/__init__.py, so `first` really is the
    # first module of the package to run; then the package's own init must also work
    code = (f"import sys, types; package = types.ModuleType('tinygrad_cnn'); "
            f"package.__path__ = [{str(ROOT / 'tinygrad_cnn')!r}]; "
            f"sys.modules['tinygrad_cnn'] = package; "
            f"import tinygrad_cnn.{first}; "
            f"del sys.modules['tinygrad_cnn']; import tinygrad_cnn as tc; "
            f"print((tc.Value(2.0) * 3).item())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6.0"


def test_the_constant_gradient_of_a_piecewise_linear_function_says_its_derivative_is_0():
    x = tc.Value(np.array([1.0, -2.0, 3.0]))
    (g,) = tc.grad(tc.ops.relu(x).sum(), [x], create_graph=True)
    assert not g.requires_grad
    np.testing.assert_array_equal(g.data, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"grad: this Value .* does not require grad; .*\("
                                         r"relu's and max_pool2d's are piecewise constant, say\), "
                                         r"and then its own derivative is 0"):
        tc.grad((g ** 2).sum(), [x])
