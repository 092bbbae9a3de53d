"""Train the seed CNN on MNIST (60,000 train / 10,000 test images) and write metrics, plots and
a checkpoint after every epoch: python examples/mnist/train.py --help"""

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import plots
from model import SeedCNN
from tqdm import tqdm

import tinygrad_cnn as tc
from tinygrad_cnn import ops, optim
from tinygrad_cnn.data import DataLoader, load_mnist
from tinygrad_cnn.fileio import atomic_write
from tinygrad_cnn.random import default_generator


def train_epoch(model, loader, optimizer, epoch, dry_run=False):
    """One pass over the training batches; returns the mean training loss."""
    model.train()
    loss_sum, seen = 0.0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, dynamic_ncols=True)
    for images, labels in bar:
        loss = ops.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        seen += len(labels)
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        if dry_run:
            break
    bar.close()
    return loss_sum / seen


def evaluate(model, loader, dry_run=False):
    """Mean loss, accuracy and the predicted classes over every batch of `loader`."""
    model.eval()
    loss_sum, predictions, targets = 0.0, [], []
    with tc.no_grad():
        for images, labels in loader:
            logits = model(images)
            loss_sum += ops.cross_entropy(logits, labels).item() * len(labels)
            predictions.append(logits.data.argmax(axis=1))
            targets.append(labels)
            if dry_run:
                break
    predictions, targets = np.concatenate(predictions), np.concatenate(targets)
    return loss_sum / len(targets), float((predictions == targets).mean()), predictions


def make_optimizer(name, params, lr):
    """Adam or plain SGD with momentum 0.9 over `params`."""
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9)


def write_json(path, obj):
    """Write obj as JSON to path atomically (a temp file renamed over the target)."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the seed CNN on MNIST.")
    parser.add_argument("--epochs", type=int, default=5,
                        help="total number of epochs (default: 5)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="training batch size (default: 64)")
    parser.add_argument("--lr", type=float, default=2e-3,
                        help="learning rate of the first epoch (default: 2e-3)")
    parser.add_argument("--lr-decay", type=float, default=0.5,
                        help="factor applied to the learning rate after each epoch (default: 0.5)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                        help="adam, or sgd with momentum 0.9 (default: adam)")
    parser.add_argument("--channels", type=int, nargs=2, default=(16, 32), metavar=("C1", "C2"),
                        help="output channels of the two convolutions; 1 1 is the literal "
                             "seed (default: 16 32)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for initialisation and shuffling (default: 0)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four MNIST IDX files; downloaded when missing "
                             "(default: $TINYGRAD_CNN_DATA or ~/.cache/tinygrad_cnn/mnist)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only (default: all 60000)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="evaluate on the first N test images only (default: all 10000)")
    parser.add_argument("--out", type=Path, default=Path("runs/mnist"),
                        help="folder for metrics.json, checkpoint.npz and plots "
                             "(default: runs/mnist)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run saved in this checkpoint (default: none)")
    parser.add_argument("--no-plots", action="store_true",
                        help="skip the matplotlib figures (default: off)")
    parser.add_argument("--dry-run", action="store_true",
                        help="one training and one test batch per epoch, as a smoke test "
                             "(default: off)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tc.manual_seed(args.seed)

    train_images, train_labels = load_mnist("train", root=args.data_dir)
    test_images, test_labels = load_mnist("test", root=args.data_dir)
    train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    test_images, test_labels = test_images[:args.test_limit], test_labels[:args.test_limit]
    train_loader = DataLoader(train_images, train_labels, batch_size=args.batch_size)
    test_loader = DataLoader(test_images, test_labels, batch_size=1000, shuffle=False)

    model = SeedCNN(channels=tuple(args.channels))
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
    history, first_epoch = [], 1
    if args.resume is not None:
        checkpoint = tc.load(args.resume)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        default_generator().bit_generator.state = checkpoint["rng"]
        history, first_epoch = checkpoint["history"], checkpoint["epoch"] + 1
        print(f"resuming {args.resume} after epoch {checkpoint['epoch']}")
    print(model)
    print(f"{sum(p.size for p in model.parameters()):,} parameters; "
          f"{len(train_labels):,} training and {len(test_labels):,} test images")

    predictions = None
    for epoch in range(first_epoch, args.epochs + 1):
        optimizer.lr = args.lr * args.lr_decay ** (epoch - 1)
        start = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer, epoch, args.dry_run)
        seconds = time.perf_counter() - start
        test_loss, test_accuracy, predictions = evaluate(model, test_loader, args.dry_run)
        history.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                        "test_accuracy": test_accuracy, "seconds": seconds})
        print(f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f}  test loss "
              f"{test_loss:.4f}  test accuracy {100 * test_accuracy:.2f}%  ({seconds:.1f} s)")
        tc.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "epoch": epoch, "rng": default_generator().bit_generator.state,
                 "history": history}, args.out / "checkpoint.npz")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_json(args.out / "metrics.json", {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "epochs": history, "peak_rss_mb": round(peak_mb, 1)})
    print(f"peak memory {peak_mb:.0f} MB; metrics in {args.out / 'metrics.json'}")
    if not args.no_plots and predictions is not None:
        plots.write_all(history, model.conv1.weight.data, predictions,
                        test_labels[:len(predictions)], args.out)
        print(f"plots in {args.out}")


if __name__ == "__main__":
    main()
