"""The training program shared by examples/mnist/train.py and examples/zoo/train.py: MNIST
batches as float inputs, one epoch of training, evaluation, and a run of epochs that saves a
checkpoint after each, resumes a run with its own settings and stops cleanly on Ctrl-C."""

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import tinygrad_cnn as tc
from tinygrad_cnn import optim
from tinygrad_cnn.data import DataLoader, load_mnist
from tinygrad_cnn.fileio import atomic_write
from tinygrad_cnn.random import default_generator

MNIST_MEAN = 0.1307   # mean and std of MNIST's training pixels, scaled to [0, 1]
MNIST_STD = 0.3081
# A uint8 pixel has 256 values: normalise them once, then a batch is one table look-up.
PIXEL_TABLE = ((np.arange(256) / 255 - MNIST_MEAN) / MNIST_STD).astype(np.float32)

INTERRUPTED = 130    # the exit status of a program stopped by Ctrl-C (128 + SIGINT)
# Flags that are not settings of the run: --resume names it and --no-plots only says what to
# draw, so a resumed run may change them. --data-dir says only where the data lies: a resumed
# run uses the saved one unless it is given again.
NOT_SETTINGS = ("resume", "no_plots")
LOCATIONS = ("data_dir",)


def normalize(images):
    """uint8 pixels (B, H, W) -> float32 network input (B, 1, H, W), (pixels/255 - mean)/std."""
    return PIXEL_TABLE[images][:, None]     # (B, H, W) -> (B, H, W) float32 -> (B, 1, H, W)


class Progress:
    """Progress through one epoch's batches: a tqdm bar on a terminal; in a log file or a pipe,
    a plain line at each quarter of the epoch instead of a bar redrawn hundreds of times."""

    def __init__(self, total, epoch):
        self.total, self.epoch, self.start = total, epoch, time.perf_counter()
        self.bar = None
        if sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=False,
                            dynamic_ncols=True)
        self.report_at = {round(total * k / 4) for k in (1, 2, 3)} - {0, total}

    def update(self, done, loss):
        """Batch `done` (1-based) finished with mean training loss `loss` so far."""
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        elif done in self.report_at:
            print(f"epoch {self.epoch}  batch {done}/{self.total}  train loss {loss:.4f}  "
                  f"({time.perf_counter() - self.start:.1f} s)", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train_epoch(model, loader, optimizer, loss_fn, epoch, dry_run=False):
    """One pass over the training batches; returns the mean training loss."""
    model.train()
    loss_sum, seen = 0.0, 0
    progress = Progress(1 if dry_run else len(loader), epoch)
    try:
        for step, (images, labels) in enumerate(loader, start=1):
            optimizer.zero_grad()
            loss = loss_fn(model(normalize(images)), labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            seen += len(labels)
            progress.update(step, loss_sum / seen)
            if dry_run:
                break
    finally:
        progress.close()
    return loss_sum / seen


def evaluate(model, loader, loss_fn, dry_run=False):
    """Mean loss, accuracy and the predicted classes over every batch of `loader`."""
    model.eval()
    loss_sum, predictions, targets = 0.0, [], []
    with tc.no_grad():
        for images, labels in loader:
            scores = model(normalize(images))
            loss_sum += loss_fn(scores, labels).item() * len(labels)
            predictions.append(scores.data.argmax(axis=1))
            targets.append(labels)
            if dry_run:
                break
    predictions, targets = np.concatenate(predictions), np.concatenate(targets)
    return loss_sum / len(targets), float((predictions == targets).mean()), predictions


def make_optimizer(name, params, lr):
    """Adam or plain SGD with momentum 0.9 over `params`."""
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9)


def add_training_arguments(parser, epochs, lr, lr_decay, out):
    """The flags this loop reads, with the program's defaults; the model's flags are the
    program's own."""
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"total number of epochs (default: {epochs})")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="training batch size (default: 64)")
    parser.add_argument("--lr", type=float, default=lr,
                        help=f"learning rate of the first epoch (default: {lr:g})")
    parser.add_argument("--lr-decay", type=float, default=lr_decay,
                        help=f"factor applied to the learning rate after each epoch, "
                             f"StepLR's gamma (default: {lr_decay:g})")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                        help="adam, or sgd with momentum 0.9 (default: adam)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for initialisation, shuffling and dropout (default: 0)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four MNIST IDX files; downloaded when missing "
                             "(default: $TINYGRAD_CNN_DATA, else $XDG_CACHE_HOME/tinygrad_cnn/"
                             "mnist when that is an absolute path, else "
                             "~/.cache/tinygrad_cnn/mnist)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only (default: all 60000)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="evaluate on the first N test images only (default: all 10000)")
    parser.add_argument("--out", type=Path, default=out,
                        help=f"folder for metrics.json, checkpoint.npz and plots "
                             f"(default: {out})")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run saved in this checkpoint, with that run's "
                             "settings and folder (default: none)")
    parser.add_argument("--no-plots", action="store_true",
                        help="skip the figures (default: off)")
    parser.add_argument("--dry-run", action="store_true",
                        help="one training and one test batch per epoch, as a smoke test "
                             "(default: off)")


def parse_args(parser, argv=None):
    """Parse `argv`; returns the arguments and the set of flags (dest names) given explicitly.

    The flags that were given are found by parsing again into a namespace that already holds a
    marker for every flag: argparse fills in defaults only where a name is missing.
    """
    args = parser.parse_args(argv)
    unset = object()
    marked = parser.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(vars(args),
                                                                                  unset)))
    explicit = {name for name, value in vars(marked).items() if value is not unset}
    if "out" not in explicit:          # a default such as runs/zoo/{model} names the model
        args.out = Path(str(args.out).format(**vars(args)))
    for name, what, default in (("epochs", "epoch", parser.get_default("epochs")),
                                ("batch_size", "image per batch", 64),
                                ("limit", "training image", "all of them"),
                                ("test_limit", "test image", "all of them")):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} is {value}; expected at least 1 {what}; leave {flag} out to "
                         f"use the default ({default})")
    if not 0 < args.lr < math.inf or not 0 < args.lr_decay <= 1:
        parser.error(f"--lr {args.lr:g} and --lr-decay {args.lr_decay:g}; expected a finite "
                     f"lr > 0 and 0 < lr-decay <= 1")
    if args.seed < 0:
        parser.error(f"--seed is {args.seed}; expected a non-negative int such as 0")
    return args, explicit


def settings_of(args):
    """The run's settings as saved in its checkpoint: every flag but NOT_SETTINGS; paths as
    strings, tuples as lists."""
    return {name: _plain(value) for name, value in vars(args).items() if name not in NOT_SETTINGS}


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def restore_settings(parser, args, explicit, checkpoint):
    """Replace `args` by the settings saved in `checkpoint` (the run being resumed), refusing
    any flag given explicitly with a different value. The run's folder is the one holding the
    checkpoint."""
    saved = checkpoint.get("settings")
    if not isinstance(saved, dict):
        parser.error(f"{args.resume} holds no saved settings (it was written before checkpoints "
                     f"recorded them); expected a checkpoint written by this program; start a "
                     f"new run instead")
    saved = {**saved, "out": str(args.resume.parent)}   # the folder the run lives in now
    unknown = sorted(set(saved) - set(vars(args)) - {"out"})
    if unknown:
        parser.error(f"{args.resume} was written by another program (settings {unknown} are "
                     f"not flags of this one); resume it with the program that made it")
    for name, value in saved.items():
        given = _plain(getattr(args, name))
        if name in LOCATIONS:
            if name not in explicit:
                setattr(args, name, None if value is None else Path(value))
            continue
        if name in explicit and not _same(name, given, value):
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} {_shown(given)} conflicts with the run being resumed, which "
                         f"has {flag} {_shown(value)}; drop {flag} to continue that run, or "
                         f"start a new run in another --out folder")
        setattr(args, name, Path(value) if name == "out" else value)


def _same(name, given, saved):
    if name == "out":
        return Path(given).resolve() == Path(saved).resolve()
    return given == saved


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def command(*args):
    """The shell command that runs this program again with `args`: this Python (relative to the
    working folder when below it) and the script as it was invoked."""
    python = Path(sys.executable)
    if python.is_relative_to(Path.cwd()):       # e.g. .venv/bin/python; else the absolute path
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), sys.argv[0], *map(str, args)])


@contextlib.contextmanager
def ctrl_c_deferred():
    """Ctrl-C inside the block takes effect when the block ends, so that an epoch's checkpoint,
    its metrics.json and its history entry are all written or none is."""
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def run(parser, argv, build, write_figures=None):
    """The training program: parse the flags, start or resume the run, train it epoch by epoch
    and call write_figures(model, history, predictions, test_images, test_labels, args) at the
    end, with the test images the predictions are of.

    `build(args)` returns the network (made after the seed is set) and its loss,
    loss_fn(scores, labels). Returns the finished run's history, or None when a resumed run
    had already finished. After Ctrl-C it says what was kept and exits with status 130, no
    traceback.
    """
    args, explicit = parse_args(parser, argv)
    checkpoint, history = None, []
    if args.resume is not None:
        if not args.resume.is_file():
            example_out = str(parser.get_default("out")).replace("{", "<").replace("}", ">")
            parser.error(f"--resume {args.resume}: no such file; expected the checkpoint.npz in "
                         f"a run's folder, e.g. {example_out}/checkpoint.npz")
        checkpoint = tc.load(args.resume)
        restore_settings(parser, args, explicit, checkpoint)
        history = checkpoint["history"]
        if len(history) >= args.epochs:
            last = history[-1]
            print(f"{args.out}: this run has already finished its {args.epochs} epochs (test "
                  f"accuracy {100 * last['test_accuracy']:.2f}% after epoch {last['epoch']}); "
                  f"nothing to train; its results are in {args.out / 'metrics.json'}")
            return None
    args.out.mkdir(parents=True, exist_ok=True)
    start_environment = environment()
    phase = "before"
    try:
        tc.manual_seed(args.seed)
        train_images, train_labels = load_mnist("train", root=args.data_dir)
        test_images, test_labels = load_mnist("test", root=args.data_dir)
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
        test_images, test_labels = test_images[:args.test_limit], test_labels[:args.test_limit]
        loaders = (DataLoader(train_images, train_labels, batch_size=args.batch_size),
                   DataLoader(test_images, test_labels, batch_size=1000, shuffle=False))

        model, loss_fn = build(args)
        optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr)
        scheduler = optim.StepLR(optimizer, step_size=1, gamma=args.lr_decay)
        if checkpoint is not None:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            default_generator().bit_generator.state = checkpoint["rng"]
            print(f"resuming {args.resume} after epoch {checkpoint['epoch']}")
        print(model)
        print(f"{sum(p.size for p in model.parameters()):,} parameters; "
              f"{len(train_labels):,} training and {len(test_labels):,} test images", flush=True)

        phase = "during"
        predictions = run_epochs(model, optimizer, scheduler, loss_fn, loaders, args, history,
                                 start_environment)
        phase = "after"
        peak_mb = write_metrics(args, history, start_environment)
        print(f"peak memory {peak_mb:.0f} MB; metrics in {args.out / 'metrics.json'}")
        if write_figures is not None and not args.no_plots and predictions is not None:
            write_figures(model, history, predictions, test_images[:len(predictions)],
                          test_labels[:len(predictions)], args)
            print(f"figures in {args.out}")
    except KeyboardInterrupt:
        report_interrupt(args, history, phase)
        sys.exit(INTERRUPTED)
    return history


def run_epochs(model, optimizer, scheduler, loss_fn, loaders, args, history, start_environment):
    """Train from epoch len(history) + 1 to args.epochs; after each epoch append its figures to
    `history` and save checkpoint.npz and metrics.json (with `start_environment`) in args.out.

    Returns the last epoch's test predictions (None if no epoch ran), or raises
    KeyboardInterrupt after Ctrl-C, when the files hold every epoch that finished.
    """
    train_loader, test_loader = loaders
    predictions = None
    for epoch in range(len(history) + 1, args.epochs + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        train_loss = train_epoch(model, train_loader, optimizer, loss_fn, epoch, args.dry_run)
        # wall time, and the CPU time of all this process's threads: on a busy machine the
        # wall time grows with the other programs' load, the CPU time far less
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        test_loss, test_accuracy, predictions = evaluate(model, test_loader, loss_fn,
                                                         args.dry_run)
        with ctrl_c_deferred():
            scheduler.step()
            history.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                            "test_accuracy": test_accuracy, "seconds": seconds,
                            "cpu_seconds": cpu_seconds})
            tc.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch,
                     "rng": default_generator().bit_generator.state, "history": history,
                     "settings": settings_of(args)},
                    args.out / "checkpoint.npz")
            write_metrics(args, history, start_environment)
        print(f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f}  test loss "
              f"{test_loss:.4f}  test accuracy {100 * test_accuracy:.2f}%  ({seconds:.1f} s)",
              flush=True)
    return predictions


def report_interrupt(args, history, phase):
    """After Ctrl-C: one line saying what was kept and the command that continues the run.
    `phase` is "before", "during" or "after" the epochs."""
    start = "\n" if sys.stdout.isatty() else ""     # the ^C a terminal echoes ends no line
    if phase == "after":
        print(f"{start}interrupted while writing the figures; all {len(history)} epochs are "
              f"saved in {args.out} (checkpoint.npz, metrics.json)", flush=True)
    elif history:
        done = history[-1]["epoch"]
        where = f"in epoch {done + 1}" if phase == "during" else "before training resumed"
        print(f"{start}interrupted {where}; kept the checkpoint and metrics.json of epoch "
              f"{done} in {args.out}; resume with: "
              f"{command('--resume', args.out / 'checkpoint.npz')}", flush=True)
    else:
        where = "in epoch 1" if phase == "during" else "before training began"
        print(f"{start}interrupted {where}, before any epoch finished; nothing was saved; "
              f"start again with: {command(*sys.argv[1:])}", flush=True)


def write_metrics(args, history, start_environment):
    """metrics.json: the settings, every finished epoch, peak memory, and the environment: as it
    was when the run started (the code that runs is the code imported then) and the load
    average now."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_json(args.out / "metrics.json", {
        "args": {name: _plain(value) for name, value in vars(args).items()},
        "epochs": history, "peak_rss_mb": round(peak_mb, 1),
        "environment": {**start_environment, "load_average": list(os.getloadavg())}})
    return peak_mb


def write_json(path, obj):
    """Write obj as JSON to path atomically (a temp file renamed over the target)."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2)


def environment():
    """What may change the numbers between machines: Python, numpy and its BLAS, the thread
    settings, the platform, the git commit of this code; and the load average (1, 5 and 15
    minutes), which says how busy the machine was while the epochs were timed."""
    return {"python": platform.python_version(), "numpy": np.__version__,
            "blas": _blas(), "thread_variables": {name: os.environ[name] for name in (
                "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                if name in os.environ},
            "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
            "git_commit": _git_commit()}


def _blas():
    """numpy's BLAS as numpy's build reports it, and the libraries threadpoolctl sees loaded
    (when threadpoolctl is installed; it is not a dependency)."""
    blas = {}
    if np.lib.NumpyVersion(np.__version__) >= "1.26.0":     # show_config(mode=...) is 1.26+
        build = np.show_config(mode="dicts").get("Build Dependencies", {})
        blas["build"] = {name: build[name] for name in ("blas", "lapack") if name in build}
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_info
        blas["loaded"] = [{key: pool.get(key) for key in (
            "internal_api", "version", "num_threads", "architecture", "filepath")}
            for pool in threadpool_info()]
    return blas


def _git_commit():
    """The commit of the code being run (with "-dirty" when tracked files differ from it), or
    None when git or the repository is missing."""
    if shutil.which("git") is None:
        return None
    folder = Path(__file__).resolve().parent
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode != 0:          # not a git checkout (e.g. an unpacked archive)
        return None
    changes = subprocess.run(["git", "-C", str(folder), "status", "--porcelain",
                              "--untracked-files=no"], capture_output=True, text=True)
    return head.stdout.strip() + ("-dirty" if changes.stdout.strip() else "")
