"""The results tables in README.md and docs/mnist.md show exactly what the saved metrics.json
files of the real runs say (each row links the file it was copied from): the seed CNN's runs,
the zoo's networks beside their PyTorch twins, and the speed ratios of `make bench`'s records."""

import json
import re
import statistics
from pathlib import Path

import pytest
from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\|.*\((?P<path>(?![\w./-]*benchmarks/)[\w./-]*results/(?!zoo_)[\w.-]+\.json)\)")
SPEED_ROW = re.compile(r"^\|.*\((?P<path>[\w./-]*benchmarks/results/[\w.-]+\.json)\)")
ZOO_ROW = re.compile(r"^\|.*\((?P<ours>[\w./-]*results/zoo_\w+\.json)\)"
                     r".*\((?P<torch>[\w./-]*results/zoo_\w+_torch\.json)\)")
ZOO = ("pytorch_example", "lenet5", "bn_cnn")


def result_rows(page: Path):
    """(cells, metrics) for every table row of `page` that links a seed CNN run's metrics."""
    rows = []
    for line in page.read_text().splitlines():
        match = ROW.match(line)
        if match:
            path = (page.parent / match["path"]).resolve()
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append((cells, json.loads(path.read_text())))
    return rows


@pytest.mark.parametrize("page", ["README.md", "docs/mnist.md"])
def test_results_table_matches_saved_metrics(page):
    rows = result_rows(ROOT / page)
    assert len(rows) >= 2, f"{page}: expected the default run and the literal seed in a table"
    for cells, metrics in rows:
        epochs = metrics["epochs"]
        channels, accuracies, test_loss, seconds, peak = cells[1:6]
        assert channels == " ".join(map(str, metrics["args"]["channels"]))
        assert accuracies == " · ".join(f"{100 * e['test_accuracy']:.2f}" for e in epochs)
        assert test_loss == f"{epochs[-1]['test_loss']:.4f}"
        assert seconds == f"{statistics.median(e['seconds'] for e in epochs):.1f}"
        assert peak == f"{metrics['peak_rss_mb']:.0f} MB"


def test_default_run_reaches_the_target_accuracy():
    default = json.loads((ROOT / "docs/results/default.json").read_text())
    assert len(default["epochs"]) == 5
    assert default["epochs"][-1]["test_accuracy"] >= 0.985
    assert default["peak_rss_mb"] <= 640


def test_default_run_used_the_current_defaults(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "mnist"))
    import train

    defaults = vars(train.parse_args([]))
    saved = json.loads((ROOT / "docs/results/default.json").read_text())["args"]
    for key in ("epochs", "batch_size", "lr", "lr_decay", "optimizer", "seed", "limit"):
        assert saved[key] == defaults[key], key
    assert list(saved["channels"]) == list(defaults["channels"])


def zoo_rows(page: Path):
    """(cells, our metrics, PyTorch's metrics) for every zoo table row of `page`."""
    rows = []
    for line in page.read_text().splitlines():
        match = ZOO_ROW.match(line)
        if match:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append((cells, *(json.loads((page.parent / match[key]).resolve().read_text())
                                  for key in ("ours", "torch"))))
    return rows


def accuracies(metrics):
    """"a1 · a3": test accuracy (%) after the first and the last epoch."""
    epochs = metrics["epochs"]
    return f"{100 * epochs[0]['test_accuracy']:.2f} · {100 * epochs[-1]['test_accuracy']:.2f}"


def seconds(metrics):
    """"wall · CPU": the median seconds per epoch."""
    epochs = metrics["epochs"]
    return (f"{statistics.median(e['seconds'] for e in epochs):.0f} · "
            f"{statistics.median(e['cpu_seconds'] for e in epochs):.0f}")


@pytest.mark.parametrize("page", ["README.md", "docs/mnist.md"])
def test_zoo_table_matches_saved_metrics(page):
    rows = zoo_rows(ROOT / page)
    assert [ours["args"]["model"] for _, ours, _ in rows] == list(ZOO), page
    for cells, ours, theirs in rows:
        assert ours["args"]["model"] == theirs["model"]
        parameters, ours_accuracy, ours_seconds, torch_accuracy, torch_seconds = cells[1:6]
        assert parameters == f"{theirs['parameters']:,}"
        assert ours_accuracy == accuracies(ours) and torch_accuracy == accuracies(theirs)
        assert ours_seconds == seconds(ours) and torch_seconds == seconds(theirs)


@pytest.mark.parametrize("name", ZOO)
def test_each_zoo_network_is_within_half_a_point_of_pytorch(name):
    ours, theirs = (json.loads((ROOT / f"docs/results/zoo_{name}{suffix}.json").read_text())
                    for suffix in ("", "_torch"))
    assert len(ours["epochs"]) == len(theirs["epochs"]) == 3
    for mine, torch_epoch in zip(ours["epochs"], theirs["epochs"], strict=True):
        assert abs(mine["test_accuracy"] - torch_epoch["test_accuracy"]) <= 0.005, \
            (name, mine, torch_epoch)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_runs_used_the_zoo_defaults_and_the_same_recipe_in_both(name):
    zoo_train = load_example("examples/zoo/train.py", "zoo_train")
    defaults = vars(zoo_train.build_parser().parse_args(["--model", name]))
    ours, theirs = (json.loads((ROOT / f"docs/results/zoo_{name}{suffix}.json").read_text())
                    for suffix in ("", "_torch"))
    for key in ("model", "epochs", "batch_size", "lr", "lr_decay", "seed", "limit",
                "test_limit"):
        assert ours["args"][key] == defaults[key] == theirs["args"][key], key
    assert ours["args"]["optimizer"] == defaults["optimizer"] == "adam"
    assert not ours["args"]["dry_run"]


# the speed table's benchmark names -> (benchmark in the record, its metric for channels a b)
SPEED_BENCHMARKS = {"step, fresh": ("step", "step ({}, {})"),
                    "step, freed": ("step-freed", "step ({}, {})"),
                    "100 MNIST batches": ("epoch", "100 batches ({}, {})")}


def test_speed_table_matches_the_bench_records():
    page = ROOT / "docs/mnist.md"
    lines = page.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| benchmark | record |"))
    widths = [tuple(cell.split()) for cell in header.strip("|").split("|")[2:]]
    rows = [(line, SPEED_ROW.match(line)) for line in lines]
    rows = [(line, match) for line, match in rows if match]
    assert len(rows) >= 3
    for line, match in rows:
        record = json.loads((page.parent / match["path"]).resolve().read_text())
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        benchmark, metric = SPEED_BENCHMARKS[cells[0]]
        for width, cell in zip(widths, cells[2:], strict=True):
            name = metric.format(*width)
            if name not in record["benchmarks"][benchmark]["metrics"]:
                assert cell == "", f"{cells[0]} {width}: no such figure in {match['path']}"
                continue
            ratio = record["benchmarks"][benchmark]["metrics"][name]["ratio"]
            assert cell == f"{ratio['median']:.2f} [{ratio['q1']:.2f}, {ratio['q3']:.2f}]", (
                cells[0], width, match["path"])
