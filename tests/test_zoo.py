"""examples/zoo: the three classic networks (shapes, parameter counts, train/eval behaviour, the
same function as their PyTorch twins) and the one command that trains any of them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from example_scripts import load_example

import tinygrad_cnn as tc
from tinygrad_cnn.data import write_idx

ZOO = Path(__file__).resolve().parents[1] / "examples" / "zoo"
# name -> parameters, as PyTorch counts them for the same network (torch_twin.py prints them)
PARAMETERS = {"pytorch_example": 1_199_882, "lenet5": 61_706, "bn_cnn": 20_538}


def load(name):
    """Import examples/zoo/<name>.py under a name of its own."""
    return load_example(f"examples/zoo/{name}.py", f"zoo_{name}")


@pytest.fixture(scope="module")
def models():
    return load("models")


# Tiny runs gain nothing from BLAS threads, and on a busy machine a second, spinning thread
# makes them several times slower: the training subprocesses use one.
ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def zoo(*args, cwd, check=True):
    """Run examples/zoo/train.py as a user would; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, str(ZOO / "train.py"), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=600, env=ONE_THREAD)
    if check:
        assert result.returncode == 0, f"zoo/train.py failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def fake_mnist(tmp_path, rng):
    """MNIST's file layout with 96 training and 32 test images."""
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, count in (("train", 96), ("t10k", 32)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (count, 28, 28)).astype(np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte",
                  rng.integers(0, 10, count).astype(np.uint8))
    return folder


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_network_shapes_and_parameter_counts(models, rng, name):
    tc.manual_seed(0)
    model_class, loss_name = models.MODELS[name]
    model = model_class()
    assert sum(p.size for p in model.parameters()) == PARAMETERS[name]
    x = tc.Value(rng.standard_normal((3, 1, 28, 28)).astype(np.float32))
    out = model.eval()(x)
    assert out.shape == (3, 10) and out.dtype == np.float32
    loss = getattr(tc.ops, loss_name)(model.train()(x), np.array([0, 4, 9]))
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_pytorch_example_net_gives_log_probabilities_and_drops_out_in_training(models, rng):
    tc.manual_seed(0)
    model = models.PyTorchExampleNet()
    x = tc.Value(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    log_probs = model.eval()(x).data
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model(x).data, log_probs)       # eval: no dropout
    model.train()
    assert not np.array_equal(model(x).data, model(x).data)      # a new mask each call


def test_batchnorm_cnn_keeps_running_statistics_as_buffers(models, rng):
    tc.manual_seed(0)
    model = models.BatchNormCNN()
    state = model.state_dict()
    for block in ("blocks.0", "blocks.1"):
        for buffer in ("running_mean", "running_var", "num_batches_tracked"):
            assert f"{block}.bn.{buffer}" in state
    assert not any("running" in name for name, _ in model.named_parameters())
    x = tc.Value(rng.standard_normal((8, 1, 28, 28)).astype(np.float32) + 3.0)
    model.eval()(x)
    np.testing.assert_array_equal(model.state_dict()["blocks.0.bn.running_mean"], 0.0)
    model.train()(x)
    assert int(model.state_dict()["blocks.0.bn.num_batches_tracked"]) == 1
    assert np.abs(model.state_dict()["blocks.0.bn.running_mean"]).max() > 0


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_zoo_command_builds_each_network_with_its_loss(models, name):
    zoo_train = load("train")
    args = zoo_train.build_parser().parse_args(["--model", name])
    model, loss_fn = zoo_train.build(args)
    assert type(model).__name__ == models.MODELS[name][0].__name__
    assert loss_fn is (tc.ops.nll_loss if name == "pytorch_example" else tc.ops.cross_entropy)


def test_zoo_command_trains_resumes_and_refuses_another_network(tmp_path, fake_mnist):
    """One batch (--dry-run) of LeNet-5; the run's folder is runs/zoo/<model> by default; the
    resumed run keeps its network."""
    stdout = zoo("--model", "lenet5", "--dry-run", "--epochs", "1", "--data-dir", fake_mnist,
                 cwd=tmp_path).stdout
    out = tmp_path / "runs" / "zoo" / "lenet5"
    assert "61,706 parameters; 96 training and 32 test images" in stdout
    assert "epoch 1/1" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["args"]["model"] == "lenet5" and len(metrics["epochs"]) == 1
    assert metrics["args"]["lr"] == 1e-3 and metrics["args"]["lr_decay"] == 0.7
    checkpoint = tc.load(out / "checkpoint.npz")
    assert checkpoint["settings"]["model"] == "lenet5"
    assert checkpoint["scheduler"]["last_lrs"] == pytest.approx([1e-3 * 0.7], rel=1e-12)
    for figure in ("curves.png", "confusion_matrix.png", "filters.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]

    refused = zoo("--resume", out / "checkpoint.npz", "--model", "bn_cnn", cwd=tmp_path,
                  check=False)
    assert refused.returncode == 2
    assert ("--model bn_cnn conflicts with the run being resumed, which has --model lenet5"
            in refused.stderr)
    finished = zoo("--resume", out / "checkpoint.npz", cwd=tmp_path).stdout
    assert finished.startswith(f"{out}: this run has already finished its 1 epochs")


def _torch():
    """PyTorch, for comparing the zoo with its twins: skipped where it is not installed, but a
    failure in CI (CI=true), where it must run."""
    try:
        import torch
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PyTorch is required in CI: {error}", pytrace=False)
        pytest.skip(f"PyTorch is not installed ({error}); install torch==2.13.0 to compare "
                    f"the zoo with its PyTorch twins")
    return torch


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size is 0; expected at least 1 image per batch"),
    (["--epochs", "0"], "--epochs is 0; expected at least 1 epoch"),
    (["--lr-decay", "0"], "--lr 0.001 and --lr-decay 0; expected a finite lr > 0 and 0 < "
                          "lr-decay <= 1"),
    (["--test-limit", "0"], "--test-limit is 0; expected at least 1 test image")])
def test_pytorch_twin_refuses_the_flags_the_zoo_command_refuses(tmp_path, fake_mnist, capsys,
                                                                 flags, message):
    _torch()
    twin = load("torch_twin")
    with pytest.raises(SystemExit) as exit_info:
        twin.main(["--model", "lenet5", "--data-dir", str(fake_mnist), "--out",
                   str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def assert_twin_computes_the_same(torch, model, theirs, x, modes, label):
    """Our weights loaded into the twin (strictly: the same names), then the same outputs for x
    in each of `modes` ("eval", "train")."""
    theirs.load_state_dict({key: torch.from_numpy(np.array(value))
                            for key, value in model.state_dict().items()}, strict=True)
    for mode in modes:
        getattr(model, mode)()
        getattr(theirs, mode)()
        with torch.no_grad():
            expected = theirs(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(tc.Value(x)).data, expected, rtol=1e-4, atol=1e-5,
                                   err_msg=f"{label} in {mode} mode")


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_each_network_computes_what_its_pytorch_twin_computes(models, rng, name):
    """Our weights loaded into the PyTorch twin (same parameter names): the same outputs in eval
    mode, and for BatchNorm in training mode too (batch statistics)."""
    torch = _torch()
    twin = load("torch_twin")
    tc.manual_seed(0)
    model = models.MODELS[name][0]()
    theirs = twin.MODELS[name][0]()
    x = rng.standard_normal((5, 1, 28, 28)).astype(np.float32)
    modes = ("eval", "train") if name == "bn_cnn" else ("eval",)
    assert_twin_computes_the_same(torch, model, theirs, x, modes, name)


def test_batchnorm_cnn_of_other_widths_has_a_pytorch_twin(models, rng):
    """BatchNormCNN(channels=...) and its twin of the same widths: same names, same outputs."""
    torch = _torch()
    twin = load("torch_twin")
    tc.manual_seed(0)
    model = models.BatchNormCNN(channels=(4, 8))
    theirs = twin.BatchNormCNN(channels=(4, 8))
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    assert_twin_computes_the_same(torch, model, theirs, x, ("eval", "train"), "channels (4, 8)")
