"""examples/custom_layer.py, examples/scalar_neuron.py and examples/sequence_models.py: run as a
user would (fast settings), with their printed results asserted; and their building blocks
checked by value."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from example_scripts import load_example

import tinygrad_cnn as tc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script, *args, cwd):
    """Run an example script; returns its standard output."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def load(script):
    """Import examples/<script> as a module."""
    return load_example(f"examples/{script}", Path(script).stem)


@pytest.fixture(scope="module")
def custom_layer():
    return load("custom_layer.py")


@pytest.fixture(scope="module")
def scalar_neuron():
    return load("scalar_neuron.py")


def test_custom_layer_script_gradchecks_then_trains(tmp_path):
    out = run("custom_layer.py", "--steps", 40, "--log-every", 10, cwd=tmp_path)
    assert ("gradcheck and gradgradcheck passed: LeakyReLU on shapes "
            "[(5,), (3, 4), (2, 3, 4, 5)]") in out
    assert "gradcheck passed: Dropout on shapes [(5,), (3, 4), (2, 3, 4, 5)]" in out
    assert "Dropout in eval mode returns its input unchanged" in out
    steps = [int(s) for s in re.findall(r"^step +(\d+)  loss", out, flags=re.MULTILINE)]
    assert steps == [1, 10, 20, 30, 40]
    first, last = map(float, re.search(r"loss went down: ([\d.]+) -> ([\d.]+)", out).groups())
    assert last < 0.5 * first
    assert float(re.search(r"training accuracy ([\d.]+)", out)[1]) >= 0.85


def test_custom_layer_script_is_repeatable(tmp_path):
    first = run("custom_layer.py", "--steps", 5, "--seed", 3, cwd=tmp_path)
    assert run("custom_layer.py", "--steps", 5, "--seed", 3, cwd=tmp_path) == first


def test_leaky_relu_values_gradient_and_params(custom_layer):
    x = tc.Value(np.array([-2.0, -0.5, 0.5, 3.0]))
    y = custom_layer.leaky_relu(x, negative_slope=0.1)
    np.testing.assert_allclose(y.data, [-0.2, -0.05, 0.5, 3.0], rtol=1e-12)
    assert y.fn.params == {"negative_slope": 0.1}
    upstream = np.array([1.0, 2.0, 3.0, 4.0])
    y.backward(upstream)
    np.testing.assert_allclose(x.grad, [0.1, 0.2, 3.0, 4.0], rtol=1e-12)
    y32 = custom_layer.LeakyReLU(0.2)(tc.Value(np.array([-1.0, 1.0], dtype=np.float32)))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.data, [-0.2, 1.0], rtol=1e-6)


def test_leaky_relu_is_twice_differentiable(custom_layer):
    x = tc.Value(np.array([-2.0, -0.5, 0.5, 3.0]))
    u = tc.Value(np.array([1.0, 2.0, 3.0, 4.0]))        # an upstream gradient, itself a variable
    y = custom_layer.leaky_relu(x, negative_slope=0.1)
    (dx,) = tc.grad(y, [x], grad_output=u, create_graph=True)
    np.testing.assert_allclose(dx.data, [0.1, 0.2, 3.0, 4.0], rtol=1e-12)
    dx_dx, dx_du = tc.grad(dx.sum(), [x, u])
    np.testing.assert_array_equal(dx_dx.data, 0.0)      # the slope is constant off the kink
    np.testing.assert_allclose(dx_du.data, [0.1, 0.1, 1.0, 1.0], rtol=1e-12)
    assert tc.gradgradcheck(lambda v: custom_layer.leaky_relu(v, negative_slope=0.1),
                            [np.array([[-1.5, 0.3], [2.0, -0.7]])])


def test_leaky_relu_rejects_a_bad_slope(custom_layer):
    with pytest.raises(ValueError, match=r"leaky_relu: negative_slope is 1.5; expected a number"):
        custom_layer.leaky_relu(tc.Value(np.ones(3)), negative_slope=1.5)


def test_dropout_keeps_1_minus_p_scaled_by_1_over_1_minus_p(custom_layer, rng):
    drop = custom_layer.Dropout(0.25, rng=rng)
    x = tc.Value(np.ones(20000))
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.backward(np.full(20000, 2.0))
    np.testing.assert_allclose(x.grad, np.where(kept, 2 / 0.75, 0.0))     # same mask as forward


def test_dropout_uses_the_default_generator_and_eval_mode(custom_layer):
    drop = custom_layer.Dropout(0.5)
    x = tc.Value(np.ones((4, 5), dtype=np.float32))
    tc.manual_seed(7)
    first = drop(x).data
    tc.manual_seed(7)
    np.testing.assert_array_equal(drop(x).data, first)
    assert first.dtype == np.float32 and set(np.unique(first)) <= {0.0, 2.0}
    assert drop.eval()(x) is x
    assert custom_layer.Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match=r"Dropout: p is 1; expected a probability in \[0, 1\)"):
        custom_layer.Dropout(1)


@pytest.mark.slow
def test_scalar_neuron_script_learns_the_moons_and_draws_a_neuron(tmp_path):
    out = run("scalar_neuron.py", "--points", 60, "--hidden", 8, 8, "--steps", 60,
              "--batch-size", 16, "--log-every", 20, "--out", tmp_path / "graphs", cwd=tmp_path)
    assert "MLP [2, 8, 8, 1]: 105 scalar parameters" in out
    assert [int(s) for s in re.findall(r"^step +(\d+)", out, flags=re.MULTILINE)] == \
        [0, 20, 40, 59]
    assert float(re.search(r"final accuracy ([\d.]+) on all 60 points", out)[1]) >= 0.85
    written = Path(re.search(r"^wrote (.+)$", out, flags=re.MULTILINE)[1])
    assert written.parent == tmp_path / "graphs" and written.stem == "neuron"
    text = written.read_text()
    assert ("<svg" in text) if written.suffix == ".svg" else text.startswith("digraph")
    assert "w0" in text and "Tanh" in text


def test_neuron_gradient_is_the_tanh_rule(scalar_neuron, rng):
    neuron = scalar_neuron.Neuron(3, rng)
    x = [0.5, -1.0, 2.0]
    out = neuron(x)
    out.backward()
    w = np.array([wi.item() for wi in neuron.w])
    expected_out = np.tanh(w @ x + neuron.b.item())
    assert out.item() == pytest.approx(expected_out, rel=1e-12)
    # d tanh(w.x + b)/dw_i = (1 - out^2) x_i, d/db = 1 - out^2
    np.testing.assert_allclose([wi.grad for wi in neuron.w], (1 - expected_out ** 2) * np.array(x),
                               rtol=1e-12)
    assert neuron.b.grad == pytest.approx(1 - expected_out ** 2, rel=1e-12)


def test_mlp_shapes_and_moons(scalar_neuron, rng):
    model = scalar_neuron.MLP([2, 4, 3, 1], rng)
    assert len(model.parameters()) == (2 * 4 + 4) + (4 * 3 + 3) + (3 + 1)
    assert isinstance(model([0.1, 0.2]), tc.Value)
    points, labels = scalar_neuron.make_moons(50, 0.0, rng)
    assert points.shape == (50, 2) and sorted(set(labels)) == [-1.0, 1.0]
    upper, lower = points[labels < 0], points[labels > 0]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, rtol=1e-12)           # unit half circle
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-12)
    assert (upper[:, 1] >= 0).all() and (lower[:, 1] <= 0.5).all()


def test_make_demo_trains_and_draws_into_runs_mnist_without_the_scalar_neuron():
    """`make demo` trains the seed CNN, which draws the graph of one training step of the
    trained model itself; the scalar neuron's drawing is in docs/img, not in the demo's folder."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)[1]
    assert "$(PY) examples/mnist/train.py --out $(RUN)" in recipe
    assert "render_graph" not in recipe and "scalar_neuron" not in recipe
    assert re.search(r"^RUN \?= runs/mnist$", makefile, flags=re.MULTILINE)
    assert (ROOT / "docs" / "img" / "neuron.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_sequence_models_learn_the_pointer_task(tmp_path):
    """examples/sequence_models.py as a user runs it: the LSTM, the GRU and the attention model
    each answer at least 95% of 1,000 new sequences after 800 batches (one chance in 10 is
    what guessing gets)."""
    out = run("sequence_models.py", "--steps", "800", cwd=tmp_path)
    accuracies = dict(re.findall(r"^(\w+) +last loss [\d.]+  accuracy ([\d.]+)%", out, re.M))
    assert set(accuracies) == {"lstm", "gru", "attention"}, out
    assert all(float(a) >= 95.0 for a in accuracies.values()), out


def test_pointer_task_answers_are_the_digits_pointed_at():
    sequence_models = load("sequence_models.py")
    ids, answers = sequence_models.pointer_task(500, np.random.default_rng(1))
    assert ids.shape == (500, 8) and ids[:, 0].min() == 1 and ids[:, 0].max() == 7
    assert all(answer == row[row[0]] for row, answer in zip(ids, answers, strict=True))
