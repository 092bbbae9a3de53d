"""MNIST test images as the networks' float32 input, for comparing runtimes on real digits: the
cached MNIST test set when it is on this machine (the tests never download it), else
digit-like strokes drawn here, so that the tests also run offline."""

import numpy as np

from tinygrad_cnn.data import load_mnist

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081     # the training pixels' mean and std, as the examples


def _cached_test_images():
    try:
        images, _ = load_mnist("test", download=False)
    except FileNotFoundError:
        return None
    return images


_IMAGES = _cached_test_images()
REAL_MNIST = _IMAGES is not None


def mnist_batch(n: int, offset: int = 0) -> np.ndarray:
    """n images (n, 1, 28, 28) float32, normalised as the examples do: (pixels/255 - mean)/std."""
    if REAL_MNIST:
        pixels = _IMAGES[offset:offset + n]
    else:
        rng = np.random.default_rng(offset)
        pixels = np.zeros((n, 28, 28), dtype=np.uint8)
        for image in pixels:                     # two thick strokes per image
            for _ in range(2):
                r, c = rng.integers(4, 20, size=2)
                if rng.random() < 0.5:
                    image[r:r + 3, c:c + 8] = 255
                else:
                    image[r:r + 8, c:c + 3] = 255
    return ((pixels / 255 - MNIST_MEAN) / MNIST_STD).astype(np.float32)[:, None]
