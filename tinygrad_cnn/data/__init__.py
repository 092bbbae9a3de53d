"""Data: IDX files, MNIST (loaded from a folder or fetched into a cache) and a DataLoader.
numpy only; nothing here imports the autograd core."""

from tinygrad_cnn.data.idx import read_idx, write_idx
from tinygrad_cnn.data.loader import DataLoader
from tinygrad_cnn.data.mnist import load_mnist

__all__ = ["read_idx", "write_idx", "load_mnist", "DataLoader"]
