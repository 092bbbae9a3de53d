"""Train one of the zoo's classic networks on MNIST (60,000 train / 10,000 test images) with the
MNIST example's training loop -- checkpoints, --resume, Ctrl-C and metrics.json included:
python examples/zoo/train.py --model lenet5"""

import argparse
import sys
from pathlib import Path

from models import MODELS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mnist"))
import loop  # noqa: E402  (examples/mnist is not a package: the shared loop lives there)

from tinygrad_cnn import ops  # noqa: E402


def build_parser():
    """Every flag with its default: the model, then the shared loop's training flags."""
    parser = argparse.ArgumentParser(description="Train a classic network on MNIST.")
    parser.add_argument("--model", choices=sorted(MODELS), default="pytorch_example",
                        help="pytorch_example (pytorch/examples' MNIST net), lenet5 or bn_cnn "
                             "(conv-BN-ReLU blocks) (default: pytorch_example)")
    loop.add_training_arguments(parser, epochs=3, lr=1e-3, lr_decay=0.7,
                                out=Path("runs/zoo/{model}"))
    return parser


def build(args):
    """The chosen network and its loss: ops.nll_loss on log-probabilities or ops.cross_entropy
    on logits."""
    model_class, loss_name = MODELS[args.model]
    return model_class(), getattr(ops, loss_name)


def write_figures(model, history, predictions, test_images, test_labels, args):
    """curves.png, confusion_matrix.png and filters.png (the first convolution's filters)."""
    import plots  # matplotlib takes a second to import: only runs that draw pay for it

    first_conv = next(p for _, p in model.named_parameters() if p.ndim == 4)
    plots.write_all(history, first_conv.data, predictions, test_labels, args.out)


def main(argv=None):
    return loop.run(build_parser(), argv, build, write_figures)


if __name__ == "__main__":
    main()
