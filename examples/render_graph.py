"""Draw two computation graphs with tc.draw_graph and write them as SVG and PNG files:
a micrograd-style neuron and one training step of the seed CNN: python examples/render_graph.py"""

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import ops
from tinygrad_cnn.viz import render_to

sys.path.insert(0, str(Path(__file__).resolve().parent / "mnist"))
from model import SeedCNN  # noqa: E402  (examples/mnist is not a package)


def neuron_graph():
    """tanh(x1*w1 + x2*w2 + b) after backward: every node shows its data and its gradient."""
    x1, x2 = tc.Value(2.0, name="x1"), tc.Value(0.0, name="x2")
    w1, w2 = tc.Value(-3.0, name="w1"), tc.Value(1.0, name="w2")
    b = tc.Value(6.8813735870195432, name="b")      # makes the output a round 0.7071
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    return tc.draw_graph(out, params={"w1": w1, "w2": w2, "b": b})


def cnn_step_graph(channels, batch_size, seed, collapse):
    """Forward and backward of the seed CNN on one batch; the graph of its loss."""
    tc.manual_seed(seed)
    model = SeedCNN(channels=channels)
    rng = np.random.default_rng(seed)
    # random pixels and labels: the graph's shapes and ops are those of an MNIST batch
    images = tc.Value(rng.random((batch_size, 1, 28, 28), dtype=np.float32),
                      requires_grad=False, name="images")
    labels = tc.Value(rng.integers(0, 10, batch_size), name="labels")
    loss = ops.cross_entropy(model(images), labels)
    loss.name = "loss"
    loss.backward()
    return tc.draw_graph(loss, params=dict(model.named_parameters()), rankdir="TB",
                         collapse_modules=collapse)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/graphs"),
                        help="folder for neuron.* and cnn_step.* (default: runs/graphs)")
    parser.add_argument("--channels", type=int, nargs=2, default=(8, 16), metavar=("C1", "C2"),
                        help="widths of the CNN's two convolutions (default: 8 16)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="images in the drawn training step (default: 8)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights and the random batch (default: 0)")
    parser.add_argument("--collapse", action=argparse.BooleanOptionalAction, default=True,
                        help="draw each CNN layer as one node; --no-collapse draws every value "
                             "and op inside a cluster per layer (default: collapse)")
    parser.add_argument("--formats", nargs="+", default=["svg", "png"],
                        help="files to write; gv is the DOT text (default: svg png)")
    args = parser.parse_args(argv)

    graphs = {"neuron": neuron_graph(),
              "cnn_step": cnn_step_graph(tuple(args.channels), args.batch_size, args.seed,
                                         args.collapse)}
    formats = args.formats
    for name, graph in graphs.items():
        try:
            written = render_to(graph, args.out / name, formats=formats)
        except RuntimeError as error:     # no `dot` program: keep the DOT text, say how to fix
            print(f"warning: {error}", file=sys.stderr)
            formats = ["gv"]
            written = render_to(graph, args.out / name, formats=formats)
        print("wrote", ", ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
