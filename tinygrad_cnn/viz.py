"""Draw the computation graph behind a Value with graphviz: a node per value and per op, values
grouped into clusters by the nn.Module that made them, or each module folded into one node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import numpy as np

from tinygrad_cnn.value import Value

RANKDIRS = ("LR", "TB", "RL", "BT")
ROOT_MODULE_LABEL = "(root module)"    # the cluster of Values made by the outermost module itself
MODULE_OPS_SHOWN = 2                   # a folded module lists this many ops by name, else counts

# Node styles: parameters filled blue, other leaves that require grad filled yellow, inputs and
# constants plain boxes, activations rounded, a folded module a 3-D box.
PARAMETER_STYLE = {"shape": "record", "style": "filled", "fillcolor": "lightblue"}
LEAF_STYLE = {"shape": "record", "style": "filled", "fillcolor": "lightyellow"}
INPUT_STYLE = {"shape": "record"}
ACTIVATION_STYLE = {"shape": "Mrecord"}
OP_STYLE = {"shape": "ellipse", "fontsize": "9"}
MODULE_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "gray92"}
CLUSTER_STYLE = {"style": "rounded", "color": "gray50", "fontsize": "10", "labeljust": "l"}


def draw_graph(root: Value, params: Mapping[str, Value] | None = None, rankdir: str = "LR",
               collapse_modules: bool = False, max_nodes: int | None = 300) -> graphviz.Digraph:
    """The graph that produced `root` as a graphviz.Digraph: a node per Value and per op.

    Parameters
    ----------
    root : Value
        The output whose history is drawn (e.g. the loss); every Value feeding it is included,
        inputs and constants too.
    params : dict {name: Value}, optional
        Names for parameters, e.g. ``dict(model.named_parameters())``; they are drawn filled.
    rankdir : {"LR", "TB", "RL", "BT"}
        Direction of the layout: left to right (default) or top to bottom.
    collapse_modules : bool
        Fold the Values of each innermost nn.Module call (one that called no other module) into
        one node showing its input and output shapes; given `params`, the parameters only that
        call uses fold in too, and the node shows their names and element count.
    max_nodes : int or None
        Above this many nodes the modules are collapsed automatically; if that is still too
        many, ValueError. None draws any size.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text (identical for identical graphs); ``render_to`` or
        ``.render()``/``.pipe()`` draw it with the ``dot`` program; Jupyter shows it inline.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root is a {type(root).__name__}; expected a Value, "
                        f"e.g. the loss returned by a forward pass")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir={rankdir!r}; expected one of {RANKDIRS}")
    if max_nodes is not None and (isinstance(max_nodes, bool)
                                  or not isinstance(max_nodes, (int, np.integer))):
        raise TypeError(f"draw_graph: max_nodes={max_nodes!r} is a {type(max_nodes).__name__}; "
                        f"expected a positive int or None, e.g. max_nodes=10")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes={max_nodes}; expected a positive int or None")
    names = _parameter_names(params)
    values = walk_graph(root)
    full = _Layout.full(values)
    layout = full
    comment = None
    if collapse_modules or (max_nodes is not None and full.node_count > max_nodes):
        layout = _Layout.collapsed(values, root, names)
    if max_nodes is not None and layout.node_count > max_nodes:
        collapsed = ("" if layout.node_count == full.node_count
                     else f", {layout.node_count} with modules collapsed")
        raise ValueError(
            f"draw_graph: the graph has {full.node_count} nodes ({len(values)} values, "
            f"{full.node_count - len(values)} ops){collapsed}; expected at most "
            f"max_nodes={max_nodes}; pass max_nodes={layout.node_count} (or None) to draw it "
            f"anyway, or draw a smaller graph")
    if layout is not full and not collapse_modules:
        comment = (f"modules collapsed automatically: {full.node_count} nodes > "
                   f"max_nodes={max_nodes}")
    return _to_digraph(values, layout, root, names, rankdir, comment)


def walk_graph(root: Value) -> list[Value]:
    """Every Value feeding root (constants too), each after its parents, first arguments first.

    Iterative, so a graph a million nodes deep never recurses; the order depends only on the
    graph, never on memory addresses, so drawings are reproducible.
    """
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents))
    return order


def render_to(digraph: graphviz.Digraph, path: str | Path,
              formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Write `digraph` to path.<format> for each format ("gv" = the DOT text); the paths written.

    Every format but "gv" needs graphviz's ``dot`` program; without it, RuntimeError says how
    to install it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in [formats] if isinstance(formats, str) else formats:     # "svg": one format
        out = path.with_name(f"{path.name}.{fmt}")
        if fmt == "gv":
            out.write_text(digraph.source)
        else:
            try:
                out.write_bytes(digraph.pipe(format=fmt))
            except graphviz.ExecutableNotFound as error:
                raise RuntimeError(
                    f"render_to: graphviz's `dot` program was not found on PATH, so {out} "
                    f"cannot be drawn; expected `dot` installed: sudo apt-get install graphviz "
                    f"(Debian/Ubuntu), brew install graphviz (macOS) or conda install "
                    f"graphviz; formats=('gv',) writes the DOT text without it") from error
        written.append(out)
    return written


@dataclass
class _Group:
    """The Values of one innermost module call, drawn as one node."""

    module: str
    members: list[int] = field(default_factory=list)     # indices into the walk
    params: list[Value] = field(default_factory=list)    # named parameters only it uses
    inputs: list[int] = field(default_factory=list)      # Values outside feeding it
    outputs: list[int] = field(default_factory=list)     # its Values used outside, or the root


class _Layout:
    """Which drawn node each Value and op becomes: its own, or its module call's group."""

    def __init__(self, values: list[Value]):
        self.index = {id(v): i for i, v in enumerate(values)}
        self.group_of: dict[int, int] = {}      # value index -> index into self.groups
        self.groups: list[_Group] = []
        self.node_count = len(values) + sum(v.fn is not None for v in values)

    @classmethod
    def full(cls, values: list[Value]) -> _Layout:
        return cls(values)

    @classmethod
    def collapsed(cls, values: list[Value], root: Value, names: dict[int, str]) -> _Layout:
        """Fold each connected run of Values made by one innermost module into one group, with
        the named parameters that only it uses."""
        layout = cls(values)
        index, group_of, groups = layout.index, layout.group_of, layout.groups
        modules = {v.module for v in values if v.module is not None}
        enclosing = {a for m in modules for a in _ancestors(m, modules)}
        innermost = modules - enclosing
        leader = list(range(len(values)))        # union-find over same-module neighbours

        def find(i):
            while leader[i] != i:
                leader[i] = leader[leader[i]]
                i = leader[i]
            return i

        for i, v in enumerate(values):
            if v.module in innermost:
                for p in v.parents:
                    if p.module is v.module:        # made in the same call (a ModuleCall)
                        leader[find(index[id(p)])] = find(i)
        group_of_leader: dict[int, int] = {}
        for i, v in enumerate(values):
            if v.module in innermost:
                if find(i) not in group_of_leader:
                    group_of_leader[find(i)] = len(groups)
                    groups.append(_Group(v.module))
                group_of[i] = group_of_leader[find(i)]
        consumers: dict[int, set[int]] = {}
        for i, v in enumerate(values):
            for p in v.parents:
                consumers.setdefault(index[id(p)], set()).add(i)
        for i, v in enumerate(values):
            owners = {group_of.get(c) for c in consumers.get(i, ())}
            if id(v) in names and len(owners) == 1 and None not in owners:
                group_of[i] = owners.pop()
                groups[group_of[i]].params.append(v)
        for i in sorted(group_of):
            group = groups[group_of[i]]
            group.members.append(i)
            group.inputs.extend(index[id(p)] for p in values[i].parents
                                if group_of.get(index[id(p)]) != group_of[i])
            if values[i].fn is None and id(values[i]) not in names:
                group.inputs.append(i)      # a constant made inside the call, e.g. x[:, :2]
            if values[i] is root or any(group_of.get(c) != group_of[i]
                                        for c in consumers.get(i, ())):
                group.outputs.append(i)
        for group in groups:
            group.inputs = _unique(group.inputs)
        drawn = [i for i in range(len(values)) if i not in group_of]
        layout.node_count = (len(drawn) + sum(values[i].fn is not None for i in drawn)
                             + len(groups))
        return layout


def _to_digraph(values: list[Value], layout: _Layout, root: Value, names: dict[int, str],
                rankdir: str, comment: str | None) -> graphviz.Digraph:
    """The DOT graph: nodes placed in their module's cluster, then the edges in argument order."""
    dot = graphviz.Digraph("computation", comment=comment,
                           graph_attr={"rankdir": rankdir, "ranksep": "0.3",
                                       "fontname": "Helvetica"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10"},
                           edge_attr={"arrowsize": "0.6"})
    vertical = rankdir in ("TB", "BT")
    group_of, index = layout.group_of, layout.index
    modules = {v.module for v in values if v.module is not None}
    placed: list[tuple[str | None, str, str, dict]] = []    # (module, node id, label, style)
    for g, group in enumerate(layout.groups):
        label = _module_label(group, values, names if names else None)
        style = MODULE_STYLE
        if index[id(root)] in group.members:
            style = {**style, "penwidth": "2"}
        placed.append((_parent_module(group.module, modules), f"m{g}", label, style))
    for i, v in enumerate(values):
        if i in group_of:
            continue
        style = _value_style(v, names)
        if v is root:
            style = {**style, "penwidth": "2"}
        placed.append((v.module, f"v{i}", _value_label(v, names, vertical), style))
        if v.fn is not None:
            placed.append((v.module, f"f{i}", _escape(_op_label(v.fn)), OP_STYLE))
    _add_nodes(dot, placed, modules)

    def node(i):
        return f"m{group_of[i]}" if i in group_of else f"v{i}"

    edges = []
    for i, v in enumerate(values):
        if v.fn is None:
            continue
        op = f"m{group_of[i]}" if i in group_of else f"f{i}"
        edges.extend((node(index[id(p)]), op) for p in v.parents)
        edges.append((op, node(i)))
    folded: set[tuple[str, str]] = set()    # a folded module: one edge per neighbour, no loop
    for tail, head in edges:
        if tail[0] == "m" or head[0] == "m":
            if tail == head or (tail, head) in folded:
                continue
            folded.add((tail, head))
        dot.edge(tail, head)                 # elsewhere one per argument: a * a draws two
    return dot


def _add_nodes(dot: graphviz.Digraph, placed: list, modules: set[str]) -> None:
    """Put each node in the cluster of its module; clusters nest by dotted name."""
    order: list[str] = []                  # every module drawn, enclosing ones first
    known: set[str] = set()
    for module, *_ in placed:
        chain = []
        while module is not None and module not in known:
            known.add(module)
            chain.append(module)
            module = _parent_module(module, modules)
        order.extend(reversed(chain))
    clusters = {module: graphviz.Digraph(f"cluster_{k}", graph_attr={
                    "label": _escape(module or ROOT_MODULE_LABEL), **CLUSTER_STYLE})
                for k, module in enumerate(order)}
    for module, node_id, label, style in placed:
        (dot if module is None else clusters[module]).node(node_id, label, **style)
    depth = {m: len(_ancestors(m, modules)) for m in order}
    for module in sorted(order, key=lambda m: -depth[m]):    # innermost first: attach complete
        parent = _parent_module(module, modules)
        (dot if parent is None else clusters[parent]).subgraph(clusters[module])


def _parent_module(module: str | None, modules: set[str]) -> str | None:
    """The enclosing module's dotted name: 'features' for 'features.0'; '' (the root module)
    for a top-level name when the root module made Values itself; None at the top."""
    if not module:
        return None
    if "." in module:
        return module.rsplit(".", 1)[0]
    return "" if "" in modules else None


def _ancestors(module: str, modules: set[str]) -> list[str]:
    chain = []
    while (module := _parent_module(module, modules)) is not None:
        chain.append(module)
    return chain


def _parameter_names(params) -> dict[int, str]:
    """{id(Value): name} from a {name: Value} mapping."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"draw_graph: params is a {type(params).__name__}; expected a dict "
                        f"{{name: Value}}; pass dict(model.named_parameters())")
    names = {}
    for name, value in params.items():
        if not isinstance(value, Value):
            raise TypeError(f"draw_graph: params[{name!r}] is a {type(value).__name__}; "
                            f"expected a Value")
        names[id(value)] = str(name)
    return names


def _value_style(v: Value, names: dict[int, str]) -> dict:
    if id(v) in names:
        return PARAMETER_STYLE
    if v.fn is not None:
        return ACTIVATION_STYLE
    return LEAF_STYLE if v.requires_grad else INPUT_STYLE


def _value_label(v: Value, names: dict[int, str], vertical: bool) -> str:
    """Record label: name, shape and dtype, data (and grad) as numbers or mean/abs-max."""
    fields = []
    name = names.get(id(v), v.name)
    if name:
        fields.append(_escape_record(str(name)))
    fields.append(f"{_shape(v)} {v.dtype}")
    if v.ndim == 0:
        fields.append(f"data {_scalar(v.data)}")
        if v.requires_grad or v.grad is not None:
            fields.append("grad None" if v.grad is None else f"grad {_scalar(np.asarray(v.grad))}")
    else:
        fields.append(_summary(v.data))
        if v.grad is not None:          # np.asarray: a .grad set by hand may be a number
            fields.append(f"grad {_summary(np.asarray(v.grad))}")
    label = " | ".join(fields)
    # a record stacks its fields across the rank direction; braces turn them to stack along it
    return "{ " + label + " }" if vertical else label


def _shape(v: Value) -> str:
    return "scalar" if v.ndim == 0 else str(v.shape)


def _scalar(x: np.ndarray) -> str:
    """4 decimals, micrograd style, unless that would show a nonzero number (an eps) as 0."""
    if x.dtype.kind != "f":
        return str(x.item())
    text = f"{x.item():.4f}"
    return f"{x.item():.4g}" if x != 0 and float(text) == 0 else text


def _summary(x: np.ndarray) -> str:
    if x.size == 0:
        return "empty"
    x = x.astype(np.float64, copy=False)
    return f"mean {x.mean():.4g} absmax {np.abs(x).max():.4g}"


def _op_label(fn) -> str:
    """'Conv2d stride=1 padding=0': the op's class name and its keyword params (None skipped)."""
    words = [fn.name]
    for key, value in fn.params.items():
        if value is None:
            continue
        text = _param_text(value)
        words.append(f"{key}={text if len(text) <= 30 else text[:27] + '...'}")
    return " ".join(words)


def _param_text(value) -> str:
    """A keyword param on one line: slices as numpy writes them (0:2, :), arrays as their shape
    (or their values, when 1-d and short), tuples (an index) item by item."""
    if isinstance(value, tuple):
        items = [_param_text(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, slice):
        parts = ["" if part is None else str(part)
                 for part in (value.start, value.stop, value.step)]
        return ":".join(parts if value.step is not None else parts[:2])
    if value is Ellipsis:
        return "..."
    if isinstance(value, np.ndarray):
        return str(value.tolist()) if value.ndim == 1 and value.size <= 4 else f"array{value.shape}"
    return " ".join(str(value).split())


def _module_label(group: _Group, values: list[Value], names: dict[int, str] | None) -> str:
    """A folded module: its name and ops (up to MODULE_OPS_SHOWN, else their count), its input
    and output shapes, and (given names) its parameters' names and element count."""
    def shapes(indices):
        return ", ".join(_shape(values[i]) for i in indices) or "nothing"

    ops = [values[i].fn for i in group.members if values[i].fn is not None]
    what = ", ".join(map(_op_label, ops)) if len(ops) <= MODULE_OPS_SHOWN else f"{len(ops)} ops"
    inputs, params = group.inputs, group.params
    if names is not None:     # parameters other calls use too stay nodes, but are still counted
        inputs = [i for i in group.inputs if id(values[i]) not in names]
        params = params + [values[i] for i in group.inputs if id(values[i]) in names]
    lines = [f"{group.module or ROOT_MODULE_LABEL}: {what}",
             f"{shapes(inputs)} -> {shapes(group.outputs)}"]
    if names is not None:
        prefix = group.module + "." if group.module else ""
        param_names = [names[id(p)].removeprefix(prefix) for p in params]
        count = sum(p.size for p in params)
        lines.append(f"{count} parameters" + (f" ({', '.join(param_names)})" if param_names
                                              else ""))
    return _escape("\n".join(lines)).replace("\n", "\\n")


def _escape(text: str) -> str:
    """Backslashes kept literal in a DOT label (graphviz would read \\n, \\l as line breaks)."""
    return text.replace("\\", "\\\\")


def _escape_record(text: str) -> str:
    """Characters that structure a record label kept literal."""
    text = _escape(text)
    for ch in '{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def _unique(items):
    return list(dict.fromkeys(items))
