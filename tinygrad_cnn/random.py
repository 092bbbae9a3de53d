"""The default random generator: one seed makes initialisation and shuffling repeatable."""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator used by initialisers and data shuffling; returns it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed is {type(seed).__name__} {seed!r:.40}; expected a "
                        f"non-negative int such as 0")
    if seed < 0:
        raise ValueError(f"manual_seed: seed is {seed}; expected a non-negative int such as 0")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator that `manual_seed` last set (fresh OS entropy before any seed)."""
    return _generator


def generator(rng: np.random.Generator | None = None, caller: str = "rng") -> np.random.Generator:
    """`rng` itself, or the default generator when it is None; anything else is an error naming
    `caller` (an argument given by position may have landed on rng)."""
    if rng is None:
        return _generator
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{caller}: rng is {type(rng).__name__} {rng!r:.40}; expected a "
                        f"np.random.Generator or None, e.g. rng=np.random.default_rng(0); a "
                        f"value meant for another setting may have landed on rng by position: "
                        f"pass that setting by keyword (e.g. groups=2)")
    return rng
