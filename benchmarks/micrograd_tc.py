"""micrograd's demo on two engines: micrograd.nn's MLP (2-16-16-1) on micrograd's own Value, and
the same classes with their parameters made as tinygrad_cnn Values, trained with the demo's
SVM max-margin loss + L2 on 100 "moons" points (micrograd's demo.ipynb, without sklearn)."""

from __future__ import annotations

import random

import numpy as np
from micrograd import nn as micrograd_nn

import tinygrad_cnn as tc


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


class Neuron(micrograd_nn.Neuron):
    """micrograd.nn.Neuron with tinygrad_cnn Values: the same random draws, the same __call__."""

    def __init__(self, nin: int, nonlin: bool = True):
        self.w = [tc.Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = tc.Value(0.0)
        self.nonlin = nonlin


class Layer(micrograd_nn.Layer):
    """micrograd.nn.Layer made of the Neuron above."""

    def __init__(self, nin: int, nout: int, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]


class MLP(micrograd_nn.MLP):
    """micrograd.nn.MLP made of the Layer above; zero_grad clears tinygrad_cnn's grads."""

    def __init__(self, nin: int, nouts: list[int]):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None


ENGINES = {"micrograd": (micrograd_nn.Value, micrograd_nn.MLP), "ours": (tc.Value, MLP)}


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
