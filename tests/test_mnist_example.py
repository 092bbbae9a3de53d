"""The MNIST example end to end: its smoke test, reproducibility, resume, and a short real run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import write_idx

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist" / "train.py"


def train(*args, cwd):
    """Run examples/mnist/train.py as a user would; returns its standard output."""
    result = subprocess.run([sys.executable, str(EXAMPLE), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"train.py failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def fake_mnist(tmp_path, rng):
    """A folder of IDX files in MNIST's layout: 256 train and 64 test images of class-dependent
    blobs, learnable enough to show progress."""
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, count in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        images = rng.integers(0, 40, (count, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label:2 * label + 8, 4:24] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


def test_dry_run_writes_metrics_plots_and_checkpoint(tmp_path, fake_mnist):
    out = tmp_path / "run"
    stdout = train("--dry-run", "--epochs", "2", "--data-dir", fake_mnist, "--out", out,
                   cwd=tmp_path)
    assert "epoch 2/2" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert all(np.isfinite(e["train_loss"]) and 0 <= e["test_accuracy"] <= 1
               for e in metrics["epochs"])
    for name in ("curves.png", "confusion_matrix.png", "filters.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = tc.load(out / "checkpoint.npz")
    assert checkpoint["epoch"] == 2
    assert checkpoint["model"]["conv1.weight"].shape == (16, 1, 10, 10)
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_same_seed_same_metrics_and_learning(tmp_path, fake_mnist):
    common = ("--epochs", "2", "--channels", "2", "4", "--data-dir", fake_mnist, "--no-plots")
    train(*common, "--out", tmp_path / "a", cwd=tmp_path)
    train(*common, "--out", tmp_path / "b", cwd=tmp_path)
    a, b = (json.loads((tmp_path / run / "metrics.json").read_text())["epochs"]
            for run in ("a", "b"))
    drop_time = [{k: v for k, v in e.items() if k != "seconds"} for e in a]
    assert drop_time == [{k: v for k, v in e.items() if k != "seconds"} for e in b]
    assert a[1]["train_loss"] < a[0]["train_loss"]


def test_resume_equals_uninterrupted(tmp_path, fake_mnist):
    common = ("--channels", "2", "4", "--data-dir", fake_mnist, "--no-plots")
    train(*common, "--epochs", "3", "--out", tmp_path / "whole", cwd=tmp_path)
    train(*common, "--epochs", "1", "--out", tmp_path / "part", cwd=tmp_path)
    stdout = train(*common, "--epochs", "3", "--out", tmp_path / "part", "--resume",
                   tmp_path / "part" / "checkpoint.npz", cwd=tmp_path)
    assert "resuming" in stdout and "epoch 2/3" in stdout and "epoch 1/3" not in stdout
    whole = tc.load(tmp_path / "whole" / "checkpoint.npz")
    resumed = tc.load(tmp_path / "part" / "checkpoint.npz")
    assert whole["model"].keys() == resumed["model"].keys()
    for name, weight in whole["model"].items():
        np.testing.assert_array_equal(resumed["model"][name], weight, err_msg=name)
    assert [e["test_loss"] for e in whole["history"]] == \
        [e["test_loss"] for e in resumed["history"]]


@pytest.mark.slow
def test_short_real_training_beats_85_percent(tmp_path):
    """2,000 real MNIST training images, one epoch (63 steps of 32), scored on 1,000 real test
    images."""
    train("--epochs", "1", "--limit", "2000", "--test-limit", "1000", "--batch-size", "32",
          "--lr", "3e-3", "--no-plots",
          "--out", tmp_path / "run", cwd=tmp_path)
    epoch = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"][0]
    assert epoch["test_accuracy"] > 0.85, epoch
