"""Matrix products: matmul (1-D, 2-D and batched, numpy's rules), linear (x @ w.T + b),
einsum (any sum of products of operands' elements named by subscripts) and bilinear
(x1^T A x2 + b, an einsum)."""

from __future__ import annotations

import math
import string

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.rearrange import moveaxis
from tinygrad_cnn.ops.shape import BroadcastTo, reshape, unbroadcast
from tinygrad_cnn.value import Value, as_value, data_of


class MatMul(Function):
    """a @ b with numpy's rules: 1-D operands are promoted to matrices and the added axis is
    dropped from the result; leading (batch) axes broadcast."""

    def forward(self, a, b):
        return a @ b

    # C = A B  =>  dA = dC B^T, dB = A^T dC; broadcast batch axes are summed back
    def backward(self, grad):
        a, b, _ = self.saved()
        a_shape, b_shape = a.shape, b.shape
        if len(a_shape) == 1:
            a = a.reshape((1,) + a_shape)                       # (K,) -> (1, K)
        if len(b_shape) == 1:
            b = b.reshape(b_shape + (1,))                       # (K,) -> (K, 1)
        grad = grad.reshape(_matrix_shape(a, b))               # put back the dropped axes
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(grad @ matrix_transpose(b), a.shape).reshape(a_shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(matrix_transpose(a) @ grad, b.shape).reshape(b_shape)
        return da, db


def _matrix_shape(a, b) -> tuple[int, ...]:
    """The shape of a @ b for matrices a (..., N, K) and b (..., K, M): (..., N, M)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return batch + (a.shape[-2], b.shape[-1])


def matrix_transpose(x):
    """x with its last two axes swapped (an array or a Value)."""
    n = len(x.shape)
    return x.transpose(tuple(range(n - 2)) + (n - 1, n - 2))


class Linear(Function):
    """x @ w.T + b: x (..., in), w (out, in), b (out,) -> (..., out)."""

    def forward(self, x, w, b):
        out = x @ w.T
        return out if b is None else out + b

    # y = x W^T + b  =>  dx = dy W, dW = dy^T x (summed over the batch), db = sum of dy
    def backward(self, grad):
        x, w, _, _ = self.saved()
        m = math.prod(x.shape[:-1])                             # M rows; no -1, so 0 works
        rows = grad.reshape((m, grad.shape[-1]))                # (..., out) -> (M, out)
        dx = grad @ w if self.needs_input_grad[0] else None
        dw = rows.T @ x.reshape((m, x.shape[-1])) if self.needs_input_grad[1] else None
        db = rows.sum(axis=0) if self.needs_input_grad[2] else None
        return dx, dw, db


class Einsum(Function):
    """numpy.einsum(subscripts, *operands) for explicit subscripts ("ij,jk->ik"): out[o] = the
    sum, over every index that is not in o, of the product of the operands' elements, each
    operand k indexed by its term t_k. A letter of size 1 in one operand broadcasts.

    The output is linear in each operand, so operand i's gradient is the same kind of sum:
    dA_i[t_i] = sum over the other indices of g[o] * prod_{k != i} A_k[t_k], itself an einsum
    of g and the other operands ("ik,jk->ij" for A of "ij,jk->ik"). An index of t_i that appears
    nowhere else was summed away by forward: the gradient is the same along it (broadcast); one
    that is 1 in A_i but larger elsewhere was broadcast: the gradient is summed along it.
    """

    def forward(self, *operands, subscripts):
        inputs, self.output = subscripts.split("->")
        self.terms = inputs.split(",")
        # optimize: numpy contracts pairs of operands by BLAS products instead of its own loops
        # (9x as fast for attention scores of (64, 128, 64) operands; 10 us more for tiny ones)
        return np.einsum(subscripts, *operands, optimize=len(operands) > 1)

    # dA_i = einsum(o, t_k for k != i -> t_i)(g, A_k ...), then broadcast or summed to A_i's shape
    def backward(self, grad):
        *operands, _ = self.saved()
        grads = []
        for i, (term, operand) in enumerate(zip(self.terms, operands, strict=True)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [k for k in range(len(operands)) if k != i]
            elsewhere = set(self.output).union(*[self.terms[k] for k in others])
            kept = "".join(letter for letter in term if letter in elsewhere)
            spec = ",".join([self.output, *[self.terms[k] for k in others]]) + "->" + kept
            g = Einsum.run(grad, *[operands[k] for k in others], subscripts=spec)
            sizes = iter(g.shape)
            g = g.reshape(tuple(next(sizes) if letter in elsewhere else 1 for letter in term))
            # summed where the operand has 1 (it was broadcast), spread where g has 1
            g = unbroadcast(g, tuple(1 if n == 1 else m
                                     for n, m in zip(operand.shape, g.shape, strict=True)))
            grads.append(BroadcastTo.run(g, shape=operand.shape))
        return tuple(grads)


def einsum(subscripts: str, *operands) -> Value:
    """numpy.einsum: the sum of products of the operands' elements that `subscripts` names, e.g.
    "ij,jk->ik" (a matrix product), "bij,bjk->bik" (batched), "i,i->" (a dot product),
    "ij->ji" (a transpose), "bhqd,bhkd->bhqk" (attention scores). Without "->" the output's
    letters are those that appear once, sorted, as numpy's; "..." stands for the leading axes
    that the operands broadcast. A letter may not repeat within one operand (numpy's diagonals
    and traces): for a trace write (x * np.eye(n)).sum(). Its gradient for each operand is
    another einsum, so it differentiates to every order."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts is a {type(subscripts).__name__}; expected a str "
                        f"first, as numpy's, e.g. einsum('ij,jk->ik', a, b)")
    shapes = [np.shape(data_of(x)) for x in operands]
    return Einsum.apply(*operands, subscripts=explicit_subscripts(subscripts, shapes))


def explicit_subscripts(subscripts: str, shapes: list[tuple[int, ...]]) -> str:
    """subscripts with "->" and the output written out and each "..." replaced by letters of
    its own (the broadcast axes, aligned from the right), after checking them against the
    operands' shapes: "...ij,jk" for shapes (5, 2, 3), (3, 4) is "Aij,jk->Aik"."""
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but "
                         f"{len(shapes)} were given; expected one comma-separated term per "
                         f"operand, e.g. einsum('ij,jk->ik', a, b)")
    for term in [*terms, output]:
        if not all(c in string.ascii_letters for c in term.replace("...", "", 1)):
            raise ValueError(f"einsum: term {term!r} of {subscripts!r}; expected letters and at "
                             f"most one '...', e.g. einsum('ij,jk->ik', a, b)")
    # "..." covers an operand's axes that its letters leave over, with letters no term uses;
    # the longest gets all of them
    spans = [len(shape) - len(term) + 3 for term, shape in zip(terms, shapes, strict=True)
             if "..." in term]
    unused = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in inputs]
    broadcast = "".join(unused[:max([0, *spans])])
    terms = [term.replace("...", broadcast[len(broadcast) - len(shape) + len(term) - 3:])
             if "..." in term else term for term, shape in zip(terms, shapes, strict=True)]
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        if len(term) != len(shape) or len(set(term)) != len(term):
            raise ValueError(f"einsum: term {term!r} of {subscripts!r} does not fit an operand "
                             f"of shape {shape}; expected one distinct letter per axis ('...' "
                             f"for leading axes); a letter twice in one operand (a diagonal or "
                             f"a trace) is not taken: for a trace of x write "
                             f"(x * np.eye(n)).sum()")
        for letter, n in zip(term, shape, strict=True):
            seen = sizes.setdefault(letter, n)
            if 1 not in (seen, n) and seen != n:
                raise ValueError(f"einsum: letter {letter!r} of {subscripts!r} stands for sizes "
                                 f"{seen} and {n} in operands of shapes {shapes}; expected equal "
                                 f"sizes (or 1, which broadcasts)")
            sizes[letter] = max(seen, n)
    letters = "".join(terms)
    if arrow:
        if broadcast and "..." not in output:
            raise ValueError(f"einsum: output {output!r} of {subscripts!r} leaves out the "
                             f"{len(broadcast)} axes of '...'; expected '...' in the output "
                             f"too (as numpy), e.g. '...ij->...i'; sum them afterwards")
        output = output.replace("...", broadcast)
    else:                       # numpy's implicit output: the letters that appear once, sorted
        output = broadcast + "".join(sorted(c for c in set(letters)
                                            if letters.count(c) == 1 and c not in broadcast))
    if not set(output) <= set(letters) or len(set(output)) != len(output):
        raise ValueError(f"einsum: output {output!r} of {subscripts!r}; expected distinct "
                         f"letters that the operands' terms use")
    return ",".join(terms) + "->" + output


def matmul(a, b) -> Value:
    """a @ b: (..., N, K) @ (..., K, M) -> (..., N, M); 1-D operands as in numpy."""
    a_shape, b_shape = np.shape(data_of(a)), np.shape(data_of(b))
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a_shape} and {b_shape}; use * to multiply by a scalar")
    inner = b_shape[-2 if len(b_shape) > 1 else 0]
    if a_shape[-1] != inner:
        raise ValueError(f"matmul: cannot multiply shapes {a_shape} and {b_shape}: inner "
                         f"dimensions {a_shape[-1]} and {inner} differ; expected a's last "
                         f"dimension to equal b's second-to-last")
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a_shape} and {b_shape} do not "
                         f"broadcast; expected equal or 1") from None
    return MatMul.apply(a, b)


def tensordot(a, b, axes=2) -> Value:
    """The sum of products over axes of a paired with axes of b, as numpy.tensordot: axes=N
    pairs a's last N axes with b's first N; axes=(axes_a, axes_b) pairs them in order (ints or
    sequences of ints, negatives allowed). The result has a's free axes, then b's. An einsum,
    so its gradients are einsums too.

    Raises
    ------
    TypeError
        For axes that are not an int or a pair.
    ValueError
        For axes out of range, repeated, of different counts, or pairing different sizes.
    """
    a_shape, b_shape = np.shape(data_of(a)), np.shape(data_of(b))
    axes_a, axes_b = _paired_axes(a_shape, b_shape, axes)
    a_letters = string.ascii_letters[:len(a_shape)]
    fresh = iter(string.ascii_letters[len(a_shape):])
    b_letters = [a_letters[axes_a[axes_b.index(j)]] if j in axes_b else next(fresh)
                 for j in range(len(b_shape))]
    for i, j in zip(axes_a, axes_b, strict=True):
        if a_shape[i] != b_shape[j]:
            raise ValueError(f"tensordot: axis {i} of a {a_shape} has size {a_shape[i]} but axis "
                             f"{j} of b {b_shape} has size {b_shape[j]}; expected equal sizes "
                             f"on each pair of summed axes")
    free = "".join(c for i, c in enumerate(a_letters) if i not in axes_a) + "".join(
        c for j, c in enumerate(b_letters) if j not in axes_b)
    return einsum(f"{a_letters},{''.join(b_letters)}->{free}", a, b)


def _paired_axes(a_shape: tuple, b_shape: tuple, axes) -> tuple[list[int], list[int]]:
    """tensordot's axes as two lists of non-negative axes, a's and b's, paired in order."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, (bool, np.bool_)):
        if not 0 <= axes <= min(len(a_shape), len(b_shape)):
            raise ValueError(f"tensordot: axes={axes} for a {a_shape} and b {b_shape}; expected "
                             f"0 to {min(len(a_shape), len(b_shape))} axes to sum over")
        return (list(range(len(a_shape) - axes, len(a_shape))), list(range(axes)))
    if not isinstance(axes, (tuple, list)) or len(axes) != 2:
        raise TypeError(f"tensordot: axes={axes!r:.60}; expected an int N (a's last N axes with "
                        f"b's first N) or a pair (axes_a, axes_b)")
    pairs = []
    for name, given, shape in (("a", axes[0], a_shape), ("b", axes[1], b_shape)):
        listed = [given] if isinstance(given, (int, np.integer)) else list(given)
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
                   and -len(shape) <= i < len(shape) for i in listed):
            raise ValueError(f"tensordot: axes {given!r} of {name} {shape}; expected ints in "
                             f"[{-len(shape)}, {len(shape)})")
        listed = [int(i) % len(shape) for i in listed]
        if len(set(listed)) != len(listed):
            raise ValueError(f"tensordot: axes {given!r} of {name} {shape} name an axis twice; "
                             f"expected distinct axes")
        pairs.append(listed)
    if len(pairs[0]) != len(pairs[1]):
        raise ValueError(f"tensordot: {len(pairs[0])} axes of a and {len(pairs[1])} of b; "
                         f"expected as many of each, summed pairwise")
    return pairs[0], pairs[1]


def dot(a, b) -> Value:
    """numpy.dot: a * b if either is 0-d; the inner product of two vectors; a matrix product
    of two matrices; otherwise the sum over a's last axis and b's second-to-last (its only
    one if b is 1-D), dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])."""
    a_ndim, b_ndim = np.ndim(data_of(a)), np.ndim(data_of(b))
    if a_ndim == 0 or b_ndim == 0:
        return as_value(a) * b
    return tensordot(a, b, axes=([a_ndim - 1], [max(b_ndim - 2, 0)]))


def inner(a, b) -> Value:
    """numpy.inner: a * b if either is 0-d, else the sum of products over the last axes of
    both, inner(a, b)[i, j] = sum(a[i, :] * b[j, :])."""
    a_ndim, b_ndim = np.ndim(data_of(a)), np.ndim(data_of(b))
    if a_ndim == 0 or b_ndim == 0:
        return as_value(a) * b
    return tensordot(a, b, axes=([a_ndim - 1], [b_ndim - 1]))


def outer(a, b) -> Value:
    """numpy.outer: out[i, j] = a[i] * b[j] of the flattened a and b, (a.size, b.size)."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def kron(a, b) -> Value:
    """numpy.kron, the Kronecker product: block (i, j, ...) of the result is a[i, j, ...] * b,
    of shape a.shape * b.shape axis by axis (the one with fewer axes gets leading 1s). An
    einsum that interleaves a's and b's axes, then a reshape."""
    a_shape, b_shape = np.shape(data_of(a)), np.shape(data_of(b))
    n = max(len(a_shape), len(b_shape))
    a_shape, b_shape = (1,) * (n - len(a_shape)) + a_shape, (1,) * (n - len(b_shape)) + b_shape
    a_letters, b_letters = string.ascii_letters[:n], string.ascii_letters[n:2 * n]
    pairs = "".join(i + j for i, j in zip(a_letters, b_letters, strict=True))
    blocks = einsum(f"{a_letters},{b_letters}->{pairs}", reshape(a, a_shape), reshape(b, b_shape))
    return blocks.reshape(tuple(m * k for m, k in zip(a_shape, b_shape, strict=True)))


def cross(a, b, axis: int = -1) -> Value:
    """The cross product of 3-vectors along `axis` of a and b (their other axes broadcast), as
    torch.linalg.cross and numpy.cross(a, b, axis=axis): c = (a_y b_z - a_z b_y,
    a_z b_x - a_x b_z, a_x b_y - a_y b_x), from a and b with their components rotated."""
    a_shape, b_shape = np.shape(data_of(a)), np.shape(data_of(b))
    for name, shape in (("a", a_shape), ("b", b_shape)):
        if not shape or not -len(shape) <= axis < len(shape) or shape[axis] != 3:
            raise ValueError(f"cross: {name} has shape {shape}; expected size 3 along axis "
                             f"{axis} (3-vectors)")
    a, b = moveaxis(a, axis, -1), moveaxis(b, axis, -1)
    next_, after = np.array([1, 2, 0]), np.array([2, 0, 1])    # y z x, z x y
    c = a[..., next_] * b[..., after] - a[..., after] * b[..., next_]
    return moveaxis(c, -1, axis if axis >= 0 else len(c.shape) + axis)


def linear(x, w, b=None) -> Value:
    """x @ w.T + b with w of shape (out_features, in_features), as in PyTorch.

    The layer computes in the weight's dtype: a constant float64 batch (what `images / 255.0`
    gives) meets float32 weights as float32, not silently in float64 at half the speed; an
    input that requires grad must already have the weight's dtype.
    """
    x_data, w_data = np.asarray(data_of(x)), np.asarray(data_of(w))
    if w_data.ndim != 2 or x_data.ndim == 0 or x_data.shape[-1] != w_data.shape[1]:
        raise ValueError(
            f"linear: input of shape {x_data.shape} does not fit weight of shape "
            f"{w_data.shape}; expected weight (out_features, in_features) with in_features = "
            f"the input's last dimension{_one_example_hint(x_data.shape, w_data.shape)}")
    if b is not None and np.shape(data_of(b)) != (w_data.shape[0],):
        raise ValueError(f"linear: bias has shape {np.shape(data_of(b))}; expected "
                         f"({w_data.shape[0]},), one per output feature of weight "
                         f"{w_data.shape}")
    if x_data.dtype != w_data.dtype and x_data.dtype.kind == "f" and w_data.dtype.kind == "f":
        x = in_weight_dtype("linear", x, w_data.dtype)
    return Linear.apply(x, w, b)


def bilinear(x1, x2, weight, bias=None) -> Value:
    """y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j] + bias[o], as PyTorch's
    bilinear: x1 (..., in1_features), x2 (..., in2_features) with the same leading axes (none:
    one example), weight (out_features, in1_features, in2_features), bias (out_features,) ->
    (..., out_features). One einsum, "...i,oij,...j->...o", so each input's gradient is an
    einsum of the upstream gradient and the other two (dx1 = sum_oj g_o A_oij x2_j), to every
    order. A constant float input is computed in the weight's dtype, as linear does."""
    shapes = [np.shape(data_of(v)) for v in (x1, x2, weight)]
    s1, s2, w_shape = shapes
    if (len(w_shape) != 3 or not s1 or not s2 or s1[-1] != w_shape[1] or s2[-1] != w_shape[2]
            or s1[:-1] != s2[:-1]):
        raise ValueError(
            f"bilinear: inputs of shapes {s1} and {s2} do not fit weight of shape {w_shape}; "
            f"expected x1 (..., in1_features), x2 (..., in2_features) with the same leading "
            f"axes and weight (out_features, in1_features, in2_features); pass inputs whose "
            f"last axes are the weight's axes 1 and 2, with equal batch shapes")
    if bias is not None and np.shape(data_of(bias)) != (w_shape[0],):
        raise ValueError(f"bilinear: bias has shape {np.shape(data_of(bias))}; expected "
                         f"({w_shape[0]},), one per output feature of weight {w_shape}")
    w_dtype = np.asarray(data_of(weight)).dtype
    x1, x2 = (in_weight_dtype("bilinear", x, w_dtype)
              if np.asarray(data_of(x)).dtype != w_dtype and np.asarray(data_of(x)).dtype.kind
              == "f" and w_dtype.kind == "f" else x for x in (x1, x2))
    out = einsum("...i,oij,...j->...o", x1, weight, x2)
    return out if bias is None else out + bias


def _one_example_hint(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> str:
    """For an input of 2 or more axes that holds exactly in_features values: it is most likely one
    example whose first axis went on as the batch (one image (C, H, W) through the convolutions,
    which take it unbatched as PyTorch's do, and Flatten(), which keeps axis 0: the channels);
    '; ...' saying to give the model a batch of one, else ''."""
    if len(w_shape) != 2 or len(x_shape) < 2 or math.prod(x_shape) != w_shape[1]:
        return ""
    return (f"; the input's {w_shape[1]} values are exactly in_features: it looks like one "
            f"example whose first axis was read as the batch (e.g. one image (C, H, W) through "
            f"Flatten(), which kept its channels as the batch axis); give the model a batch: "
            f"x[None] for one example, or images[:1] rather than images[0]")


def in_weight_dtype(op: str, x, dtype: np.dtype):
    """A constant float input converted to the layer weight's dtype; an input that requires
    grad and has another dtype is an error naming both (converting it would need a cast op)."""
    if isinstance(x, Value) and x.requires_grad:
        raise TypeError(f"{op}: input has dtype {x.dtype} but the weight has dtype {dtype}; "
                        f"expected the same dtype for an input that requires grad; make the "
                        f"input {dtype} where it is created, e.g. tc.Value(data, dtype=np.{dtype})"
                        f"{gradcheck_hint(op)}")
    return np.asarray(data_of(x), dtype=dtype)


def gradcheck_hint(op: str) -> str:
    """The fix for a layer checked with tc.gradcheck, which makes float64 copies of its inputs
    but leaves a layer's float32 weights as they are."""
    return (f"; to check a layer with tc.gradcheck (float64 copies of its inputs), pass its "
            f"weights as inputs too: tc.gradcheck(lambda x, w, b: tc.ops.{op}(x, w, b), "
            f"[x, layer.weight.data, layer.bias.data])")
