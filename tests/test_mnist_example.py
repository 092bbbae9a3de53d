"""The MNIST example end to end, run as a user would: its smoke test, reproducibility, the log a
piped run writes, Ctrl-C, --resume with the run's own settings, refused flags, the environment
in metrics.json, and a short real run. Each training run uses tiny data and models."""

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import read_idx, write_idx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = EXAMPLES / "mnist" / "train.py"
TINY = ("--channels", "2", "4", "--no-plots")     # a 2,016-parameter CNN: a fast epoch


# Tiny runs gain nothing from BLAS threads, and on a busy machine a second, spinning thread
# makes them several times slower: the training subprocesses use one.
ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def train(*args, cwd, check=True):
    """Run examples/mnist/train.py as a user would; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, str(EXAMPLE), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=600, env=ONE_THREAD)
    if check:
        assert result.returncode == 0, f"train.py failed:\n{result.stdout}\n{result.stderr}"
    return result


def without_seconds(history):
    """The history without its timings, which differ from run to run."""
    return [{k: v for k, v in epoch.items() if k not in ("seconds", "cpu_seconds")}
            for epoch in history]


def interrupt_after_first_epoch(*args, cwd):
    """Start a training run, press Ctrl-C (SIGINT) as soon as it prints its first epoch's line;
    returns (exit status, stdout, stderr)."""
    process = subprocess.Popen([sys.executable, str(EXAMPLE), *map(str, args)], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ONE_THREAD)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if re.match(r"epoch 1/\d+  train loss", line):
            process.send_signal(signal.SIGINT)
            break
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, "".join(lines) + stdout, stderr


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


def test_dry_run_writes_metrics_plots_graph_and_checkpoint(tmp_path, fake_mnist, monkeypatch):
    out = tmp_path / "run"
    stdout = train("--dry-run", "--epochs", "2", "--data-dir", fake_mnist, "--out", out,
                   cwd=tmp_path).stdout
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
    assert not (out / "neuron.svg").exists()          # the scalar neuron lives in docs/img

    # The graph of one training step is of the model just trained, on the first 8 test images:
    # the loss it shows is that model's loss on those images.
    monkeypatch.syspath_prepend(str(EXAMPLES / "mnist"))
    import loop
    from model import SeedCNN

    model = SeedCNN()
    model.load_state_dict(checkpoint["model"])
    images = read_idx(fake_mnist / "t10k-images-idx3-ubyte")[:8]
    labels = read_idx(fake_mnist / "t10k-labels-idx1-ubyte")[:8].astype(np.int64)
    loss = tc.ops.cross_entropy(model(loop.normalize(images)), labels).item()
    drawn = next(out / f"cnn_step.{fmt}" for fmt in ("svg", "gv")
                 if (out / f"cnn_step.{fmt}").exists())
    text = drawn.read_text()
    assert f"data {loss:.4f}" in text
    assert "(8, 1, 28, 28) float32" in text and "conv1: Conv2d" in text


def test_one_unbatched_image_through_the_seed_cnn_says_to_give_a_batch(monkeypatch):
    """The convolutions take one image (C, H, W) unbatched, as PyTorch's do, so Flatten() keeps
    its channels as the batch: linear's error says so, and its fix runs."""
    monkeypatch.syspath_prepend(str(EXAMPLES / "mnist"))
    from model import SeedCNN

    model, image = SeedCNN(), np.zeros((1, 28, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape(
            "linear: input of shape (32, 25) does not fit weight of shape (10, 800); expected "
            "weight (out_features, in_features) with in_features = the input's last dimension; "
            "the input's 800 values are exactly in_features: it looks like one example whose "
            "first axis was read as the batch (e.g. one image (C, H, W) through Flatten(), which "
            "kept its channels as the batch axis); give the model a batch: x[None] for one "
            "example, or images[:1] rather than images[0]") + "$"):
        model(image)
    images = np.stack([image, image + 1])
    assert model(image[None]).shape == (1, 10)
    np.testing.assert_array_equal(model(images[:1]).data, model(image[None]).data)
    # no hint where the sizes do not match that way
    with pytest.raises(ValueError, match=r"the input's last dimension$"):
        tc.ops.linear(np.zeros((5, 3)), np.zeros((4, 2)))


def test_normalize_is_the_mnist_standardisation(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES / "mnist"))
    import loop

    pixels = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)       # (1, 2, 2)
    x = loop.normalize(pixels)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    expected = ((pixels / 255 - 0.1307) / 0.3081).astype(np.float32)[:, None]
    np.testing.assert_array_equal(x, expected)


def test_same_seed_same_metrics_and_learning(tmp_path, fake_mnist):
    common = ("--epochs", "2", *TINY, "--data-dir", fake_mnist)
    train(*common, "--out", tmp_path / "a", cwd=tmp_path)
    train(*common, "--out", tmp_path / "b", cwd=tmp_path)
    a, b = (json.loads((tmp_path / run / "metrics.json").read_text())["epochs"]
            for run in ("a", "b"))
    assert without_seconds(a) == without_seconds(b)
    assert a[1]["train_loss"] < a[0]["train_loss"]


def test_piped_output_is_a_few_lines_per_epoch(tmp_path, fake_mnist):
    """No progress bar in a log file: per epoch, three quarter-way lines and the summary."""
    log = tmp_path / "log"
    with open(log, "w") as f:
        result = subprocess.run([sys.executable, str(EXAMPLE), "--epochs", "3", *TINY,
                                 "--batch-size", "16", "--data-dir", fake_mnist,
                                 "--out", tmp_path / "run"], cwd=tmp_path, stdout=f,
                                stderr=subprocess.STDOUT, timeout=300, env=ONE_THREAD)
    assert result.returncode == 0, log.read_text()
    text = log.read_text()
    assert "\r" not in text and "it/s" not in text
    lines = text.splitlines()
    model_lines = 9          # SeedCNN( ... ) as printed
    assert len(lines) == model_lines + 1 + 3 * (3 + 1) + 1, text
    for epoch in (1, 2, 3):
        quarters = [line for line in lines if line.startswith(f"epoch {epoch}  batch ")]
        assert [line.split()[3] for line in quarters] == ["4/16", "8/16", "12/16"]
    assert len([line for line in lines if "test accuracy" in line]) == 3
    assert len(text.encode()) < 2500


def test_progress_bar_on_a_terminal(tmp_path, fake_mnist):
    """With stderr on a terminal (a pseudo-terminal here) tqdm draws its bar there."""
    leader, follower = pty.openpty()
    # a terminal 100 columns wide (a new pseudo-terminal has 0, and tqdm would draw nothing)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with open(tmp_path / "stdout", "w") as stdout:
        process = subprocess.Popen([sys.executable, str(EXAMPLE), "--epochs", "1", *TINY,
                                    "--data-dir", fake_mnist, "--out", tmp_path / "run"],
                                   cwd=tmp_path, stdout=stdout, stderr=follower,
                                   env=ONE_THREAD)
    os.close(follower)              # the child holds the terminal now
    terminal = b""
    try:
        while chunk := os.read(leader, 65536):
            terminal += chunk
    except OSError:                 # EIO: the child has exited and closed the terminal
        pass
    finally:
        os.close(leader)
    assert process.wait(timeout=300) == 0
    assert b"\repoch 1:" in terminal and b"/4 [" in terminal and b"batch/s" in terminal
    assert "batch 1/" not in (tmp_path / "stdout").read_text()     # no quarter-way lines


def test_ctrl_c_keeps_the_last_epoch_and_prints_the_resume_command(tmp_path, fake_mnist):
    out = tmp_path / "run"
    status, stdout, stderr = interrupt_after_first_epoch(
        "--epochs", "6", *TINY, "--data-dir", fake_mnist, "--out", out, cwd=tmp_path)
    assert status == 130, (stdout, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr + stdout
    last = stdout.splitlines()[-1]
    match = re.fullmatch(r"interrupted in epoch (\d); kept the checkpoint and metrics.json of "
                         r"epoch (\d) in (.+); resume with: (.+)", last)
    assert match, last
    done = int(match[2])
    assert int(match[1]) == done + 1 and 1 <= done < 6 and Path(match[3]) == out
    assert match[4].endswith(f"train.py --resume {out / 'checkpoint.npz'}")
    assert tc.load(out / "checkpoint.npz")["epoch"] == done
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == list(range(1, done + 1))

    # the printed command, run as printed, finishes the run
    resumed = subprocess.run(match[4], shell=True, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert "epoch 6/6" in resumed.stdout and f"epoch {done}/6" not in resumed.stdout
    assert tc.load(out / "checkpoint.npz")["epoch"] == 6


def test_resume_with_only_resume_and_out_equals_uninterrupted(tmp_path, fake_mnist):
    settings = ("--epochs", "4", "--channels", "3", "2", "--batch-size", "24", "--limit", "200",
                "--test-limit", "50", "--optimizer", "sgd", "--lr", "0.02", "--lr-decay", "0.7",
                "--seed", "5", "--no-plots", "--data-dir", fake_mnist)
    train(*settings, "--out", tmp_path / "whole", cwd=tmp_path)
    part = tmp_path / "part"
    status, _, stderr = interrupt_after_first_epoch(*settings, "--out", part, cwd=tmp_path)
    assert status == 130, stderr
    stdout = train("--resume", part / "checkpoint.npz", "--out", part, cwd=tmp_path).stdout
    assert "resuming" in stdout and "epoch 4/4" in stdout and "epoch 1/4" not in stdout
    assert "Conv2d(1, 3, kernel_size=10" in stdout            # the run's own channels ...
    assert "200 training and 50 test images" in stdout         # ... and data limits

    whole = tc.load(tmp_path / "whole" / "checkpoint.npz")
    resumed = tc.load(part / "checkpoint.npz")
    assert whole["model"].keys() == resumed["model"].keys()
    for name, weight in whole["model"].items():
        np.testing.assert_array_equal(resumed["model"][name], weight, err_msg=name)
    assert_same_tree(resumed["optimizer"], whole["optimizer"])
    assert resumed["scheduler"] == whole["scheduler"]
    assert resumed["rng"] == whole["rng"]
    assert without_seconds(resumed["history"]) == without_seconds(whole["history"])
    metrics = [json.loads((run / "metrics.json").read_text()) for run in (tmp_path / "whole",
                                                                           part)]
    assert without_seconds(metrics[0]["epochs"]) == without_seconds(metrics[1]["epochs"])


def assert_same_tree(a, b, where="optimizer"):
    """Nested dicts and lists with equal keys, plain values and bit-identical arrays."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_tree(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, where


def test_resume_refuses_a_conflicting_flag_naming_both_values(tmp_path, fake_mnist):
    out = tmp_path / "run"
    train("--epochs", "1", *TINY, "--limit", "64", "--data-dir", fake_mnist, "--out", out,
          cwd=tmp_path)
    checkpoint = out / "checkpoint.npz"
    for flag, given, saved in (("--limit", "128", "64"), ("--channels", "16 32", "2 4"),
                               ("--epochs", "3", "1"), ("--out", str(tmp_path / "x"), str(out))):
        result = train("--resume", checkpoint, flag, *given.split(), cwd=tmp_path, check=False)
        assert result.returncode == 2
        assert (f"{flag} {given} conflicts with the run being resumed, which has {flag} {saved}"
                in result.stderr), result.stderr
    # the same values given explicitly are no conflict
    result = train("--resume", checkpoint, "--limit", "64", "--channels", "2", "4", "--out", out,
                   cwd=tmp_path)
    assert "already finished" in result.stdout


def test_resume_from_a_missing_checkpoint_is_a_clear_error(tmp_path):
    result = train("--resume", "runs/nothing/checkpoint.npz", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.endswith("error: --resume runs/nothing/checkpoint.npz: no such file; "
                                  "expected the checkpoint.npz in a run's folder, e.g. "
                                  "runs/mnist/checkpoint.npz\n")


def test_resuming_a_finished_run_says_so_and_changes_nothing(tmp_path, fake_mnist):
    out = tmp_path / "run"
    train("--epochs", "2", *TINY, "--data-dir", fake_mnist, "--out", out, cwd=tmp_path)
    before = {name: (out / name).read_bytes() for name in ("checkpoint.npz", "metrics.json")}
    accuracy = json.loads(before["metrics.json"])["epochs"][-1]["test_accuracy"]
    stdout = train("--resume", out / "checkpoint.npz", cwd=tmp_path).stdout
    assert stdout == (f"{out}: this run has already finished its 2 epochs (test accuracy "
                      f"{100 * accuracy:.2f}% after epoch 2); nothing to train; its results "
                      f"are in {out / 'metrics.json'}\n")
    assert before == {name: (out / name).read_bytes() for name in before}


def test_limit_0_is_a_clear_error_not_a_zero_division(tmp_path):
    result = train("--limit", "0", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.endswith("train.py: error: --limit is 0; expected at least 1 training "
                                  "image; leave --limit out to use the default (all of them)\n")


@pytest.mark.parametrize("flag, value, message", [
    ("--test-limit", "-5", "--test-limit is -5; expected at least 1 test image; leave "
                           "--test-limit out to use the default (all of them)"),
    ("--epochs", "0", "--epochs is 0; expected at least 1 epoch; leave --epochs out to use the "
                      "default (5)"),
    ("--batch-size", "0", "--batch-size is 0; expected at least 1 image per batch; leave "
                          "--batch-size out to use the default (64)"),
    ("--lr", "0", "--lr 0 and --lr-decay 0.5; expected a finite lr > 0 and 0 < lr-decay <= 1"),
    ("--lr", "inf", "--lr inf and --lr-decay 0.5; expected a finite lr > 0 and 0 < lr-decay "
                    "<= 1"),
    ("--seed", "-1", "--seed is -1; expected a non-negative int such as 0"),
    ("--channels", "0 4", "argument --channels: 0 channels; expected at least 1"),
])
def test_bad_counts_and_rates_are_refused(monkeypatch, capsys, flag, value, message):
    monkeypatch.syspath_prepend(str(EXAMPLES / "mnist"))
    import train as mnist_train

    with pytest.raises(SystemExit) as exit_info:
        mnist_train.parse_args([flag, *value.split()])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: {message}\n")


def test_metrics_record_the_environment(tmp_path, fake_mnist):
    out = tmp_path / "run"
    train("--dry-run", "--epochs", "1", *TINY, "--data-dir", fake_mnist, "--out", out,
          cwd=tmp_path)
    env = json.loads((out / "metrics.json").read_text())["environment"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["numpy"] == np.__version__
    assert env["cpu_count"] == os.cpu_count() and env["platform"]
    if np.lib.NumpyVersion(np.__version__) >= "1.26.0":
        assert env["blas"]["build"]["blas"]["name"]
    git = subprocess.run(["git", "-C", str(EXAMPLES), "rev-parse", "HEAD"],
                         capture_output=True, text=True)
    if git.returncode == 0:
        assert env["git_commit"].removesuffix("-dirty") == git.stdout.strip()
    else:
        assert env["git_commit"] is None


@pytest.mark.slow
def test_short_real_training_beats_85_percent(tmp_path):
    """2,000 real MNIST training images, one epoch (63 steps of 32), scored on 1,000 real test
    images."""
    train("--epochs", "1", "--limit", "2000", "--test-limit", "1000", "--batch-size", "32",
          "--lr", "3e-3", "--no-plots",
          "--out", tmp_path / "run", cwd=tmp_path)
    epoch = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"][0]
    assert epoch["test_accuracy"] > 0.85, epoch
