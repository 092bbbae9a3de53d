"""DataLoader: shuffled mini-batches of uint8 images, normalised per batch to float32."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinygrad_cnn.random import default_generator

MNIST_MEAN = 0.1307   # mean and std of MNIST's training pixels, scaled to [0, 1]
MNIST_STD = 0.3081


class DataLoader:
    """Batches of (x, y): uint8 images (N, H, W) -> x float32 (B, 1, H, W), y int64 (B,).

    x = (pixels / 255 - mean) / std, computed batch by batch (the dataset stays uint8).
    With `shuffle`, each epoch (each ``iter()``) draws a fresh permutation from `rng`, or,
    when `rng` is None, from ``tinygrad_cnn.random.default_generator()`` at that moment,
    so ``tc.manual_seed`` before an epoch fixes its order.

    Parameters
    ----------
    images : np.ndarray
        uint8 (N, H, W), pixels 0..255, e.g. from `load_mnist`.
    labels : np.ndarray
        integer (N,).
    batch_size : int
        B, at least 1; the last batch is smaller unless `drop_last`.
    shuffle : bool
        A new random order every epoch; else the stored order.
    drop_last : bool
        Drop the final batch when it has fewer than `batch_size` samples.
    rng : np.random.Generator, optional
        Source of the permutations; default the library's default generator.
    mean, std : float
        Normalisation; default MNIST's, 0.1307 and 0.3081.

    Examples
    --------
    >>> loader = DataLoader(images, labels, batch_size=64)
    >>> for x, y in loader:       # x float32 (64, 1, 28, 28), y int64 (64,)
    ...     pass
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int,
                 shuffle: bool = True, drop_last: bool = False,
                 rng: np.random.Generator | None = None,
                 mean: float = MNIST_MEAN, std: float = MNIST_STD):
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            got = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
            raise TypeError(
                f"DataLoader: images are {got}; expected a uint8 array (N, H, W) of pixels "
                f"0..255, as load_mnist returns; pass raw pixels, the loader normalises them")
        if images.ndim != 3:
            raise ValueError(f"DataLoader: images have shape {images.shape}; expected (N, H, W); "
                             f"drop the channel axis, the loader adds it")
        if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
            got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
            raise TypeError(f"DataLoader: labels are {got}; expected an integer array (N,) of "
                            f"class ids; convert them with np.asarray(labels, dtype=np.int64)")
        if labels.ndim != 1:
            raise ValueError(f"DataLoader: labels have shape {labels.shape}; expected (N,) class "
                             f"ids; pass class ids, not one-hot rows")
        if len(images) != len(labels):
            raise ValueError(f"DataLoader: {len(images)} images but {len(labels)} labels; "
                             f"expected one label per image; pass matching arrays")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size is {batch_size!r}; expected an int >= 1")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size is {batch_size}; expected an int >= 1; "
                             f"pass e.g. batch_size=64")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"DataLoader: rng is {type(rng).__name__}; expected a "
                            f"np.random.Generator or None; pass np.random.default_rng(seed)")
        if not std > 0:
            raise ValueError(f"DataLoader: std is {std}; expected a positive number")
        self.images, self.labels = images, labels.astype(np.int64)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.rng, self.mean, self.std = rng, mean, std
        # a uint8 pixel has 256 values: normalise them once, then a batch is one table look-up
        self.table = ((np.arange(256) / 255 - mean) / std).astype(np.float32)

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n, b = len(self.labels), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch: x float32 (B, 1, H, W), y int64 (B,) per batch."""
        n = len(self.labels)
        if self.shuffle:
            rng = self.rng if self.rng is not None else default_generator()
            order = rng.permutation(n)   # drawn now, so a seed set before iter() decides it
        else:
            order = np.arange(n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.table[self.images[index]]   # uint8 (B, H, W) -> float32 (B, H, W)
            yield x[:, None], self.labels[index]   # (B, H, W) -> (B, 1, H, W)
