"""The benchmark harness (benchmarks/): its statistics on given numbers, micrograd's demo on our
Value giving micrograd's own losses, and a smoke run with tiny settings. Nothing here is timed."""

import gc
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import harness  # noqa: E402
import stats  # noqa: E402
import suites  # noqa: E402


def test_quantiles_median_and_spread():
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert stats.quantile([1, 2, 3, 4], 0.25) == 1.75          # numpy's linear method
    assert stats.quantile([1, 2, 3, 4], 0.75) == 3.25
    assert stats.quantile([7.0], 0.9) == 7.0
    values = [0.9, 2.0, 1.1, 1.0, 5.0, 1.2, 0.8]
    summary = stats.summarize(values)
    assert summary == pytest.approx({"median": 1.1, "q1": 0.95, "q3": 1.6, "iqr": 0.65,
                                     "min": 0.8, "max": 5.0, "n": 7})
    for q in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        assert stats.quantile(values, q) == pytest.approx(np.quantile(values, q))


def test_statistics_errors():
    with pytest.raises(ValueError, match="quantile: no values"):
        stats.median([])
    with pytest.raises(ValueError, match=r"quantile: q is 1.5; expected a number in \[0, 1\]"):
        stats.quantile([1.0], 1.5)
    with pytest.raises(ValueError, match="pair_ratios: 2 times for A but 1 for B"):
        stats.pair_ratios([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="pair_ratios: B has a non-positive time"):
        stats.pair_ratios([1.0], [0.0])


def test_pair_ratios_and_alternating_order():
    assert stats.pair_ratios([2.0, 3.0, 1.0], [1.0, 2.0, 4.0]) == [2.0, 1.5, 0.25]
    assert stats.pair_order(4) == [(0, True), (1, False), (2, True), (3, False)]


def test_losses_agree():
    def pair(a, b):
        return [[{"losses": a}, {"losses": b}]]
    agree = harness.losses_agree(pair([1.0, 0.5], [1.0, 0.5 + 1e-13]))
    assert agree["equal"] and agree["max_rel_diff"] == pytest.approx(2e-13)
    assert not harness.losses_agree(pair([1.0, 0.5], [1.0, 0.6]))["equal"]


@pytest.mark.parametrize("a, b", [([1.0, 0.5], [1.0, float("nan")]),
                                  ([1.0, float("nan")], [1.0, 0.5]),
                                  ([float("nan"), 0.5], [float("nan"), 0.5])])
def test_losses_agree_fails_on_a_nan_loss(a, b):
    agree = harness.losses_agree([[{"losses": a}, {"losses": b}]])
    assert agree["equal"] is False and np.isnan(agree["max_rel_diff"])


def test_table_reads_the_ratio_summary():
    result = {"engines": ["ours", "torch"], "errors": [], "metrics": {"step (8, 16)": {
        "a_median": 0.012, "b_median": 0.008,
        "ratio": stats.summarize([1.5, 1.4, 1.6, 1.5, 2.0])}}}
    header, row = harness.table("step", result).splitlines()[1:]
    assert header.split() == ["metric", "ours", "torch", "ratio", "ours/torch:", "median",
                              "[q1,", "q3]", "(min-max)"]
    assert row == ("  step (8, 16)               12.00 ms    8.00 ms   "
                   "1.50 [1.50, 1.60] (1.40-2.00), n=5")


def report_of(benchmarks: dict) -> dict:
    """A harness report holding `benchmarks`, with made-up machine and versions."""
    return {"started": "2026-01-01T00:00:00", "seconds": 1.0, "note": "noise note",
            "machine": {"cpu": "cpu", "cpus_usable": 2, "memory_gb": 1.0, "blas": {}},
            "versions": {"numpy": "2", "torch": "2", "micrograd": "0.1",
                         "tinygrad_cnn": {"commit": "0" * 40, "dirty": False}},
            "load_average_before": [0.0], "load_average_after": [0.0],
            "benchmarks": benchmarks}


def test_summary_reports_a_benchmark_whose_pairs_all_failed():
    failed = {"engines": ["ours", "torch"], "errors": ["step torch exited with 1: boom"],
              "metrics": {}, "runs": []}
    text = harness.summary(report_of({"step": failed}))
    assert "error: step torch exited with 1: boom" in text
    assert "page faults" not in text


def test_summary_gives_the_garbage_collectors_median_time_per_engine():
    metrics = {"demo step": {"a_median": 0.5, "b_median": 0.6,
                             "ratio": stats.summarize([0.8, 0.9, 0.85])}}
    runs = [[{"collector": ours, "losses": [1.0]}, {"collector": theirs, "losses": [1.0]}]
            for ours, theirs in ((0.10, 0.40), (0.12, 0.50), (0.30, 0.45))]
    result = {"engines": ["ours", "micrograd"], "errors": [], "metrics": metrics, "runs": runs}
    text = harness.summary(report_of({"micrograd": result}))
    assert "garbage collector's time in a step, ours / micrograd (median): 120 / 450 ms" in text


def test_each_pair_runs_with_an_environment_of_its_own_size(monkeypatch):
    paddings = [harness.environment_padding(i) for i in range(9)]
    assert paddings == [0, 613, 1226, 1839, 2452, 3065, 3678, 195, 808]
    assert len({harness.environment_padding(i) for i in range(4096)}) == 4096
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = harness.child_environment(613, pythonpath="/base")
    assert env[harness.PADDING_VARIABLE] == "x" * 613
    assert env["PYTHONPATH"] == os.pathsep.join(["/base", "/elsewhere"])
    assert harness.child_environment(0)[harness.PADDING_VARIABLE] == ""


def test_summary_counts_page_faults_over_all_pairs():
    metrics = {"step (16, 32)": {"a_median": 0.015, "b_median": 0.010,
                                 "ratio": stats.summarize([1.5, 1.3, 1.2])}}
    runs = [[{"faults": {"step (16, 32)": ours}}, {"faults": {"step (16, 32)": theirs}}]
            for ours, theirs in ((2124, 0), (0, 0), (2319, 2134))]
    result = {"engines": ["ours", "torch"], "errors": [], "metrics": metrics, "runs": runs}
    text = harness.summary(report_of({"step": result}))
    assert ("minor page faults a step, ours / torch, median (pairs with any, of 3): "
            "step (16, 32) 2124 / 0 (2 / 1)") in text


def test_collector_clock_times_collections_only_while_entered():
    garbage = []
    for _ in range(20000):          # reference cycles, which only the collector frees
        node = {}
        node["self"] = node
        garbage.append(node)
    del garbage, node
    with suites.CollectorClock() as clock:
        assert clock in gc.callbacks
        gc.collect()
    assert clock not in gc.callbacks and clock.seconds > 0
    seconds = clock.seconds
    gc.collect()
    assert clock.seconds == seconds


@pytest.mark.parametrize("flag", ["--pairs", "--reps", "--epoch-batches", "--micrograd-steps"])
def test_harness_refuses_a_count_that_would_time_nothing(flag, capsys):
    with pytest.raises(SystemExit):
        harness.parse_args([flag, "0"])
    assert f"error: {flag} must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("suite, engine", [("step", "pytorch"), ("ops", "micrograd"),
                                           ("mixed", "ours"), ("micrograd", "torch")])
def test_a_suite_refuses_an_engine_it_cannot_time(suite, engine):
    with pytest.raises(SystemExit, match=rf"suites.py: engine '{engine}' is not one that suite "
                                         rf"{suite} times; expected one of: "):
        suites.main([suite, engine, "reps=1"])


def test_suite_parameters_are_json_and_a_bad_one_is_named():
    assert suites.parse_params(["reps=5", "channels=[8, 16]"]) == {"reps": 5, "channels": [8, 16]}
    with pytest.raises(SystemExit, match=r"suites.py: parameter 'channels=\(8,16\)': '\(8,16\)' "
                                         r"is not JSON; expected e.g. reps=5"):
        suites.parse_params(["channels=(8,16)"])
    with pytest.raises(SystemExit, match=r"suites.py: parameter 'reps' is not key=value"):
        suites.parse_params(["reps"])


def test_make_moons_is_sklearns():
    micrograd_tc = pytest.importorskip("micrograd_tc", reason="micrograd is in the bench extra")
    X, y = micrograd_tc.make_moons()
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [-1, 1] and (y == 1).sum() == 50
    # the first points of sklearn.datasets.make_moons(100, noise=0.1) after np.random.seed(1337)
    np.testing.assert_allclose(X[0], [1.12211461, 0.08147717], atol=1e-8)


@pytest.mark.parametrize("engine", ["ours", "floor"])
def test_micrograd_demo_on_another_value_gives_micrograds_losses(engine):
    micrograd_tc = pytest.importorskip("micrograd_tc", reason="micrograd is in the bench extra")
    X, y = micrograd_tc.make_moons(20)
    losses = {}
    for name in ("micrograd", engine):
        model = micrograd_tc.demo_model(name)
        losses[name] = [micrograd_tc.demo_step(name, model, X, y, k) for k in range(3)]
    np.testing.assert_allclose(losses[engine], losses["micrograd"], rtol=1e-12)
    assert losses[engine][0] != losses[engine][1]       # the parameters did move


@pytest.mark.parametrize("engine", ["micrograd", "ours", "floor"])
def test_micrograd_demo_starts_from_the_notebooks_first_loss(engine):
    micrograd_tc = pytest.importorskip("micrograd_tc", reason="micrograd is in the bench extra")
    X, y = micrograd_tc.make_moons()
    model = micrograd_tc.demo_model(engine)
    assert micrograd_tc.demo_step(engine, model, X, y, 0) == (0.8958441028683222, 0.5)


def test_floor_value_gradients_are_micrograds():
    micrograd_tc = pytest.importorskip("micrograd_tc", reason="micrograd is in the bench extra")
    grads = {}
    for name in ("micrograd", "floor"):
        Value = micrograd_tc.ENGINES[name][0]
        a, b = Value(-1.5), Value(2.0)
        c = a * b + a                       # a used twice: its gradient is a sum
        d = (c * c + -2 * b).relu() + (a * -1).relu() * b
        d.backward()
        grads[name] = [float(v.grad) for v in (a, b, c, d)]
    np.testing.assert_allclose(grads["floor"], grads["micrograd"], rtol=1e-15)


@pytest.mark.slow
def test_harness_smoke_run(tmp_path):
    """Every engine in its own process, 1 pair, tiny settings: a table and a JSON file."""
    has_micrograd = harness.package_version("micrograd") is not None   # the bench extra
    if harness.package_version("torch") is None and not has_micrograd:
        pytest.skip("neither torch nor micrograd is installed: nothing to compare with")
    only = (["step", "step-freed", "ops"] if harness.package_version("torch") else []) + \
        (["micrograd", "micrograd-floor"] if has_micrograd else [])
    report = harness.main(["--quick", "--only", *only, "--json", str(tmp_path / "r.json")])
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["benchmarks"].keys() == set(only)
    for name in only:
        assert saved["benchmarks"][name]["errors"] == []
        for metric in saved["benchmarks"][name]["metrics"].values():
            assert metric["ratio"]["n"] == 1 and metric["ratio"]["median"] > 0
    for name in set(only) & {"step", "step-freed"}:   # page faults counted on both sides
        for run in saved["benchmarks"][name]["runs"][0]:
            assert run["faults"].keys() == run["times"].keys()
            assert all(count >= 0 for count in run["faults"].values())
    if has_micrograd:
        assert report["benchmarks"]["micrograd"]["losses_agree"]["equal"]
        assert report["benchmarks"]["micrograd-floor"]["losses_agree"]["equal"]
        assert report["benchmarks"]["micrograd-floor"]["engines"] == ["floor", "micrograd"]
        assert all(run["collector"] >= 0 for run in saved["benchmarks"]["micrograd"]["runs"][0])
    assert saved["machine"]["cpus_usable"] >= 1 and "blas" in saved["machine"]
