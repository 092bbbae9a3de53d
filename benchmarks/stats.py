"""Robust statistics for noisy timings: medians, quartiles and the ratios of paired runs.

A shared 2-core machine changes speed by up to +-50% from one minute to the next, so one
framework's run is compared only with the other framework's run right beside it (a pair), and
what is reported is the median of those pairwise ratios with its interquartile range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) by linear interpolation between order statistics (numpy's
    default method): the median of [1, 2, 3, 4] is 2.5, its quartiles 1.75 and 3.25."""
    if not values:
        raise ValueError("quantile: no values; expected at least one number")
    if not 0 <= q <= 1:
        raise ValueError(f"quantile: q is {q}; expected a number in [0, 1]")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The middle value, or the mean of the two middle values."""
    return quantile(values, 0.5)


def summarize(values: Sequence[float]) -> dict:
    """median, quartiles q1 and q3, iqr = q3 - q1, min, max and n of `values`."""
    q1, q3 = quantile(values, 0.25), quantile(values, 0.75)
    return {"median": median(values), "q1": q1, "q3": q3, "iqr": q3 - q1,
            "min": min(values), "max": max(values), "n": len(values)}


def pair_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """a[i] / b[i] for each pair i: the times of A and B measured side by side."""
    if len(a) != len(b):
        raise ValueError(f"pair_ratios: {len(a)} times for A but {len(b)} for B; expected one "
                         f"of each per pair")
    if any(t <= 0 for t in b):
        raise ValueError(f"pair_ratios: B has a non-positive time in {list(b)}; expected "
                         f"positive times")
    return [x / y for x, y in zip(a, b, strict=True)]


def pair_order(pairs: int) -> list[tuple[int, bool]]:
    """For each pair i, (i, a_first): A runs first in even pairs and second in odd ones (A B,
    B A, A B, ...), so a slow drift of the machine's speed does not favour either side."""
    return [(i, i % 2 == 0) for i in range(pairs)]
