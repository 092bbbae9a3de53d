"""`Module`, the base class of layers and models, and `Sequential`, a chain of modules.

A module is a plain class: its parameters are `Value` attributes, its submodules are `Module`
attributes, both found by walking the attributes in the order they were set."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np

from tinygrad_cnn.function import module_scope
from tinygrad_cnn.value import Value

# The modules being called, innermost last, each with its dotted name; mirrors the name stack
# of function.module_scope, which holds only the names.
_call_stack: list[tuple[Module, str]] = []


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` did not match: the model's keys missing from the state dict and
    the state dict's keys the model does not have."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: y = forward(x), with parameters held as attributes.

    Subclasses set `Value` attributes (the parameters, float32, requiring grad) and `Module`
    attributes (the submodules) in `__init__`, and define `forward`. Calling
    `super().__init__()` is optional. Every Value attribute is a parameter (trained, saved in
    the state dict); keep constants as numpy arrays. Modules kept in lists or dicts are not
    found; hold a chain of them in a `Sequential`.

    Calling a module runs `forward` and stamps every Value it makes with the module's dotted
    name (`value.module`), the path of attribute names from the outermost module called:
    "conv1", "features.0". The outermost module itself is "" (the empty path).
    """

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, x)")

    def __call__(self, *args, **kwargs):
        """forward(*args, **kwargs), with the Values it makes stamped with this module's name."""
        name = self._dotted_name()
        _call_stack.append((self, name))
        try:
            with module_scope(name):
                return self.forward(*args, **kwargs)
        finally:
            _call_stack.pop()

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

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(attribute name, submodule) for each direct submodule, in the order they were set."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """Each direct submodule, in the order they were set."""
        for _, module in self.named_children():
            yield module

    def named_modules(self) -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module ("") and every module below it, each once."""
        seen: set[int] = set()
        stack = [("", self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            below = [(f"{path}.{name}" if path else name, child)
                     for name, child in module.named_children()]
            stack.extend(reversed(below))     # popped in attribute order

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(dotted name, parameter) for every parameter, e.g. "conv1.weight", "0.bias"; a
        parameter shared by several modules is given once, under its first name."""
        seen: set[int] = set()
        for path, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Value) and id(value) not in seen:
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

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (grad = None), so the next backward starts afresh."""
        for param in self.parameters():
            param.grad = None

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """{dotted name: copy of the parameter's data}, in the order of named_parameters()."""
        return OrderedDict((name, param.data.copy()) for name, param in self.named_parameters())

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of `state_dict` into the parameters of the same names.

        Every key is checked first and nothing is loaded if anything is wrong: with strict=True,
        a missing or unexpected key; always, an array whose shape differs from its parameter's
        or whose dtype cannot be cast to it (float64 to float32 can; complex or text cannot).
        With strict=False the keys present in both are loaded and the others reported.
        Returns the missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of arrays such as "
                            f"model.state_dict(), got {type(state_dict).__name__}")
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
        arrays = {}
        for name, param in params.items():
            if name in state_dict:
                array, problem = _checked_array(name, state_dict[name], param)
                if problem:
                    problems.append(problem)
                else:
                    arrays[name] = array
        if problems:
            listing = "\n  ".join(problems)
            raise ValueError(
                f"load_state_dict: {len(problems)} problem(s), nothing was loaded:\n  {listing}\n"
                f"expected the state dict of a {type(self).__name__} of the same shape "
                f"(model.state_dict()); pass strict=False to load only the keys both have")
        for name, array in arrays.items():
            np.copyto(params[name].data, array, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    def extra_repr(self) -> str:
        """The layer's settings shown inside its repr's parentheses, e.g. "1, 8, kernel_size=10"."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self.named_children()]
        if len(lines) == 1 and not children:
            return f"{type(self).__name__}({lines[0]})"
        if not lines and not children:
            return f"{type(self).__name__}()"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"


def _checked_array(name: str, entry, param: Value) -> tuple[np.ndarray | None, str | None]:
    """The state dict's entry for `name` as an array, or a sentence saying why it cannot load."""
    try:
        array = np.asarray(entry.data if isinstance(entry, Value) else entry)
    except (TypeError, ValueError) as error:
        return None, f"{name}: not an array ({type(entry).__name__}: {error})"
    if array.shape != param.shape:
        return None, (f"{name}: shape {array.shape} in the state dict but {param.shape} in "
                      f"the model")
    if not np.can_cast(array.dtype, param.dtype, casting="same_kind"):
        return None, (f"{name}: dtype {array.dtype} in the state dict cannot be cast to the "
                      f"model's {param.dtype}")
    return array, None


class Sequential(Module):
    """x -> modules[-1](... modules[1](modules[0](x))); the modules are children "0", "1", ..."""

    def __init__(self, *modules: Module):
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}; "
                                f"expected nn.Module instances, e.g. Sequential(Linear(4, 2), "
                                f"ReLU())")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self.children())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        if not isinstance(index, int):
            raise TypeError(f"Sequential: index must be an int or a slice, got "
                            f"{type(index).__name__} {index!r}")
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"Sequential: index {index} is out of range for {len(modules)} "
                             f"modules; expected -{len(modules)} <= index < {len(modules)}")
        return modules[index]
