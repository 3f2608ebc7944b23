"""Explicit randomness: every stochastic function takes ``seed: int | Generator | None``."""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Normalise ``seed`` once into a :class:`numpy.random.Generator`.

    A Generator is passed through unchanged (so callers can share a stream), an int or
    SeedSequence seeds a fresh PCG64, and ``None`` draws fresh OS entropy.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got seed={seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int, numpy Generator, SeedSequence or None, got {seed!r}")


def spawn_seeds(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.SeedSequence]:
    """Independent child seeds for ``n`` replicates: ``SeedSequence(seed).spawn(n)``.

    A SeedSequence is spawned from directly, so nested studies (cells, then replicates) stay
    independent and reproducible.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got n={n}")
    parent = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return parent.spawn(n)


def spawn_generators(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.Generator]:
    """One independent Generator per replicate."""
    return [np.random.default_rng(s) for s in spawn_seeds(seed, n)]
