"""Is this tree slower than an earlier commit? Times the seed CNN's training step and a
micrograd-style scalar graph, each measurement in its own process, alternating between the
two trees over many pairs, and prints the median and the spread of the pairwise ratios.

    python benchmarks/compare_commits.py --baseline HEAD~5 --pairs 10

The baseline is exported with `git archive` into a temporary folder; both trees run with the
same Python and numpy, so only the library's code differs. Same-process comparisons mislead
(the second framework runs on a warmer or a more fragmented heap, BLAS threads of the first
still spin), and these shared 2-core machines vary by +-50% from run to run: only many
alternating pairs and a median ratio say anything.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cnn_step_seconds(repeats: int) -> float:
    """Median seconds of one Adam training step of the seed CNN at channels (8, 16), batch 64."""
    import numpy as np

    import tinygrad_cnn as tc
    from tinygrad_cnn import nn

    tc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 10), nn.ReLU(), nn.Conv2d(8, 16, 10), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    optimizer = tc.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    images = tc.Value(rng.random((64, 1, 28, 28), dtype=np.float32), requires_grad=False)
    labels = rng.integers(0, 10, 64)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = tc.ops.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def scalar_graph_seconds(repeats: int) -> float:
    """Median seconds of forward + backward of a 2-16-16-1 MLP on 20 points, all scalar Values
    (the shape of micrograd's demo)."""
    import numpy as np

    import tinygrad_cnn as tc

    rng = np.random.default_rng(0)
    sizes = [2, 16, 16, 1]
    layers = [[([tc.Value(float(w)) for w in rng.uniform(-1, 1, n_in)], tc.Value(0.0))
               for _ in range(n_out)] for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    points = rng.standard_normal((20, 2)).tolist()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = tc.Value(0.0)
        for x in points:
            for k, layer in enumerate(layers):
                x = [sum((w * xi for w, xi in zip(ws, x, strict=True)), b) for ws, b in layer]
                if k < len(layers) - 1:
                    x = [v.relu() for v in x]
            loss = loss + (1.0 - x[0]).relu()
        loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


BENCHMARKS = {"cnn_step": (cnn_step_seconds, 30), "scalar_graph": (scalar_graph_seconds, 7)}


def measure(tree: Path, name: str) -> float:
    """Run one benchmark in a fresh process on `tree`'s library; returns its seconds."""
    result = subprocess.run([sys.executable, __file__, "--child", name],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(tree)})
    return float(result.stdout)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD~1",
                        help="the commit to compare with (default: HEAD~1)")
    parser.add_argument("--pairs", type=int, default=10,
                        help="alternating pairs per benchmark (default: 10)")
    parser.add_argument("--child", choices=sorted(BENCHMARKS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        function, repeats = BENCHMARKS[args.child]
        print(function(repeats))
        return

    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline,
                                  "tinygrad_cnn"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        baseline = Path(folder)
        print(f"{'benchmark':>14}  {'this tree':>10}  {args.baseline:>10}  ratio median "
              f"[min, max] over {args.pairs} pairs")
        for name in BENCHMARKS:
            ours, theirs = [], []
            for _ in range(args.pairs):
                ours.append(measure(ROOT, name))
                theirs.append(measure(baseline, name))
            ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
            print(f"{name:>14}  {statistics.median(ours) * 1e3:8.2f}ms  "
                  f"{statistics.median(theirs) * 1e3:8.2f}ms  {statistics.median(ratios):.3f} "
                  f"[{ratios[0]:.3f}, {ratios[-1]:.3f}]")


if __name__ == "__main__":
    main()
