"""Forward+backward time of dilated convolutions (float32) by the two routes of conv_kernels.py:
the spread kernel (w's taps with zeros between, every kernel run at its full span) and the
phases (stride 1: the undilated kernel on each phase of the image, the taps only). Rounds
alternate which route goes first, since the machine's speed drifts between runs."""

from __future__ import annotations

import argparse
import contextlib
import statistics

import numpy as np
from bench_ops import median_ms

import tinygrad_cnn as tc
from tinygrad_cnn import ops
from tinygrad_cnn.ops import conv_kernels

# name, op, x shape, w shape, settings
CASES = [
    ("2-D 3x3 dil 2", ops.conv2d, (16, 16, 32, 32), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    ("2-D 3x3 dil 4", ops.conv2d, (16, 16, 32, 32), (16, 16, 3, 3), {"padding": 4, "dilation": 4}),
    ("2-D 3x3 dil (1, 3)", ops.conv2d, (16, 16, 32, 32), (16, 16, 3, 3),
     {"padding": (1, 3), "dilation": (1, 3)}),
    ("transpose 3x3 dil 2", ops.conv_transpose2d, (16, 16, 32, 32), (16, 16, 3, 3),
     {"padding": 2, "dilation": 2}),
    ("1-D k2 dil 2", ops.conv1d, (16, 32, 256), (32, 32, 2), {"dilation": 2}),
    ("1-D k2 dil 4", ops.conv1d, (16, 32, 256), (32, 32, 2), {"dilation": 4}),
    ("1-D k2 dil 8", ops.conv1d, (16, 32, 256), (32, 32, 2), {"dilation": 8}),
    ("1-D k3 dil 8 C=8", ops.conv1d, (16, 8, 256), (8, 8, 3), {"dilation": 8}),
]


@contextlib.contextmanager
def spread_route():
    """Every dilated convolution on the spread kernel, as before the phases: conv_kernels.phased
    answers no while inside."""
    phased = conv_kernels.phased
    conv_kernels.phased = lambda stride, dilation: False
    try:
        yield
    finally:
        conv_kernels.phased = phased


def case_step(op, x_shape, w_shape, settings, rng: np.random.Generator):
    """step(): op's forward and backward (x and w both need gradients) with a random upstream
    gradient."""
    x = tc.Value(rng.standard_normal(x_shape).astype(np.float32))
    w = tc.Value(rng.standard_normal(w_shape).astype(np.float32))
    upstream = rng.standard_normal(op(x, w, **settings).shape).astype(np.float32)

    def step():
        x.grad = w.grad = None
        op(x, w, **settings).backward(upstream)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30,
                        help="timed runs per entry and round, the median is kept (default: 30)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds, alternating which route goes first (default: 4)")
    args = parser.parse_args()
    if args.runs < 5 or args.rounds < 1:
        parser.error(f"--runs must be at least 5 and --rounds at least 1, got {args.runs} "
                     f"and {args.rounds}")

    rng = np.random.default_rng(0)
    steps = {name: case_step(op, xs, ws, settings, rng)
             for name, op, xs, ws, settings in CASES}
    times = {name: {"spread": [], "phases": []} for name in steps}
    for r in range(args.rounds):
        for name, step in steps.items():
            for route in (("spread", "phases") if r % 2 == 0 else ("phases", "spread")):
                with spread_route() if route == "spread" else contextlib.nullcontext():
                    times[name][route].append(median_ms(step, args.runs))
    print(f"dilated convolutions, float32, forward + backward: per round the median of "
          f"{args.runs} runs; the median of {args.rounds} rounds [their range]")
    header = f"{'case':<22} {'spread ms':>22} {'phases ms':>22} {'spread/phases':>14}"
    print(header)
    print("-" * len(header))
    for name, routes in times.items():
        cells = [f"{statistics.median(t):7.2f} [{min(t):5.2f}-{max(t):5.2f}]"
                 for t in routes.values()]
        ratios = [a / b for a, b in zip(routes["spread"], routes["phases"], strict=True)]
        print(f"{name:<22} {cells[0]:>22} {cells[1]:>22} {statistics.median(ratios):14.2f}")


if __name__ == "__main__":
    main()
