"""A neuron and a tiny MLP built from scalar Values, micrograd style, trained with plain SGD on
two moons; draws the graph of one neuron: python examples/scalar_neuron.py --help"""

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn.viz import render_to


class Neuron:
    """out = tanh(w . x + b) (or w . x + b if linear): a list of numbers or Values -> a Value."""

    def __init__(self, n_inputs, rng, linear=False):
        self.w = [tc.Value(rng.uniform(-1, 1)) for _ in range(n_inputs)]
        self.b = tc.Value(0.0)
        self.linear = linear

    def __call__(self, x):
        activation = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return activation if self.linear else activation.tanh()

    def parameters(self):
        return self.w + [self.b]


class Layer:
    """n_outputs neurons that each see every input: n_inputs Values -> n_outputs Values."""

    def __init__(self, n_inputs, n_outputs, rng, linear=False):
        self.neurons = [Neuron(n_inputs, rng, linear) for _ in range(n_outputs)]

    def __call__(self, x):
        return [neuron(x) for neuron in self.neurons]

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    """Layers of tanh neurons and a linear output neuron: sizes[0] numbers -> one Value."""

    def __init__(self, sizes, rng):
        pairs = zip(sizes[:-1], sizes[1:], strict=True)      # (inputs, outputs) per layer
        self.layers = [Layer(n_in, n_out, rng, linear=(i == len(sizes) - 2))
                       for i, (n_in, n_out) in enumerate(pairs)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0]

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def make_moons(count, noise, rng):
    """Two interleaving half circles: points (count, 2), labels -1 (upper) or +1 (lower)."""
    upper = count // 2
    angle = rng.uniform(0, np.pi, count)
    points = np.where(np.arange(count)[:, None] < upper,
                      np.stack([np.cos(angle), np.sin(angle)], axis=1),
                      np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1))
    points += noise * rng.standard_normal((count, 2))
    labels = np.where(np.arange(count) < upper, -1.0, 1.0)
    return points, labels


def loss_and_accuracy(model, points, labels, alpha=1e-4):
    """Mean hinge loss max(0, 1 - y * score) + alpha * |params|^2, and sign(score)'s accuracy."""
    scores = [model(list(point)) for point in points]
    hinge = sum((1 - y * score).relu() for y, score in zip(labels, scores, strict=True))
    penalty = alpha * sum(p * p for p in model.parameters())
    loss = hinge / len(points) + penalty
    correct = sum((score.item() > 0) == (y > 0) for y, score in zip(labels, scores, strict=True))
    return loss, correct / len(points)


def train(model, points, labels, steps, batch_size, lr, rng, log_every):
    """Plain SGD on random mini-batches, lr decaying linearly to lr/10; returns the losses."""
    losses = []
    for step in range(steps):
        batch = rng.choice(len(points), size=min(batch_size, len(points)), replace=False)
        loss, accuracy = loss_and_accuracy(model, points[batch], labels[batch])
        for p in model.parameters():
            p.grad = None
        loss.backward()
        step_size = lr * (1 - 0.9 * step / steps)
        for p in model.parameters():
            p.data -= step_size * p.grad
        losses.append(loss.item())
        if step % log_every == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}  batch accuracy {accuracy:.2f}")
    return losses


def draw_neuron(out_dir, rng):
    """Forward and backward through one 2-input neuron; write its graph to out_dir/neuron.*"""
    neuron = Neuron(2, rng)
    x = [tc.Value(1.5, requires_grad=False, name="x0"), tc.Value(-0.5, requires_grad=False,
                                                                  name="x1")]
    out = neuron(x)
    out.name = "out"
    out.backward()
    params = {"w0": neuron.w[0], "w1": neuron.w[1], "b": neuron.b}
    graph = tc.draw_graph(out, params=params)
    try:
        written = render_to(graph, Path(out_dir) / "neuron", formats=("svg",))
    except RuntimeError as error:        # no `dot` program: keep the DOT text, say how to fix
        print(f"warning: {error}", file=sys.stderr)
        written = render_to(graph, Path(out_dir) / "neuron", formats=("gv",))
    print("wrote", ", ".join(str(path) for path in written))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100,
                        help="points in the two-moons dataset (default: 100)")
    parser.add_argument("--noise", type=float, default=0.1,
                        help="standard deviation of the noise added to the points (default: 0.1)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 8],
                        help="sizes of the hidden layers (default: 8 8)")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (default: 100)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="points per step (default: 32)")
    parser.add_argument("--lr", type=float, default=0.5,
                        help="initial learning rate, decayed linearly to a tenth (default: 0.5)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the weights and the batches (default: 0)")
    parser.add_argument("--log-every", type=int, default=10,
                        help="print the loss every this many steps (default: 10)")
    parser.add_argument("--out", type=Path, default=Path("runs/scalar_neuron"),
                        help="folder for the neuron's graph (default: runs/scalar_neuron)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    points, labels = make_moons(args.points, args.noise, rng)
    model = MLP([2, *args.hidden, 1], rng)
    print(f"MLP {[2, *args.hidden, 1]}: {len(model.parameters())} scalar parameters")
    train(model, points, labels, args.steps, args.batch_size, args.lr, rng, args.log_every)
    with tc.no_grad():
        _, accuracy = loss_and_accuracy(model, points, labels)
    print(f"final accuracy {accuracy:.3f} on all {args.points} points")
    draw_neuron(args.out, rng)


if __name__ == "__main__":
    main()
