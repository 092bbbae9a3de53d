"""examples/second_order.py: Newton's method with Hessians from tc.grad reaches the Rosenbrock
minimum where gradient descent is still crawling, and its Hessian-vector product is right."""

from pathlib import Path

import numpy as np
from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]


def load_second_order():
    return load_example("examples/second_order.py", "second_order")


def test_hessian_of_rosenbrock_equals_its_closed_form():
    example = load_second_order()
    x, y = -1.2, 1.0
    value, g, h = example.gradient_and_hessian(example.rosenbrock, np.array([x, y]))
    assert value == (1 - x) ** 2 + 100 * (y - x * x) ** 2
    np.testing.assert_allclose(g, [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
                               rtol=1e-14)
    np.testing.assert_allclose(h, [[2 - 400 * (y - x * x) + 800 * x * x, -400 * x],
                                   [-400 * x, 200]], rtol=1e-14)


def test_newton_reaches_the_minimum_and_gradient_descent_does_not(tmp_path, capsys):
    example = load_second_order()
    example.main(["--out", str(tmp_path), "--gd-steps", "300"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "          newton:     8 steps -> (1.000000, 1.000000), f = 0"
    assert lines[1].startswith("gradient descent:   300 steps -> ")
    relative_error = float(lines[2].rsplit(" ", 1)[1])
    assert relative_error < 1e-7
    assert (tmp_path / "newton_vs_gd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
