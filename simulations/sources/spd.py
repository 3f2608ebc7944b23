"""Random symmetric positive definite matrices and Gaussian pairs with non-commuting covariances
(shared by the Lemma 3 and W2-estimator studies)."""

from __future__ import annotations

import math

import numpy as np


def haar_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def random_spd(rng: np.random.Generator, d: int, cond: float = 100.0) -> np.ndarray:
    """A random SPD matrix: Haar rotation, eigenvalues log-uniform with the given condition."""
    q = haar_rotation(rng, d)
    eig = np.exp(rng.uniform(0.0, math.log(cond), size=d)) / math.sqrt(cond)
    return (q * eig) @ q.T


def random_pair(rng: np.random.Generator, d: int, cond: float = 100.0):
    """Means and covariances of two Gaussians whose covariances do not commute (a.s.)."""
    return (rng.standard_normal(d), random_spd(rng, d, cond),
            rng.standard_normal(d), random_spd(rng, d, cond))
