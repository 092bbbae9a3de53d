"""The results tables in README.md and docs/mnist.md show exactly what the saved metrics.json
files of the real runs say (each row links the file it was copied from)."""

import json
import re
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\|.*\((?P<path>[\w./-]*results/[\w.-]+\.json)\)")


def result_rows(page: Path):
    """(cells, metrics) for every table row of `page` that links a saved metrics file."""
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
