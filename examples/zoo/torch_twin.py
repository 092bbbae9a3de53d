"""The zoo's three networks written in PyTorch and trained with the zoo's recipe, for the
comparison runs only: python examples/zoo/torch_twin.py --model lenet5 --out runs/zoo/lenet5_torch

The same layers (under the same parameter names, so a state dict moves between the two),
initial ranges (PyTorch's defaults, which tinygrad_cnn's layers copy), data normalisation,
shuffling, optimizer, learning-rate schedule, batch size and epochs as examples/zoo/train.py;
the metrics.json it writes has the same layout. PyTorch is not a dependency of tinygrad_cnn:
only this comparison script imports it.
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tinygrad_cnn.data import load_mnist
from tinygrad_cnn.fileio import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mnist"))
import loop  # noqa: E402  (the flag checks and the input normalisation of the zoo's runs)


class PyTorchExampleNet(nn.Module):
    """pytorch/examples mnist/main.py's Net."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))                          # (N, 32, 26, 26)
        x = F.relu(self.conv2(x))                          # (N, 64, 24, 24)
        x = self.dropout1(F.max_pool2d(x, 2))              # (N, 64, 12, 12)
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))   # (N, 128)
        return F.log_softmax(self.fc2(x), dim=1)           # (N, 10) log-probabilities


class LeNet5(nn.Module):
    """LeNet-5: conv 6 and 16 5x5 (padding 2 on the first), tanh, average pooling, 120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)          # (N, 6, 28, 28)
        self.pool1 = nn.AvgPool2d(2)                        # (N, 6, 14, 14)
        self.conv2 = nn.Conv2d(6, 16, 5)                    # (N, 16, 10, 10)
        self.pool2 = nn.AvgPool2d(2)                        # (N, 16, 5, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(torch.tanh(self.conv1(x)))
        x = self.pool2(torch.tanh(self.conv2(x)))
        x = torch.tanh(self.fc1(torch.flatten(x, 1)))
        return self.fc3(torch.tanh(self.fc2(x)))           # (N, 10) logits


class ConvBlock(nn.Module):
    """conv 3x3 with padding "same" (no bias) -> BatchNorm2d -> ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding="same", bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BatchNormCNN(nn.Module):
    """Two conv-BN-ReLU blocks with padding "same", each followed by a 2x2 max-pool; linear."""

    def __init__(self, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.blocks = nn.ModuleList([ConvBlock(1, c1), ConvBlock(c1, c2)])
        self.fc = nn.Linear(c2 * 7 * 7, 10)

    def forward(self, x):
        for block in self.blocks:                          # 28 -> 14 -> 7
            x = F.max_pool2d(block(x), 2)
        return self.fc(torch.flatten(x, 1))                # (N, 10) logits


MODELS = {"pytorch_example": (PyTorchExampleNet, "nll_loss"),
          "lenet5": (LeNet5, "cross_entropy"),
          "bn_cnn": (BatchNormCNN, "cross_entropy")}


def batches(images, labels, batch_size, order):
    """(x float32 (B, 1, 28, 28), y int64 (B,)) in `order`, normalised as the zoo's runs are."""
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        x = loop.normalize(images[index])                   # (B, 28, 28) -> (B, 1, 28, 28)
        yield torch.from_numpy(x), torch.from_numpy(labels[index])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), required=True,
                        help="which network to train (required)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (default: 3)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam's learning rate in epoch 1 (default: 1e-3)")
    parser.add_argument("--lr-decay", type=float, default=0.7,
                        help="StepLR's gamma, applied after every epoch (default: 0.7)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N images (default: all 60000)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="test on the first N images (default: all 10000)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the MNIST IDX files (default: the cache)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for metrics.json (required)")
    args, _ = loop.parse_args(parser, argv)      # the same flag checks as the zoo's train.py
    args.out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_images, train_labels = load_mnist("train", root=args.data_dir)
    test_images, test_labels = load_mnist("test", root=args.data_dir)
    train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    test_images, test_labels = test_images[:args.test_limit], test_labels[:args.test_limit]

    model_class, loss_name = MODELS[args.model]
    model = model_class()
    loss_fn = getattr(F, loss_name)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.lr_decay)
    parameters = sum(p.numel() for p in model.parameters())
    print(model)
    print(f"{parameters:,} parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum, start, cpu_start = 0.0, time.perf_counter(), time.process_time()
        order = rng.permutation(len(train_labels))
        for x, y in batches(train_images, train_labels, args.batch_size, order):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        scheduler.step()
        model.eval()
        test_loss, correct = 0.0, 0
        with torch.no_grad():
            for x, y in batches(test_images, test_labels, 1000, np.arange(len(test_labels))):
                out = model(x)
                test_loss += loss_fn(out, y).item() * len(y)
                correct += int((out.argmax(dim=1) == y).sum())
        history.append({"epoch": epoch, "train_loss": loss_sum / len(train_labels),
                        "test_loss": test_loss / len(test_labels),
                        "test_accuracy": correct / len(test_labels), "seconds": seconds,
                        "cpu_seconds": cpu_seconds})
        print(f"epoch {epoch}/{args.epochs}  train loss {history[-1]['train_loss']:.4f}  "
              f"test loss {history[-1]['test_loss']:.4f}  test accuracy "
              f"{100 * history[-1]['test_accuracy']:.2f}%  ({seconds:.1f} s)", flush=True)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    metrics = {"framework": f"torch {torch.__version__}", "model": args.model,
               "parameters": parameters,
               "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "epochs": history, "peak_rss_mb": round(peak_mb, 1),
               "environment": {"python": platform.python_version(), "numpy": np.__version__,
                               "torch": torch.__version__, "threads": torch.get_num_threads(),
                               "thread_variables": {name: os.environ[name] for name in (
                                   "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                                   if name in os.environ},
                               "platform": platform.platform(), "cpu_count": os.cpu_count(),
                               "load_average": list(os.getloadavg()), "argv": sys.argv}}
    with atomic_write(args.out / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=2)
    print(f"metrics in {args.out / 'metrics.json'}")


if __name__ == "__main__":
    main()
