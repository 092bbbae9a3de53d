"""The layouts that the convolution and pooling ops and layers take, and the checks of their
settings: one image or signal, batched or not, run as an image batch (on_image_batch); kernel
sizes, strides, paddings and dilations checked (check_sizes) and read (as_sizes); the shape hints
of their error messages."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value, data_of

# The names of the spatial axes in messages, of an input and of a kernel, for 1-D, 2-D and 3-D
# ops.
AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
KERNEL_AXES = {1: ("K",), 2: ("KH", "KW"), 3: ("KD", "KH", "KW")}


def on_image_batch(x, spatial: int, run: Callable[[Value], Value]) -> Value:
    """run(images) for `run`, a 2-D op on an image batch (N, C, H, W), applied to x in any layout
    that the 1-D (spatial = 1) and 2-D (spatial = 2) ops accept, as PyTorch's: a batch of images
    (N, C, H, W) goes in as it is, one unbatched image (C, H, W) as a batch of one
    (1, C, H, W), a batch of signals (N, C, L) as 1 x L images (N, C, 1, L), one signal (C, L)
    as (1, C, 1, L). The result (N, C', OH, OW) comes back in x's layout: (C', OH, OW),
    (N, C', OW) or (C', OW). Reshapes only, so the gradients are run's, through Reshape's rule.
    For the 3-D ops (spatial = 3) `run` takes a batch of volumes (N, C, D, H, W), and one
    unbatched volume (C, D, H, W) goes in as a batch of one.
    """
    shape = np.shape(data_of(x))
    batched = len(shape) == spatial + 2
    if batched and spatial >= 2:
        return run(x)
    lead = shape[:2] if batched else (1, shape[0])          # (N, C), or a batch of one
    row = (1,) if spatial == 1 else ()                      # a signal is one row of an image
    out = run(reshape(x, (*lead, *row, *shape[-spatial:])))   # -> (N, C, H, W)
    kept = out.shape[:2] if batched else out.shape[1:2]     # (N, C'), or (C',) without the batch
    return reshape(out, (*kept, *out.shape[-spatial:]))     # (N, C', OH, OW) -> x's layout


def check_sizes(fn: str, name: str, value, minimum: int, spatial: int = 2,
                words: tuple[str, ...] = ()) -> tuple[int, ...]:
    """value, an int or one int per spatial axis ((h, w) for the 2-D ops and layers, (l,) for
    the 1-D ones), as a tuple of `spatial` ints, each at least `minimum`. `fn`, an op or a layer,
    names the caller in the error; `words` are the strings the caller takes as well (and has
    handled before calling), e.g. ("same", "valid") for a convolution's padding, which the
    error names among the values expected."""
    sizes = (value,) * spatial if _is_int(value) else value
    if isinstance(sizes, (tuple, list)) and all(_is_int(v) for v in sizes):
        if len(sizes) == spatial and min(sizes) >= minimum:
            return tuple(int(v) for v in sizes)
        error, got = ValueError, repr(value)
    else:
        error, got = TypeError, f"{type(value).__name__} {value!r}"
    raise error(f"{fn}: {name} is {got}; expected {sizes_expected(spatial, minimum, words)}; "
                f"pass e.g. {name}={size_example(value, minimum, spatial)!r}")


def sizes_expected(spatial: int, minimum: int, words: tuple[str, ...] = ()) -> str:
    """What a size setting may be, for messages: "an int >= 1 or an (h, w) pair of such ints"
    (2-D), "an int >= 0 (or a tuple of one), 'same' or 'valid'" (1-D, with two words)."""
    number = f"an int >= {minimum}"
    kinds = ([f"{number} (or a tuple of one)"] if spatial == 1 else
             [number, "an (h, w) pair of such ints" if spatial == 2 else
              "a (d, h, w) triple of such ints"])
    kinds += [repr(word) for word in words]
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"


def size_example(value, minimum: int, spatial: int):
    """A size setting that check_sizes accepts, made from a rejected one for its message: each
    entry's whole part (minimum where that is smaller, or where the entry is no number), as many
    entries as there are spatial axes, shown as an int when they are equal."""
    entries = list(value) if isinstance(value, (tuple, list)) else [value]
    sizes = [max(minimum, int(entry)) if _is_real(entry) and math.isfinite(entry) else minimum
             for entry in entries[:spatial]] or [minimum]
    sizes += sizes[-1:] * (spatial - len(sizes))            # too few: the last one repeated
    return sizes[0] if len(set(sizes)) == 1 else tuple(sizes)


def as_sizes(value, spatial: int = 2) -> tuple[int, ...]:
    """A size setting already checked (check_sizes) as a tuple of `spatial` ints: 3 -> (3, 3)."""
    return (int(value),) * spatial if _is_int(value) else tuple(int(v) for v in value)


def _is_int(value) -> bool:
    """An int or a numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    """A real number (an int, a float, a numpy one), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_padding_mode(fn: str, padding: str, stride, kernel_size: tuple[int, ...],
                       dilations: tuple[int, ...]) -> None:
    """A convolution's padding string is "same" or "valid", and "same" comes with stride 1, as
    PyTorch's; `fn` (an op or a layer) names the caller; stride, kernel_size and dilations (one
    int per spatial axis) are already checked. The fix for a strided "same" is the int padding
    dilation*(K - 1) // 2, half the zeros that "same" adds, with the output size it gives."""
    spatial = len(kernel_size)
    if padding not in ("same", "valid"):
        raise ValueError(f"{fn}: padding is {padding!r}; expected "
                         f"{sizes_expected(spatial, 0, ('same', 'valid'))}")
    strides = as_sizes(stride, spatial)
    if padding == "valid" or set(strides) == {1}:
        return
    totals = [d * (k - 1) for k, d in zip(kernel_size, dilations, strict=True)]
    pads = tuple(total // 2 for total in totals)
    sizes, odd = [], []
    for axis, step, total in zip(AXES[spatial], strides, totals, strict=True):
        # OL = (L + 2 (t // 2) - t - 1) // S + 1 for the total t: ceil(L / S), or ceil((L - 1) / S)
        # when t is odd
        size = axis if total % 2 == 0 else f"{axis} - 1"
        sizes.append(f"O{axis} = {size}" if step == 1 else
                     f"O{axis} = ceil({size if total % 2 == 0 else f'({size})'} / {step})")
        if total % 2:
            odd.append(f"{total} along {axis}" if spatial >= 2 else str(total))
    note = ""
    if odd:
        note = (f": the total dilation*(K - 1) = {' and '.join(odd)} "
                f"{'is' if len(odd) == 1 else 'are'} odd: 'same' would add one zero more at the "
                f"end than at the start, and a number padding adds as many at both")
    shown = pads[0] if len(set(pads)) == 1 else pads
    kind = "an int" if isinstance(shown, int) else "a pair"
    raise ValueError(f"{fn}: padding='same' needs stride 1, got stride={stride!r}; expected "
                     f"stride=1 (as PyTorch: with a larger stride no padding keeps the size); for "
                     f"a strided convolution pass {kind}, "
                     f"e.g. padding={shown} (dilation*(K - 1) // 2), which gives "
                     f"{' and '.join(sizes)}{note}")


def layout(spatial: int, *lead: str, kernel: bool = False) -> str:
    """A shape's axes for messages: layout(2, "N", "C") is "(N, C, H, W)",
    layout(1, "C_out", "C_in", kernel=True) is "(C_out, C_in, K)"."""
    return f"({', '.join((*lead, *(KERNEL_AXES if kernel else AXES)[spatial]))})"


def ranks_expected(spatial: int, channels: str = "C") -> str:
    """The inputs a 1-D or 2-D op takes, as PyTorch's: a batch or one unbatched example, e.g.
    "a 4-D input (N, C, H, W) or a 3-D one (C, H, W)"."""
    return (f"a {spatial + 2}-D input {layout(spatial, 'N', channels)} or a {spatial + 1}-D one "
            f"{layout(spatial, channels)}")


def output_size_entries(fn: str, output_size, low: tuple[int, ...], high: tuple[int, ...],
                        leading: tuple[str, ...], example: tuple[int, ...],
                        rule: str) -> tuple[int, ...]:
    """output_size as one int per spatial axis, each within [low, high], as PyTorch's
    output_size arguments take it: a tuple (or list) of those ints, or of the `leading` sizes
    (e.g. ("N", "C")) and then those, the leading ones not read. The errors name fn, say which
    sizes `rule` allows and suggest `example`, which fits."""
    spatial, lead = len(low), len(leading)
    forms = (f"a tuple of {spatial} ints (or {spatial + lead}, with {', '.join(leading)} first), "
             f"as PyTorch's")
    fix = f"pass e.g. output_size={tuple(example)!r}"
    entries = list(output_size) if isinstance(output_size, (tuple, list)) else None
    if entries is None or not all(_is_int(e) for e in entries):
        raise TypeError(f"{fn}: output_size is {type(output_size).__name__} "
                        f"{output_size!r:.60}; expected {forms}; {fix}")
    if len(entries) == spatial + lead:
        entries = entries[lead:]
    if len(entries) != spatial:
        raise ValueError(f"{fn}: output_size {output_size!r} has {len(output_size)} entries; "
                         f"expected {forms}; {fix}")
    if not all(lo <= e <= hi for e, lo, hi in zip(entries, low, high, strict=True)):
        ranges = " and ".join(f"[{lo}, {hi}]" for lo, hi in zip(low, high, strict=True))
        raise ValueError(f"{fn}: output_size {output_size!r} asks for {sizes_text(entries)}, "
                         f"but {rule}; expected sizes in {ranges}; {fix}")
    return tuple(int(e) for e in entries)


def sizes_text(sizes) -> str:
    """Sizes as a message shows them: "3x2" for a kernel of 3 rows and 2 columns, "5" for 5."""
    return "x".join(map(str, sizes))


def as_given(values: tuple[int, ...]):
    """A setting as a user passes it: (1, 0) for a 2-D op, 1 for a 1-D op's (1,)."""
    return values[0] if len(values) == 1 else tuple(values)


def channels_hint(shape: tuple[int, ...], channels: int, spatial: int) -> str:
    """How to move the channels of an input whose axes are in another order to where the
    convolution reads them, as '; <what it looks like> use x....', or ''."""
    if spatial == 3:
        if len(shape) == 5 and shape[4] == channels:
            return "; for channels-last volumes (N, D, H, W, C) use x.transpose(0, 4, 1, 2, 3)"
        if len(shape) == 4 and shape[3] == channels:
            return "; for one channels-last volume (D, H, W, C) use x.transpose(3, 0, 1, 2)"
        return ""
    if spatial == 2:
        if len(shape) == 3:                         # one image: (H, W, C), or (N, H, W)
            return image_batch_hint(shape, channels)
        if shape[3] == channels:
            return "; for channels-last images (N, H, W, C) use x.transpose(0, 3, 1, 2)"
        return ""
    if len(shape) == 3:
        if shape[2] == channels:
            return "; for channels-last signals (N, L, C) use x.transpose(0, 2, 1)"
        return ""
    if shape[1] == channels:                        # one signal (L, C)
        return "; for one channels-last signal (L, C) use x.transpose(1, 0)"
    if channels == 1:                               # a batch (N, L) without its channel axis
        return (f"; the channel axis is missing from the batch (N, L): use "
                f"x.reshape({shape[0]}, 1, {shape[1]})")
    return ""


def signal_batch_hint(shape: tuple[int, ...], channels: int = 1) -> str:
    """The reshape that turns one signal without its channel axis into (C, L), as
    '; for one signal ... use x.reshape(...)', or '' when there is no such reshape."""
    if len(shape) == 1 and channels == 1:
        return f"; for one signal of length {shape[0]} use x.reshape(1, {shape[0]})"
    return ""


def image_batch_hint(shape: tuple[int, ...], channels: int = 1) -> str:
    """The reshape that turns a batch of images with a missing axis into (N, C, H, W), as
    '; <what it looks like>: use x.reshape(...)', or '' when there is no such reshape."""
    if len(shape) == 2:
        n, k = shape
        side = math.isqrt(k // channels)
        if n != k and side * side * channels == k:
            return (f"; it looks like {n} flattened {side}x{side} images: use "
                    f"x.reshape({n}, {channels}, {side}, {side})")
        if channels == 1:
            return f"; for one {n}x{k} image use x.reshape(1, 1, {n}, {k})"
    if len(shape) == 3:
        if channels > 1 and shape[0] == channels:
            return f"; for one image (C, H, W) use x.reshape(1, {', '.join(map(str, shape))})"
        if channels > 1 and shape[2] == channels:
            return (f"; for one channels-last image (H, W, C) use "
                    f"x.transpose(2, 0, 1).reshape(1, {channels}, {shape[0]}, {shape[1]})")
        if channels == 1:
            return (f"; the channel axis is missing from the batch (N, H, W): use "
                    f"x.reshape({shape[0]}, 1, {shape[1]}, {shape[2]})")
    return ""


def volume_batch_hint(shape: tuple[int, ...], channels: int = 1) -> str:
    """The reshape that turns one volume without its channel axis into (C, D, H, W), as
    '; for one volume ... use x.reshape(...)', or '' when there is no such reshape."""
    if len(shape) == 3 and channels == 1:
        return f"; for one volume (D, H, W) use x.reshape(1, {', '.join(map(str, shape))})"
    return ""


def batch_hint(spatial: int, shape: tuple[int, ...], channels: int = 1) -> str:
    """signal_batch_hint, image_batch_hint or volume_batch_hint, for a 1-D, 2-D or 3-D op."""
    hints = {1: signal_batch_hint, 2: image_batch_hint, 3: volume_batch_hint}
    return hints[spatial](shape, channels)
