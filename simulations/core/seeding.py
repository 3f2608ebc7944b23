"""Explicit randomness: every stochastic function takes ``seed: int | Generator | None``.

The random stream of a study cell is derived in one place, :func:`cell_seed`, from the study seed
and the cell's stream key (a string), so it does not depend on which other cells exist or on the
order they run in. Inside a cell, :func:`child` numbers sub-streams (replicates, the initial
codebook, ...) independently of how many siblings there are.
"""

from __future__ import annotations

import hashlib

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


def as_seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence (passed through when it is one)."""
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def child(seed: int | np.random.SeedSequence | None, *path: int) -> np.random.SeedSequence:
    """Sub-stream number ``path`` of ``seed``: the same on every call, whatever else is drawn.

    For a fresh ``SeedSequence`` s, ``child(s, i)`` equals ``s.spawn(n)[i]`` for every n > i
    (``spawn`` itself is stateful: a parent shared by two callers hands them different children).
    """
    ss = as_seed_sequence(seed)
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *map(int, path)),
                                  pool_size=ss.pool_size)


def child_generator(seed: int | np.random.SeedSequence | None, *path: int) -> np.random.Generator:
    """A Generator on :func:`child` ``(seed, *path)``."""
    return np.random.default_rng(child(seed, *path))


def cell_seed(study_seed: int | None, stream: str) -> np.random.SeedSequence:
    """The random stream of a study cell: (study seed, stream key) -> SeedSequence.

    The key is hashed (SHA-256, four 32-bit words) into the spawn key, so the stream is fixed by the
    key alone. ``study_seed=None`` draws fresh entropy (not reproducible).
    """
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty string, got stream={stream!r}")
    if study_seed is not None and (isinstance(study_seed, bool) or not isinstance(
            study_seed, (int, np.integer)) or study_seed < 0):
        raise ValueError(f"study seed must be a non-negative integer or None, got seed={study_seed!r}")
    digest = hashlib.sha256(stream.encode()).digest()
    words = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(None if study_seed is None else int(study_seed), spawn_key=words)


def spawn_seeds(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.SeedSequence]:
    """Independent child seeds ``child(seed, 0..n-1)`` for ``n`` replicates."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got n={n}")
    ss = as_seed_sequence(seed)
    return [child(ss, i) for i in range(n)]


def spawn_generators(seed: int | np.random.SeedSequence | None, n: int) -> list[np.random.Generator]:
    """One independent Generator per replicate."""
    return [np.random.default_rng(s) for s in spawn_seeds(seed, n)]


def torch_seed(seed: int | np.random.SeedSequence | None) -> int:
    """A 63-bit integer seed for ``torch.manual_seed`` / ``torch.Generator`` derived from ``seed``."""
    return int(as_seed_sequence(seed).generate_state(1, np.uint64)[0] >> np.uint64(1))
