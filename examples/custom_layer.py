"""A custom op (LeakyReLU as a tc.Function) and a custom layer (Dropout as an nn.Module), each
checked with tc.gradcheck (the op with tc.gradgradcheck too), then trained in a small model:
python examples/custom_layer.py"""

import argparse

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops, optim
from tinygrad_cnn.random import default_generator


class LeakyReLUFunction(tc.Function):
    """x where x > 0, else negative_slope * x, elementwise: any shape -> the same shape."""

    def forward(self, x, negative_slope=0.01):
        if not 0 <= negative_slope < 1:
            raise ValueError(f"leaky_relu: negative_slope is {negative_slope}; expected a "
                             f"number in [0, 1)")
        # a mask and a setting, no floats computed from x: the rule works on Values too, so
        # leaky_relu can be differentiated twice (tc.grad with create_graph=True)
        self.positive, self.negative_slope = x > 0, negative_slope
        return np.where(self.positive, x, x * negative_slope)

    # y = x where x > 0, else negative_slope * x  =>  dx = grad * (1 or negative_slope)
    def backward(self, grad):
        slope = np.where(self.positive, 1, self.negative_slope).astype(grad.dtype)
        return grad * slope


def leaky_relu(x, negative_slope=0.01):
    """max(x, 0) + negative_slope * min(x, 0) elementwise."""
    return LeakyReLUFunction.apply(x, negative_slope=negative_slope)


class LeakyReLU(nn.Module):
    """max(x, 0) + negative_slope * min(x, 0) elementwise, any shape."""

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)


class Dropout(nn.Module):
    """Training: x * mask / (1 - p), mask[i] = 0 with probability p, else 1; eval: x unchanged.

    Made of existing ops, so it needs no backward: the mask is a numpy array, a constant, and
    the product's backward sends grad * mask / (1 - p) to x. Dividing by 1 - p keeps the
    expected value of each element, so evaluation needs no rescaling. The mask is drawn from
    `rng`, else from the default generator that `tc.manual_seed` sets (looked up at each call,
    since manual_seed replaces it).
    """

    def __init__(self, p=0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p is {p}; expected a probability in [0, 1)")
        self.p, self.rng = p, rng

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        rng = default_generator() if self.rng is None else self.rng
        keep = rng.random(x.shape) >= self.p
        return x * (keep / (1 - self.p)).astype(x.dtype)


def check_gradients(rng):
    """gradcheck LeakyReLU and Dropout on three shapes each (float64, away from the kink)."""
    shapes = [(5,), (3, 4), (2, 3, 4, 5)]
    for shape in shapes:
        x = rng.standard_normal(shape)
        x[np.abs(x) < 1e-3] = 0.5             # finite differences cannot cross the kink at 0
        assert tc.gradcheck(lambda v: leaky_relu(v, negative_slope=0.1), [x]) is True
        assert tc.gradgradcheck(lambda v: leaky_relu(v, negative_slope=0.1), [x]) is True
    print(f"gradcheck and gradgradcheck passed: LeakyReLU on shapes {shapes}")

    for shape in shapes:
        # every call of fn must drop the same elements: a fresh generator with one seed each time
        def dropped(v):
            return Dropout(0.5, rng=np.random.default_rng(1))(v)
        assert tc.gradcheck(dropped, [rng.standard_normal(shape)]) is True
    print(f"gradcheck passed: Dropout on shapes {shapes}")

    drop = Dropout(0.5).eval()
    x = tc.Value(rng.standard_normal((3, 4)))
    assert drop(x) is x
    print("Dropout in eval mode returns its input unchanged")


def make_data(rng, count):
    """Three classes of points in 2-D, one blob each around (0, 2), (-2, -1) and (2, -1)."""
    centres = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
    labels = rng.integers(0, 3, count)
    points = centres[labels] + rng.standard_normal((count, 2))
    return points.astype(np.float32), labels


def train(steps, seed, log_every):
    """Train Linear -> LeakyReLU -> Dropout -> Linear on the blobs; returns the losses."""
    tc.manual_seed(seed)
    rng = np.random.default_rng(seed)
    points, labels = make_data(rng, 256)
    model = nn.Sequential(nn.Linear(2, 32), LeakyReLU(0.1), Dropout(0.2), nn.Linear(32, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for step in range(1, steps + 1):
        model.train()
        optimizer.zero_grad()
        loss = ops.cross_entropy(model(points), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % log_every == 0 or step == 1:
            print(f"step {step:4d}  loss {losses[-1]:.4f}")
    model.eval()
    with tc.no_grad():
        accuracy = (model(points).data.argmax(axis=1) == labels).mean()
    print(f"loss went down: {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"training accuracy {accuracy:.3f}")
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100,
                        help="training steps on the synthetic data (default: 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the weights and the dropout masks (default: 0)")
    parser.add_argument("--log-every", type=int, default=20,
                        help="print the loss every this many steps (default: 20)")
    args = parser.parse_args(argv)
    check_gradients(np.random.default_rng(args.seed))
    losses = train(args.steps, args.seed, args.log_every)
    if not losses[-1] < losses[0]:
        raise SystemExit(f"the loss did not go down: {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
