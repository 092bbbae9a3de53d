"""tc.profile(): rows per op type and phase whose call counts match the graph, a total that is
the sum of the rows, the printed table, no_grad and constant inputs, nesting. Counts and
structure only: timings come from a fake clock where a test needs exact numbers."""

from collections import Counter

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import function, nn, ops, profiler

SEED_OPS = {"Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "CrossEntropy"}


def seed_cnn():
    """The seed CNN at a tiny width: (N, 1, 28, 28) -> (N, 10)."""
    return nn.Sequential(nn.Conv2d(1, 4, 10), nn.ReLU(),     # -> (N, 4, 19, 19)
                         nn.Conv2d(4, 8, 10), nn.ReLU(),     # -> (N, 8, 10, 10)
                         nn.MaxPool2d(2), nn.Flatten(),      # -> (N, 8, 5, 5) -> (N, 200)
                         nn.Linear(200, 10))


def batch(rng, n=4):
    images = tc.Value(rng.standard_normal((n, 1, 28, 28)).astype(np.float32),
                      requires_grad=False)
    return images, rng.integers(0, 10, n)


def graph_op_counts(root):
    """How many nodes of each op type the graph of root holds (own walk, not topo_order)."""
    counts, seen, stack = Counter(), set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.fn is not None:
            counts[node.fn.name] += 1
        stack.extend(node.parents)
    return counts


def calls(prof):
    return {(row.op, row.phase): row.calls for row in prof.rows}


@pytest.fixture
def fake_clock(monkeypatch):
    """profiler's perf_counter() advances 2**-10 s (exact in binary) at every reading."""
    readings = iter(range(1, 10**6))
    monkeypatch.setattr(profiler, "perf_counter", lambda: next(readings) * 2.0**-10)


def test_one_training_step_has_both_rows_of_every_op_with_the_graphs_counts(rng, capsys):
    tc.manual_seed(0)
    model = seed_cnn()
    optimizer = tc.optim.SGD(model.parameters(), lr=0.1)
    images, labels = batch(rng)
    with tc.profile() as prof:
        optimizer.zero_grad()
        loss = ops.cross_entropy(model(images), labels)
        in_graph = graph_op_counts(loss)
        loss.backward()
        optimizer.step()
    assert set(in_graph) == SEED_OPS
    assert in_graph["Conv2d"] == 2 and in_graph["ReLU"] == 2 and in_graph["Linear"] == 1
    expected = {(op, phase): n for op, n in in_graph.items() for phase in ("forward", "backward")}
    assert calls(prof) == expected
    assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in model.parameters())

    assert prof.total == sum(row.seconds for row in prof.rows)
    assert all(row.seconds >= 0 for row in prof.rows)
    assert [row.seconds for row in prof.rows] == sorted((row.seconds for row in prof.rows),
                                                        reverse=True)
    assert 0 < prof.total <= prof.wall

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["op", "phase", "calls", "total", "ms", "mean", "µs", "%", "of",
                                "total"]
    assert len(lines) == 1 + len(expected) + 2
    shown = [line.split() for line in lines[1:-2]]
    assert [(op, phase, int(n)) for op, phase, n, *_ in shown] == \
        [(row.op, row.phase, row.calls) for row in prof.rows]
    total_row = lines[-2].split()
    assert total_row[:3] == ["total", str(sum(expected.values())), f"{prof.total * 1e3:.3f}"]
    milliseconds = [float(words[3]) for words in shown]
    assert sum(milliseconds) == pytest.approx(prof.total * 1e3, abs=0.0005 * len(shown) + 1e-9)
    assert sum(float(words[5]) for words in shown) == pytest.approx(100, abs=0.05 * len(shown))
    assert lines[-1].startswith("wall time of the block ")


def test_ops_under_no_grad_record_forward_only(rng):
    tc.manual_seed(0)
    model = seed_cnn()
    images, _ = batch(rng, n=2)
    with tc.profile(print_table=False) as prof, tc.no_grad():
        logits = model(images)
    assert logits.shape == (2, 10) and not logits.requires_grad
    assert calls(prof) == {("Conv2d", "forward"): 2, ("ReLU", "forward"): 2,
                           ("MaxPool2d", "forward"): 1, ("Flatten", "forward"): 1,
                           ("Linear", "forward"): 1}


def test_ops_whose_backward_never_ran_have_no_backward_row(rng):
    w = tc.Value(rng.standard_normal(3))
    constant = tc.Value(rng.standard_normal(3), requires_grad=False)
    with tc.profile(print_table=False) as prof:
        scale = constant.exp()            # its input needs no grad: no node, no backward
        unused = w.tanh()                 # a node, but the loss does not depend on it
        loss = (w * scale).sum()
        loss.backward()
    assert unused.requires_grad and not scale.requires_grad
    assert calls(prof) == {("Exp", "forward"): 1, ("Tanh", "forward"): 1,
                           ("Mul", "forward"): 1, ("Mul", "backward"): 1,
                           ("Sum", "forward"): 1, ("Sum", "backward"): 1}
    np.testing.assert_allclose(w.grad, np.exp(constant.data))


def test_reused_node_and_second_backward_count_every_call(rng):
    a = tc.Value(rng.standard_normal(2))
    with tc.profile(print_table=False) as prof:
        b = a * a                         # one Mul node, used twice below
        c = (b + b).sum()
        c.backward(retain_graph=True)
        c.backward()
    assert calls(prof) == {("Mul", "forward"): 1, ("Mul", "backward"): 2,
                           ("Add", "forward"): 1, ("Add", "backward"): 2,
                           ("Sum", "forward"): 1, ("Sum", "backward"): 2}
    np.testing.assert_allclose(a.grad, 2 * 4 * a.data)


def test_table_with_a_fake_clock_is_exact(fake_clock, capsys):
    w = tc.Value(np.ones(3))
    with tc.profile() as prof:
        (w * 2.0).sum().backward()
    step = 2.0**-10                       # every op call reads the clock twice: one step apart
    assert prof.rows == [("Mul", "backward", 1, step), ("Mul", "forward", 1, step),
                         ("Sum", "backward", 1, step), ("Sum", "forward", 1, step)]
    assert prof.total == 4 * step and prof.wall == 9 * step    # entry, 4 ops x 2, exit
    printed = capsys.readouterr().out
    assert printed == prof.table() + "\n"
    assert printed == (
        "op     phase      calls    total ms     mean µs  % of total\n"
        "Mul    backward       1       0.977       976.6        25.0\n"
        "Mul    forward        1       0.977       976.6        25.0\n"
        "Sum    backward       1       0.977       976.6        25.0\n"
        "Sum    forward        1       0.977       976.6        25.0\n"
        "total                 4       3.906                   100.0\n"
        "wall time of the block 8.789 ms, 44.4% of it in these ops (the rest: engine and other "
        "code)\n")


def test_str_and_print_of_a_profile_give_its_table(fake_clock, capsys):
    w = tc.Value(np.ones(3))
    with tc.profile(print_table=False) as prof:
        (w * 2.0).sum().backward()
    assert str(prof) == prof.table()
    print(prof)
    printed = capsys.readouterr().out
    assert printed == prof.table() + "\n"
    assert printed.splitlines()[1].split() == ["Mul", "backward", "1", "0.977", "976.6", "25.0"]
    assert "object at 0x" not in printed


def test_rows_with_equal_times_sort_by_op_then_phase_and_calls_add_up(fake_clock):
    x = tc.Value(np.ones((2, 2)))
    with tc.profile(print_table=False) as prof:
        for _ in range(3):
            x.relu()
        x.exp()
    assert prof.rows == [("ReLU", "forward", 3, 3 * 2.0**-10), ("Exp", "forward", 1, 2.0**-10)]
    assert prof.rows[0].calls == 3 and prof.rows[0].op == "ReLU"


def test_empty_block_gives_an_empty_table(fake_clock):
    with tc.profile(print_table=False) as prof:
        pass
    assert prof.rows == [] and prof.total == 0 and prof.wall == 2.0**-10
    assert prof.table().splitlines()[1:] == [
        "total                 0       0.000                     0.0",
        "wall time of the block 0.977 ms, 0.0% of it in these ops (the rest: engine and other "
        "code)"]


def test_only_the_block_is_recorded_and_reentering_starts_afresh():
    a = tc.Value(np.ones(2))
    prof = tc.profile(print_table=False)
    with prof:
        a + a
        a + a
    assert calls(prof) == {("Add", "forward"): 2}
    a * a                                 # outside the block: not recorded
    assert calls(prof) == {("Add", "forward"): 2}
    with prof:
        a - a
    assert calls(prof) == {("Sub", "forward"): 1}
    assert function._profiler is None


def test_nested_profiles_raise_and_leave_the_outer_one_running():
    a = tc.Value(np.ones(2))
    with tc.profile(print_table=False) as outer:
        with pytest.raises(ValueError, match=r"profile: a profile\(\) block is already active; "
                                             r"expected one at a time \(profiles do not nest\)"):
            with tc.profile(print_table=False):
                pass
        with pytest.raises(ValueError, match=r"profile: a profile\(\) block is already active"):
            with outer:
                pass
        a * a
    assert calls(outer) == {("Mul", "forward"): 1}
    assert function._profiler is None


def test_a_block_that_raises_stops_profiling_and_prints_nothing(capsys):
    a = tc.Value(np.ones(2))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an array of shape \(2,\)"):
        with tc.profile() as prof:
            a.exp()
            a.reshape(3)
    assert function._profiler is None
    assert calls(prof) == {("Exp", "forward"): 1}      # the failed forward is not counted
    assert capsys.readouterr().out == ""
    assert prof.wall > 0


class Square(tc.Function):
    """x**2, whose backward is made of ops (two Muls) when it is differentiated again."""

    def forward(self, x):
        return x * x

    # d(x*x)/dx = 2x
    def backward(self, grad):
        x, _ = self.saved()
        return 2.0 * x * grad


def test_ops_inside_a_backward_under_create_graph_are_not_counted_twice(fake_clock, capsys):
    x = tc.Value(np.array([0.5, -1.0, 2.0]))
    y = Square.apply(x)
    with tc.profile() as prof:
        g, = tc.grad(y, [x], grad_output=np.ones(3), create_graph=True)
    np.testing.assert_allclose(g.data, 2 * x.data)
    step = 2.0**-10
    # Square.backward spans 5 clock steps, 2 of them inside its two Muls: 3 are its own
    assert prof.rows == [("Square", "backward", 1, 3 * step), ("Mul", "forward", 2, 2 * step)]
    assert prof.total == 5 * step and prof.wall == 7 * step
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "wall time of the block 6.836 ms, 71.4% of it in these ops")
