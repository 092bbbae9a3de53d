"""Differential fuzzing against PyTorch float64: random expression graphs built from the engine's
ops -- broadcasting, fan-out, one node used twice in one op, reductions over random axes,
reshapes and transposes, matmuls, indexing, cat/stack/split/pad, where, minimum/maximum, the
trigonometric functions and arctan2, prod, the losses -- evaluated by both libraries; every
node's value, every node's gradient (the fast path of backward()), every input's gradient from
tc.grad(create_graph=True) and the second derivatives d/d inputs of (gradients . v) must agree.

The seed is fixed and `make test` checks GRAPHS = 100 graphs (a few seconds). For more:

    TINYGRAD_CNN_FUZZ_GRAPHS=20000 .venv/bin/python -m pytest tests/torch_oracle/test_fuzz.py
    TINYGRAD_CNN_FUZZ_SEED=7 ...      # other graphs than the default seed 0

A failure prints the graph as a program (v3 = mul(v1, v1) ...) with its number and seed;
graph k is built from numpy.random.default_rng([seed, k]) alone, so replay(torch, seed, k)
rebuilds it alone and check_graph(torch, graph, "") checks it again.

Inputs are kept away from kinks and near-ties by construction: a candidate op whose inputs lie
within 1e-9 of a kink of it (relu at 0, a tie of max, ...) without being exactly on it is
dropped, since there rounding differences between the libraries decide the gradient; exact
kinks and ties stay (both libraries follow the same conventions there)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def _environment_int(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an integer; expected e.g. {name}={default}; "
                         f"unset it for the default") from None
    if value < 0:
        raise ValueError(f"{name}={value}; expected a number >= 0")
    return value


GRAPHS = _environment_int("TINYGRAD_CNN_FUZZ_GRAPHS", 100)
SEED = _environment_int("TINYGRAD_CNN_FUZZ_SEED", 0)
STEPS = (4, 12)        # ops per graph, inclusive range
MAX_SIZE = 64          # elements of any node
MAX_LEAVES = 6
NEAR = 1e-9            # closer than this to a kink, but not on it: the candidate is dropped
MAX_ABS = 1e4          # larger values: the candidate is dropped (keeps tolerances meaningful)


@dataclass
class Step:
    """One node of a graph: out = ours(*nodes[args]) in tinygrad_cnn, theirs(torch, ...) in
    PyTorch; `text` is how the program listing shows it."""
    family: str
    text: str
    args: list[int]
    ours: object
    theirs: object


@dataclass
class Graph:
    leaves: list[np.ndarray] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    values: list = field(default_factory=list)     # torch tensors (no grad) of every node
    upstream: dict[int, np.ndarray] = field(default_factory=dict)   # sink node -> u

    @property
    def size(self) -> int:
        return len(self.leaves) + len(self.steps)

    def listing(self) -> str:
        lines = [f"v{i} = input {leaf.shape}" for i, leaf in enumerate(self.leaves)]
        first = len(self.leaves)
        lines += [f"v{first + k} = {step.text.format(*[f'v{a}' for a in step.args])}"
                  for k, step in enumerate(self.steps)]
        sinks = " + ".join(f"sum(u{k} * v{k})" for k in self.upstream)
        return "\n".join([*lines, f"loss = {sinks}"])


class Builder:
    """Grows one random graph, evaluating each candidate op with PyTorch (no grad) to check its
    shape, size, magnitude and distance from kinks before keeping it."""

    def __init__(self, torch, rng: np.random.Generator):
        self.torch, self.rng, self.graph = torch, rng, Graph()
        # nodes are numbered in the order they are made (leaves may come late, e.g. a matmul's
        # new weight); renumbered() puts the leaves first at the end
        self.node_of: list[tuple[str, int]] = []    # id -> ("leaf", i) or ("step", k)

    # nodes -----------------------------------------------------------------------------------

    def value(self, node: int):
        return self.graph.values[node]

    def shape(self, node: int) -> tuple[int, ...]:
        return tuple(self.value(node).shape)

    def new_leaf(self, shape) -> int | None:
        if len(self.graph.leaves) >= MAX_LEAVES or int(np.prod(shape)) > MAX_SIZE:
            return None
        array = self.rng.standard_normal(shape)
        self.graph.leaves.append(array)
        self.graph.values.append(self.torch.tensor(array))
        self.node_of.append(("leaf", len(self.graph.leaves) - 1))
        return len(self.node_of) - 1

    def pick(self, accept=lambda shape: True) -> int | None:
        """A node whose shape passes `accept`, recent ones likelier (so chains grow deep)."""
        nodes = [n for n in range(len(self.node_of)) if accept(self.shape(n))]
        if not nodes:
            return None
        weights = np.arange(1, len(nodes) + 1, dtype=float)
        return nodes[self.rng.choice(len(nodes), p=weights / weights.sum())]

    def random_shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.rng.integers(1, 5, size=self.rng.integers(0, 4)))

    # candidates ------------------------------------------------------------------------------

    def try_add(self, family, text, args, ours, theirs, guard=None) -> bool:
        """Keep the op if PyTorch evaluates it to a small finite array and `guard` (checking
        the inputs' distance from the op's kinks) passes."""
        torch = self.torch
        inputs = [self.value(a) for a in args]
        if guard is not None and not guard(*[x.numpy() for x in inputs]):
            return False
        with torch.no_grad():
            out = theirs(torch, *inputs)
        array = out.numpy()
        if array.size == 0 or array.size > MAX_SIZE or array.ndim > 4:
            return False
        if not np.all(np.isfinite(array)) or np.abs(array).max() > MAX_ABS:
            return False
        self.graph.steps.append(Step(family, text, list(args), ours, theirs))
        self.graph.values.append(out)
        self.node_of.append(("step", len(self.graph.steps) - 1))
        return True

    def unary(self) -> bool:
        rng = self.rng
        x = self.pick()
        c = float(np.round(rng.uniform(0.5, 2.0) * rng.choice([-1, 1]), 3))
        slope = float(np.round(rng.uniform(0.01, 0.3), 3))
        lo, hi = sorted(np.round(rng.uniform(-1.5, 1.5, 2), 3).tolist())
        choices = [
            ("neg({})", lambda a: -a, lambda th, a: -a, None),
            ("tanh({})", ops.tanh, lambda th, a: th.tanh(a), None),
            ("sigmoid({})", ops.sigmoid, lambda th, a: th.sigmoid(a), None),
            ("relu({})", ops.relu, lambda th, a: th.relu(a), away_from(0.0)),
            ("abs({})", ops.abs, lambda th, a: th.abs(a), away_from(0.0)),
            ("square({})", ops.square, lambda th, a: th.square(a), None),
            ("exp({})", ops.exp, lambda th, a: th.exp(a), None),
            ("log(abs({}))", lambda a: ops.log(ops.abs(a)), lambda th, a: th.log(th.abs(a)),
             above(0.05, absolute=True)),
            ("sqrt(abs({}))", lambda a: ops.sqrt(ops.abs(a)), lambda th, a: th.sqrt(th.abs(a)),
             above(0.05, absolute=True)),
            ("{} ** 2", lambda a: a ** 2, lambda th, a: a ** 2, None),
            ("{} ** 3", lambda a: a ** 3, lambda th, a: a ** 3, None),
            ("{} ** -1", lambda a: a ** -1, lambda th, a: a ** -1, above(0.1, absolute=True)),
            ("{} ** 0.5", lambda a: a ** 0.5, lambda th, a: a ** 0.5, above(0.05)),
            ("2 ** {}", lambda a: 2 ** a, lambda th, a: 2 ** a, None),
            (f"clip({{}}, {lo}, {hi})", lambda a: ops.clip(a, lo, hi),
             lambda th, a: th.clamp(a, lo, hi), away_from(lo, hi)),
            (f"clip({{}}, min={lo})", lambda a: ops.clip(a, min=lo),
             lambda th, a: th.clamp(a, min=lo), away_from(lo)),
            (f"leaky_relu({{}}, {slope})", lambda a: ops.leaky_relu(a, slope),
             lambda th, a: th.nn.functional.leaky_relu(a, slope), away_from(0.0)),
            ("softplus({})", ops.softplus, lambda th, a: th.logaddexp(a, th.zeros_like(a)), None),
            ("log_sigmoid({})", ops.log_sigmoid, lambda th, a: th.nn.functional.logsigmoid(a),
             None),
            ("mish({})", ops.mish, lambda th, a: th.nn.functional.mish(a), None),
            ("tanhshrink({})", ops.tanhshrink, lambda th, a: th.nn.functional.tanhshrink(a),
             None),
            ("softsign({})", ops.softsign, lambda th, a: th.nn.functional.softsign(a),
             away_from(0.0)),
            ("selu({})", ops.selu, lambda th, a: th.nn.functional.selu(a), away_from(0.0)),
            ("celu({})", ops.celu, lambda th, a: th.nn.functional.celu(a), away_from(0.0)),
            ("sin({})", ops.sin, lambda th, a: th.sin(a), None),
            ("cos({})", ops.cos, lambda th, a: th.cos(a), None),
            ("arctan({})", ops.arctan, lambda th, a: th.atan(a), None),
            ("arcsin({})", ops.arcsin, lambda th, a: th.asin(a), below(0.95, absolute=True)),
            ("arccos({})", ops.arccos, lambda th, a: th.acos(a), below(0.95, absolute=True)),
            (f"{{}} + {c}", lambda a: a + c, lambda th, a: a + c, None),
            (f"{c} - {{}}", lambda a: c - a, lambda th, a: c - a, None),
            (f"{{}} * {c}", lambda a: a * c, lambda th, a: a * c, None),
            (f"{{}} / {c}", lambda a: a / c, lambda th, a: a / c, None),
            (f"{c} / {{}}", lambda a: c / a, lambda th, a: c / a, above(0.1, absolute=True)),
        ]
        text, ours, theirs, guard = choices[rng.integers(len(choices))]
        return self.try_add("unary", text, [x], ours, theirs, guard)

    def partner(self, shape, fits) -> int | None:
        """A second operand: x itself (the same node twice in one op) a quarter of the time,
        else a node whose shape `fits`, else a new leaf of a fitting shape."""
        roll = self.rng.random()
        if roll < 0.25 and fits(shape):
            return None       # the caller uses x itself
        if roll < 0.7:
            node = self.pick(fits)
            if node is not None:
                return node
        return self.new_leaf(self.fitting_shape(shape, fits))

    def fitting_shape(self, shape, fits) -> tuple[int, ...]:
        for _ in range(20):
            candidate = self.broadcastable(shape)
            if fits(candidate):
                return candidate
        return shape

    def broadcastable(self, shape) -> tuple[int, ...]:
        """A shape that broadcasts with `shape`: some trailing axes, some set to 1, maybe a new
        leading axis."""
        rng = self.rng
        keep = shape[len(shape) - rng.integers(0, len(shape) + 1):] if shape else ()
        out = tuple(1 if rng.random() < 0.3 else n for n in keep)
        if rng.random() < 0.2 and len(out) < 3:
            out = (int(rng.integers(1, 4)),) + out
        return out

    def binary(self) -> bool:
        rng = self.rng
        x = self.pick()
        shape = self.shape(x)

        def fits(s):
            try:
                return int(np.prod(np.broadcast_shapes(shape, s))) <= MAX_SIZE
            except ValueError:
                return False

        y = self.partner(shape, fits)
        y = x if y is None else y
        cond = np.asarray(rng.random(np.broadcast_shapes(shape, self.shape(y))) < 0.5)
        choices = [
            ("add({}, {})", ops.add, lambda th, a, b: a + b, None),
            ("sub({}, {})", ops.sub, lambda th, a, b: a - b, None),
            ("mul({}, {})", ops.mul, lambda th, a, b: a * b, None),
            ("div({}, {})", ops.div, lambda th, a, b: a / b,
             lambda a, b: np.abs(b).min(initial=1.0) > 0.1),
            ("maximum({}, {})", ops.maximum, lambda th, a, b: th.maximum(a, b), no_near_tie),
            ("minimum({}, {})", ops.minimum, lambda th, a, b: th.minimum(a, b), no_near_tie),
            ("where(cond, {}, {})", lambda a, b: ops.where(cond, a, b),
             lambda th, a, b: th.where(th.from_numpy(cond), a, b), None),
            ("arctan2({}, {})", ops.arctan2, lambda th, a, b: th.atan2(a, b), distinct_angles),
        ]
        text, ours, theirs, guard = choices[rng.integers(len(choices))]
        return self.try_add("binary", text, [x, y], ours, theirs, guard)

    def reduction(self) -> bool:
        rng = self.rng
        x = self.pick(lambda s: len(s) >= 1)
        if x is None:
            return False
        shape = self.shape(x)
        ndim = len(shape)
        roll = rng.random()
        if roll < 0.25:
            axis = None
        elif roll < 0.6:
            axis = int(rng.integers(-ndim, ndim))
        else:
            count = int(rng.integers(1, ndim + 1))
            axis = tuple(int(a) for a in rng.choice(ndim, size=count, replace=False))
        keepdims = bool(rng.random() < 0.4)
        axes = tuple(range(ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
        count = int(np.prod([shape[a] for a in axes]))
        ddof = int(rng.integers(0, 2)) if count > 1 else 0
        dims = tuple(a % ndim for a in axes)
        kw = f"axis={axis}, keepdims={keepdims}"
        choices = [
            ("sum", lambda a: ops.sum(a, axis, keepdims), lambda th, a: th.sum(a, dims, keepdims),
             None),
            ("mean", lambda a: ops.mean(a, axis, keepdims),
             lambda th, a: th.mean(a, dims, keepdims), None),
            ("max", lambda a: ops.max(a, axis, keepdims),
             lambda th, a: th.amax(a, dims, keepdims), no_near_tie_along(dims)),
            ("min", lambda a: ops.min(a, axis, keepdims),
             lambda th, a: th.amin(a, dims, keepdims), no_near_tie_along(dims)),
            ("var", lambda a: ops.var(a, axis, keepdims, ddof),
             lambda th, a: th.var(a, dims, correction=ddof, keepdim=keepdims), None),
            ("std", lambda a: ops.std(a, axis, keepdims, ddof),
             lambda th, a: th.std(a, dims, correction=ddof, keepdim=keepdims),
             lambda a: np.var(a, axis=dims, ddof=ddof).min() > 1e-4),
            ("prod", lambda a: ops.prod(a, axis, keepdims),
             lambda th, a: torch_prod(th, a, dims, keepdims), None),
        ]
        if rng.random() < 0.2:
            axis = int(rng.integers(-ndim, ndim))
            log = rng.random() < 0.5
            name = "log_softmax" if log else "softmax"
            return self.try_add("softmax", f"{name}({{}}, axis={axis})", [x],
                                lambda a: (ops.log_softmax if log else ops.softmax)(a, axis),
                                lambda th, a: (th.log_softmax if log else th.softmax)(a, axis))
        name, ours, theirs, guard = choices[rng.integers(len(choices))]
        extra = f", ddof={ddof}" if name in ("var", "std") else ""
        return self.try_add("reduction", f"{name}({{}}, {kw}{extra})", [x], ours, theirs, guard)

    def reshape(self) -> bool:
        rng = self.rng
        x = self.pick()
        shape = self.shape(x)
        size, ndim = int(np.prod(shape)), len(shape)
        roll = rng.random()
        if roll < 0.45:
            new = factorization(size, int(rng.integers(1, 5)), rng)
            if rng.random() < 0.3:
                inferred = int(rng.integers(len(new)))
                new = tuple(-1 if i == inferred else n for i, n in enumerate(new))
            return self.try_add("reshape", f"reshape({{}}, {new})", [x],
                                lambda a: ops.reshape(a, new), lambda th, a: a.reshape(new))
        if ndim < 2:
            return False
        if roll < 0.6:
            return self.try_add("reshape", "{}.T", [x], lambda a: a.T,
                                lambda th, a: a.permute(*reversed(range(ndim))))
        if roll < 0.85:
            axes = tuple(int(a) for a in rng.permutation(ndim))
            return self.try_add("reshape", f"transpose({{}}, {axes})", [x],
                                lambda a: ops.transpose(a, axes), lambda th, a: a.permute(axes))
        start = int(rng.integers(-ndim, ndim))
        return self.try_add("reshape", f"flatten({{}}, {start})", [x],
                            lambda a: ops.flatten(a, start), lambda th, a: th.flatten(a, start))

    def index(self) -> bool:
        rng = self.rng
        x = self.pick(lambda s: len(s) >= 1)
        if x is None:
            return False
        shape = self.shape(x)
        ndim = len(shape)
        axis = int(rng.integers(ndim))
        n = shape[axis]
        lead = (slice(None),) * axis
        roll = rng.random()
        if roll < 0.25:
            i = int(rng.integers(-n, n))
            index, text = lead + (i,), f"{{}}[{', '.join([':'] * axis + [str(i)])}]"
            torch_index = index
        elif roll < 0.5:
            start, step = int(rng.integers(0, n)), int(rng.integers(1, 3))
            stop = int(rng.integers(start + 1, n + 1))
            index = lead + (slice(start, stop, step),)
            text = f"{{}}[{', '.join([':'] * axis + [f'{start}:{stop}:{step}'])}]"
            torch_index = index
        elif roll < 0.7:
            picks = rng.integers(0, n, size=int(rng.integers(1, 5)))     # repeats accumulate
            index, torch_index = lead + (picks,), None
            text = f"{{}}[{', '.join([':'] * axis + [str(picks.tolist())])}]"
        elif roll < 0.85:
            mask = rng.random(shape) < 0.6
            if not mask.any():
                return False
            index, text, torch_index = mask, "{}[mask]", None
        else:
            index = (None, Ellipsis) + (int(rng.integers(-shape[-1], shape[-1])),)
            text, torch_index = f"{{}}[None, ..., {index[-1]}]", index

        def theirs(th, a):
            if torch_index is not None:
                return a[torch_index]
            if isinstance(index, np.ndarray):
                return a[th.from_numpy(index)]
            return a[index[:-1] + (th.from_numpy(index[-1]),)]

        return self.try_add("index", text, [x], lambda a: a[index], theirs)

    def join(self) -> bool:
        rng = self.rng
        x = self.pick(lambda s: len(s) >= 1)
        if x is None:
            return False
        shape = self.shape(x)
        ndim = len(shape)
        roll = rng.random()
        if roll < 0.35:                                      # cat
            axis = int(rng.integers(-ndim, ndim))
            a = axis % ndim

            def fits(s):
                return len(s) == ndim and s[:a] + s[a + 1:] == shape[:a] + shape[a + 1:]

            y = self.partner(shape, fits)
            y = x if y is None else y
            if not fits(self.shape(y)):
                y = self.new_leaf(shape[:a] + (int(rng.integers(1, 3)),) + shape[a + 1:])
                if y is None:
                    return False
            return self.try_add("join", f"cat([{{}}, {{}}], axis={axis})", [x, y],
                                lambda p, q: ops.cat([p, q], axis=axis),
                                lambda th, p, q: th.cat([p, q], dim=axis))
        if roll < 0.55:                                      # stack
            axis = int(rng.integers(-ndim - 1, ndim + 1))
            y = self.partner(shape, lambda s: s == shape)
            y = x if y is None or self.shape(y) != shape else y
            return self.try_add("join", f"stack([{{}}, {{}}], axis={axis})", [x, y],
                                lambda p, q: ops.stack([p, q], axis=axis),
                                lambda th, p, q: th.stack([p, q], dim=axis))
        if roll < 0.8:                                       # split, one piece
            axes = [a for a in range(ndim) if shape[a] >= 2]
            if not axes:
                return False
            axis = int(rng.choice(axes))
            n = shape[axis]
            divisors = [k for k in range(2, n + 1) if n % k == 0]
            if rng.random() < 0.5:
                sections = int(rng.choice(divisors))
                piece = int(rng.integers(sections))
            else:
                sections = sorted(int(i) for i in rng.choice(np.arange(1, n), size=min(
                    n - 1, int(rng.integers(1, 3))), replace=False))
                piece = int(rng.integers(len(sections) + 1))
            return self.try_add("join", f"split({{}}, {sections}, axis={axis})[{piece}]", [x],
                                lambda p: ops.split(p, sections, axis)[piece],
                                lambda th, p: th.tensor_split(p, sections, dim=axis)[piece])
        widths = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 2))) for _ in shape)
        value = float(np.round(rng.uniform(-1, 1), 2))
        flat = tuple(w for pair in reversed(widths) for w in pair)
        return self.try_add("join", f"pad({{}}, {widths}, value={value})", [x],
                            lambda p: ops.pad(p, widths, value=value),
                            lambda th, p: th.nn.functional.pad(p, flat, value=value))

    def matmul(self) -> bool:
        rng = self.rng
        x = self.pick(lambda s: 1 <= len(s) <= 3)
        if x is None:
            return False
        shape = self.shape(x)
        k = shape[-1]
        if len(shape) == 2 and rng.random() < 0.2:           # x @ x.T: x twice in one op
            return self.try_add("matmul", "matmul({}, {}.T)", [x, x], lambda p, q: p @ q.T,
                                lambda th, p, q: p @ q.T)
        if len(shape) == 2 and rng.random() < 0.2:           # linear(x, w, b), new w and b
            out = int(rng.integers(1, 5))
            w, b = self.new_leaf((out, k)), self.new_leaf((out,))
            if w is None or b is None:
                return False
            return self.try_add("matmul", "linear({}, {}, {})", [x, w, b], ops.linear,
                                lambda th, p, q, r: th.nn.functional.linear(p, q, r))

        def fits(s):
            return (len(s) == 1 and s[0] == k) or (len(s) in (2, 3) and s[-2] == k and (
                len(s) == 2 or len(shape) != 3 or s[0] in (1, shape[0])))

        y = self.pick(fits) if rng.random() < 0.5 else None
        if y is None:
            y = self.new_leaf((k,) if rng.random() < 0.2 else (k, int(rng.integers(1, 5))))
            if y is None:
                return False
        return self.try_add("matmul", "matmul({}, {})", [x, y], ops.matmul,
                            lambda th, p, q: th.matmul(p, q))

    def loss(self) -> bool:
        rng = self.rng
        reduction = str(rng.choice(["mean", "sum", "none"]))
        roll = rng.random()
        if roll < 0.5:
            x = self.pick(lambda s: len(s) == 2 and s[1] >= 2)
            if x is None:
                return False
            n, classes = self.shape(x)
            labels = rng.integers(0, classes, n)
            nll = roll < 0.2
            name = "nll_loss" if nll else "cross_entropy"
            return self.try_add(
                "loss", f"{name}({{}}, {labels.tolist()}, reduction={reduction!r})", [x],
                lambda a: (ops.nll_loss if nll else ops.cross_entropy)(a, labels, reduction),
                lambda th, a: getattr(th.nn.functional, name)(a, th.from_numpy(labels),
                                                             reduction=reduction))
        x = self.pick()
        shape = self.shape(x)
        if roll < 0.75:
            y = self.partner(shape, lambda s: s == shape)
            y = x if y is None or self.shape(y) != shape else y
            return self.try_add("loss", f"mse_loss({{}}, {{}}, reduction={reduction!r})", [x, y],
                                lambda a, b: ops.mse_loss(a, b, reduction),
                                lambda th, a, b: th.nn.functional.mse_loss(a, b,
                                                                           reduction=reduction))
        target = rng.uniform(0, 1, shape)
        return self.try_add(
            "loss", f"binary_cross_entropy_with_logits({{}}, target, reduction={reduction!r})",
            [x], lambda a: ops.binary_cross_entropy_with_logits(a, target, reduction),
            lambda th, a: th.nn.functional.binary_cross_entropy_with_logits(
                a, th.from_numpy(target), reduction=reduction))

    def image(self) -> bool:
        """conv2d (new weight and bias), max_pool2d or avg_pool2d of a 4-D node; a node of
        another shape is first reshaped to (1, C, H, W)."""
        rng = self.rng
        x = self.pick(lambda s: len(s) == 4 and min(s[2:]) >= 2)
        if x is None:
            x = self.pick(lambda s: int(np.prod(s)) >= 4)
            if x is None:
                return False
            size = int(np.prod(self.shape(x)))
            shapes = [(1, c, h, size // (c * h)) for c in (1, 2) for h in range(2, size + 1)
                      if size % (c * h) == 0 and size // (c * h) >= 2]
            if not shapes:
                return False
            new = shapes[rng.integers(len(shapes))]
            if not self.try_add("reshape", f"reshape({{}}, {new})", [x],
                                lambda a: ops.reshape(a, new), lambda th, a: a.reshape(new)):
                return False
            x = len(self.node_of) - 1
        n, c, h, w = self.shape(x)
        kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        roll = rng.random()
        if roll < 0.45:
            padding = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
            weight = self.new_leaf((int(rng.integers(1, 3)), c, kh, kw))
            bias = self.new_leaf((self.shape(weight)[0],)) if weight is not None else None
            if bias is None:
                return False
            return self.try_add(
                "image", f"conv2d({{}}, {{}}, {{}}, stride={stride}, padding={padding})",
                [x, weight, bias], lambda a, q, r: ops.conv2d(a, q, r, stride, padding),
                lambda th, a, q, r: th.nn.functional.conv2d(a, q, r, stride, padding))
        if roll < 0.75:
            return self.try_add(
                "image", f"max_pool2d({{}}, {(kh, kw)}, stride={stride})", [x],
                lambda a: ops.max_pool2d(a, (kh, kw), stride),
                lambda th, a: th.nn.functional.max_pool2d(a, (kh, kw), stride),
                no_tie_in_windows((kh, kw), stride))
        padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))
        return self.try_add(
            "image", f"avg_pool2d({{}}, {(kh, kw)}, stride={stride}, padding={padding})", [x],
            lambda a: ops.avg_pool2d(a, (kh, kw), stride, padding),
            lambda th, a: th.nn.functional.avg_pool2d(a, (kh, kw), stride, padding))

    FAMILIES = ("unary", "binary", "reduction", "reshape", "index", "join", "matmul", "loss",
                "image")
    WEIGHTS = (0.22, 0.19, 0.13, 0.11, 0.1, 0.08, 0.08, 0.04, 0.05)

    def build(self) -> Graph:
        rng = self.rng
        for _ in range(int(rng.integers(1, 4))):
            self.new_leaf(self.random_shape())
        wanted = int(rng.integers(STEPS[0], STEPS[1] + 1))
        for _ in range(20 * wanted):
            if len(self.graph.steps) >= wanted:
                break
            family = self.FAMILIES[rng.choice(len(self.FAMILIES), p=self.WEIGHTS)]
            getattr(self, family)()
        return self.renumbered()

    def renumbered(self) -> Graph:
        """The graph with leaves numbered first (v0..), then the steps in order."""
        graph = self.graph
        leaf_count = len(graph.leaves)
        new_id = {old: i if kind == "leaf" else leaf_count + i
                  for old, (kind, i) in enumerate(self.node_of)}
        for step in graph.steps:
            step.args = [new_id[a] for a in step.args]
        order = sorted(range(len(self.node_of)), key=lambda old: new_id[old])
        graph.values = [graph.values[old] for old in order]
        consumed = {a for step in graph.steps for a in step.args}
        sinks = [n for n in range(leaf_count, graph.size) if n not in consumed]
        graph.upstream = {n: self.rng.standard_normal(tuple(graph.values[n].shape))
                          for n in sinks}
        return graph


# guards: True when the inputs are not within NEAR of the op's kinks (exactly on one is fine)

def away_from(*kinks):
    def guard(a):
        return all(not np.any((np.abs(a - k) < NEAR) & (a != k)) for k in kinks)
    return guard


def above(low, absolute=False):
    def guard(a):
        return (np.abs(a) if absolute else a).min(initial=np.inf) > low
    return guard


def below(high, absolute=False):
    def guard(a):
        return (np.abs(a) if absolute else a).max(initial=-np.inf) < high
    return guard


def distinct_angles(y, x):
    """Off the origin, and no two angles alike: arctan2(-x, x) gives every element -pi/4 or
    3pi/4, which numpy and PyTorch round a bit apart, so a later max or min would see a tie in
    one library and not in the other."""
    angles = np.sort(np.arctan2(y, x), axis=None)
    return (y * y + x * x).min(initial=1.0) > 0.01 and not np.any(np.diff(angles) < 1e-6)


def torch_prod(th, a, dims, keepdims):
    """numpy.prod over the axes `dims`: torch.prod takes one dim at a time, the last first."""
    for d in sorted(dims, reverse=True):
        a = th.prod(a, d, keepdim=keepdims)
    return a


def no_near_tie(a, b):
    gap = np.abs(a - b)
    return not np.any((gap < NEAR) & (gap > 0))


def no_near_tie_along(dims):
    def guard(a):
        moved = np.moveaxis(a, dims, tuple(range(-len(dims), 0)))
        flat = np.sort(moved.reshape(*moved.shape[:moved.ndim - len(dims)], -1), axis=-1)
        gaps = np.abs(np.diff(flat, axis=-1))
        return not np.any((gaps < NEAR) & (gaps > 0))
    return guard


def no_tie_in_windows(kernel, stride):
    """No two values of one pooling window within NEAR of each other, equal ones included (the
    gradient's tie rule is tested on its own in test_cnn_ops.py)."""
    def guard(a):
        windows = np.lib.stride_tricks.sliding_window_view(a, kernel, axis=(2, 3))
        windows = windows[:, :, ::stride[0], ::stride[1]]
        flat = np.sort(windows.reshape(*windows.shape[:4], -1), axis=-1)
        return not np.any(np.diff(flat, axis=-1) < NEAR)
    return guard


def factorization(size: int, parts: int, rng) -> tuple[int, ...]:
    """`size` as a product of `parts` positive ints, in random order."""
    factors, rest = [], size
    for _ in range(parts - 1):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = int(rng.choice(divisors))
        factors.append(d)
        rest //= d
    factors.append(rest)
    return tuple(int(f) for f in rng.permutation(factors))


# evaluation -----------------------------------------------------------------------------------

def run_ours(graph: Graph):
    """Every node as a Value (leaves first) and the scalar loss."""
    nodes = [tc.Value(leaf.copy()) for leaf in graph.leaves]
    for step in graph.steps:
        nodes.append(step.ours(*[nodes[a] for a in step.args]))
    loss = sum((nodes[n] * u).sum() for n, u in graph.upstream.items())
    return nodes, loss


def run_theirs(torch, graph: Graph):
    nodes = [torch.tensor(leaf, requires_grad=True) for leaf in graph.leaves]
    for step in graph.steps:
        args = [nodes[a] for a in step.args]
        out = step.theirs(torch, *args)
        if any(out is a for a in args):    # e.g. torch.flatten(x, -1) returns x itself
            out = out.view_as(out)         # a node of its own, with a .grad of its own
        out.retain_grad()
        nodes.append(out)
    loss = sum((nodes[n] * torch.from_numpy(u)).sum() for n, u in graph.upstream.items())
    return nodes, loss


def numpy(tensor) -> np.ndarray:
    """A tensor's values. PyTorch returns some gradients that are known to be zero as
    ZeroTensors, which refuse .numpy(), and converting one with odd strides crashes PyTorch
    2.13 (numpy(force=True) of a (1, 1, 1) ZeroTensor with strides (2, 1, 1)): read those as
    zeros."""
    if tensor._is_zerotensor():
        return np.zeros(tuple(tensor.shape))
    return tensor.detach().numpy()


def close(actual, expected, what: str, rtol: float, context: str) -> None:
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 1e-2 * scale,
                               err_msg=f"{what}\n{context}")


def check_graph(torch, graph: Graph, context: str) -> None:
    leaves = range(len(graph.leaves))
    zeros = [np.zeros(leaf.shape) for leaf in graph.leaves]

    # forward, and backward()'s gradient of every node (the fast path)
    ours, loss = run_ours(graph)
    theirs, torch_loss = run_theirs(torch, graph)
    for n, (mine, expected) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.shape == tuple(expected.shape), f"shape of v{n}\n{context}"
        close(mine.data, numpy(expected), f"value of v{n}", 1e-10, context)
    loss.backward()
    torch_loss.backward()
    for n, (mine, expected) in enumerate(zip(ours, theirs, strict=True)):
        want = np.zeros(mine.shape) if expected.grad is None else numpy(expected.grad)
        got = np.zeros(mine.shape) if mine.grad is None else mine.grad
        close(got, want, f"backward(): gradient of v{n}", 1e-9, context)

    # tc.grad(create_graph=True) of the inputs, then d/d inputs of (gradients . v)
    ours, loss = run_ours(graph)
    theirs, torch_loss = run_theirs(torch, graph)
    firsts = tc.grad(loss, ours[:len(leaves)], create_graph=True)
    torch_firsts = torch.autograd.grad(torch_loss, theirs[:len(leaves)], create_graph=True,
                                       allow_unused=True)
    for i in leaves:
        want = zeros[i] if torch_firsts[i] is None else numpy(torch_firsts[i])
        close(firsts[i].data, want, f"tc.grad: gradient of input v{i}", 1e-9, context)
    vectors = [np.random.default_rng(i).standard_normal(leaf.shape)
               for i, leaf in enumerate(graph.leaves)]
    dot = sum((g * v).sum() for g, v in zip(firsts, vectors, strict=True))
    seconds = tc.grad(dot, ours[:len(leaves)]) if dot.requires_grad else zeros
    torch_dot = sum((g * torch.from_numpy(v)).sum()
                    for g, v in zip(torch_firsts, vectors, strict=True) if g is not None)
    torch_seconds = (torch.autograd.grad(torch_dot, theirs[:len(leaves)], allow_unused=True)
                     if torch.is_tensor(torch_dot) and torch_dot.requires_grad
                     else [None] * len(leaves))
    for i in leaves:
        got = seconds[i].data if isinstance(seconds[i], tc.Value) else seconds[i]
        want = zeros[i] if torch_seconds[i] is None else numpy(torch_seconds[i])
        close(got, want, f"second derivative w.r.t. input v{i}", 1e-8, context)


def replay(torch, seed: int, k: int) -> Graph:
    """Graph k of `seed`, built exactly as the test builds it."""
    return Builder(torch, np.random.default_rng([seed, k])).build()


def test_random_graphs_equal_pytorch(torch):
    families: dict[str, int] = {}
    for k in range(GRAPHS):
        graph = replay(torch, SEED, k)
        for step in graph.steps:
            families[step.family] = families.get(step.family, 0) + 1
        context = (f"graph {k} of seed {SEED} (replay(torch, {SEED}, {k}) rebuilds it):\n"
                   f"{graph.listing()}")
        check_graph(torch, graph, context)
    if GRAPHS >= 100:          # the default run exercises every family of ops
        assert set(families) == set(Builder.FAMILIES) | {"softmax"}, families


@pytest.mark.parametrize("name, value", [("TINYGRAD_CNN_FUZZ_GRAPHS", "many"),
                                         ("TINYGRAD_CNN_FUZZ_SEED", "-1")])
def test_bad_environment_values_are_clear_errors(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    message = "is not an integer" if value == "many" else "expected a number >= 0"
    with pytest.raises(ValueError, match=rf"{name}.*{message}"):
        _environment_int(name, 5)
