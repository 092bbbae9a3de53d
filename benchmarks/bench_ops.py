"""Forward+backward time of each op of the seed CNN at its real shapes (batch 64, float32), and of
one whole training step, against PyTorch on the same shapes when torch is importable. With
--kernels: each convolution kernel of the two layers by both of conv_kernels.py's algorithms
(the banded window matrix and the spectra), the figures behind its choice."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import ops
from tinygrad_cnn.ops import conv_kernels

try:
    import torch
except ImportError:          # the comparison is optional: pip install torch==2.13.0
    torch = None


def median_ms(step, runs: int, warmup: int = 3) -> float:
    """Median wall time of step() in milliseconds, after a pause and a few untimed calls.

    The pause lets the other library's worker threads, which spin for a while after each
    call, go to sleep: on a 2-core machine they would otherwise compete for the cores.
    """
    time.sleep(0.2)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def seed_arrays(batch: int, channels: tuple[int, int], rng: np.random.Generator) -> dict:
    """Images, labels and float32 parameters of the seed CNN, in PyTorch's default ranges."""
    c1, c2 = channels

    def uniform(fan_in, shape):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return {"x": rng.random((batch, 1, 28, 28), dtype=np.float32),
            "y": rng.integers(0, 10, batch),
            "w1": uniform(100, (c1, 1, 10, 10)), "b1": uniform(100, (c1,)),
            "w2": uniform(c1 * 100, (c2, c1, 10, 10)), "b2": uniform(c1 * 100, (c2,)),
            "w3": uniform(c2 * 25, (10, c2 * 25)), "b3": uniform(c2 * 25, (10,))}


def ours_forward(p: dict, x):
    """The seed CNN on tinygrad_cnn: conv 10x10, relu, conv 10x10, relu, max-pool 2, linear."""
    h1 = ops.relu(ops.conv2d(x, p["w1"], p["b1"]))          # (N, C1, 19, 19)
    h2 = ops.relu(ops.conv2d(h1, p["w2"], p["b2"]))         # (N, C2, 10, 10)
    pooled = ops.max_pool2d(h2, 2)                           # (N, C2, 5, 5)
    return ops.linear(ops.flatten(pooled, 1), p["w3"], p["b3"])   # (N, 10)


def torch_forward(p: dict, x):
    """The same network on PyTorch."""
    torch_f = torch.nn.functional
    h1 = torch_f.relu(torch_f.conv2d(x, p["w1"], p["b1"]))
    h2 = torch_f.relu(torch_f.conv2d(h1, p["w2"], p["b2"]))
    pooled = torch_f.max_pool2d(h2, 2)
    return torch_f.linear(torch.flatten(pooled, 1), p["w3"], p["b3"])


OPS = [   # (name, shapes, input names); "in:<stage>" is the network's activation at that stage
    ("conv1", "(N,1,28,28)*(C1,1,10,10)", ["x", "w1", "b1"]),
    ("relu1", "(N,C1,19,19)", ["in:conv1"]),
    ("conv2", "(N,C1,19,19)*(C2,C1,10,10)", ["in:relu1", "w2", "b2"]),
    ("relu2", "(N,C2,10,10)", ["in:conv2"]),
    ("max_pool2d", "(N,C2,10,10), 2x2", ["in:relu2"]),
    ("flatten", "(N,C2,5,5)", ["in:pool"]),
    ("linear", "(N,C2*25)*(10,C2*25)", ["in:flatten", "w3", "b3"]),
    ("cross_entropy", "(N,10)", ["in:linear", "y"]),
]

OURS = {"conv1": ops.conv2d, "relu1": ops.relu, "conv2": ops.conv2d, "relu2": ops.relu,
        "max_pool2d": lambda x: ops.max_pool2d(x, 2), "flatten": lambda x: ops.flatten(x, 1),
        "linear": ops.linear, "cross_entropy": ops.cross_entropy}


def activations(arrays: dict) -> dict:
    """Each stage's output as the network makes it (so with the same memory layout)."""
    with tc.no_grad():
        a = {"conv1": ops.conv2d(arrays["x"], arrays["w1"], arrays["b1"]).data}
        a["relu1"] = ops.relu(a["conv1"]).data
        a["conv2"] = ops.conv2d(a["relu1"], arrays["w2"], arrays["b2"]).data
        a["relu2"] = ops.relu(a["conv2"]).data
        a["pool"] = ops.max_pool2d(a["relu2"], 2).data
        a["flatten"] = ops.flatten(a["pool"], 1).data
        a["linear"] = ops.linear(a["flatten"], arrays["w3"], arrays["b3"]).data
    return a


def ours_steps(arrays: dict, rng: np.random.Generator) -> dict:
    """name -> step(): forward and backward of one op, or of the whole network."""
    acts, steps = activations(arrays), {}
    for name, _, inputs in OPS:
        # the image and the labels need no gradient; every other input does
        values = [tc.Value(acts[k[3:]] if k.startswith("in:") else arrays[k],
                           requires_grad=k not in ("x", "y")) for k in inputs]
        out = OURS[name](*values)
        upstream = rng.standard_normal(out.shape).astype(np.float32) if out.ndim else None

        def step(fn=OURS[name], values=values, upstream=upstream):
            for v in values:
                v.grad = None
            fn(*values).backward(upstream)

        steps[name] = step
    params = {k: tc.Value(v) for k, v in arrays.items() if k not in ("x", "y")}
    x = tc.Value(arrays["x"], requires_grad=False)

    def train_step():
        for v in params.values():
            v.grad = None
        ops.cross_entropy(ours_forward(params, x), arrays["y"]).backward()

    steps["whole step"] = train_step
    return steps


def torch_steps(arrays: dict, rng: np.random.Generator) -> dict:
    """The same steps on PyTorch."""
    torch_f = torch.nn.functional
    fns = {"conv1": torch_f.conv2d, "relu1": torch_f.relu, "conv2": torch_f.conv2d,
           "relu2": torch_f.relu, "max_pool2d": lambda x: torch_f.max_pool2d(x, 2),
           "flatten": lambda x: torch.flatten(x, 1), "linear": torch_f.linear,
           "cross_entropy": torch_f.cross_entropy}
    acts = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in activations(arrays).items()}
    tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
    steps = {}
    for name, _, inputs in OPS:
        values = [(acts[k[3:]] if k.startswith("in:") else tensors[k]).clone()
                  .requires_grad_(k not in ("x", "y")) for k in inputs]
        out = fns[name](*values)
        upstream = (torch.from_numpy(rng.standard_normal(tuple(out.shape)).astype(np.float32))
                    if out.ndim else None)

        def step(fn=fns[name], values=values, upstream=upstream):
            for v in values:
                v.grad = None
            fn(*values).backward(upstream)

        steps[name] = step
    params = {k: v.clone().requires_grad_() for k, v in tensors.items() if k not in ("x", "y")}

    def train_step():
        for v in params.values():
            v.grad = None
        torch_f.cross_entropy(torch_forward(params, tensors["x"]), tensors["y"]).backward()

    steps["whole step"] = train_step
    return steps


def kernel_calls(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> dict:
    """kernel -> (banded call, spectral call) for one stride-1 layer without padding."""
    one, none, k, size = (1, 1), (0, 0), w.shape[2:], x.shape[2:]
    return {"forward": (lambda: conv_kernels.banded_forward(x, w, None, one, none),
                        lambda: conv_kernels.spectral_forward(x, w, None, none)),
            "weight grad": (lambda: conv_kernels.banded_weight_grad(x, g, k, one, none),
                            lambda: conv_kernels.spectral_weight_grad(x, g, k, none)),
            "input grad": (lambda: conv_kernels.banded_input_grad(g, w, size, one, none),
                           lambda: conv_kernels.spectral_input_grad(g, w, size, none)),
            # what a backward that needs both runs (conv2d_input_and_weight_grad)
            "both grads": (lambda: (conv_kernels.banded_input_grad(g, w, size, one, none),
                                    conv_kernels.banded_weight_grad(x, g, k, one, none)),
                           lambda: conv_kernels.spectral_backward(x, g, w, none))}


def kernel_times(arrays: dict, runs: int) -> None:
    """Print the time of each conv kernel of both layers by each algorithm, and which one runs."""
    acts, rng = activations(arrays), np.random.default_rng(1)
    print(f"{'layer':<7} {'kernel':<13} {'banded ms':>10} {'spectral ms':>12}  used")
    for layer, x, w in [("conv1", arrays["x"], arrays["w1"]),
                        ("conv2", acts["relu1"], arrays["w2"])]:
        out_size = (x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1)
        g = rng.standard_normal((x.shape[0], w.shape[0], *out_size)).astype(np.float32)
        used = "spectral" if conv_kernels.spectral(w.shape, (1, 1), x.shape[0]) else "banded"
        for kernel, (banded, spectral) in kernel_calls(x, w, g).items():
            # the image needs no gradient: the first layer's input gradient never runs
            unused = layer == "conv1" and kernel in ("input grad", "both grads")
            runs_here = "unused" if unused else used
            print(f"{layer:<7} {kernel:<13} {median_ms(banded, runs):10.3f} "
                  f"{median_ms(spectral, runs):12.3f}  {runs_here}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--channels", type=int, nargs=2, default=(8, 16),
                        help="output channels of the two convolutions (default: 8 16)")
    parser.add_argument("--runs", type=int, default=50,
                        help="timed runs per entry, the median is shown (default: 50)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="PyTorch threads, to match numpy's BLAS (default: the CPUs "
                             "this process may use)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch (default: off)")
    parser.add_argument("--kernels", action="store_true",
                        help="time the conv kernels by both algorithms instead (default: off)")
    args = parser.parse_args()
    if args.runs < 20:
        parser.error(f"--runs must be at least 20 for a stable median, got {args.runs}")

    rng = np.random.default_rng(0)
    arrays = seed_arrays(args.batch, tuple(args.channels), rng)
    if args.kernels:
        print(f"seed CNN's conv kernels, batch {args.batch}, channels {tuple(args.channels)}, "
              f"float32: median of {args.runs} runs")
        kernel_times(arrays, args.runs)
        return
    ours = ours_steps(arrays, rng)
    theirs = {}
    if torch is not None and not args.no_torch:
        torch.set_num_threads(args.threads)
        theirs = torch_steps(arrays, rng)

    shapes = {name: shape for name, shape, _ in OPS}
    shapes["whole step"] = "the seed CNN, x needs no grad"
    print(f"seed CNN, batch {args.batch}, channels {tuple(args.channels)}, float32: "
          f"forward + backward, median of {args.runs} runs")
    header = f"{'op':<14} {'shapes':<30} {'ours ms':>9}"
    if theirs:
        header += f" {'torch ms':>9} {'ours/torch':>11}"
    print(header)
    print("-" * len(header))
    for name, step in ours.items():
        ms = median_ms(step, args.runs)
        line = f"{name:<14} {shapes[name]:<30} {ms:9.3f}"
        if theirs:
            torch_ms = median_ms(theirs[name], args.runs)
            line += f" {torch_ms:9.3f} {ms / torch_ms:11.2f}"
        print(line)
    if theirs:
        print(f"PyTorch {torch.__version__} with {args.threads} threads, timed right after ours")
    else:
        print("(no PyTorch comparison: torch is not importable or --no-torch was given; "
              "pip install torch==2.13.0)")


if __name__ == "__main__":
    main()
