"""`Module`, the base class of layers and models; `Buffer`, a module's saved but untrained state;
`Sequential`, a chain of modules; `ModuleList`, a list of modules; `ParameterList` and
`ParameterDict`, parameters held as a list or by key.

A module is a plain class: its parameters are `Value` attributes, its buffers `Buffer`
attributes, its submodules `Module` attributes, all found by walking the attributes in the
order they were set."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

import numpy as np

from tinygrad_cnn.function import module_scope
from tinygrad_cnn.value import Value, array_protocol

# The modules being called, innermost last, each with its dotted name; mirrors the name stack
# of function.module_scope, which holds only the names.
_call_stack: list[tuple[Module, str]] = []


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` did not match: the model's keys missing from the state dict and
    the state dict's keys the model does not have."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Buffer:
    """State that a module saves and loads but does not train, e.g. BatchNorm's running mean:
    a numpy array `data` held as a module attribute, `self.running_mean = Buffer(np.zeros(C))`.

    A module finds its buffers as it finds its parameters, by walking its attributes:
    `named_buffers()` lists them and `state_dict()` holds them beside the parameters, under
    the attribute's dotted name (as PyTorch's buffers); `parameters()` leaves them out, so no
    optimizer touches them. forward updates one by assigning or writing into `buffer.data`;
    `load_state_dict` copies into `data` in place. `np.asarray(buffer)` is its data;
    `np.array(buffer)` is a copy, as for any numpy array.
    """

    __slots__ = ("data",)

    def __init__(self, data):
        array = np.array(data.data if isinstance(data, (Buffer, Value)) else data)   # a copy
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Buffer: data {data!r:.60} has dtype {array.dtype}; expected a "
                            f"numeric array, e.g. np.zeros(4, dtype=np.float32)")
        self.data = array

    @property
    def shape(self) -> tuple[int, ...]:
        """The data's shape."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The data's dtype."""
        return self.data.dtype

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(buffer) is buffer.data (converted when a dtype is asked for); np.array(buffer)
        is a copy, as numpy's copy= asks, so it is a snapshot that forward does not change."""
        return array_protocol("Buffer", self.data, dtype, copy)

    def __repr__(self) -> str:
        if self.data.ndim == 0:
            return f"Buffer({self.data.item()!r}, dtype={self.dtype})"
        return f"Buffer(shape={self.shape}, dtype={self.dtype})"


class RemovableHandle:
    """What register_forward_hook and register_forward_pre_hook return: remove() takes the
    hook off (again: nothing more), as PyTorch's torch.utils.hooks.RemovableHandle."""

    _next_id = itertools.count()

    def __init__(self, hooks: dict):
        self.hooks, self.id = hooks, next(RemovableHandle._next_id)

    def remove(self) -> None:
        """Take the hook off its module."""
        self.hooks.pop(self.id, None)


class Module:
    """Base class of every layer and model: y = forward(x), with parameters held as attributes.

    Subclasses set `Value` attributes (the parameters, float32, requiring grad), `Buffer`
    attributes (state saved but not trained) and `Module` attributes (the submodules) in
    `__init__`, and define `forward`. Calling `super().__init__()` is optional. Every Value
    attribute is a parameter (trained, saved in the state dict); keep constants as numpy
    arrays. A list of modules is found only inside a `ModuleList` (or a `Sequential`, a chain);
    a plain list, tuple or dict of modules or of parameters as an attribute is an error.

    Calling a module runs `forward` and stamps every Value it makes with the module's dotted
    name (`value.module`), the path of attribute names from the outermost module called:
    "conv1", "features.0". The outermost module itself is "" (the empty path).
    """

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, x)")

    def __call__(self, *args, **kwargs):
        """forward(*args, **kwargs), with the Values it makes stamped with this module's name;
        the forward pre-hooks run before it and the forward hooks after it, as PyTorch's."""
        name = self._dotted_name()
        hooks = vars(self).get("_hooks")
        _call_stack.append((self, name))
        try:
            with module_scope(name):
                if not hooks:
                    return self.forward(*args, **kwargs)
                for hook in list(hooks["pre"].values()):
                    changed = hook(self, args)
                    if changed is not None:     # new inputs: a tuple, or a single input
                        args = changed if isinstance(changed, tuple) else (changed,)
                output = self.forward(*args, **kwargs)
                for hook in list(hooks["post"].values()):
                    changed = hook(self, args, output)
                    if changed is not None:     # a new output
                        output = changed
                return output
        finally:
            _call_stack.pop()

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call hook(module, args) before each forward of this module, args the tuple of its
        positional inputs; a hook that returns something other than None replaces them (a tuple,
        or a single input), as PyTorch's. Hooks run in the order registered. Returns a handle
        whose remove() takes the hook off."""
        return self._register_hook("pre", hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call hook(module, args, output) after each forward of this module; a hook that
        returns something other than None replaces the output, as PyTorch's. For looking inside
        a model, e.g. keeping each layer's activations for a plot. Hooks run in the order
        registered. Returns a handle whose remove() takes the hook off."""
        return self._register_hook("post", hook)

    def _register_hook(self, when: str, hook) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}: the hook is a {type(hook).__name__}, not "
                            f"callable; expected a function, e.g. lambda module, args, output: "
                            f"print(output.shape)")
        hooks = vars(self).setdefault("_hooks", {"pre": {}, "post": {}})
        handle = RemovableHandle(hooks[when])
        hooks[when][handle.id] = hook
        return handle

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set requires_grad of every parameter here and below; returns self, as PyTorch's.
        requires_grad_(False) freezes the module: backward computes no gradient for its
        parameters, so an optimizer's step leaves them as they are."""
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad_: requires_grad is {type(requires_grad).__name__} "
                            f"{requires_grad!r:.40}; expected True or False")
        for param in self.parameters():
            param.requires_grad = bool(requires_grad) and param.dtype.kind == "f"
        return self

    def _dotted_name(self) -> str:
        """This module's path below the outermost module being called ("" when it is that one).

        A module the caller does not hold (directly or below) counts as part of the caller.
        """
        if not _call_stack:
            return ""
        caller, caller_name = _call_stack[-1]
        for attribute, value in vars(caller).items():     # the usual case: a direct child
            if value is self:
                return f"{caller_name}.{attribute}" if caller_name else attribute
        for path, module in caller.named_modules():
            if module is self:
                return ".".join(part for part in (caller_name, path) if part)
        return caller_name

    def _child_items(self) -> list[tuple[str, Module]]:
        """(attribute name, submodule) for every Module attribute, in the order they were set; a
        submodule held under two names is here under both (what PyTorch keeps in _modules, and
        what Sequential, ModuleList and ModuleDict hold)."""
        items = []
        for name, value in vars(self).items():
            if isinstance(value, Module):
                items.append((name, value))
            elif type(value) in (list, tuple, dict) and value:
                _check_container(type(self).__name__, name, value)
        return items

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(attribute name, submodule) for each direct submodule, in the order they were set; a
        submodule held under two names is given once, under the first, as PyTorch's."""
        seen: set[int] = set()
        for name, module in self._child_items():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Each direct submodule once, in the order they were set."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module ("") and every module below it, each once
        (with remove_duplicate=False: under each of its paths).

        A shared submodule, held under several paths, is then given under each of them, as
        state_dict() needs (PyTorch's named_modules has the same switch). A path never goes
        into a module it is already inside: a module that holds one of its owners would
        otherwise make paths without end.
        """
        seen: set[int] = set()
        stack = [("", self, ())]              # (path, module, ids of the modules above it)
        while stack:
            path, module, above = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            inside = above + (id(module),)
            below = [(f"{path}.{name}" if path else name, child, inside)
                     for name, child in module._child_items() if id(child) not in inside]
            stack.extend(reversed(below))     # popped in attribute order

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, each once."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn) -> Module:
        """Call fn(module) on each submodule, its own submodules first, and then on this module:
        PyTorch's order, e.g. `model.apply(init_weights)`; returns this module. As in PyTorch,
        a submodule held by two modules is visited under each (once per module that holds
        it); a module that holds one of its owners is not followed back into it."""
        def visit(module: Module, above: frozenset[int]) -> None:
            inside = above | {id(module)}
            for child in module.children():
                if id(child) not in inside:
                    visit(child, inside)
            fn(module)

        visit(self, frozenset())
        return self

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(dotted name, parameter) for every parameter, e.g. "conv1.weight", "0.bias"; a
        parameter shared by several modules is given once, under its first name."""
        return self._named_attributes((Value,))

    def named_buffers(self) -> Iterator[tuple[str, Buffer]]:
        """(dotted name, buffer) for every buffer, e.g. "bn1.running_mean"; a buffer shared by
        several modules is given once, under its first name."""
        return self._named_attributes((Buffer,))

    def buffers(self) -> Iterator[Buffer]:
        """Every buffer, each once, in the order of named_buffers()."""
        for _, buffer in self.named_buffers():
            yield buffer

    def _named_attributes(self, kinds: tuple[type, ...], remove_duplicate: bool = True
                          ) -> Iterator[tuple[str, Value | Buffer]]:
        """(dotted name, attribute) for the attributes of the given kinds, module by module
        (this one first, then its submodules in order); within a module the parameters come
        before the buffers (PyTorch's state_dict order), each in the order set. An attribute
        shared under several names is given once, under its first name, unless
        remove_duplicate=False: then under every name."""
        seen: set[int] = set()
        for path, module in self.named_modules(remove_duplicate):
            for kind in kinds:
                for name, value in vars(module).items():
                    if isinstance(value, kind) and not (remove_duplicate and id(value) in seen):
                        seen.add(id(value))
                        yield (f"{path}.{name}" if path else name), value

    def parameters(self) -> Iterator[Value]:
        """Every parameter, each once: this module's attributes in order, then its submodules'."""
        for _, param in self.named_parameters():
            yield param

    def train(self, mode: bool = True) -> Module:
        """Set training mode (mode=False: evaluation mode) here and in every submodule."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode here and in every submodule: same as train(False)."""
        return self.train(False)

    def double(self) -> Module:
        """Every floating-point parameter and buffer as float64 (its data replaced by a float64
        copy, its gradient forgotten), here and in every submodule; returns self, as PyTorch's.
        For checking a whole layer with tc.gradcheck, whose float64 inputs then meet float64
        weights. Make an optimizer after it: one made before keeps state of the old dtype."""
        return self._with_floats_as(np.float64)

    def float(self) -> Module:
        """Every floating-point parameter and buffer as float32 (the default), as double() does
        for float64; returns self."""
        return self._with_floats_as(np.float32)

    def _with_floats_as(self, dtype) -> Module:
        for param in self.parameters():
            if param.dtype.kind == "f":
                param.data, param.grad = param.data.astype(dtype), None
        for buffer in self.buffers():
            if buffer.data.dtype.kind == "f":
                buffer.data = buffer.data.astype(dtype)
        return self

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (grad = None), so the next backward starts afresh."""
        for param in self.parameters():
            param.grad = None

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """{dotted name: copy of the data} of every parameter and buffer; module by module, each
        module's parameters before its buffers, as PyTorch orders them.

        A parameter, buffer or submodule shared under several names (tied weights) is in it
        under every name, as in PyTorch, so the state dicts of twin models have the same keys;
        parameters() and named_parameters() give it once.
        """
        return OrderedDict((name, entry.data.copy()) for name, entry
                           in self._named_attributes((Value, Buffer), remove_duplicate=False))

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of `state_dict` into the parameters and buffers of the same names.

        Every key is checked first and nothing is loaded if anything is wrong: with strict=True,
        a missing or unexpected key; always, an array whose shape differs from its parameter's
        or buffer's, or whose values its dtype cannot take. With strict=False the keys present
        in both are loaded and the others reported; a shape or dtype mismatch is an error either
        way. Returns the missing and unexpected keys. PyTorch tensors load as they are, but not
        ones that require grad (numpy cannot read them): pass torch_model.state_dict(), not its
        named_parameters().

        An array of another dtype is cast to the model's, as PyTorch's copy_ casts: float64 to
        float32 (rounded), integers to floats. Into an integer or bool (BatchNorm's int64
        num_batches_tracked, say) it is cast only if every value stays as it is: 7.0 loads as
        7, but 7.5 is an error where PyTorch would truncate it to 7, and 300 is one for an
        int8, where PyTorch would wrap it round. Complex into a real dtype, and text, are errors.

        A parameter or buffer shared under several names stays shared: it is loaded from each
        of its names in state_dict() order, so the last name's array wins, as in PyTorch.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of arrays such as "
                            f"model.state_dict(), got {type(state_dict).__name__}")
        # every name of a shared parameter is a key, as in state_dict(); each maps to the one Value
        entries = dict(self._named_attributes((Value, Buffer), remove_duplicate=False))
        if isinstance(state_dict.get("model"), Mapping) and "model" not in entries:
            keys = ", ".join(repr(key) for key in state_dict)
            raise ValueError(
                f"load_state_dict: got a whole checkpoint (keys {keys:.200}) instead of a "
                f"model's state dict; expected the arrays of a {name}; pass "
                f"checkpoint[\"model\"]: model.load_state_dict(checkpoint[\"model\"])")
        missing = [key for key in entries if key not in state_dict]
        unexpected = [key for key in state_dict if key not in entries]
        problems, hints, arrays = [], [], {}
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
        if problems:
            hints.append("pass strict=False to load only the keys both have")
        for key, entry in entries.items():
            if key in state_dict:
                array, problem, fix = _checked_array(key, state_dict[key], entry)
                if problem:
                    problems.append(problem)
                    if fix and fix not in hints:
                        hints.append(fix)
                else:
                    arrays[key] = array
        if problems:
            listing = "\n  ".join(problems)
            raise ValueError(
                f"load_state_dict: {len(problems)} problem(s), nothing was loaded:\n  {listing}\n"
                f"expected the state dict of a {name} of the same shape (model.state_dict())"
                + "".join(f"; {hint}" for hint in hints))
        for key, array in arrays.items():
            np.copyto(entries[key].data, array, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    def extra_repr(self) -> str:
        """The layer's settings shown inside its repr's parentheses, e.g. "1, 8, kernel_size=10"."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._child_items()]     # a shared one under each name
        if len(lines) == 1 and not children:
            return f"{type(self).__name__}({lines[0]})"
        if not lines and not children:
            return f"{type(self).__name__}()"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"


# What load_state_dict suggests for an entry whose shape does not fit its parameter or buffer.
_SHAPE_FIX = ("a shape mismatch cannot be loaded (not even with strict=False): build the model "
              "with the settings it was saved with (same layer sizes and channels)")


def _checked_array(name: str, entry, target: Value | Buffer
                   ) -> tuple[np.ndarray | None, str | None, str | None]:
    """The state dict's entry for `name` as an array, or why it cannot load into `target` (a
    parameter or buffer): (None, the problem, the fix for problems of its kind, or None when
    the problem's sentence gives its own fix)."""
    if not isinstance(entry, (Value, Buffer, np.ndarray)) and \
            getattr(entry, "requires_grad", False) is True:    # a torch tensor numpy cannot read
        return None, (f"{name}: a {type(entry).__name__} that requires grad, which numpy cannot "
                      f"read; expected an array or a tensor without grad; pass "
                      f"torch_model.state_dict() (its tensors hold no grad, unlike those of "
                      f"named_parameters()) or tensor.detach()"), None
    try:
        array = np.asarray(entry.data if isinstance(entry, (Value, Buffer)) else entry)
    except (TypeError, ValueError) as error:
        return None, (f"{name}: not an array ({type(entry).__name__}: {error}); expected a "
                      f"numpy array or a tensor"), None
    if array.dtype.kind not in "biufc":
        return None, (f"{name}: dtype {array.dtype} in the state dict is not numeric; expected "
                      f"numbers for the model's {target.dtype}"), None
    if array.shape != target.shape:
        return None, (f"{name}: shape {array.shape} in the state dict but {target.shape} in "
                      f"the model"), _SHAPE_FIX
    if array.dtype.kind == "c" and target.dtype.kind != "c":
        return None, (f"{name}: dtype {array.dtype} in the state dict cannot be cast to the "
                      f"model's {target.dtype} without losing the imaginary part; pass "
                      f"np.real(state_dict[{name!r}]) if it is not needed"), None
    if target.dtype.kind in "biu" and not np.can_cast(array.dtype, target.dtype, "safe"):
        return (*_cast_exactly(name, array, target.dtype), None)
    return array, None, None


def _cast_exactly(name: str, array: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray | None,
                                                                          str | None]:
    """`array` cast to `dtype` (integers or bools), as PyTorch's copy_ casts, if every value stays
    as it is (7.0 into int64); else None and a sentence naming the first value that would not."""
    with np.errstate(invalid="ignore"):          # NaN or inf into an int: caught just below
        cast = array.astype(dtype)
        changed = (cast.astype(array.dtype) != array).ravel()
    if not changed.any():
        return cast, None
    first = np.flatnonzero(changed)[0]
    value, becomes = array.ravel()[first].item(), cast.ravel()[first].item()
    return None, (f"{name}: dtype {array.dtype} in the state dict holds {value!r}, which the "
                  f"model's {dtype} cannot hold (a cast gives {becomes!r}; PyTorch's load would "
                  f"cast without a word); expected values of {dtype}; if that change is meant, "
                  f"pass np.asarray(state_dict[{name!r}]).astype(np.{dtype})")


def _check_container(owner: str, name: str, container) -> None:
    """Refuse a list, tuple or dict attribute that holds modules or parameters (leaf Values
    that require grad): nothing inside one is found, so they would silently go untrained and
    unsaved. Other contents (sizes, names, Values computed in forward) are fine."""
    items = list(container.values() if isinstance(container, dict) else container)
    kind = type(container).__name__
    holder = "ModuleDict" if kind == "dict" else "ModuleList"
    if any(isinstance(item, Module) for item in items):
        raise TypeError(
            f"{owner}.{name} is a {kind} of modules, whose parameters would not be found (not "
            f"trained, not saved); expected modules in an nn.{holder}; write self.{name} = "
            f"nn.{holder}({'{...}' if kind == 'dict' else '[...]'})")
    if any(isinstance(item, Value) and item.fn is None and item.requires_grad for item in items):
        raise TypeError(
            f"{owner}.{name} is a {kind} of parameters (Values that require grad), which would "
            f"not be found (not trained, not saved); expected each parameter as an attribute "
            f"of its own, or in an nn.ParameterList or nn.ParameterDict; write self.{name} = "
            f"nn.{'ParameterDict({...})' if kind == 'dict' else 'ParameterList([...])'}")


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules held in order as the children "0", "1",
    ..., edited the way a Python list is. Setting an item keeps its name; every other edit
    (append, extend, insert, del, pop, +=) leaves the modules named "0", "1", ... in order, as
    PyTorch renames them after a deletion."""

    def __len__(self) -> int:
        return len(self._child_items())

    def __iter__(self) -> Iterator[Module]:
        """Every module in order, a module held twice included twice, as PyTorch's:
        Sequential(a, a) runs a twice and has length 2 (children() gives each module once)."""
        return (module for _, module in self._child_items())

    def append(self, module: Module):
        """Add `module` at the end; returns self."""
        owner = type(self).__name__
        _check_module(f"{owner}.append", "the argument", module)
        items = self._child_items()
        if items and items[-1][0] != str(len(items) - 1):   # named by a slice: "1", "2", ...
            self._renumber([m for _, m in items] + [module])
        else:
            setattr(self, str(len(items)), module)
        return self

    def extend(self, modules):
        """Append each module of `modules` (a list, a ModuleList, a Sequential, any iterable of
        modules) in order; all are checked first, so a bad one adds none. Returns self."""
        owner = type(self).__name__
        if not isinstance(modules, Iterable):     # e.g. one Linear: a module that is no container
            raise TypeError(f"{owner}: modules is a {type(modules).__name__}; expected an "
                            f"iterable of modules, e.g. [Linear(4, 4), ReLU()]")
        modules = list(modules)
        for i, module in enumerate(modules):
            _check_module(owner, f"module {i}", module)
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module):
        """Put `module` before position `index`, as list.insert: a negative index counts from
        the end and index len(self) appends; the modules from there on are renamed one number
        higher ("1" becomes "2"). Returns self.

        PyTorch's Sequential.insert gives the same result. Its ModuleList.insert does for
        0 <= index <= len(self) (and returns None), but raises a KeyError for a negative index
        and misnames a module put past the end, where this takes the negative index as
        list.insert does and raises an IndexError past the end.
        """
        owner = type(self).__name__
        modules = list(self)
        length = len(modules)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{owner}.insert: index must be an int, got "
                            f"{type(index).__name__} {index!r}")
        if not -length <= index <= length:
            raise IndexError(f"{owner}.insert: index {index} is out of range for {length} "
                             f"modules; expected -{length} <= index <= {length} (index "
                             f"{length} appends)")
        _check_module(f"{owner}.insert", "the module", module)
        modules.insert(int(index), module)
        self._renumber(modules)
        return self

    def pop(self, index: int | slice):
        """Remove the module at `index` and return it (for a slice, a container of the modules
        removed), as PyTorch's; the modules left are renamed "0", "1", ... in order."""
        removed = self[index]
        del self[index]
        return removed

    def __setitem__(self, index: int, module: Module) -> None:
        """Put `module` in place of the one at `index`, under the same name."""
        owner = type(self).__name__
        items = self._child_items()
        i = _checked_index(owner, index, len(items), slices=False)
        _check_module(owner, f"the module for [{index}]", module)
        setattr(self, items[i][0], module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self)
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_checked_index(type(self).__name__, index, len(modules))]
        self._renumber(modules)

    def __iadd__(self, modules):
        return self.extend(modules)

    def _renumber(self, modules: list[Module]) -> None:
        """Hold exactly `modules`, as the children "0", "1", ... in order."""
        for name, _ in self._child_items():
            delattr(self, name)
        for i, module in enumerate(modules):
            setattr(self, str(i), module)


class Sequential(_ModuleSequence):
    """x -> modules[-1](... modules[1](modules[0](x))); the modules are children "0", "1", ...

    Indexing is by position; a slice is a Sequential of the same modules under their original
    names, as in PyTorch: model[1:] has children "1", "2", ..., so its state dict has the keys
    of that part of model.state_dict(). It is edited as a list is (`self[i] = module`,
    `del self[i]`, `append`, `extend`, `insert`, `pop`, `+`, `+=`, and `*` by a positive int,
    which repeats the same modules, weights shared, as PyTorch's).
    """

    def __init__(self, *modules: Module):
        for i, module in enumerate(modules):
            _check_module("Sequential", f"argument {i}", module)
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        children = self._child_items()
        if isinstance(index, slice):
            part = Sequential()
            for name, module in children[index]:
                setattr(part, name, module)     # the original name, not its place in the slice
            return part
        return children[_checked_index("Sequential", index, len(children))][1]

    def __add__(self, other) -> Sequential:
        return Sequential(*self).extend(other)      # a new Sequential; self is unchanged

    def __mul__(self, times: int) -> Sequential:
        """A new Sequential running these modules `times` times over: the same modules, so the
        repeats share their weights, as PyTorch's."""
        return Sequential(*(list(self) * _checked_times(times)))

    __rmul__ = __mul__

    def __imul__(self, times: int) -> Sequential:
        return self.extend(list(self) * (_checked_times(times) - 1))


def _checked_times(times) -> int:
    """`times` for Sequential * times: a positive int, or a TypeError/ValueError saying why not."""
    if isinstance(times, bool) or not isinstance(times, (int, np.integer)):
        raise TypeError(f"Sequential * times: times is a {type(times).__name__}; expected a "
                        f"positive int, e.g. Sequential(Linear(4, 4), ReLU()) * 3")
    if times <= 0:
        raise ValueError(f"Sequential * times: times is {times}; expected a positive int (the "
                         f"number of times the modules run)")
    return int(times)


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters and buffers the owner finds: children "0", "1", ...

    Holds modules the way a Python list does (indexing and slicing, `len`, iteration,
    `self[i] = module`, `del self[i]` and `del self[i:j]`, `append`, `extend`, `insert`, `pop`,
    `+=`, `+`) but, unlike a plain list attribute, is itself a module, so `parameters()`,
    `state_dict()`, `train()` and drawings see every module in it (named "layers.0.weight",
    ...). As in PyTorch, the names stay "0", "1", ... in order: deleting or inserting a module
    renames the ones after it. It has no forward: the owner's forward calls the modules in its
    own way, e.g. `for layer in self.layers: x = layer(x)`.
    """

    def __init__(self, modules=()):
        self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward; expected its owner to call the "
                                  "modules, e.g. for layer in self.layers: x = layer(x)")

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self)
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_checked_index("ModuleList", index, len(modules))]

    def __add__(self, other) -> ModuleList:
        return ModuleList(list(self)).extend(other)       # a new list; self is unchanged


class ModuleDict(Module):
    """A dict of modules whose parameters and buffers the owner finds: each module is the
    child of its key, so `state_dict()` names it "heads.digits.weight".

    Holds modules the way a dict does (`d[key]`, `d[key] = module`, `del d[key]`, `in`, `len`,
    iteration over the keys, `keys()`, `values()`, `items()`, `update`, `pop`, `clear`), in
    insertion order, and, like ModuleList, has no forward. A key is a str without dots (they
    separate the names of a state dict) that is not the name of a Module attribute or method
    (the modules are held as attributes, so "forward" or "training" would replace one).
    """

    def __init__(self, modules=None):
        if modules is not None:
            self.update(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward; expected its owner to call the "
                                  "modules, e.g. self.heads[name](x)")

    def __setitem__(self, key: str, module: Module) -> None:
        _check_entry(key, module)
        setattr(self, key, module)

    def __getitem__(self, key: str) -> Module:
        if key not in self:
            raise KeyError(f"ModuleDict: no module under {key!r}; the keys are "
                           f"{list(self.keys())}")
        return getattr(self, key)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __contains__(self, key) -> bool:
        return any(key == name for name in self.keys())

    def __len__(self) -> int:
        return len(self._child_items())

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def keys(self) -> Iterator[str]:
        """The keys, in insertion order."""
        return (name for name, _ in self._child_items())

    def values(self) -> Iterator[Module]:
        """The modules, in insertion order (one held under two keys comes twice)."""
        return (module for _, module in self._child_items())

    def items(self) -> Iterator[tuple[str, Module]]:
        """(key, module) pairs, in insertion order."""
        return iter(self._child_items())

    def pop(self, key: str) -> Module:
        """Remove the module under key and return it."""
        module = self[key]                          # a KeyError naming the keys, if missing
        delattr(self, key)
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self.keys()):
            delattr(self, key)

    def update(self, modules) -> ModuleDict:
        """Add (or replace) the modules of `modules`, a dict (or ModuleDict) or an iterable of
        (key, module) pairs; all are checked first, so a bad one adds none. Returns self."""
        pairs = list(modules.items() if hasattr(modules, "items") else modules)
        for key, module in pairs:
            _check_entry(key, module)
        for key, module in pairs:
            setattr(self, key, module)
        return self


def _check_entry(key, module) -> None:
    """Raise unless `key` can name a ModuleDict's child and `module` is a module."""
    if not isinstance(key, str) or not key or "." in key or hasattr(ModuleDict, key):
        raise KeyError(f"ModuleDict: key {key!r}; expected a non-empty str without dots that "
                       f"is not a Module attribute or method (such as 'forward', 'training' or "
                       f"'parameters'), e.g. 'encoder'")
    _check_module("ModuleDict", f"the module for {key!r}", module)


def _check_module(owner: str, what: str, module) -> None:
    """Raise a TypeError unless `module` is an nn.Module."""
    if not isinstance(module, Module):
        example = ("Sequential(Linear(4, 2), ReLU())" if owner.startswith("Sequential") else
                   "ModuleList([Linear(4, 2), ReLU()])")
        raise TypeError(f"{owner}: {what} is a {type(module).__name__}; expected nn.Module "
                        f"instances, e.g. {example}")


def _checked_index(owner: str, index, length: int, slices: bool = True) -> int:
    """`index` as an int in [-length, length), or a TypeError/IndexError saying why not; slices
    says whether the caller also takes a slice (then handled before this)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        kinds = "an int or a slice" if slices else "an int"
        raise TypeError(f"{owner}: index must be {kinds}, got {type(index).__name__} {index!r}")
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} "
                         f"modules; expected -{length} <= index < {length}")
    return int(index)


class ParameterList(Module):
    """A list of parameters whose owner finds them: each is the parameter "0", "1", ..., so
    `state_dict()` names them "params.0", "params.1" and `parameters()` (what an optimizer is
    given) yields them, as PyTorch's ParameterList.

    Holds Values the way a list does (indexing, slicing, `len`, iteration, `append`, `extend`,
    `self[i] = value`); a numpy array (or a number) becomes a parameter, a Value of its dtype.
    A Value that some op computed (not a leaf) is refused: it would be trained as a copy cut off
    from its graph. It has no forward: the owner's forward uses the parameters.
    """

    def __init__(self, values=None):
        if values is not None:
            self.extend(values)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward; expected its owner to use the "
                                  "parameters, e.g. for w in self.weights: x = x @ w")

    def append(self, value) -> ParameterList:
        """Add `value` at the end (parameter str(len(self))); returns self."""
        setattr(self, str(len(self)), _as_parameter("ParameterList.append", "the argument",
                                                    value))
        return self

    def extend(self, values) -> ParameterList:
        """Append each of `values` (a list, a ParameterList, any iterable) in order; all are
        checked first, so a bad one adds none. Returns self."""
        if isinstance(values, (Value, np.ndarray)) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList: values is a {type(values).__name__}; expected an "
                            f"iterable of Values or arrays, e.g. ParameterList([tc.Value("
                            f"np.zeros(3))]); wrap a single one in a list")
        params = [_as_parameter("ParameterList", f"value {i}", value)
                  for i, value in enumerate(values)]
        for param in params:
            setattr(self, str(len(self)), param)
        return self

    def __iadd__(self, values) -> ParameterList:
        return self.extend(values)

    def __len__(self) -> int:
        return sum(1 for _ in self._own())

    def __iter__(self) -> Iterator[Value]:
        return (param for _, param in self._own())

    def __getitem__(self, index: int | slice) -> Value | ParameterList:
        params = [param for _, param in self._own()]
        if isinstance(index, slice):
            return ParameterList(params[index])       # renumbered from "0", as PyTorch's
        return params[_checked_position(index, len(params))]

    def __setitem__(self, index: int, value) -> None:
        i = _checked_position(index, len(self))
        setattr(self, str(i % len(self)), _as_parameter("ParameterList", f"value [{index}]",
                                                        value))

    def _own(self) -> Iterator[tuple[str, Value]]:
        return ((name, v) for name, v in vars(self).items() if isinstance(v, Value))

    def extra_repr(self) -> str:
        return "\n".join(f"  ({name}): {_parameter_text(param)}" for name, param in self._own())


class ParameterDict(Module):
    """A dict of parameters whose owner finds them: each is the parameter of its key, so
    `state_dict()` names it "scales.red" and `parameters()` yields it, as PyTorch's
    ParameterDict.

    Holds Values the way a dict does (`d[key]`, `d[key] = value`, `del d[key]`, `in`, `len`,
    iteration over the keys, `reversed`, `keys()`, `values()`, `items()`, `get`, `pop`,
    `popitem`, `setdefault`, `update`, `clear`, `copy`, `fromkeys`, `|` and `|=`),
    in the order they were added (a key set again keeps its place); a numpy array (or a number)
    becomes a parameter. As PyTorch's, a plain dict given to the constructor or to `update` is
    added in sorted key order, `ParameterDict({"b": w, "a": v})` has the keys "a", "b"; pass an
    OrderedDict, a ParameterDict or a list of (key, value) pairs to keep your own order. Keys
    are as ModuleDict's: a str without dots that is not the name of a Module attribute or
    method. It has no forward.
    """

    def __init__(self, values=None):
        if values is not None:
            self.update(values)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict has no forward; expected its owner to use the "
                                  "parameters, e.g. x * self.scales[name]")

    def __setitem__(self, key: str, value) -> None:
        _check_key("ParameterDict", key)
        setattr(self, key, _as_parameter("ParameterDict", f"the value for {key!r}", value))

    def __getitem__(self, key: str) -> Value:
        if key not in self:
            raise KeyError(f"ParameterDict: no parameter under {key!r}; the keys are "
                           f"{list(self.keys())}")
        return vars(self)[key]

    def __delitem__(self, key: str) -> None:
        self[key]                                   # a KeyError naming the keys, if missing
        delattr(self, key)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and isinstance(vars(self).get(key), Value)

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def keys(self) -> Iterator[str]:
        """The keys, in the order added."""
        return (key for key, _ in self.items())

    def values(self) -> Iterator[Value]:
        """The parameters, in the order added."""
        return (param for _, param in self.items())

    def items(self) -> Iterator[tuple[str, Value]]:
        """(key, parameter) pairs, in the order added."""
        return ((key, v) for key, v in list(vars(self).items()) if isinstance(v, Value))

    def get(self, key: str, default=None):
        """The parameter under key, or default."""
        return self[key] if key in self else default

    def pop(self, key: str) -> Value:
        """Remove the parameter under key and return it."""
        param = self[key]
        delattr(self, key)
        return param

    def clear(self) -> None:
        """Remove every parameter."""
        for key in list(self.keys()):
            delattr(self, key)

    def setdefault(self, key: str, default=None) -> Value:
        """The parameter under key; when there is none, `default` becomes it first."""
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[str, Value]:
        """Remove the (key, parameter) pair added last and return it."""
        if not len(self):
            raise KeyError("ParameterDict.popitem(): the dict is empty")
        key = list(self.keys())[-1]
        return key, self.pop(key)

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same parameters (not copies) in the same order."""
        return ParameterDict(list(self.items()))

    def fromkeys(self, keys, default) -> ParameterDict:
        """A new ParameterDict with a parameter of its own for each key, each starting from a
        copy of `default`'s values (an array, a number or a Value). PyTorch's gives every key a
        parameter over one shared tensor, so that a step on one moves them all, and takes
        default=None for entries without a parameter, which this dict does not hold."""
        source = default.data if isinstance(default, Value) else default
        first = _as_parameter("ParameterDict.fromkeys", "default", source)
        return ParameterDict([(key, Value(first.data.copy())) for key in keys])

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self.keys()))

    def __or__(self, other) -> ParameterDict:
        """A new ParameterDict: these parameters, then other's (which win on a shared key)."""
        return self.copy().update(other)

    def __ror__(self, other) -> dict:
        """dict | self: a plain dict, other's entries and then these parameters, as PyTorch's
        (the dict on the left decides the type, and its values stay what they were)."""
        merged = dict(other)
        merged.update(self.items())
        return merged

    def __ior__(self, other) -> ParameterDict:
        return self.update(other)

    def update(self, values) -> ParameterDict:
        """Add (or replace) the parameters of `values`: a plain dict in sorted key order, as
        PyTorch's; an OrderedDict, a ParameterDict or an iterable of (key, value) pairs in its
        own order. A key already here keeps its place. All are checked first, so a bad one adds
        none. Returns self."""
        pairs = list(values.items() if hasattr(values, "items") else values)
        checked = []
        for key, value in pairs:
            _check_key("ParameterDict", key)
            checked.append((key, _as_parameter("ParameterDict", f"the value for {key!r}",
                                               value)))
        if isinstance(values, Mapping) and not isinstance(values, OrderedDict):
            checked.sort(key=lambda pair: pair[0])      # the keys are checked strs: comparable
        for key, param in checked:
            setattr(self, key, param)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"  ({key}): {_parameter_text(param)}" for key, param in self.items())


def _as_parameter(owner: str, what: str, value) -> Value:
    """value as a parameter: a leaf Value that requires grad as it is, a numpy array or a number
    as a new Value of its dtype; else a TypeError saying what to pass."""
    if isinstance(value, Value):
        if value.fn is not None or not value.requires_grad:
            kind = "computed by an op" if value.fn is not None else "made with requires_grad=False"
            raise TypeError(f"{owner}: {what} is a Value {kind}; expected a parameter (a leaf "
                            f"Value that requires grad) or an array; pass tc.Value(v.data) for "
                            f"a parameter that starts from its values")
        return value
    array = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int, float)) else None
    if array is None or array.dtype.kind not in "biuf" or isinstance(value, bool):
        raise TypeError(f"{owner}: {what} is a {type(value).__name__}; expected a Value or a "
                        f"numeric numpy array, e.g. tc.Value(np.zeros(3, dtype=np.float32))")
    return Value(array)


def _checked_position(index, length: int) -> int:
    """A ParameterList index as an int in [-length, length), or a TypeError/IndexError."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"ParameterList: index must be an int or a slice, got "
                        f"{type(index).__name__} {index!r}")
    if not -length <= index < length:
        raise IndexError(f"ParameterList: index {index} is out of range for {length} "
                         f"parameters; expected -{length} <= index < {length}")
    return int(index)


def _parameter_text(param: Value) -> str:
    """A parameter in a ParameterList's or ParameterDict's repr, as PyTorch's with numpy's dtype
    name: "Parameter containing: [float32 of size 3x4]"."""
    size = "x".join(str(n) for n in param.shape)
    return f"Parameter containing: [{param.dtype} of size {size}]"


def _check_key(owner: str, key) -> None:
    """Raise unless `key` can name a parameter of a ParameterDict."""
    if not isinstance(key, str) or not key or "." in key or hasattr(ParameterDict, key):
        raise KeyError(f"{owner}: key {key!r}; expected a non-empty str without dots that is "
                       f"not a Module attribute or method (such as 'forward', 'training' or "
                       f"'parameters'), e.g. 'scale'")
