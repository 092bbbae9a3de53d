"""`export`: run the model once in evaluation mode, walk the graph that forward recorded, and
write it as an ONNX model: each op through its converter (converters.py), each parameter and
buffer as an initializer under the model's own name, the first input axis dynamic ("N")."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_cnn import function, nn
from tinygrad_cnn.fileio import atomic_write
from tinygrad_cnn.nn import Module
from tinygrad_cnn.nn.utils.rnn import PackedSequence
from tinygrad_cnn.onnx import converters
from tinygrad_cnn.value import Value

if TYPE_CHECKING:
    import onnx

# From opset 13 on, Softmax/LogSoftmax work along one axis (as ours) and ReduceSum, Squeeze and
# Unsqueeze take their axes as inputs; the converters are written for 13 and later.
MIN_OPSET = 13
INPUT, OUTPUT, BATCH = "input", "output", "N"
INSTALL_HINT = "pip install 'tinygrad_cnn[onnx]' (or pip install onnx)"
# The layers that also take one unbatched example, as PyTorch's: (C, L) for the 1-D ones, (C, H, W)
# for the 2-D ones; by the number of spatial axes of their input.
UNBATCHED_LAYERS = {nn.Conv1d: 1, nn.MaxPool1d: 1, nn.AvgPool1d: 1, nn.Conv2d: 2, nn.MaxPool2d: 2,
                    nn.AvgPool2d: 2, nn.AdaptiveAvgPool2d: 2, nn.ConvTranspose2d: 2}
# The layers whose input is a sequence: exported, its first axis must be the batch
SEQUENCE_LAYERS = (nn.RNN, nn.LSTM, nn.GRU, nn.MultiheadAttention)
# Ops that only training computes: the hint for them says what to export instead.
LOSSES = {"CrossEntropy", "NLLLoss", "MSELoss", "BCEWithLogits", "L1Loss", "SmoothL1Loss",
          "HuberLoss", "BinaryCrossEntropy", "KLDiv"}


def export(model, example_input, path: str | os.PathLike, opset: int = 17) -> onnx.ModelProto:
    """Write `model` to `path` as an ONNX model; returns the onnx.ModelProto written.

    One forward pass on `example_input` (a float numpy array or Value, (N, ...); take N >= 2,
    as only then can a constant made from the input's data be told apart and warned about; or
    integer ids, for a model that looks them up with an embedding) is recorded in evaluation
    mode (a model in training mode is exported in evaluation mode, with a warning, and left in
    training mode), and each recorded op becomes ONNX nodes of the default domain at `opset`
    (13 or later). The graph's input is "input", of the example's dtype, with its first axis
    named "N", so any batch size runs (the other axes are fixed); its output is "output"
    ("output_0", "output_1", ... for a tuple, nested tuples read depth first: an LSTM's
    (out, (h_n, c_n)) gives output_0, output_1 and output_2). An integer input must go
    straight into embedding lookups (nn.Embedding, ops.embedding), which become Gather nodes:
    the model is then traced a second time on other ids, and a constant or setting of a
    recorded op that differs (made from the ids by ops that record nothing, such as ids.astype
    or ids > 0) is an error. The parameters and buffers are initializers under their state_dict
    names ("conv1.weight"). The model is checked with onnx.checker (full_check) before the file
    is written atomically.

    An op with no ONNX mapping (see `supported_ops()`) raises a ValueError naming it: for a
    custom Function, write its forward with tinygrad_cnn.ops so the graph is made of those.
    """
    onnx = _import_onnx()
    _check_arguments(model, example_input, path, opset, onnx)
    x, outputs = _trace(model, example_input)
    nodes = _recorded_nodes(outputs)
    _check_the_layers_get_batches(model, x, nodes)
    _check_the_sequence_layers_get_batches_first(model, nodes)
    if x.dtype.kind in "iu":
        _check_ids_are_looked_up(model, x, nodes, outputs)
        _check_nothing_else_follows_the_ids(model, x, nodes)
    # constants fed by integer ids were checked by a second trace: the guess by shape is moot
    g = GraphBuilder(onnx, int(opset), batch_size=x.shape[0], guess=x.dtype.kind == "f")
    g.name_leaves(model, x)
    for node in nodes:
        g.convert(node)
    # an output that is x itself uses x too (model() passes it on through an Identity node)
    if id(x) not in g.used_leaves and not any(out is x for out in outputs):
        raise ValueError(
            f"onnx.export: the output of {type(model).__name__} does not depend on example_input "
            f"through recorded ops; expected forward to compute with tinygrad_cnn ops on its "
            f"input (a forward that uses x.data or numpy on x records nothing to export)")
    proto = g.model(outputs, x, model)
    with atomic_write(path) as file:
        file.write(proto.SerializeToString())
    return proto


def supported_ops() -> list[str]:
    """The names of the ops that `export` can convert, e.g. ["Add", "AvgPool2d", ...]."""
    return sorted(cls.__name__ for cls in converters.CONVERTERS)


def _import_onnx():
    """The onnx package, or an ImportError saying how to install it."""
    try:
        import onnx
        import onnx.checker  # noqa: F401  (the submodules export uses)
        import onnx.shape_inference  # noqa: F401
    except ImportError as error:
        raise ImportError(f"onnx.export: exporting needs the 'onnx' package, which is not "
                          f"installed ({error}); install it with {INSTALL_HINT}") from error
    return onnx


def _check_arguments(model, example_input, path, opset, onnx) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"onnx.export: model is a {type(model).__name__}; expected a "
                        f"tinygrad_cnn.nn.Module (its named parameters name the initializers)")
    if isinstance(example_input, PackedSequence):
        raise TypeError("onnx.export: example_input is a PackedSequence, which cannot be "
                        "exported: its batch sizes and sorting would be fixed into the graph as "
                        "constants; expected a numpy array or a Value of shape (N, ...); export "
                        "the model on a padded batch (N, L, ...) with batch_first=True layers, "
                        "and read each sequence's outputs up to its own length")
    if not isinstance(example_input, (np.ndarray, Value)):
        raise TypeError(f"onnx.export: example_input is a {type(example_input).__name__}; "
                        f"expected a numpy array or a Value of shape (N, ...), e.g. a batch of "
                        f"images")
    shape, dtype = example_input.shape, example_input.dtype
    if len(shape) == 0 or shape[0] < 1:
        raise ValueError(f"onnx.export: example_input has shape {shape}; expected a batch "
                         f"axis first, (N, ...) with N >= 1, e.g. images[:2]")
    # integer ids are checked after the trace: they may only enter embedding lookups
    if dtype.kind not in "fiu":
        raise TypeError(f"onnx.export: example_input has dtype {dtype}; expected a float array "
                        f"(or integer ids, for a model that looks them up with an embedding); "
                        f"pass example_input.astype(np.float32) (or the parameters' dtype) to a "
                        f"model that computes on numbers, or example_input.astype(np.int64) to "
                        f"one that looks up ids")
    float_dtypes = {p.dtype for p in model.parameters() if p.dtype.kind == "f"}
    if dtype.kind == "f" and float_dtypes and dtype not in float_dtypes:
        raise TypeError(f"onnx.export: example_input has dtype {dtype} but the model computes "
                        f"in {', '.join(sorted(map(str, float_dtypes)))}; expected the "
                        f"parameters' dtype; pass example_input.astype(np.float32) or the "
                        f"model's dtype")
    newest = onnx.defs.onnx_opset_version()
    if (isinstance(opset, bool) or not isinstance(opset, (int, np.integer))
            or not MIN_OPSET <= opset <= newest):
        raise ValueError(f"onnx.export: opset {opset!r} is not supported; expected an int from "
                         f"{MIN_OPSET} to {newest} (the newest this onnx {onnx.__version__} "
                         f"knows), e.g. opset=17")
    folder = Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(f"onnx.export: the folder {str(folder)!r} does not exist; "
                                f"expected an existing folder; create it first (e.g. Path.mkdir)")


def _trace(model, example_input, warn: bool = True) -> tuple[Value, list[Value]]:
    """Run model(x) in evaluation mode with every op recorded (also inside no_grad): x and
    frozen parameters are made to require grad for the call, then the modes and flags are put
    back as they were. Integer ids cannot require grad; an embedding that looks them up is
    recorded because its weight then does."""
    data = example_input.data if isinstance(example_input, Value) else example_input
    x = Value(data, requires_grad=True)         # so every op on a float x is recorded
    modes = [(module, module.training) for module in model.modules()]
    if warn and any(training for _, training in modes):
        warnings.warn(f"onnx.export: {type(model).__name__} is in training mode; exporting its "
                      f"evaluation-mode graph (dropout off, batch norm with its running "
                      f"statistics where it tracks them) and leaving the model in training "
                      f"mode; call model.eval() before exporting to silence this warning",
                      UserWarning, stacklevel=3)
    frozen = [p for p in model.parameters() if not p.requires_grad and p.dtype.kind == "f"]
    model.eval()
    for param in frozen:
        param.requires_grad = True
    try:
        with function._grad_mode(True):        # record, even when called inside no_grad()
            result = model(x)
    finally:
        for param in frozen:
            param.requires_grad = False
        for module, training in modes:
            module.training = training
    outputs = _flat(result)
    for i, out in enumerate(outputs):
        if not isinstance(out, Value):
            raise TypeError(f"onnx.export: {type(model).__name__}.forward returned "
                            f"{type(out).__name__} (output {i}); expected a Value or a tuple "
                            f"of Values (nested tuples too)")
    return x, outputs


def _flat(result) -> list:
    """forward's result as a list of outputs, nested tuples and lists read depth first, as
    PyTorch's exporter reads them: an LSTM's (out, (h_n, c_n)) gives out, h_n, c_n."""
    if isinstance(result, (tuple, list)):
        return [out for part in result for out in _flat(part)]
    return [result]


def _check_the_sequence_layers_get_batches_first(model, nodes: list[Value]) -> None:
    """Every recurrent and attention layer that the trace ran takes batches first: with
    batch_first=False (L, N, ...) or one unbatched sequence (L, ...), the exported model's
    dynamic first axis "N" would be the sequence length, and the loop of a recurrent layer,
    unrolled over the example's length, would silently read only that many steps of a longer
    sequence."""
    for name, module in model.named_modules(remove_duplicate=False):
        if not isinstance(module, SEQUENCE_LAYERS):
            continue
        # what its ops take from outside it and computed from the input (masks are constants)
        own = {id(p) for p in module.parameters()}
        inputs = [v for node in nodes if node.module == name for v in node.fn.inputs
                  if _from_outside(v, name, own) and v.requires_grad]
        if not inputs:
            continue                    # not run by this trace
        layer = f"layer {name!r} ({type(module).__name__})" if name else \
            f"the model ({type(module).__name__})"
        if not module.batch_first:
            raise ValueError(
                f"onnx.export: {layer} takes its sequences as (L, N, ...) (batch_first=False); "
                f"expected batch_first=True, as the exported model's first axis is the batch "
                f"\"N\" (here it would be the sequence length, and a longer sequence would be "
                f"read only as far as the example's); build the layer with batch_first=True "
                f"and give it (N, L, ...)")
        if min(v.ndim for v in inputs) < 3:
            packed = ("" if isinstance(module, nn.MultiheadAttention) else
                      "; packed sequences (nn.utils.rnn), whose data is 2-D too, cannot be "
                      "exported at all: give the layer the padded batch instead")
            raise ValueError(
                f"onnx.export: {layer} gets one unbatched sequence of shape "
                f"{min(inputs, key=lambda v: v.ndim).shape}; expected a batch (N, L, ...), as "
                f"the exported model's first axis is the batch \"N\"; pass a batch: x[None] "
                f"for one sequence x{packed}")


def _from_outside(v: Value | None, name: str, own: set[int]) -> bool:
    """Whether v, an input of an op that the module named `name` recorded, comes from outside
    the module: neither one of its own parameters (their ids are `own`) nor made by its ops."""
    return v is not None and id(v) not in own and (v.fn is None or v.module != name)


def _check_the_layers_get_batches(model, x: Value, nodes: list[Value]) -> None:
    """Every convolution and pooling layer that the trace ran got a batch. Those layers also take
    one unbatched example ((C, L), (C, H, W)), as PyTorch's do, and run it as a batch of one;
    exported, the graph's dynamic first axis "N" would then be the example's channels, and a
    real batch would fail in ONNX Runtime. A layer's input is what its recorded ops (stamped
    with its name) take from outside it, its own parameters aside."""
    layers = {}
    for name, module in model.named_modules(remove_duplicate=False):
        spatial = next((n for cls, n in UNBATCHED_LAYERS.items() if isinstance(module, cls)), 0)
        if spatial:
            layers[name] = (module, spatial)
    for node in nodes:
        if node.module not in layers:
            continue
        module, spatial = layers[node.module]
        own = {id(p) for p in module.parameters()}
        for v in node.fn.inputs:
            if not _from_outside(v, node.module, own) or v.ndim != spatial + 1:
                continue
            layer = (f"layer {node.module!r} ({type(module).__name__})" if node.module
                     else f"the model ({type(module).__name__})")
            example, batch = ("signal (C, L)", "(N, C, L)") if spatial == 1 else (
                "image (C, H, W)", "(N, C, H, W)")
            raise ValueError(
                f"onnx.export: example_input has shape {x.shape}, and {layer} gets one "
                f"unbatched {example} of shape {v.shape} from it; expected a batch {batch}, as "
                f"the exported model's first axis is the batch \"N\" (from an unbatched example "
                f"it would be the channels, and a real batch would fail in ONNX Runtime); pass a "
                f"batch: x[None] for one example x, or e.g. images[:2]")


def _check_ids_are_looked_up(model, x: Value, nodes: list[Value], outputs: list[Value]) -> None:
    """An integer input is ids: recorded ops must take it, and only as ids (an embedding
    lookup). Checked before any conversion, so no warning about constants comes first."""
    uses = [(node, i) for node in nodes for i, v in enumerate(node.fn.inputs) if v is x]
    fix = ("pass example_input.astype(np.float32) (or the parameters' dtype) to a model that "
           "computes on numbers")
    for node, i in uses:
        if converters.IDS_INPUT.get(type(node.fn)) != i:
            raise ValueError(
                f"onnx.export: example_input has the integer dtype {x.dtype} and enters op "
                f"{node.fn.name} (in module {node.module!r}) as its input {i}; expected integer "
                f"ids that only an embedding looks up (nn.Embedding, ops.embedding); {fix}")
    if not uses and not any(out is x for out in outputs):
        raise ValueError(
            f"onnx.export: example_input has the integer dtype {x.dtype}, but no recorded op of "
            f"{type(model).__name__} takes it; expected integer ids that go straight into an "
            f"embedding (nn.Embedding, ops.embedding) whose table is a parameter (a Value "
            f"attribute of the model; a numpy table is a constant, and its lookups record "
            f"nothing): ops on integer ids, such as ids + 1 or the conversion to floats in a "
            f"conv or linear layer, record nothing, as ids have no gradient; {fix}, or look the "
            f"ids up first and compute on the embedding's output")


def _check_nothing_else_follows_the_ids(model, x: Value, nodes: list[Value]) -> None:
    """Trace the model again on other ids of x's shape: every id moved one place on and raised
    by one (below the smallest table that looks them up). The recorded ops, their constant
    inputs and their settings must come out the same; one that differs was computed from the
    ids by ops that record nothing, and the file would replay the example's values."""
    tables = [node.fn.inputs[1].shape[0] for node in nodes if node.fn.inputs[0] is x]
    if not tables:                      # the ids only pass through to the output
        return
    limit = min(tables)
    other = (np.roll(x.data.ravel(), 1) + 1) % limit
    x2, outputs2 = _trace(model, other.reshape(x.shape).astype(x.dtype), warn=False)
    nodes2 = _recorded_nodes(outputs2)
    fix = ("expected every use of the ids to be an embedding lookup; compute what you need from "
           "a lookup of its own (a mask of the non-padding positions is a frozen "
           "nn.Embedding(num_embeddings, 1) whose table is 1 except 0 at padding_idx)")
    if [type(n.fn) for n in nodes] != [type(n.fn) for n in nodes2]:
        raise ValueError(f"onnx.export: {type(model).__name__} records other ops for other ids "
                         f"(its forward branches on the ids' values), and the file can hold "
                         f"only one graph; {fix}")
    for node, node2 in zip(nodes, nodes2, strict=True):
        changed = [f"input {i}" for i, (v, v2) in enumerate(zip(node.fn.inputs, node2.fn.inputs,
                                                                 strict=True))
                   if v is not None and v is not v2 and v is not x and v.fn is None
                   and not _same(v.data, v2.data)]
        changed += [f"setting {key}=" for key, value in node.fn.params.items()
                    if not _same(value, node2.fn.params[key])]
        if changed:
            raise ValueError(
                f"onnx.export: {' and '.join(changed)} of op {node.fn.name} (in module "
                f"{node.module!r}) changes with the ids: traced again on other ids it was "
                f"different, so it was computed from the ids by ops that record nothing, as "
                f"ids have no gradient (ids.astype(...), ids + 1, comparisons such as ids > 0, "
                f"numpy on ids.data), and the file would replay this example's values for every "
                f"input; {fix}")


def _same(a, b) -> bool:
    """Equal constants or settings: arrays by shape and values, containers item by item."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _recorded_nodes(outputs: list[Value]) -> list[Value]:
    """Every op output feeding `outputs`, each after its inputs, and after the op that returned
    an index array it indexes with (take_along_axis with topk's indices comes after the TopK,
    which gives them in the file); iterative (deep graphs do not recurse) and in argument order,
    so the exported file is the same every time."""
    order = _in_order(outputs, lambda node: node.fn.inputs)
    returned = {id(v.fn.returned_indices): v for v in order
                if isinstance(vars(v.fn).get("returned_indices"), np.ndarray)}
    if not returned:
        return order
    return _in_order(outputs, lambda node: (*node.fn.inputs, *(
        returned[id(array)] for array in _index_arrays(node) if id(array) in returned)))


def _in_order(outputs: list[Value], inputs) -> list[Value]:
    """The op outputs feeding `outputs` through `inputs(node)`, each after those."""
    order, seen, stack = [], set(), list(reversed(outputs))
    while stack:
        node = stack.pop()
        if node is None:                # the marker above a node: its inputs are done
            order.append(stack.pop())
        elif id(node) not in seen and node.fn is not None:
            seen.add(id(node))
            stack += [node, None]
            stack += [v for v in reversed(inputs(node)) if v is not None and id(v) not in seen]
    return order


def _index_arrays(node: Value) -> list[np.ndarray]:
    """The integer arrays in node's index (a GetItem's), each with the arrays it is a view of."""
    index, arrays = node.fn.params.get("index"), []
    for entry in index if isinstance(index, tuple) else ():
        while isinstance(entry, np.ndarray):
            arrays.append(entry)
            entry = entry.base
    return arrays


class GraphBuilder:
    """The ONNX graph being built: nodes, initializers, and the tensor name of every Value.

    Converters call `op`, `constant`, `ints`, `scalar`, `cast`, `as_dtype`, `reduce`,
    `is_batched`, `returned_array` and `array_tensor`; the names of nodes and tensors follow
    PyTorch's exporter: "/conv1/Conv", whose output is "/conv1/Conv_output_0".
    """

    def __init__(self, onnx, opset: int, batch_size: int, guess: bool):
        self.onnx, self.opset, self.batch_size = onnx, opset, batch_size
        self.guess = guess          # warn of constants that look made from the input (_name_of)
        self.nodes: list = []                   # onnx NodeProtos, in order
        self.initializers: list = []            # onnx TensorProtos
        self.names: dict[int, str] = {}         # id(Value) -> its tensor's name
        self.traced: dict[str, tuple[int, ...]] = {}   # tensor name -> the shape it had
        self.taken: set[str] = {INPUT, OUTPUT}
        self.batched: set[int] = set()          # ids of Values whose axis 0 is the batch
        self.used_leaves: set[int] = set()
        self.scope = ""                         # "/conv1" while converting a node of conv1
        self.leaf_names: dict[int, str] = {}    # id(Value) -> input or parameter name
        self.buffers: dict[str, list[tuple[str, np.ndarray]]] = {}   # module -> its buffers
        # id(array) -> (the array, its tensor, whether its axis 0 is the batch): integer arrays
        # that an op returned beside its output (topk's indices); kept, so that ids stay unique
        self.arrays: dict[int, tuple[np.ndarray, str, bool]] = {}

    # ---- used by the converters ----
    def op(self, op_type: str, inputs: list[str], **attributes) -> str:
        """Add one node; returns the name of its (single) output tensor."""
        name = self._unique(f"{self.scope}/{op_type}")
        output = self._unique(f"{name}_output_0")
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [output], name=name,
                                                     **attributes))
        return output

    def constant(self, array: np.ndarray, hint: str) -> str:
        """Add an initializer holding `array` (a converter's constant); returns its name."""
        name = self._unique(f"{self.scope}/{hint}")
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values, hint: str) -> str:
        """A 1-D int64 constant: the shapes, axes and pads ONNX ops take as inputs."""
        return self.constant(np.array(values, dtype=np.int64).reshape(-1), hint)

    def scalar(self, value, dtype, hint: str = "value") -> str:
        """A 0-d constant of `dtype`."""
        return self.constant(np.array(value, dtype=dtype), hint)

    def cast(self, name: str, dtype) -> str:
        """The tensor `name` cast to the numpy `dtype`."""
        return self.op("Cast", [name], to=self.onnx.helper.np_dtype_to_tensor_dtype(
            np.dtype(dtype)))

    def as_dtype(self, name: str, value: Value, dtype) -> str:
        """The tensor `name` (holding `value`) cast to `dtype`; itself if it has that dtype."""
        return name if value.dtype == np.dtype(dtype) else self.cast(name, dtype)

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: bool) -> str:
        """A Reduce* node over `axes`: an input from opset 18 on (13 for ReduceSum), before
        that an attribute. No axes (numpy's axis=()) reduce nothing, where ONNX's empty axes
        would reduce everything: an Identity."""
        if not axes:
            return self.op("Identity", [x])
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=axes, keepdims=int(keepdims))

    def is_batched(self, value: Value) -> bool:
        """Whether value's first axis is the batch axis (it grows with the input's batch)."""
        return id(value) in self.batched

    def returned_array(self, array: np.ndarray, name: str, batched: bool) -> None:
        """Record that the tensor `name` holds `array`, an integer array that an op returned
        beside its output (topk's indices), so that an op indexing with it reads the tensor."""
        self.arrays[id(array)] = (array, name, batched)
        self.traced[name] = array.shape

    def array_tensor(self, array: np.ndarray) -> tuple[str, bool] | None:
        """(its tensor, whether its axis 0 is the batch) for an array that an op returned
        (returned_array), or for a view of one that reshapes it and keeps its first axis, such
        as indices[..., None] (a Reshape of the tensor); None for any other array, which is a
        constant of the graph."""
        found = self.arrays.get(id(array))
        if found is not None and found[0] is array:
            return found[1], found[2]
        base = array.base
        while isinstance(base, np.ndarray):
            found = self.arrays.get(id(base))
            if found is not None and found[0] is base and _reshapes(array, base):
                # 0 copies the first axis, the batch's size at run time
                name = self.op("Reshape", [found[1], self.ints([0, *array.shape[1:]], "shape")])
                self.returned_array(array, name, found[2])
                return name, found[2]
            base = base.base
        return None

    # ---- used by export ----
    def name_leaves(self, model, x: Value) -> None:
        """Remember the names the model gives its parameters and buffers."""
        self.leaf_names[id(x)] = INPUT
        self.batched.add(id(x))
        for name, param in model.named_parameters():
            self.leaf_names[id(param)] = name
        for name, buffer in model.named_buffers():
            module = name.rpartition(".")[0]
            self.buffers.setdefault(module, []).append((name, buffer.data))

    def convert(self, node: Value) -> None:
        """Add the ONNX nodes of one recorded op (and initializers for its leaf inputs)."""
        converter = converters.CONVERTERS.get(type(node.fn))
        if converter is None:
            raise ValueError(_unsupported(node))
        self.scope = f"/{node.module}" if node.module else ""
        inputs, unread = [], converters.unread_inputs(node)
        # a loop, not a comprehension: warnings' stacklevel
        for i, value in enumerate(node.fn.inputs):
            skipped = value is None or i in unread
            inputs.append(None if skipped else self._name_of(value, node))
        # marked before the converter runs, so that it can ask g.is_batched(node)
        if (any(self.is_batched(v) for v in node.fn.inputs if v is not None)
                and node.ndim and node.shape[0] == self.batch_size):
            self.batched.add(id(node))
        name = converter(self, node, *inputs)
        self.names[id(node)] = name
        self.traced[name] = node.shape

    def model(self, outputs: list[Value], x: Value, model) -> onnx.ModelProto:
        """The checked ModelProto: graph, opset, and the shapes that inference adds."""
        onnx, helper = self.onnx, self.onnx.helper
        output_infos = []
        for i, value in enumerate(outputs):
            wanted = OUTPUT if len(outputs) == 1 else f"{OUTPUT}_{i}"
            if id(value) not in self.names and id(value) not in self.leaf_names:
                raise ValueError(
                    f"onnx.export: {wanted} (shape {value.shape}, dtype {value.dtype}) is a "
                    f"constant of this trace, neither computed from the input by recorded ops "
                    f"nor a parameter, so the file would return this example's values for every "
                    f"input; expected outputs computed from the input with tinygrad_cnn ops "
                    f"(a max pool's indices come from the exported pool only when its output "
                    f"is used too: return or use the pooled output as well)")
            name = self.names.get(id(value)) or self._name_of(value, None)
            if self._made_by_a_node(name) and name not in (info.name for info in output_infos):
                self._rename(name, wanted)
            else:                       # the input, a parameter, or an output given twice
                self.nodes.append(helper.make_node("Identity", [name], [wanted],
                                                   name=f"/{wanted}/Identity"))
            self.traced[wanted] = value.shape
            output_infos.append(helper.make_tensor_value_info(
                wanted, helper.np_dtype_to_tensor_dtype(value.dtype), None))
        input_info = helper.make_tensor_value_info(
            INPUT, helper.np_dtype_to_tensor_dtype(x.dtype), [BATCH, *x.shape[1:]])
        graph = helper.make_graph(self.nodes, type(model).__name__, [input_info], output_infos,
                                  self.initializers)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name="tinygrad_cnn",
                                  doc_string=f"exported by tinygrad_cnn.onnx.export\n{model!r}")
        proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
        proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True,
                                                  data_prop=True)
        self._check_shapes(proto, outputs)
        onnx.checker.check_model(proto, full_check=True)
        return proto

    # ---- helpers ----
    def _unique(self, name: str) -> str:
        """name, or name_1, name_2, ... : the first not yet taken."""
        candidate, k = name, 0
        while candidate in self.taken:
            k += 1
            candidate = f"{name}_{k}"
        self.taken.add(candidate)
        return candidate

    def _name_of(self, value: Value, consumer: Value | None) -> str:
        """The tensor holding value; for a leaf (input, parameter, buffer or constant) the
        graph input or an initializer, added the first time it is used."""
        if id(value) in self.names:
            return self.names[id(value)]
        self.used_leaves.add(id(value))
        name = self.leaf_names.get(id(value)) or self._buffer_name(value, consumer)
        if name is None:                # a constant of forward (e.g. the 2 of x * 2)
            if (self.guess and consumer is not None and value.ndim > 0 and self.batch_size > 1
                    and value.shape[0] == self.batch_size):
                warnings.warn(
                    f"onnx.export: a constant of shape {value.shape} enters "
                    f"{consumer.fn.name} in module {consumer.module!r}; its first axis has the "
                    f"batch size, so it may have been computed from the example input outside "
                    f"the recorded ops (e.g. a mask from x.data), and the exported model would "
                    f"replay it for every input; compute it with tinygrad_cnn ops instead",
                    UserWarning, stacklevel=4)
            name = self._unique(f"{self.scope}/Constant")
        if name != INPUT:
            self.initializers.append(self.onnx.numpy_helper.from_array(value.data, name))
            self.taken.add(name)
        self.names[id(value)] = name
        return name

    def _buffer_name(self, value: Value, consumer: Value | None) -> str | None:
        """The name of the buffer of the consuming module whose data `value` holds (ops such as
        batch_norm receive a copy of the running statistics), each buffer named once."""
        if consumer is None or consumer.module is None:
            return None
        for i, (name, data) in enumerate(self.buffers.get(consumer.module, [])):
            if (data is value.data or (data.shape == value.shape and data.dtype == value.dtype
                                       and np.array_equal(data, value.data))):
                del self.buffers[consumer.module][i]
                return name
        return None

    def _made_by_a_node(self, name: str) -> bool:
        return any(name in node.output for node in self.nodes)

    def _rename(self, old: str, new: str) -> None:
        """Give the tensor `old` the name `new` in every node that makes or reads it."""
        for node in self.nodes:
            for fields in (node.input, node.output):
                for i, name in enumerate(fields):
                    if name == old:
                        fields[i] = new
        for value_id, name in self.names.items():
            if name == old:
                self.names[value_id] = new

    def _check_shapes(self, proto, outputs: list[Value]) -> None:
        """Every tensor's inferred shape must match the traced one (a converter bug otherwise),
        and the outputs must have a shape, which check_model requires."""
        inferred = {info.name: info for info in [*proto.graph.value_info, *proto.graph.output]}
        for name, shape in self.traced.items():
            info = inferred.get(name)
            if info is None or not info.type.tensor_type.HasField("shape"):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else None
                    for d in info.type.tensor_type.shape.dim]
            assert len(dims) == len(shape) and all(
                d is None or d == n for d, n in zip(dims, shape, strict=True)), \
                f"onnx.export: tensor {name!r} has ONNX shape {dims} but traced shape {shape}"
        for info, value in zip(proto.graph.output, outputs, strict=True):
            if not info.type.tensor_type.HasField("shape"):    # inference could not tell
                dims = list(value.shape)
                if dims and id(value) in self.batched:
                    dims[0] = BATCH
                info.CopyFrom(self.onnx.helper.make_tensor_value_info(
                    info.name, info.type.tensor_type.elem_type, dims))


def _reshapes(view: np.ndarray, base: np.ndarray) -> bool:
    """Whether `view` is `base` reshaped with its first axis kept: the same elements in the same
    (row-major) order, so a Reshape of base's tensor makes it. No axis of size 0: Reshape reads a
    0 in the shape as "copy the input's"."""
    return (view.dtype == base.dtype and view.size == base.size and view.size > 0
            and view.flags.c_contiguous and base.flags.c_contiguous
            and view.ctypes.data == base.ctypes.data and view.ndim > 0 and base.ndim > 0
            and view.shape[0] == base.shape[0])


def _unsupported(node: Value) -> str:
    """The message for an op with no converter."""
    cls = type(node.fn)
    if cls.__name__ == "Dropout":       # recorded only in training mode; eval() records none
        return (f"onnx.export: a Dropout in training mode (module {node.module!r}) zeroes a "
                f"random mask drawn once, which an exported model would replay for every input; "
                f"expected evaluation mode, where dropout is the identity and records no op; "
                f"pass training=self.training to ops.dropout in your module")
    hint = ("export the model that computes the predictions (e.g. the logits), without its loss"
            if cls.__name__ in LOSSES else
            "write the layer's forward with tinygrad_cnn.ops functions (e.g. x * ops.sigmoid(x) "
            "for a Swish) so that its graph is made of supported ops")
    supported = ", ".join(supported_ops())
    return (f"onnx.export: op {cls.__name__} ({cls.__module__}.{cls.__qualname__}, in module "
            f"{node.module!r}) has no ONNX mapping; expected one of: {supported}; {hint}")
