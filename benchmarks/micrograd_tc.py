"""micrograd's demo on three engines: micrograd.nn's MLP (2-16-16-1) on micrograd's own Value,
the same classes with their parameters made as tinygrad_cnn Values, and on FloorValue, the
least a graph of 0-d numpy arrays needs; each trained with the demo's SVM max-margin loss + L2
on 100 "moons" points (micrograd's demo.ipynb, without sklearn)."""

from __future__ import annotations

import random

import numpy as np
from micrograd import nn as micrograd_nn

import tinygrad_cnn as tc
from tinygrad_cnn.function import topo_order


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: int = 1337):
    """Two interleaving half circles, as sklearn.datasets.make_moons(n_samples, noise=noise)
    draws them after np.random.seed(seed): X float64 (n, 2), y in {-1, 1} (n,), as the demo."""
    rng = np.random.RandomState(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.cos(outer), 1 - np.cos(inner)])
    y = np.concatenate([np.sin(outer), 1 - np.sin(inner) - 0.5])
    points = np.stack([x, y], axis=1)                       # (n, 2)
    labels = np.concatenate([np.zeros(n_out, int), np.ones(n_in, int)])
    order = np.arange(n_samples)
    rng.shuffle(order)
    points, labels = points[order], labels[order]
    points += rng.normal(scale=noise, size=points.shape)
    return points, labels * 2 - 1


class FloorValue:
    """The least a graph of 0-d numpy arrays needs: each op computes its data with numpy and
    records its inputs; backward walks tinygrad_cnn's topological order and multiplies, sums
    and stores one `.grad` array per node. None of what tc.Value adds (Function objects,
    checks of shapes and dtypes, broadcasting, grad mode, modules, profiler, graph release),
    so the demo's step on it bounds from below what any engine whose `x.data` is an ndarray
    can reach (docs/performance.md, "Why not 3x")."""

    __slots__ = ("data", "grad", "op", "parents")
    __array_ufunc__ = None          # `np.int64 * value` calls __rmul__
    requires_grad = True            # every node gets a gradient (topo_order asks)

    def __init__(self, data, op: str = "", parents: tuple = ()):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = None
        self.op, self.parents = op, parents

    def __add__(self, other):
        other = other if isinstance(other, FloorValue) else FloorValue(other)
        return FloorValue(self.data + other.data, "add", (self, other))

    def __mul__(self, other):
        other = other if isinstance(other, FloorValue) else FloorValue(other)
        return FloorValue(self.data * other.data, "mul", (self, other))

    def relu(self):
        return FloorValue(np.maximum(self.data, 0.0), "relu", (self,))

    def __neg__(self):
        return self * -1.0

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self) -> None:
        """Every node's .grad, overwritten (the demo calls zero_grad first)."""
        pending = {self: np.ones(())}
        for node in reversed(topo_order(self)):
            g = pending.pop(node)
            node.grad = np.array(g)         # an array of its own, as tc.Value's .grad
            if node.op == "add":            # d(a + b) = da + db
                shares = (g, g)
            elif node.op == "mul":          # d(a b) = b da + a db
                a, b = node.parents
                shares = (g * b.data, g * a.data)
            elif node.op == "relu":         # d relu(a) = [a > 0] da
                shares = (g * (node.data > 0),)
            else:                           # a leaf
                continue
            for parent, share in zip(node.parents, shares, strict=True):
                pending[parent] = share if parent not in pending else pending[parent] + share


def mlp_class(Value: type) -> type:
    """micrograd.nn.MLP with its parameters made as `Value`s: the same random draws, the same
    __call__; zero_grad clears each parameter's grad to None."""

    class Neuron(micrograd_nn.Neuron):
        def __init__(self, nin: int, nonlin: bool = True):
            self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
            self.b = Value(0.0)
            self.nonlin = nonlin

    class Layer(micrograd_nn.Layer):
        def __init__(self, nin: int, nout: int, **kwargs):
            self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    class MLP(micrograd_nn.MLP):
        def __init__(self, nin: int, nouts: list[int]):
            sz = [nin] + nouts
            self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1)
                           for i in range(len(nouts))]

        def zero_grad(self) -> None:
            for p in self.parameters():
                p.grad = None

    return MLP


ENGINES = {"micrograd": (micrograd_nn.Value, micrograd_nn.MLP),
           "ours": (tc.Value, mlp_class(tc.Value)),
           "floor": (FloorValue, mlp_class(FloorValue))}


def demo_model(engine: str, seed: int = 1337):
    """The demo's model, MLP(2, [16, 16, 1]) on `engine`, after random.seed(seed) as the demo."""
    random.seed(seed)
    return ENGINES[engine][1](2, [16, 16, 1])


def demo_loss(engine: str, model, X: np.ndarray, y: np.ndarray):
    """The demo's loss() over the whole set: (total loss Value, accuracy)."""
    Value = ENGINES[engine][0]
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))               # svm "max-margin" loss
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())  # L2 regularization
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores, strict=True)]
    return total_loss, sum(accuracy) / len(accuracy)


def demo_step(engine: str, model, X: np.ndarray, y: np.ndarray, k: int) -> tuple[float, float]:
    """Step k of the demo's loop: forward, zero_grad, backward, SGD with its decaying rate."""
    total_loss, acc = demo_loss(engine, model, X, y)
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return float(total_loss.data), float(acc)
