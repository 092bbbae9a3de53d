"""DataLoader: mini-batches of any arrays of equal length, in a seeded random order."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinygrad_cnn.random import default_generator


class DataLoader:
    """Batches (a[idx], b[idx], ...) of arrays a, b, ... of equal length N along axis 0.

    Any number of numpy arrays of any dtype and shape (N, ...), e.g. float32 images and int64
    labels; each batch is a tuple of arrays indexed by the same B sample indices, in the
    arrays' own dtypes (nothing is converted: normalise images before, or per batch after).
    With `shuffle`, each epoch (each ``iter()``) draws a fresh permutation of range(N) from
    `rng`, or, when `rng` is None, from ``tinygrad_cnn.random.default_generator()`` at that
    moment, so ``tc.manual_seed`` before an epoch fixes its order.

    Parameters
    ----------
    *arrays : np.ndarray
        One or more arrays with the same length N (their first dimension).
    batch_size : int
        B, at least 1; the last batch is smaller unless `drop_last`.
    shuffle : bool
        A new random order every epoch; else the stored order.
    drop_last : bool
        Drop the final batch when it has fewer than `batch_size` samples.
    rng : np.random.Generator, optional
        Source of the permutations; default the library's default generator.

    Examples
    --------
    >>> loader = DataLoader(images, labels, batch_size=64)
    >>> for x, y in loader:       # x images[idx], y labels[idx] for 64 random indices idx
    ...     pass
    """

    def __init__(self, *arrays: np.ndarray, batch_size: int = 64, shuffle: bool = True,
                 drop_last: bool = False, rng: np.random.Generator | None = None):
        if not arrays:
            raise TypeError("DataLoader: no arrays given; expected one or more arrays of equal "
                            "length, e.g. DataLoader(images, labels, batch_size=64)")
        for i, array in enumerate(arrays):
            if not isinstance(array, np.ndarray) or array.ndim == 0:
                got = ("a 0-d array" if isinstance(array, np.ndarray)
                       else f"a {type(array).__name__}")
                fix = ("batch_size, shuffle and drop_last are keywords: DataLoader(x, y, "
                       "batch_size=64)" if isinstance(array, (int, bool, np.integer))
                       else "convert it with np.asarray(...)")
                raise TypeError(f"DataLoader: array {i} is {got}; expected numpy arrays with a "
                                f"first (sample) dimension; {fix}")
        lengths = [len(array) for array in arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(array.shape) for array in arrays)
            raise ValueError(f"DataLoader: the arrays have different lengths {lengths} (shapes "
                             f"{shapes}); expected one length N, one entry per sample in each "
                             f"array; pass arrays of matching length, e.g. images[:n] and "
                             f"labels[:n]")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size is {batch_size!r}; expected an int >= 1")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size is {batch_size}; expected an int >= 1; "
                             f"pass e.g. batch_size=64")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"DataLoader: rng is {type(rng).__name__}; expected a "
                            f"np.random.Generator or None; pass np.random.default_rng(seed)")
        self.arrays = arrays
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.rng = rng

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n, b = len(self.arrays[0]), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        """One epoch: a tuple (a[idx], b[idx], ...) per batch of sample indices idx."""
        n = len(self.arrays[0])
        if self.shuffle:
            rng = self.rng if self.rng is not None else default_generator()
            order = rng.permutation(n)   # drawn now, so a seed set before iter() decides it
        else:
            order = np.arange(n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            yield tuple(array[index] for array in self.arrays)
