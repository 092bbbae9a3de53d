"""Tests of draw_graph and render_to: the DOT text (nodes, edges, labels, clusters, collapsing,
the node limit, determinism) and rendering with graphviz's dot program."""

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.function import module_scope
from tinygrad_cnn.viz import draw_graph, render_to, walk_graph

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "render_graph.py"
NODE = re.compile(r"^\s*([vfm]\d+) \[label=(\"(?:[^\"\\]|\\.)*\"|\S+)(.*)\]$", re.MULTILINE)
EDGE = re.compile(r"^\s*([vfm]\d+) -> ([vfm]\d+)$", re.MULTILINE)

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="graphviz's dot program is not installed (in CI this test runs and fails instead)")


def nodes(dot: graphviz.Digraph) -> dict[str, str]:
    """{node id: label and attributes} parsed from the DOT text."""
    return {m[1]: m[2].strip('"') + m[3] for m in NODE.finditer(dot.source)}


def edges(dot: graphviz.Digraph) -> list[tuple[str, str]]:
    return EDGE.findall(dot.source)


def labels(dot: graphviz.Digraph) -> list[str]:
    return [m[2].strip('"') for m in NODE.finditer(dot.source)]


def node_with(dot: graphviz.Digraph, text: str) -> str:
    """The id of the one node whose label contains `text`."""
    found = [node for node, label in nodes(dot).items() if text in label]
    assert len(found) == 1, (text, found)
    return found[0]


def clusters(dot: graphviz.Digraph) -> dict[str, tuple[str, ...]]:
    """{node id: labels of the clusters around it, outermost first}."""
    stack, found = [], {}
    for line in dot.source.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster_"):
            stack.append(None)
        elif line.startswith("graph [") and stack and stack[-1] is None:
            stack[-1] = re.search(r'label=("[^"]*"|\S+)', line)[1].strip('"')
        elif line == "}" and stack:
            stack.pop()
        elif m := NODE.match(line):
            found[m[1]] = tuple(stack)
    return found


def neuron():
    """micrograd's neuron, tanh(x1*w1 + x2*w2 + b), after backward."""
    x1, x2 = tc.Value(2.0, name="x1"), tc.Value(0.0, name="x2")
    w1, w2 = tc.Value(-3.0, name="w1"), tc.Value(1.0, name="w2")
    b = tc.Value(6.8813735870195432, name="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    return out, {"w1": w1, "w2": w2, "b": b}


def stamped_net(rng):
    """A two-layer net built from core ops, its Values stamped as nn modules would stamp them:
    "" (the root) holds "features" (holding "features.0" = linear, "features.1" = relu) and
    "head" (linear); the mean loss is made outside every module."""
    params = {"features.0.weight": tc.Value(rng.standard_normal((5, 4)).astype(np.float32)),
              "features.0.bias": tc.Value(np.zeros(5, np.float32)),
              "head.weight": tc.Value(rng.standard_normal((3, 5)).astype(np.float32)),
              "head.bias": tc.Value(np.zeros(3, np.float32))}
    x = tc.Value(rng.standard_normal((2, 4)).astype(np.float32), requires_grad=False)
    with module_scope(""):
        with module_scope("features.0"):
            h = tc.ops.linear(x, params["features.0.weight"], params["features.0.bias"])
        with module_scope("features.1"):
            h = h.relu()
        h = h * 0.5
        with module_scope("head"):
            h = tc.ops.linear(h, params["head.weight"], params["head.bias"])
    loss = (h * h).mean()
    loss.backward()
    return loss, params


def test_neuron_labels_show_data_grad_and_names():
    out, params = neuron()
    dot = draw_graph(out, params=params)
    assert "x1 | scalar float64 | data 2.0000 | grad -1.5000" in labels(dot)
    assert "w1 | scalar float64 | data -3.0000 | grad 1.0000" in labels(dot)
    assert "w2 | scalar float64 | data 1.0000 | grad 0.0000" in labels(dot)
    assert "b | scalar float64 | data 6.8814 | grad 0.5000" in labels(dot)
    assert "scalar float64 | data 0.7071 | grad 1.0000" in labels(dot)    # the output
    assert sorted(labels(dot)).count("Mul") == 2 and "Tanh" in labels(dot)
    # 10 Values and 5 ops; each op has an edge per argument and one to its output
    assert len(nodes(dot)) == 15
    assert len(edges(dot)) == (2 + 2 + 2 + 2 + 1) + 5


def test_node_and_edge_counts_equal_values_and_ops():
    a = tc.Value([1.0, 2.0], name="a")
    b = a + a                     # a used twice: two edges into Add
    c = (b * 3.0).sum()           # 3.0 becomes a constant Value of the graph
    dot = draw_graph(c)
    values, ops = 5, 3            # a, b, 3.0, b*3, c; Add, Mul, Sum
    assert len(nodes(dot)) == values + ops
    assert len(edges(dot)) == (2 + 2 + 1) + ops
    add = node_with(dot, "Add")
    assert edges(dot).count((node_with(dot, "a | (2,) float64"), add)) == 2


def test_every_value_is_drawn_with_its_shape_and_dtype(rng):
    x = tc.Value(rng.standard_normal((2, 4)).astype(np.float32), requires_grad=False)
    w = tc.Value(rng.standard_normal((3, 4)).astype(np.float32))
    scale = tc.Value(np.array([[1], [2]]), name="scale")
    y = tc.ops.linear(x, w)
    loss = (y * scale).sum()

    def summary(a):
        return f"mean {a.mean():.4g} absmax {np.abs(a).max():.4g}"

    assert labels(draw_graph(loss)) == [
        f"(2, 4) float32 | {summary(x.data)}", f"(3, 4) float32 | {summary(w.data)}",
        f"(2, 3) float32 | {summary(x.data @ w.data.T)}", "Linear",
        "scale | (2, 1) int64 | mean 1.5 absmax 2",
        f"(2, 3) float64 | {summary(y.data * [[1], [2]])}", "Mul",    # numpy's promotion rule
        f"scalar float64 | data {(y.data * [[1], [2]]).sum():.4f} | grad None",
        "Sum keepdims=False"]


def test_tensor_labels_summarise_data_and_grad():
    x = tc.Value(np.array([[1.0, -3.0], [2.0, 0.0]], np.float32), name="x")
    (x * x).sum().backward()            # grad = 2x
    label = labels(draw_graph(x))[0]
    assert label == "x | (2, 2) float32 | mean 0 absmax 3 | grad mean 0 absmax 6"


def test_parameters_inputs_and_activations_are_drawn_distinctly(rng):
    loss, params = stamped_net(rng)
    dot = draw_graph(loss, params=params)
    weight = nodes(dot)[node_with(dot, "features.0.weight")]
    assert "fillcolor=lightblue" in weight and "shape=record" in weight
    image = nodes(dot)[node_with(dot, "(2, 4) float32")]
    assert "shape=record" in image and "fillcolor" not in image and "style" not in image
    activations = [head for tail, head in edges(dot) if tail[0] == "f"]
    assert len(activations) == 6
    assert all("shape=Mrecord" in nodes(dot)[v] and "fill" not in nodes(dot)[v]
               for v in activations)
    leaf = nodes(draw_graph(tc.Value(2.0) * tc.Value(3.0)))["v0"]
    assert "fillcolor=lightyellow" in leaf       # requires grad, not named as a parameter


def test_op_labels_carry_params():
    x = tc.Value(np.arange(6.0).reshape(2, 3))
    y = (x ** 3).reshape(3, 2).sum(axis=1, keepdims=True).transpose(1, 0).sum()
    text = labels(draw_graph(y))
    for op in ["Pow exponent=3", "Reshape shape=(3, 2)", "Sum axis=1 keepdims=True",
               "Transpose axes=(1, 0)", "Sum keepdims=False"]:    # axis=None is left out
        assert op in text


def test_activation_labels_and_a_drawn_gradient_of_gelu():
    x = tc.Value(np.linspace(-2.0, 2.0, 6).reshape(2, 3))
    y = tc.ops.gelu(tc.ops.silu(x.erf()), approximate="tanh") + tc.nn.GELU()(x)
    text = labels(draw_graph(y))
    for op in ["Erf", "SiLU", "GELU approximate=tanh", "GELU approximate=none"]:
        assert op in text
    (g,) = tc.grad(tc.ops.gelu(x).sum(), [x], create_graph=True)    # the backward's own graph
    assert "NormalCdf" in labels(draw_graph(g))


def test_op_labels_show_an_index_on_one_line():
    x = tc.Value(np.arange(12.0).reshape(3, 4))
    ids = np.array([[1, 2], [0, 1]])
    for y, op in [(x[:, 0:2], "GetItem index=(:, 0:2)"), (x[None, ..., 1:4:2], "GetItem "
                  "index=(None, ..., 1:4:2)"), (x[[0, 2], 1], "GetItem index=([0, 2], 1)"),
                  (x[ids], "GetItem index=(array(2, 2),)"), (x[x.data > 3], "GetItem "
                  "index=(array(3, 4),)")]:
        dot = draw_graph(y)
        assert labels(dot)[-1] == op
        assert "\n" not in dot.source.split("f1 [label=")[1].split("]")[0]


def test_op_labels_of_an_embedding_and_a_grouped_conv():
    tc.manual_seed(0)
    emb = tc.nn.Embedding(5, 3)
    ids = tc.Value(np.array([[1, 2], [3, 1]]))
    dot = draw_graph(emb(ids))
    assert labels(dot)[-1] == "Embedding"
    assert labels(dot)[0] == "(2, 2) int64 | mean 1.75 absmax 3"        # the ids' node
    assert labels(draw_graph(tc.nn.Embedding(5, 3, padding_idx=-1)(ids)))[-1] == (
        "Embedding padding_idx=4")
    conv = tc.nn.Conv2d(4, 4, 3, groups=2)
    x = tc.Value(np.ones((1, 4, 5, 5), np.float32))
    text = labels(draw_graph(conv(x)))
    for op in ["GetItem index=(:, 0:2)", "GetItem index=(:, 2:4)", "GetItem index=(0:2,)"]:
        assert op in text


def test_small_scalars_are_not_shown_as_zero():
    assert labels(draw_graph(tc.Value(1e-5)))[0] == "scalar float64 | data 1e-05 | grad None"
    assert labels(draw_graph(tc.Value(np.float32(-2.5e-7))))[0].startswith(
        "scalar float32 | data -2.5e-07 |")
    assert labels(draw_graph(tc.Value(0.0)))[0] == "scalar float64 | data 0.0000 | grad None"
    tc.manual_seed(0)
    norm = tc.nn.LayerNorm(4)
    out = norm(tc.Value(np.arange(8.0, dtype=np.float32).reshape(2, 4)))
    assert "scalar float32 | data 1e-05" in labels(draw_graph(out))       # its eps


def test_clusters_nest_by_dotted_module_name(rng):
    loss, params = stamped_net(rng)
    dot = draw_graph(loss, params=params)
    where = clusters(dot)
    root, features = "(root module)", ("(root module)", "features")
    linear_ops = [n for n, label in nodes(dot).items() if label.startswith("Linear")]
    assert [where[n] for n in linear_ops] == [features + ("features.0",), (root, "head")]
    assert where[node_with(dot, "ReLU")] == features + ("features.1",)
    muls = [n for n, label in nodes(dot).items() if label.startswith("Mul")]
    assert sorted(where[n] for n in muls) == [(), (root,)]   # h * 0.5 by the root module itself
    assert where[node_with(dot, "Mean")] == ()               # the loss, outside every module
    assert where[node_with(dot, "features.0.weight")] == ()  # parameters are made outside calls
    assert dot.source.count("subgraph cluster_") == 5        # root, features, .0, .1, head


def test_collapse_gives_one_node_per_module_with_shapes_and_parameters(rng):
    loss, params = stamped_net(rng)
    dot = draw_graph(loss, params=params, collapse_modules=True)
    assert sorted(label for n, label in zip(nodes(dot), labels(dot), strict=True)
                  if n[0] == "m") == [
        "features.0: Linear\\n(2, 4) -> (2, 5)\\n25 parameters (weight, bias)",
        "features.1: ReLU\\n(2, 5) -> (2, 5)\\n0 parameters",
        "head: Linear\\n(2, 5) -> (2, 3)\\n18 parameters (weight, bias)"]
    assert all("shape=box3d" in attrs for n, attrs in nodes(dot).items() if n[0] == "m")
    assert not any("weight" in label for n, label in nodes(dot).items() if n[0] == "v")
    # left drawn: x, 0.5, h*0.5, h*h, the loss and the ops Mul, Mul, Mean (18 nodes unfolded)
    assert len(nodes(draw_graph(loss, params=params))) == 12 + 6
    assert len(nodes(dot)) == 3 + 5 + 3
    assert len(edges(dot)) == 10
    where = clusters(dot)
    head = node_with(dot, "head: ")
    assert where[node_with(dot, "features.0: ")] == ("(root module)", "features")
    assert where[head] == ("(root module)",)
    (into,) = [e for e in edges(dot) if e[1] == head]
    (out,) = [e for e in edges(dot) if e[0] == head]
    assert nodes(dot)[into[0]].startswith("(2, 5) float32")           # h * 0.5
    assert nodes(dot)[out[1]].startswith("Mul")                       # h * h: one edge, not two


def test_collapse_keeps_separate_calls_of_one_module_apart():
    x = tc.Value([-1.0, 2.0])
    with module_scope("act"):
        h = x.relu()
    h = h * 2.0
    with module_scope("act"):
        h = h.relu()
    dot = draw_graph(h.sum(), collapse_modules=True)
    acts = [n for n, label in nodes(dot).items() if label.startswith("act: ReLU\\n")]
    assert len(acts) == 2                                   # one node per call, so no cycle
    mul = node_with(dot, "Mul")
    assert (acts[0], mul) in edges(dot) and (acts[1], mul) not in edges(dot)


def test_collapse_keeps_directly_chained_calls_of_one_module_apart():
    class Twice(tc.nn.Module):
        def __init__(self):
            self.f = tc.nn.Linear(3, 3)

        def forward(self, x):
            return self.f(self.f(x))

    model = Twice()
    out = model(np.ones((2, 3), dtype=np.float32))
    dot = draw_graph(out.sum(), params=dict(model.named_parameters()), collapse_modules=True)
    calls = [label for label in nodes(dot).values() if label.startswith("f: ")]
    assert len(calls) == 2 and all(label.startswith("f: Linear\\n") for label in calls), calls


def test_collapse_keeps_one_edge_per_argument_outside_modules():
    x = tc.Value(np.ones(2), name="x")
    with module_scope("act"):
        h = x.relu()
    y = (h * (x * x)).sum()
    for collapse in (False, True):
        dot = draw_graph(y, collapse_modules=collapse)
        square = [n for n, label in zip(nodes(dot), labels(dot), strict=True) if label == "Mul"]
        assert [edges(dot).count((node_with(dot, "x | "), op)) for op in square] in ([0, 2],
                                                                                       [2, 0])


def test_collapse_counts_parameters_shared_by_calls():
    class Twice(tc.nn.Module):
        def __init__(self):
            self.f = tc.nn.Linear(3, 3)

        def forward(self, x):
            return self.f(self.f(x))

    tc.manual_seed(0)
    model = Twice()
    out = model(np.ones((2, 3), dtype=np.float32)).sum()
    dot = draw_graph(out, params=dict(model.named_parameters()), collapse_modules=True)
    calls = [node for node in nodes(dot) if node[0] == "m"]
    assert [labels(dot)[list(nodes(dot)).index(n)] for n in calls] == [
        "f: Linear\\n(2, 3) -> (2, 3)\\n12 parameters (weight, bias)"] * 2
    weight = node_with(dot, "f.weight | ")                  # used by both calls: stays a node
    assert [(weight, n) in edges(dot) for n in calls] == [True, True]


def test_collapse_draws_the_root_with_a_thick_border_when_folded():
    tc.manual_seed(0)
    model = tc.nn.Sequential(tc.nn.Linear(2, 2), tc.nn.ReLU())
    out = model(np.ones((1, 2), np.float32))
    dot = draw_graph(out, params=dict(model.named_parameters()), collapse_modules=True)
    assert "penwidth=2" in nodes(dot)[node_with(dot, "1: ReLU")]
    assert dot.source.count("penwidth=2") == 1


def test_collapse_shows_the_shapes_a_call_made_from_constants():
    tc.manual_seed(0)
    conv = tc.nn.Conv2d(2, 4, 3, groups=2)
    images = tc.Value(np.ones((1, 2, 5, 5), np.float32), requires_grad=False, name="images")
    dot = draw_graph(conv(images).sum(), params=dict(conv.named_parameters()),
                     collapse_modules=True)
    (label,) = [label for n, label in zip(nodes(dot), labels(dot), strict=True) if n[0] == "m"]
    assert label == ("(root module): 7 ops\\n(1, 1, 5, 5), (1, 1, 5, 5) -> (1, 4, 3, 3)\\n"
                     "40 parameters (weight, bias)")


def test_node_limit_collapses_when_that_suffices():
    x = tc.Value(np.ones(3))
    for i in range(40):
        with module_scope(f"block{i}"):
            for _ in range(5):
                x = x.tanh()
    dot = draw_graph(x.sum(), max_nodes=100)
    assert len(nodes(dot)) == 40 + 1 + 2                     # 40 blocks, x, the sum and its op
    assert "modules collapsed automatically: 403 nodes > max_nodes=100" in dot.source
    assert "block0: 5 ops\\n(3,) -> (3,)" in labels(dot)          # no params: no count
    assert len(nodes(draw_graph(x.sum(), max_nodes=None))) == 403


def test_node_limit_raises_naming_the_count_and_the_option():
    x = tc.Value(1.0)
    for _ in range(200):
        x = x * 1.5
    with pytest.raises(ValueError, match=r"draw_graph: the graph has 601 nodes \(401 values, "
                                         r"200 ops\); expected at most max_nodes=300; pass "
                                         r"max_nodes=601 \(or None\)"):
        draw_graph(x)
    assert len(nodes(draw_graph(x, max_nodes=None))) == 601
    x = tc.Value(np.ones(3))
    for i in range(40):
        with module_scope(f"block{i}"):
            x = (x * 2.0).tanh()
    with pytest.raises(ValueError, match=r"has 201 nodes \(121 values, 80 ops\), 81 with modules "
                                         r"collapsed; expected at most max_nodes=50; pass "
                                         r"max_nodes=81"):
        draw_graph(x, max_nodes=50)


def test_deep_graph_is_walked_without_recursion():
    x = tc.Value(1.0)
    for _ in range(20_000):
        x = -x
    with pytest.raises(ValueError, match="40001 nodes"):
        draw_graph(x)
    assert len(walk_graph(x)) == 20_001


def test_dot_text_is_identical_for_identical_graphs(rng):
    first, params = stamped_net(np.random.default_rng(1))
    second, params2 = stamped_net(np.random.default_rng(1))
    for collapse in (False, True):
        text = draw_graph(first, params=params, collapse_modules=collapse).source
        assert draw_graph(first, params=params, collapse_modules=collapse).source == text
        assert draw_graph(second, params=params2, collapse_modules=collapse).source == text


def test_record_fields_stack_along_the_rank_direction():
    x = tc.Value(2.0, name="x")
    fields = "x | scalar float64 | data 2.0000 | grad None"
    assert labels(draw_graph(x, rankdir="TB"))[0] == "{ " + fields + " }"
    assert labels(draw_graph(x, rankdir="LR"))[0] == fields


def test_special_characters_in_names_are_escaped():
    x = tc.Value(1.0, name='a{b}|<c> "d" \\n')
    assert labels(draw_graph(x))[0].startswith('a\\{b\\}\\|\\<c\\> \\"d\\" \\\\n | ')


def test_errors():
    x = tc.Value(1.0)
    with pytest.raises(TypeError, match="draw_graph: root is a ndarray; expected a Value"):
        draw_graph(np.ones(2))
    with pytest.raises(TypeError, match=r"params is a list; expected a dict .*named_parameters"):
        draw_graph(x, params=[x])
    with pytest.raises(TypeError, match=r"params\['w'\] is a float; expected a Value"):
        draw_graph(x, params={"w": 1.0})
    with pytest.raises(ValueError, match=r"rankdir='up'; expected one of \('LR', 'TB'"):
        draw_graph(x, rankdir="up")
    with pytest.raises(ValueError, match="max_nodes=0; expected a positive int or None"):
        draw_graph(x, max_nodes=0)


@pytest.mark.parametrize("max_nodes", ["10", 10.0, True])
def test_max_nodes_of_the_wrong_type(max_nodes):
    x = tc.Value(1.0)
    name = type(max_nodes).__name__
    with pytest.raises(TypeError, match=rf"draw_graph: max_nodes={re.escape(repr(max_nodes))} is "
                                        rf"a {name}; expected a positive int or None"):
        draw_graph(x, max_nodes=max_nodes)
    assert draw_graph(x, max_nodes=np.int64(10)).source.startswith("digraph")


def test_render_to_without_dot_says_how_to_install(tmp_path, monkeypatch):
    out, params = neuron()
    dot = draw_graph(out, params=params)
    monkeypatch.setenv("PATH", str(tmp_path))               # no dot on this PATH
    with pytest.raises(RuntimeError, match=r"render_to: graphviz's `dot` program was not found"
                                           r".*apt-get install graphviz.*brew install graphviz"):
        render_to(dot, tmp_path / "neuron", formats=("svg",))
    assert render_to(dot, tmp_path / "neuron", formats=("gv",)) == [tmp_path / "neuron.gv"]
    assert (tmp_path / "neuron.gv").read_text() == dot.source


@needs_dot
def test_render_to_svg_and_png_with_dot(tmp_path):
    out, params = neuron()
    written = render_to(draw_graph(out, params=params), tmp_path / "sub" / "neuron")
    assert written == [tmp_path / "sub" / "neuron.svg", tmp_path / "sub" / "neuron.png"]
    svg = written[0].read_text()
    for text in ["x1", "w1", "data 2.0000", "grad &#45;1.5000", "Tanh", "data 0.7071"]:
        assert text in svg
    assert written[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class TinyCNN(tc.nn.Module):
    """The seed CNN at test size: (N, 1, 28, 28) -> conv 10x10 -> (N, 8, 19, 19) -> ReLU
    -> conv 10x10 -> (N, 16, 10, 10) -> ReLU -> max-pool 2 -> (N, 16, 5, 5) -> flatten
    -> (N, 400) -> linear -> (N, 10)."""

    def __init__(self):
        self.conv1 = tc.nn.Conv2d(1, 8, kernel_size=10)
        self.relu1 = tc.nn.ReLU()
        self.conv2 = tc.nn.Conv2d(8, 16, kernel_size=10)
        self.relu2 = tc.nn.ReLU()
        self.pool = tc.nn.MaxPool2d(2)
        self.flatten = tc.nn.Flatten()
        self.fc = tc.nn.Linear(400, 10)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(self.flatten(self.pool(x)))


CNN_MODULES = ["conv1", "relu1", "conv2", "relu2", "pool", "flatten", "fc"]


def cnn_step(seed=0):
    """One training step's graph: cross-entropy of TinyCNN on 2 images, after backward."""
    tc.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TinyCNN()
    images = tc.Value(rng.random((2, 1, 28, 28), dtype=np.float32), requires_grad=False,
                      name="images")
    loss = tc.ops.cross_entropy(model(images), tc.Value(np.array([3, 7]), name="labels"))
    loss.backward()
    return loss, dict(model.named_parameters())


def count_values_and_ops(root):
    """Values and ops of the graph behind root, and the edges draw_graph should draw: found by
    a plain search that shares no code with draw_graph."""
    seen, todo = {id(root): root}, [root]
    while todo:
        for parent in todo.pop().parents:
            if id(parent) not in seen:
                seen[id(parent)] = parent
                todo.append(parent)
    ops = [v for v in seen.values() if v.fn is not None]
    return len(seen), len(ops), sum(len(v.parents) + 1 for v in ops)


def test_cnn_step_nodes_edges_and_labels():
    loss, params = cnn_step()
    dot = draw_graph(loss, params=params)
    values, ops, edge_count = count_values_and_ops(loss)
    assert len(nodes(dot)) == values + ops and len(edges(dot)) == edge_count
    text = "\n".join(labels(dot))
    for shape in ["(2, 1, 28, 28) float32", "(2, 8, 19, 19) float32", "(2, 16, 10, 10) float32",
                  "(2, 16, 5, 5) float32", "(2, 400) float32", "(2, 10) float32",
                  "labels | (2,) int64", "scalar float32"]:
        assert shape in text
    assert sum(label == "Conv2d stride=1 padding=0" for label in labels(dot)) == 2
    assert "MaxPool2d kernel_size=2" in text
    for name, param in params.items():
        node = nodes(dot)[node_with(dot, f"{name} | {param.shape}")]
        assert "fillcolor=lightblue" in node and "| grad mean" in node


def test_cnn_step_clusters_carry_module_names():
    loss, params = cnn_step()
    dot = draw_graph(loss, params=params)
    where = clusters(dot)
    convs = [n for n, label in nodes(dot).items() if label.startswith("Conv2d")]
    assert sorted(where[n] for n in convs) == [("conv1",), ("conv2",)]
    assert where[node_with(dot, "MaxPool2d")] == ("pool",)
    assert where[node_with(dot, "Linear")] == ("fc",)
    assert where[node_with(dot, "CrossEntropy")] == ()
    assert sorted(re.findall(r"label=(\w+) labeljust", dot.source)) == sorted(CNN_MODULES)


def test_cnn_step_collapses_to_one_node_per_module():
    loss, params = cnn_step()
    dot = draw_graph(loss, params=params, collapse_modules=True)
    modules = [label.split("\\n") for n, label in zip(nodes(dot), labels(dot), strict=True)
               if n[0] == "m"]
    assert [m[0].split(":")[0] for m in modules] == CNN_MODULES
    assert modules[0] == ["conv1: Conv2d stride=1 padding=0", "(2, 1, 28, 28) -> (2, 8, 19, 19)",
                          "808 parameters (weight, bias)"]
    assert modules[1] == ["relu1: ReLU", "(2, 8, 19, 19) -> (2, 8, 19, 19)", "0 parameters"]
    assert modules[2][1:] == ["(2, 8, 19, 19) -> (2, 16, 10, 10)",
                              "12816 parameters (weight, bias)"]
    assert modules[4][:2] == ["pool: MaxPool2d kernel_size=2 stride=2",
                             "(2, 16, 10, 10) -> (2, 16, 5, 5)"]
    assert modules[6] == ["fc: Linear", "(2, 400) -> (2, 10)", "4010 parameters (weight, bias)"]
    assert sum(int(m[-1].split()[0]) for m in modules) == sum(p.size for p in params.values())
    # besides the 7 modules: images, labels, the loss and its op; one chain of edges
    assert len(nodes(dot)) == 7 + 4
    chain = ["v0"] + [f"m{k}" for k in range(7)] + [node_with(dot, "CrossEntropy")]
    assert edges(dot)[:8] == list(itertools.pairwise(chain))
    assert len(edges(dot)) == 8 + 2                             # labels -> op -> loss


def test_cnn_step_node_limit():
    loss, params = cnn_step()
    values, ops, _ = count_values_and_ops(loss)
    full = values + ops
    dot = draw_graph(loss, params=params, max_nodes=full - 1)
    assert len(nodes(dot)) == 11
    assert f"modules collapsed automatically: {full} nodes > max_nodes={full - 1}" in dot.source
    with pytest.raises(ValueError, match=rf"the graph has {full} nodes \({values} values, {ops} "
                                         rf"ops\), 11 with modules collapsed; expected at most "
                                         rf"max_nodes=10; pass max_nodes=11"):
        draw_graph(loss, params=params, max_nodes=10)


def test_cnn_step_dot_text_is_byte_identical():
    loss, params = cnn_step()
    for collapse in (False, True):
        text = draw_graph(loss, params=params, collapse_modules=collapse).source
        assert draw_graph(loss, params=params, collapse_modules=collapse).source == text
        again, again_params = cnn_step()
        assert draw_graph(again, params=again_params, collapse_modules=collapse).source == text


@needs_dot
def test_cnn_step_renders_to_svg_with_dot(tmp_path):
    loss, params = cnn_step()
    (svg,) = render_to(draw_graph(loss, params=params, collapse_modules=True), tmp_path / "cnn",
                       formats=("svg",))
    text = svg.read_text()
    assert text.startswith("<?xml") and "</svg>" in text
    for label in ["conv1: Conv2d stride=1 padding=0", "(2, 1, 28, 28) &#45;&gt; (2, 8, 19, 19)",
                  "808 parameters (weight, bias)", "CrossEntropy", "fc: Linear"]:
        assert label in text


@needs_dot
def test_render_graph_example_writes_svg_and_png(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cnn_step.png", "cnn_step.svg", "neuron.png", "neuron.svg"]
    assert "data 0.7071" in (tmp_path / "neuron.svg").read_text()
    cnn = (tmp_path / "cnn_step.svg").read_text()
    assert "conv1: Conv2d" in cnn and "808 parameters (weight, bias)" in cnn
    assert "(8, 1, 28, 28) &#45;&gt; (8, 8, 19, 19)" in cnn


def test_render_graph_example_without_dot_writes_dot_text(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "apt-get install graphviz" in result.stderr and result.stderr.count("warning") == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cnn_step.gv", "neuron.gv"]


def test_a_grad_set_to_a_number_and_a_name_that_is_not_text_are_drawn():
    v, w = tc.Value(2.0), tc.Value([1.0, 2.0], name=5)
    v.grad, w.grad = 0, 0                                   # micrograd's zero_grad
    source = draw_graph(v * w).source
    assert "grad 0" in source and "5 | (2,) float64" in source


def test_render_to_takes_one_format_as_text(tmp_path):
    (written,) = render_to(draw_graph(tc.Value(1.0) * 2), tmp_path / "g", formats="gv")
    assert written.name == "g.gv" and written.read_text().startswith("digraph")
