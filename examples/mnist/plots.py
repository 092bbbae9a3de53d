"""The run's figures: loss and accuracy per epoch, the test confusion matrix, the first
convolution's filters, each a PNG drawn with matplotlib's file-only backend; and the graph of
one training step, drawn with graphviz."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn.fileio import atomic_write  # noqa: E402
from tinygrad_cnn.viz import render_to  # noqa: E402


def write_all(history, filters, predictions, labels, out):
    """Write curves.png, confusion_matrix.png and filters.png into the folder `out`."""
    _save(_curves(history), out / "curves.png")
    _save(_confusion(predictions, labels), out / "confusion_matrix.png")
    _save(_filters(filters), out / "filters.png")


def _curves(history):
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    loss_ax.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    loss_ax.legend()
    acc_ax.plot(epochs, [100 * h["test_accuracy"] for h in history], "s-", color="C1")
    acc_ax.set(xlabel="epoch", ylabel="%", title="test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _confusion(predictions, labels):
    counts = np.zeros((10, 10), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)     # rows: true class, columns: predicted
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(counts), cmap="Blues")
    for (true, predicted), n in np.ndenumerate(counts):
        if n:
            ax.text(predicted, true, n, ha="center", va="center", fontsize=7,
                    color="white" if true == predicted else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
           title=f"test confusion matrix ({(predictions == labels).mean():.2%} correct)")
    fig.tight_layout()
    return fig


def _filters(filters):
    count = filters.shape[0]                          # (C1, 1, 10, 10): one image per filter
    columns = min(count, 8)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.2 * rows + 0.4),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < count:
            ax.imshow(filters[k, 0], cmap="RdBu_r", vmin=-abs(filters[k]).max(),
                      vmax=abs(filters[k]).max())
    fig.suptitle(f"first convolution's {filters.shape[2]}x{filters.shape[3]} filters")
    return fig


def write_step_graph(model, x, labels, loss_fn, path, formats=("svg", "png")):
    """Draw one training step of `model` (forward, loss, backward) on the batch x (B, C, H, W)
    with int labels (B,), each layer as one node: path.svg and path.png, or the DOT text
    path.gv when graphviz's `dot` program is missing. Returns the paths written.

    The step's gradients are left in the parameters' .grad; nothing is updated.
    """
    images = tc.Value(x, requires_grad=False, name="images")
    model.train()
    model.zero_grad()
    loss = loss_fn(model(images), tc.Value(labels, name="labels"))
    loss.name = "loss"
    loss.backward()
    graph = tc.draw_graph(loss, params=dict(model.named_parameters()), rankdir="TB",
                          collapse_modules=True)
    try:
        return render_to(graph, path, formats=formats)
    except RuntimeError as error:      # no `dot` program: keep the DOT text, say how to fix
        print(f"warning: {error}", file=sys.stderr)
        return render_to(graph, path, formats=("gv",))


def _save(fig, path):
    """Save a figure atomically: render to a temp file, then rename it over `path`."""
    with atomic_write(path) as f:
        fig.savefig(f, dpi=110, format="png")
    plt.close(fig)
