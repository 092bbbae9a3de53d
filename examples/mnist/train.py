"""Train the seed CNN on MNIST (60,000 train / 10,000 test images) and write metrics, a
checkpoint after every epoch, plots and the graph of one training step:
python examples/mnist/train.py --help"""

import argparse
from pathlib import Path

import loop
from model import SeedCNN

from tinygrad_cnn import ops


def build_parser():
    """Every flag of the program with its default; the training flags are the shared loop's."""
    parser = argparse.ArgumentParser(description="Train the seed CNN on MNIST.")
    loop.add_training_arguments(parser, epochs=5, lr=2e-3, lr_decay=0.5,
                                out=Path("runs/mnist"))
    parser.add_argument("--channels", type=positive_int, nargs=2, default=[16, 32],
                        metavar=("C1", "C2"),
                        help="output channels of the two convolutions; 1 1 is the literal "
                             "seed (default: 16 32)")
    return parser


def positive_int(text: str) -> int:
    """An argparse type: a channel count, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} channels; expected at least 1")
    return value


def parse_args(argv=None):
    """The flags as an argparse.Namespace (checked: e.g. --limit 0 is refused)."""
    return loop.parse_args(build_parser(), argv)[0]


def build(args):
    """The seed CNN of the run's width, and its loss (on logits)."""
    return SeedCNN(channels=tuple(args.channels)), ops.cross_entropy


def write_figures(model, history, predictions, test_images, test_labels, args):
    """curves.png, confusion_matrix.png, filters.png, and cnn_step.svg/.png: the graph of one
    training step of the trained model on the first 8 test images."""
    import plots  # matplotlib takes a second to import: only runs that draw pay for it

    plots.write_all(history, model.conv1.weight.data, predictions, test_labels, args.out)
    written = plots.write_step_graph(model, loop.normalize(test_images[:8]), test_labels[:8],
                                     ops.cross_entropy, args.out / "cnn_step")
    print("graph of one training step:", ", ".join(str(path) for path in written))


def main(argv=None):
    return loop.run(build_parser(), argv, build, write_figures)


if __name__ == "__main__":
    main()
