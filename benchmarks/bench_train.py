"""Seconds per training epoch of the seed CNN over the full MNIST training set (median of
several epochs), and PyTorch's time for the same model and recipe in the same run."""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "mnist"))
from model import SeedCNN  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn import ops, optim  # noqa: E402
from tinygrad_cnn.data import DataLoader, load_mnist  # noqa: E402


def tinygrad_epoch_seconds(images, labels, channels, batch_size, epochs):
    """Train SeedCNN with Adam for `epochs` epochs; the wall time of each."""
    tc.manual_seed(0)
    model = SeedCNN(channels)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(images, labels, batch_size=batch_size)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            loss = ops.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def torch_epoch_seconds(torch, images, labels, channels, batch_size, epochs):
    """The same model, data normalisation and optimizer in PyTorch; the wall time of each."""
    nn = torch.nn
    torch.manual_seed(0)
    c1, c2 = channels
    model = nn.Sequential(nn.Conv2d(1, c1, 10), nn.ReLU(), nn.Conv2d(c1, c2, 10), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(25 * c2, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all = torch.from_numpy(images)
    y_all = torch.from_numpy(labels)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(y_all))
        for i in range(0, len(order), batch_size):
            batch = order[i:i + batch_size]
            x = ((x_all[batch].float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
            loss = nn.functional.cross_entropy(model(x), y_all[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, nargs=2, action="append", metavar=("C1", "C2"),
                        help="model widths to time; repeatable (default: 8 16 and 16 32)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs timed per framework and width (default: 3)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--limit", type=int, default=None,
                        help="use the first N training images (default: all 60000)")
    args = parser.parse_args()
    widths = [tuple(c) for c in args.channels] if args.channels else [(8, 16), (16, 32)]
    images, labels = load_mnist("train")
    images, labels = images[:args.limit], labels[:args.limit]
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not importable: timing tinygrad_cnn only")

    print(f"seconds per epoch over {len(labels):,} images, batch {args.batch_size}, "
          f"median of {args.epochs} epochs")
    print(f"{'channels':>10} {'tinygrad_cnn':>13} {'pytorch':>9} {'ratio':>7}")
    for channels in widths:
        ours = statistics.median(
            tinygrad_epoch_seconds(images, labels, channels, args.batch_size, args.epochs))
        line = f"{str(channels):>10} {ours:>13.2f}"
        if torch is not None:
            theirs = statistics.median(torch_epoch_seconds(
                torch, images, labels.astype(np.int64), channels, args.batch_size, args.epochs))
            line += f" {theirs:>9.2f} {ours / theirs:>6.2f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
