"""Second derivatives at work: Newton's method against gradient descent on the Rosenbrock
function, with the Hessian built from gradients of gradients (tc.grad with create_graph=True),
and a Hessian-vector product of a small MLP checked against finite differences.

    python examples/second_order.py --out runs/second_order
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn.fileio import atomic_write  # noqa: E402


def rosenbrock(p):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: a curved valley with its minimum 0 at (1, 1)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def gradient_and_hessian(f, point: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """f(point), its gradient g and Hessian H: H's row i is the gradient of g[i]."""
    p = tc.Value(point.copy())
    value = f(p)
    (g,) = tc.grad(value, [p], create_graph=True)      # g is in the graph: differentiable
    rows = [tc.grad(g[i], [p], retain_graph=True)[0].data for i in range(len(point))]
    return value.item(), g.data, np.stack(rows)


def newton(f, start: np.ndarray, steps: int) -> list[np.ndarray]:
    """Newton's method: p <- p - H^-1 g, the minimum of the local quadratic model."""
    path = [start]
    for _ in range(steps):
        _, g, h = gradient_and_hessian(f, path[-1])
        path.append(path[-1] - np.linalg.solve(h, g))
    return path


def gradient_descent(f, start: np.ndarray, steps: int, lr: float) -> list[np.ndarray]:
    """p <- p - lr g: first-order, so its step ignores the valley's curvature."""
    path = [start]
    for _ in range(steps):
        p = tc.Value(path[-1].copy())
        (g,) = tc.grad(f(p), [p])
        path.append(path[-1] - lr * g.data)
    return path


def mlp_loss(params, x, y):
    """Mean squared error of a 2-8-1 tanh MLP."""
    w1, b1, w2, b2 = params
    hidden = tc.ops.linear(x, w1, b1).tanh()
    return ((tc.ops.linear(hidden, w2, b2) - y) ** 2).mean()


def hessian_vector_check(seed: int) -> float:
    """Largest |Hv - finite difference of gradients| over an MLP's parameters, relative."""
    rng = np.random.default_rng(seed)
    shapes = [(8, 2), (8,), (1, 8), (1,)]
    arrays = [rng.standard_normal(s) for s in shapes]
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    v = [rng.standard_normal(s) for s in shapes]

    params = [tc.Value(a.copy()) for a in arrays]
    grads = tc.grad(mlp_loss(params, x, y), params, create_graph=True)
    dot = sum((g * vi).sum() for g, vi in zip(grads, v, strict=True))   # g . v
    hv = [h.data for h in tc.grad(dot, params)]                         # d(g . v)/dw = H v

    def flat_grad(shift: float) -> np.ndarray:
        shifted = [tc.Value(a + shift * vi) for a, vi in zip(arrays, v, strict=True)]
        return np.concatenate([g.data.ravel() for g in tc.grad(mlp_loss(shifted, x, y),
                                                                  shifted)])

    eps = 1e-5
    numeric = (flat_grad(eps) - flat_grad(-eps)) / (2 * eps)
    analytic = np.concatenate([h.ravel() for h in hv])
    return float(np.abs(analytic - numeric).max() / np.abs(numeric).max())


def plot_paths(paths: dict[str, list[np.ndarray]], path: Path) -> None:
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-3.5, 3, 300))
    zs = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contour(xs, ys, np.log10(zs + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    for (label, points), style in zip(paths.items(), ["o-", ".-"], strict=True):
        points = np.array(points)
        ax.plot(points[:, 0], points[:, 1], style, markersize=4, label=label)
    ax.plot([1], [1], "r*", markersize=14, label="minimum (1, 1)")
    ax.set(xlabel="x", ylabel="y", title="Rosenbrock: Newton's method against gradient descent")
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_write(path) as file:
        fig.savefig(file, format="png", dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/second_order"),
                        help="folder for newton_vs_gd.png (default: runs/second_order)")
    parser.add_argument("--newton-steps", type=int, default=8,
                        help="Newton iterations (default: 8)")
    parser.add_argument("--gd-steps", type=int, default=2000,
                        help="gradient-descent iterations (default: 2000)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="gradient-descent learning rate (default: 0.001)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the Hessian-vector check (default: 0)")
    args = parser.parse_args(argv)

    start = np.array([-1.2, 1.0])
    newton_path = newton(rosenbrock, start, args.newton_steps)
    gd_path = gradient_descent(rosenbrock, start, args.gd_steps, args.lr)
    for name, path in [("newton", newton_path), ("gradient descent", gd_path)]:
        x, y = path[-1]
        value = rosenbrock(tc.Value(path[-1])).item()
        print(f"{name:>16}: {len(path) - 1:5d} steps -> ({x:.6f}, {y:.6f}), f = {value:.3g}")
    print(f"Hessian-vector product of a 2-8-1 MLP vs finite differences: relative error "
          f"{hessian_vector_check(args.seed):.1e}")
    args.out.mkdir(parents=True, exist_ok=True)
    plot_paths({f"Newton ({args.newton_steps} steps)": newton_path,
                f"gradient descent ({args.gd_steps} steps)": gd_path},
               args.out / "newton_vs_gd.png")
    print(f"wrote {args.out / 'newton_vs_gd.png'}")


if __name__ == "__main__":
    main()
