"""matmul (2-D, batched, 1-D), linear and einsum: forward against naive loops and numpy,
gradcheck, second derivatives, errors."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc


def naive_matmul(a, b):
    """numpy's matmul rules spelled out around reference.matmul's triple loop."""
    a2 = a[None, :] if a.ndim == 1 else a             # (K,) -> (1, K)
    b2 = b[:, None] if b.ndim == 1 else b             # (K,) -> (K, 1)
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape(-1, *a2.shape[-2:])
    b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape(-1, *b2.shape[-2:])
    out = np.stack([reference.matmul(x, y) for x, y in zip(a3, b3, strict=True)])
    out = out.reshape(batch + out.shape[-2:])
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


MATMUL_SHAPES = [
    ((3, 4), (4, 2)),              # 2-D, non-square
    ((1, 1), (1, 1)),
    ((2, 3, 4), (2, 4, 5)),        # batched
    ((2, 3, 4), (4, 5)),           # batch against a matrix
    ((3, 4), (2, 4, 5)),           # a matrix against a batch
    ((2, 1, 3, 4), (5, 4, 2)),     # batch axes broadcast in both operands
    ((4,), (4, 3)),                # 1-D @ 2-D
    ((3, 4), (4,)),                # 2-D @ 1-D
    ((4,), (4,)),                  # 1-D @ 1-D -> scalar
    ((4,), (2, 4, 3)),             # 1-D @ batched
    ((2, 3, 4), (4,)),             # batched @ 1-D
]


@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES)
def test_matmul_forward_and_gradcheck(rng, a_shape, b_shape):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = tc.ops.matmul(tc.Value(a), tc.Value(b))
    np.testing.assert_allclose(out.data, naive_matmul(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal((tc.Value(a) @ tc.Value(b)).data, out.data)
    assert tc.gradcheck(tc.ops.matmul, [a, b])


def test_matmul_with_a_constant_array_on_either_side(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    w = tc.Value(b)
    np.testing.assert_allclose((a @ w).data, a @ b, rtol=1e-15)
    (a @ w).sum().backward()
    np.testing.assert_allclose(w.grad, a.T @ np.ones((2, 4)), rtol=1e-14)
    assert tc.gradcheck(lambda v: v @ b, [a])


@pytest.mark.parametrize("a_shape, b_shape, inner", [((2, 3), (4, 5), r"3 and 4"),
                                                     ((3,), (2, 5), r"3 and 2"),
                                                     ((2, 2, 3), (2,), r"3 and 2")])
def test_matmul_shape_mismatch_names_both_shapes(a_shape, b_shape, inner):
    shapes = rf"{a_shape} and {b_shape}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=rf"matmul: cannot multiply shapes {shapes}: inner "
                                         rf"dimensions {inner} differ"):
        tc.Value(np.ones(a_shape)) @ tc.Value(np.ones(b_shape))


def test_matmul_other_errors():
    with pytest.raises(ValueError, match=r"matmul: operands must have at least 1 dimension, got "
                                         r"shapes \(\) and \(3,\); use \* to multiply"):
        tc.ops.matmul(tc.Value(2.0), tc.Value(np.ones(3)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions of \(2, 3, 4\) and "
                                         r"\(3, 4, 5\) do not broadcast"):
        tc.ops.matmul(np.ones((2, 3, 4)), tc.Value(np.ones((3, 4, 5))))


LINEAR_SHAPES = [                  # x shape, (out_features, in_features)
    ((5, 3), (4, 3)),
    ((1, 1), (1, 1)),
    ((3,), (2, 3)),                # a single sample, 1-D
    ((2, 3, 4), (5, 4)),           # extra leading axes
]


@pytest.mark.parametrize("x_shape, w_shape", LINEAR_SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_and_gradcheck(rng, x_shape, w_shape, bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    out = tc.ops.linear(tc.Value(x), tc.Value(w), None if b is None else tc.Value(b))
    expected = naive_matmul(x, w.T) + (0.0 if b is None else b)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    if bias:
        assert tc.gradcheck(tc.ops.linear, [x, w, b])
    else:
        assert tc.gradcheck(tc.ops.linear, [x, w])
        assert out.fn.inputs[2] is None and len(out.parents) == 2


def test_linear_skips_the_input_gradient_of_a_constant_batch(rng):
    x = tc.Value(rng.standard_normal((4, 3)), requires_grad=False)
    w, b = tc.Value(rng.standard_normal((2, 3))), tc.Value(rng.standard_normal(2))
    out = tc.ops.linear(x, w, b)
    assert out.fn.needs_input_grad == (False, True, True)
    out.backward(np.ones((4, 2)))
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.ones((2, 4)) @ x.data, rtol=1e-14)
    np.testing.assert_array_equal(b.grad, [4.0, 4.0])


def test_linear_shape_mismatches_raise():
    with pytest.raises(ValueError, match=r"linear: input of shape \(5, 3\) does not fit weight "
                                         r"of shape \(4, 2\); expected weight \(out_features, "
                                         r"in_features\)"):
        tc.ops.linear(tc.Value(np.ones((5, 3))), tc.Value(np.ones((4, 2))))
    with pytest.raises(ValueError, match=r"linear: input of shape \(5, 3\) does not fit weight "
                                         r"of shape \(3,\)"):
        tc.ops.linear(tc.Value(np.ones((5, 3))), tc.Value(np.ones(3)))
    with pytest.raises(ValueError, match=r"linear: bias has shape \(3,\); expected \(4,\), one "
                                         r"per output feature"):
        tc.ops.linear(tc.Value(np.ones((5, 3))), tc.Value(np.ones((4, 3))),
                      tc.Value(np.ones(3)))


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (4, 2)), ((4,), (4, 3)), ((2, 4), (4,)),
                                              ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_is_twice_differentiable(rng, a_shape, b_shape):
    assert tc.gradgradcheck(lambda a, b: a @ b, [rng.standard_normal(a_shape),
                                                 rng.standard_normal(b_shape)])


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_is_twice_differentiable(rng, x_shape):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((2, 3)), rng.standard_normal(2)
    assert tc.gradgradcheck(tc.ops.linear, [x, w, b])
    # a product of two linear layers has non-zero second derivatives in the weights
    w2 = rng.standard_normal((3, 2))
    assert tc.gradgradcheck(lambda x, w, w2: tc.ops.linear(tc.ops.linear(x, w), w2), [x, w, w2])


def test_linear_converts_a_constant_input_and_refuses_one_that_requires_grad():
    w = tc.Value(np.ones((2, 3), dtype=np.float32))
    assert tc.ops.linear(np.ones((4, 3)) / 255.0, w).dtype == np.float32
    with pytest.raises(TypeError, match=r"linear: input has dtype float64 but the weight has "
                                        r"dtype float32; expected the same dtype"):
        tc.ops.linear(tc.Value(np.ones((4, 3))), w)


def test_the_dtype_error_under_gradcheck_gives_a_fix_that_works(rng):
    """tc.gradcheck makes float64 copies of its inputs only, so a float32 layer refuses them;
    the message says how to check the layer instead, and that way passes."""
    layer = tc.nn.Linear(3, 2)
    x = rng.standard_normal((4, 3))
    with pytest.raises(TypeError, match=r"to check a layer with tc.gradcheck \(float64 copies of "
                                        r"its inputs\), pass its weights as inputs too: "
                                        r"tc.gradcheck\(lambda x, w, b: tc.ops.linear\(x, w, b\), "
                                        r"\[x, layer.weight.data, layer.bias.data\]\)"):
        tc.gradcheck(layer, [x])
    assert tc.gradcheck(lambda x, w, b: tc.ops.linear(x, w, b),
                        [x, layer.weight.data, layer.bias.data])


@pytest.mark.parametrize("x_shape, w_shape", [((2, 0), (3, 0)), ((0, 3), (2, 3)),
                                              ((2, 1, 0), (4, 0))])
def test_linear_with_an_empty_batch_or_no_input_features(rng, x_shape, w_shape):
    """With in_features = 0 the output is the bias alone and dx, dw are empty; with no rows the
    output is empty and dw, db are zeros (reshape(-1, 0) of an empty array is an error)."""
    x, w = tc.Value(rng.standard_normal(x_shape)), tc.Value(rng.standard_normal(w_shape))
    b = tc.Value(rng.standard_normal(w_shape[0]))
    out = tc.ops.linear(x, w, b)
    np.testing.assert_array_equal(out.data, np.broadcast_to(b.data, out.shape))
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    assert x.grad.shape == x_shape and w.grad.shape == w_shape
    np.testing.assert_array_equal(w.grad, np.zeros(w_shape))
    np.testing.assert_allclose(b.grad, upstream.reshape(-1, w_shape[0]).sum(axis=0), rtol=1e-14)


EINSUM_CASES = [                                   # (subscripts, operand shapes)
    ("ij,jk->ik", [(2, 3), (3, 4)]),               # a matrix product
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),      # batched
    ("i,i->", [(3,), (3,)]),                       # a dot product
    ("i,j->ij", [(3,), (4,)]),                     # an outer product
    ("ij->ji", [(2, 3)]),                          # a transpose
    ("ij->", [(2, 3)]),                            # a sum: the gradient broadcasts back
    ("ij->i", [(2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),                   # implicit output: "ik"
    ("ba", [(2, 3)]),                              # implicit output "ab": a transpose
    ("ij,kj->", [(2, 3), (4, 3)]),                 # every letter summed
    ("ij,j->", [(2, 1), (3,)]),                    # a size-1 axis broadcast, its gradient summed
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 1, 3, 5)]),   # broadcast batch axes
    ("...ij,jk", [(5, 2, 3), (3, 4)]),
    ("...->...", [(2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),    # three operands
    (",ij->ij", [(), (2, 3)]),                     # a 0-d operand
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),   # attention scores
    ("iJ,Jk->ki", [(2, 3), (3, 2)]),               # capital letters, as numpy
]


@pytest.mark.parametrize("subscripts, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_forward_gradcheck_and_second_derivatives(rng, subscripts, shapes):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    out = tc.ops.einsum(subscripts, *[tc.Value(a) for a in arrays])
    expected = np.einsum(subscripts, *arrays)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-15)
    assert out.shape == expected.shape
    assert tc.gradcheck(lambda *v: tc.ops.einsum(subscripts, *v), arrays)
    assert tc.gradgradcheck(lambda *v: tc.ops.einsum(subscripts, *v), arrays)


def test_einsum_gradients_by_hand_and_float32(rng):
    a = tc.Value(np.arange(6.0).reshape(2, 3), dtype=np.float32)
    b = tc.Value(np.ones((3, 4)), dtype=np.float32)
    out = tc.ops.einsum("ij,jk->ik", a, b)
    out.backward(np.ones((2, 4), dtype=np.float32))
    assert out.dtype == a.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, np.full((2, 3), 4.0))     # dA = G B^T: row sums of B
    np.testing.assert_array_equal(b.grad, np.repeat([[3.0], [5.0], [7.0]], 4, axis=1))  # A^T G
    x = tc.Value(rng.standard_normal(4))
    tc.ops.einsum("i->", x).backward()                               # a sum: ones
    np.testing.assert_array_equal(x.grad, np.ones(4))


def test_einsum_constant_operands_get_no_gradient_and_integers_stay_numpys():
    w = tc.Value(np.ones((3, 2)))
    tc.ops.einsum("ij,jk->ik", np.arange(6.0).reshape(2, 3), w).sum().backward()
    np.testing.assert_array_equal(w.grad, np.repeat([[3.0], [5.0], [7.0]], 2, axis=1))
    ints = tc.ops.einsum("i,i->", np.arange(3), np.arange(3))
    assert ints.data == 5 and ints.dtype == np.arange(3).dtype and not ints.requires_grad


@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ii->i", [(2, 2)], r"term 'ii' of 'ii->i' does not fit an operand of shape \(2, 2\); "
                        r"expected one distinct letter per axis .* for a trace of x write "
                        r"\(x \* np.eye\(n\)\).sum\(\)"),
    ("ij,jk->ik", [(2, 3)], r"subscripts 'ij,jk->ik' name 2 operand\(s\) but 1 were given"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"letter 'j' of 'ij,jk->ik' stands for sizes 3 and 4 in "
                                    r"operands of shapes \[\(2, 3\), \(4, 5\)\]; expected equal "
                                    r"sizes \(or 1, which broadcasts\)"),
    ("i2", [(2, 2)], r"term 'i2' of 'i2'; expected letters and at most one '...'"),
    ("i...j...", [(2, 3)], r"term 'i...j...' of 'i...j...'; expected letters and at most one"),
    ("ij->k", [(2, 3)], r"output 'k' of 'ij->k'; expected distinct letters that the operands' "
                        r"terms use"),
    ("ij->ii", [(2, 3)], r"output 'ii' of 'ij->ii'"),
    ("ijk", [(2, 3)], r"term 'ijk' of 'ijk' does not fit an operand of shape \(2, 3\)"),
    ("...->", [(2, 3)], r"output '' of '...->' leaves out the 2 axes of '...'; expected '...' "
                        r"in the output too"),
])
def test_einsum_errors_name_the_subscripts_and_the_shapes(subscripts, shapes, message):
    with pytest.raises(ValueError, match=rf"^einsum: {message}"):
        tc.ops.einsum(subscripts, *[np.ones(shape) for shape in shapes])


def test_einsum_takes_the_subscripts_first_and_the_trace_fix_works():
    x = np.arange(9.0).reshape(3, 3)
    with pytest.raises(TypeError, match=r"einsum: subscripts is a ndarray; expected a str first"):
        tc.ops.einsum(x, "ii")
    assert (tc.Value(x) * np.eye(3)).sum().item() == np.trace(x)
