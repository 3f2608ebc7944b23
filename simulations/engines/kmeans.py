r"""Lloyd's k-means on samples, for the point-density study of optimal codebooks.

One implementation serves numpy arrays and torch tensors, float32 and float64. The assignment step
is the exact :func:`vqmatch.theory.assignment.nearest_code` (faiss ``IndexFlatL2`` for float32 CPU data);
the update step accumulates per-cluster sums in float64 with one sparse-matrix product (numpy and
CPU tensors) or ``index_add_`` (other devices): exact up to float64 rounding, and a small fraction
of the assignment's cost. The loop follows scikit-learn's Lloyd: data centred once, tolerance
relative to the data variance, strict convergence on unchanged labels, empty clusters relocated to
the farthest points, and a final assignment so that labels and distortion match the codebook.

References
----------
.. [1] S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982.
.. [2] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse

from vqmatch.theory.assignment import nearest_code
from vqmatch.theory.backend import namespace
from vqmatch.theory.validation import check_points

from ..core.checks import ConvergenceWarning, check_int
from ..core.seeding import SeedLike, as_generator, spawn_seeds

__all__ = ["KMEANSPP_MIN_SAMPLES", "KMEANSPP_SAMPLES_PER_CLUSTER", "ConvergenceWarning",
           "KMeansResult", "kmeans"]

# k-means++ seeds from a random subsample of min(N, max(these two bounds)) points
KMEANSPP_MIN_SAMPLES = 100_000
KMEANSPP_SAMPLES_PER_CLUSTER = 25

_UPDATE_CHUNK_ELEMENTS = 1 << 22  # float64 copy of at most 32 MiB per update chunk
_SMALL_GEMM = 1 << 18  # multiply-adds per k-means++ scoring block (cache-sized, one BLAS thread)


@dataclass(frozen=True)
class KMeansResult:
    r"""Result of :func:`kmeans`.

    Attributes
    ----------
    codebook : array (n_clusters, d)
        Final centres, in the input's library, dtype and device.
    labels : array (n_samples,), int64
        Index of the nearest centre of each sample, ``nearest_code(x, codebook).indices``.
    distortion : float
        Mean squared distance of the samples to their centre,
        :math:`\frac1N \sum_i \|x_i - c_{l_i}\|^2` (accumulated in float64).
    n_iter : int
        Number of Lloyd iterations (assignment + update) run.
    converged : bool
        True if the labels stopped changing or the centre shift fell to the tolerance within
        ``max_iter`` iterations.
    inertia_history : list of float, length n_iter
        ``inertia_history[t]`` is the distortion of the centres produced by iteration ``t + 1``;
        it is non-increasing (up to rounding) and ``inertia_history[-1] == distortion``.
    """

    codebook: Any
    labels: Any
    distortion: float
    n_iter: int
    converged: bool
    inertia_history: list[float] = field(default_factory=list)


def kmeans(
    x,
    n_clusters: int,
    *,
    seed: SeedLike = None,
    n_init: int = 1,
    max_iter: int = 300,
    tol: float = 1e-4,
    init: Literal["k-means++", "random"] | Any = "k-means++",
    chunk_size: int | None = None,
    verbose: bool = False,
) -> KMeansResult:
    r"""Lloyd's algorithm: minimise the mean squared distance to the nearest of K centres.

    .. math::
        D(c_1, \dots, c_K) = \frac1N \sum_{i=1}^N \min_k \|x_i - c_k\|_2^2 .

    Each iteration assigns every sample to its nearest centre (exact search) and moves every
    centre to the mean of its samples; neither step can increase :math:`D`.

    Parameters
    ----------
    x : array (n_samples, d), numpy or torch, float32 or float64
        Samples. Must be finite. The codebook is returned in the same library, dtype and device.
    n_clusters : int
        Number of centres K, ``1 <= K <= n_samples``.
    seed : int, numpy Generator, SeedSequence or None, default None
        Randomness of the initialisation. Run ``r`` of ``n_init`` uses the ``r``-th child of
        ``numpy.random.SeedSequence(seed)`` (of the Generator's seed sequence for a Generator), so
        the first run of ``n_init=3`` is the run of ``n_init=1``.
    n_init : int, default 1
        Number of runs with different initialisations; the one with the lowest distortion is kept.
        Forced to 1 (with a warning) for an explicit ``init`` array.
    max_iter : int, default 300
        Maximum number of Lloyd iterations per run.
    tol : float, default 1e-4
        Relative tolerance: a run stops when the summed squared centre shift of one iteration is
        ``<= tol * mean(var(x, axis=0))``. ``tol=0`` stops only on unchanged labels or centres,
        which rounding may prevent (then ``max_iter`` iterations run).
    init : {"k-means++", "random"} or array (n_clusters, d), default "k-means++"
        ``"k-means++"``: greedy k-means++ seeding (``2 + floor(log K)`` candidates per centre, the
        one that lowers the potential most is kept) on a random subsample of
        ``min(N, max(KMEANSPP_MIN_SAMPLES, KMEANSPP_SAMPLES_PER_CLUSTER * K))`` points, so that
        seeding costs ``O(K * subsample * d)`` rather than ``O(K * N * d)``; the centres are
        subsample points. ``"random"``: K distinct samples. An array: the initial centres, same
        library as ``x``.
    chunk_size : int, optional
        Rows per chunk of the assignment, passed to :func:`~vqmatch.theory.assignment.nearest_code`.
    verbose : bool, default False
        Print the distortion and centre shift of every iteration.

    Returns
    -------
    KMeansResult
        ``codebook`` (K, d), ``labels`` (N,), ``distortion``, ``n_iter``, ``converged``,
        ``inertia_history``.

    Warns
    -----
    ConvergenceWarning
        If the best run did not converge within ``max_iter``, or if it has fewer distinct centres
        than ``n_clusters`` (duplicate samples).

    Notes
    -----
    Cost ``O(N K d)`` per iteration (the assignment). The data are centred once (one copy of
    ``x``) so that the float32 search is accurate far from the origin; the final labels are
    computed against the returned codebook. Empty clusters move to the samples farthest from their
    centres, as in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]])
    >>> res = kmeans(x, 2, init=np.array([[0.0, 0.0], [4.0, 0.0]]))
    >>> res.codebook.tolist(), res.labels.tolist(), res.distortion, res.n_iter
    ([[0.0, 0.5], [4.0, 0.5]], [0, 0, 1, 1], 0.25, 2)
    """
    xp = namespace(x, names=("x",))
    x = check_points(xp, x, "x")
    if str(x.dtype) not in ("float32", "float64", "torch.float32", "torch.float64"):
        raise ValueError(f"x must be float32 or float64, got dtype={x.dtype}")
    n_samples, dim = (int(s) for s in x.shape)
    check_int(n_clusters, "n_clusters")
    if n_samples < n_clusters:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_clusters}")
    check_int(n_init, "n_init")
    check_int(max_iter, "max_iter")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < math.inf:
        raise ValueError(f"tol must be a finite number >= 0, got tol={tol!r}")
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size")
    init_centers = None
    if isinstance(init, str):
        if init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++', 'random' or an array, got init={init!r}")
    else:
        namespace(x, init, names=("x", "init"))
        init_centers = check_points(xp, init, "init")
        if tuple(init_centers.shape) != (n_clusters, dim):
            raise ValueError(
                f"init should have shape (n_clusters, d)=({n_clusters}, {dim}), "
                f"got shape={tuple(int(s) for s in init_centers.shape)}"
            )
        if n_init != 1:
            warnings.warn(f"explicit initial centres given: running once instead of "
                          f"n_init={n_init}", UserWarning, stacklevel=2)
            n_init = 1

    with xp.lib.no_grad() if xp.name == "torch" else contextlib.nullcontext():
        result = _fit(xp, x, n_clusters, seed, n_init, max_iter, tol, init, init_centers,
                      chunk_size, verbose)

    if not result.converged:
        warnings.warn(f"k-means did not converge within max_iter={max_iter} iterations "
                      f"(tol={tol}); increase max_iter or tol", ConvergenceWarning, stacklevel=2)
    n_distinct = len(np.unique(xp.to_numpy(result.codebook), axis=0))
    if n_distinct < n_clusters:
        warnings.warn(f"number of distinct centres ({n_distinct}) is smaller than n_clusters="
                      f"{n_clusters}, possibly due to duplicate points in x",
                      ConvergenceWarning, stacklevel=2)
    return result


def _replicate_rngs(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """One Generator per run, children of the seed's ``SeedSequence``."""
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(n)]
    as_generator(seed)  # validates int / None
    return [np.random.default_rng(s) for s in spawn_seeds(None if seed is None else int(seed), n)]


def _fit(xp, x, n_clusters, seed, n_init, max_iter, tol, init, init_centers, chunk_size,
         verbose) -> KMeansResult:
    if xp.name == "numpy":
        mean = x.mean(axis=0, dtype=np.float64)
        variance = float(np.var(x, axis=0, dtype=np.float64).mean())
    else:
        x = x.detach()
        init_centers = None if init_centers is None else init_centers.detach()
        x64 = x.to(xp.lib.float64)
        mean, variance = xp.to_numpy(x64.mean(dim=0)), float(x64.var(dim=0, correction=0).mean())
        del x64
    tol_abs = tol * variance
    mean = xp.from_numpy(mean, like=x)  # centre with the mean rounded to x's dtype ...
    engine = LloydEngine(xp, x - mean, n_clusters, chunk_size)
    mean = xp.to_numpy(mean).astype(np.float64)  # ... and shift the centres back by the same

    best = None
    for run, rng in enumerate(_replicate_rngs(seed, n_init)):
        if init_centers is not None:
            centers = xp.to_numpy(init_centers).astype(np.float64) - mean
        else:
            centers = engine.initial_centers(init, rng)
        if verbose:
            print(f"k-means run {run + 1}/{n_init}: initialisation {init!r} done")
        centers, n_iter, converged, history = _lloyd(engine, centers, max_iter, tol_abs, verbose)
        codebook = xp.from_numpy(centers + mean, like=x)
        final = nearest_code(x, codebook, chunk_size=chunk_size)
        distortion = _mean64(xp, final.sq_dist)
        history[-1] = distortion
        result = KMeansResult(codebook, final.indices, distortion, n_iter, converged, history)
        if best is None or (
            result.distortion < best.distortion
            and not _same_clustering(xp, result.labels, best.labels, n_clusters)
        ):
            best = result
    return best


def _lloyd(engine: LloydEngine, centers: np.ndarray, max_iter: int, tol: float, verbose: bool):
    """One run from ``centers`` (float64, centred coordinates); assumes validated input."""
    labels_old = None
    history: list[float] = []
    converged = False
    for i in range(max_iter):
        labels, sq_dist, distortion = engine.assign(centers)
        if i > 0:
            history.append(distortion)
        new_centers, n_relocated = engine.update(labels, sq_dist)
        if labels_old is not None and n_relocated == 0 and engine.same(labels, labels_old):
            # same labels -> same means: centres unchanged, labels already match them
            if verbose:
                print(f"  iteration {i + 1}: distortion {distortion:.8g}, labels unchanged")
            centers, converged = new_centers, True
            break
        shift = float(((new_centers - centers) ** 2).sum())
        centers, labels_old = new_centers, labels
        if verbose:
            print(f"  iteration {i + 1}: distortion {distortion:.8g}, centre shift {shift:.3g} "
                  f"(tol {tol:.3g}), {n_relocated} empty cluster(s) relocated")
        if shift <= tol:
            converged = True
            break
    history.append(math.nan)  # the caller fills in the final distortion
    return centers, i + 1, converged, history


def _mean64(xp, values) -> float:
    return float(values.mean(dtype=np.float64) if xp.name == "numpy"
                 else values.to(xp.lib.float64).mean())


def _same_clustering(xp, labels_a, labels_b, n_clusters: int) -> bool:
    """True if the two labelings are equal up to a permutation of the cluster indices."""
    a, b = xp.to_numpy(labels_a), xp.to_numpy(labels_b)
    n_pairs = np.unique(a * n_clusters + b).size  # one pair per cluster iff a bijection
    return n_pairs == np.unique(a).size == np.unique(b).size


class LloydEngine:
    """Assignment and update steps on centred data ``xc`` of library ``xp``.

    Centres are passed around as float64 numpy arrays (K, d) on the host; the engine casts them to
    the data's dtype and device for the search. numpy arrays and CPU tensors share the numpy
    update (zero-copy views); tensors on other devices use ``index_add_`` there. Private: assumes
    validated input.
    """

    def __init__(self, xp, xc, n_clusters: int, chunk_size: int | None):
        self.xp, self.xc, self.n_clusters, self.chunk_size = xp, xc, n_clusters, chunk_size
        self.host = xp.name == "numpy" or xc.device.type == "cpu"
        self.x_host = xp.to_numpy(xc) if self.host else None
        n, d = (int(s) for s in xc.shape)
        self.rows = max(1, min(n, _UPDATE_CHUNK_ELEMENTS // d))

    def assign(self, centers: np.ndarray):
        """Nearest centre of every sample: ``(labels, sq_dist, distortion)``."""
        codebook = self.xp.from_numpy(centers, like=self.xc)
        found = nearest_code(self.xc, codebook, chunk_size=self.chunk_size)
        return found.indices, found.sq_dist, _mean64(self.xp, found.sq_dist)

    def same(self, labels_a, labels_b) -> bool:
        equal = np.array_equal if self.xp.name == "numpy" else self.xp.lib.equal
        return bool(equal(labels_a, labels_b))

    def update(self, labels, sq_dist) -> tuple[np.ndarray, int]:
        """Means of the clusters (float64), after relocating empty clusters; and how many."""
        k = self.n_clusters
        if self.host:
            sums, counts = _cluster_sums_numpy(self.x_host, self.xp.to_numpy(labels), k, self.rows)
        else:
            sums, counts = _cluster_sums_torch(self.xc, labels, k, self.rows)
        n_relocated = self._relocate(sums, counts, labels, sq_dist) if (counts == 0).any() else 0
        return sums / counts[:, None], n_relocated

    def _relocate(self, sums, counts, labels, sq_dist) -> int:
        """Move each empty cluster onto one of the samples farthest from its centre (in place).

        A sample leaves its cluster only if that keeps the cluster non-empty (``N >= K``, so the
        ``K`` farthest samples always hold enough)."""
        k = self.n_clusters
        empty = np.flatnonzero(counts == 0)
        dist = self.xp.to_numpy(sq_dist)
        far = np.argpartition(dist, -k)[-k:]
        far = far[np.argsort(-dist[far], kind="stable")]
        taken = []
        for sample, old in zip(far, self.xp.to_numpy(labels)[far], strict=True):
            if len(taken) == len(empty):
                break
            if counts[old] > 1:
                counts[old] -= 1
                taken.append((sample, old))
        points = self._rows(np.array([sample for sample, _ in taken]))
        for (_, old), new, point in zip(taken, empty, points, strict=True):
            sums[old] -= point
            sums[new] = point
            counts[new] = 1
        return len(empty)

    def initial_centers(self, init: str, rng: np.random.Generator) -> np.ndarray:
        """Initial centres (float64 numpy, centred coordinates) for ``init`` in {k-means++, random}."""
        n, k = int(self.xc.shape[0]), self.n_clusters
        if init == "random":
            return self._rows(rng.choice(n, size=k, replace=False))
        m = min(n, max(KMEANSPP_MIN_SAMPLES, KMEANSPP_SAMPLES_PER_CLUSTER * k))
        subset = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        return self._rows(subset[_kmeans_plusplus(self._rows(subset), k, rng)])

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        """Samples ``rows`` as a float64 numpy array."""
        if self.host:
            return self.x_host[rows].astype(np.float64)
        index = self.xp.lib.from_numpy(rows).to(self.xc.device)
        return self.xp.to_numpy(self.xc[index]).astype(np.float64)


def _cluster_sums_numpy(x: np.ndarray, labels: np.ndarray, n_clusters: int,
                        rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster float64 sums (K, d) and counts (K,): per chunk of rows, the product of the
    (K, m) one-hot matrix (a one in row ``labels[i]`` of column ``i``) with ``x`` in float64."""
    n, d = x.shape
    sums = np.zeros((n_clusters, d))
    ones = np.ones(min(n, rows))
    indptr = np.arange(min(n, rows) + 1, dtype=np.int64)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        m = stop - start
        onehot = scipy.sparse.csc_array((ones[:m], labels[start:stop], indptr[: m + 1]),
                                        shape=(n_clusters, m))
        sums += onehot @ x[start:stop]
    return sums, np.bincount(labels, minlength=n_clusters)


def _cluster_sums_torch(x, labels, n_clusters: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster float64 sums (K, d) and counts (K,) with ``index_add_`` on ``x``'s device."""
    import torch

    sums = torch.zeros((n_clusters, x.shape[1]), dtype=torch.float64, device=x.device)
    for start in range(0, int(x.shape[0]), rows):
        sums.index_add_(0, labels[start : start + rows], x[start : start + rows].to(torch.float64))
    counts = torch.bincount(labels, minlength=n_clusters)
    return sums.cpu().numpy(), counts.cpu().numpy()


def _kmeans_plusplus(sample: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    r"""Greedy k-means++ seeding on ``sample`` (M, d): indices (n_clusters,) of the seeds.

    Each new seed is the best of ``2 + floor(log K)`` candidates drawn with probability
    proportional to :math:`D(x)^2`, the squared distance to the nearest seed so far; "best" means
    the lowest potential :math:`\sum_x \min(D(x)^2, \|x - c\|^2)`.

    Exact speed-up: the points are grouped into spatial cells (Voronoi cells of ``min(K, M/64)``
    evenly spaced sample points) and a candidate ``c`` is scored only on the cells it can
    improve: a point of cell ``b`` (centre :math:`m_b`, radius :math:`r_b`) can move to ``c`` only
    if :math:`\|c - m_b\| < r_b + \max_{x \in b} D(x)`. This prunes most cells in low dimension,
    few in high dimension. Candidates are drawn in two levels (cell by potential, then point by
    :math:`D^2`), the same distribution. Arithmetic in float64 for ``d < 4``, where seeds get close
    compared to the data's extent, float32 (half the memory traffic) from ``d = 4`` on.
    """
    m, d = sample.shape
    n_cells = max(1, min(n_clusters, m // 64))
    generators = sample[np.linspace(0, m - 1, n_cells).astype(np.int64)]
    cell = nearest_code(sample.astype(np.float32), generators.astype(np.float32)).indices
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=n_cells)
    starts = np.concatenate([[0], np.cumsum(counts[counts > 0])])
    dtype = np.float64 if d < 4 else np.float32
    return order[_greedy_seeds(sample[order].astype(dtype), starts, n_clusters, rng)]


def _greedy_seeds(x: np.ndarray, starts: np.ndarray, n_clusters: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ on ``x`` (M, d), float32 or float64, whose rows are grouped in cells.

    Cell ``b`` is ``x[starts[b]:starts[b + 1]]`` (non-empty). Returns row indices of the seeds.
    Candidate distances are GEMMs ``[-2c, |c|^2] . [x, 1]^T`` compared with ``D - |x|^2`` (the
    ``|x|^2`` term is the same for every candidate, so it drops out of the argmin), over blocks of
    columns small enough to stay in cache (and below BLAS' threading threshold).
    """
    m, d = x.shape
    dtype = x.dtype
    n_trials = 2 + int(math.log(n_clusters))
    block = max(256, _SMALL_GEMM // (n_trials * (d + 1)))
    sizes = np.diff(starts)
    firsts = starts[:-1]
    centre = (np.add.reduceat(x, firsts, axis=0, dtype=np.float64) / sizes[:, None]).astype(dtype)
    spread = ((x - np.repeat(centre, sizes, axis=0)) ** 2).sum(axis=1)
    radius = np.sqrt(np.maximum.reduceat(spread, firsts))
    centre_norm = np.einsum("ij,ij->i", centre, centre)
    margin = 1e-9 if dtype == np.float64 else 1e-5  # relative rounding of the distance bound
    x_norm = np.einsum("ij,ij->i", x, x)
    x_aug_t = np.empty((d + 1, m), dtype=dtype)
    x_aug_t[:d] = x.T
    x_aug_t[d] = 1.0
    c_aug = np.empty((n_trials, d + 1), dtype=dtype)

    seeds = np.empty(n_clusters, dtype=np.int64)
    seeds[0] = rng.integers(m)
    closest = ((x - x[seeds[0]]) ** 2).sum(axis=1)
    shifted = closest - x_norm
    cell_pot = np.add.reduceat(closest, firsts, dtype=np.float64)
    cell_max = np.maximum.reduceat(closest, firsts)
    for k in range(1, n_clusters):
        candidates = _draw(closest, cell_pot, starts, n_trials, rng)
        c = x[candidates]
        c_norm = np.einsum("ij,ij->i", c, c)
        # cells that some candidate may improve (with a margin for rounding)
        gap = c_norm[:, None] + centre_norm - 2.0 * (c @ centre.T)
        reach = (np.sqrt(cell_max) + radius) ** 2 + margin * (c_norm[:, None] + centre_norm)
        cells = np.flatnonzero((gap < reach).any(axis=0))
        n_hit = int(sizes[cells].sum())
        if 2 * n_hit > m:
            rows, cells, offsets, cols = slice(None), np.arange(len(sizes)), firsts, x_aug_t
        else:  # rows of the hit cells, in cell order, and where each cell starts among them
            offsets = np.concatenate([[0], np.cumsum(sizes[cells])[:-1]])
            rows = np.arange(n_hit) + np.repeat(firsts[cells] - offsets, sizes[cells])
            cols = x_aug_t[:, rows]
        c_aug[:, :d] = -2.0 * c
        c_aug[:, d] = c_norm
        base = shifted[rows]
        potential = np.zeros(n_trials)
        parts = []
        for lo in range(0, cols.shape[1], block):
            scores = c_aug @ cols[:, lo : lo + block]
            np.minimum(scores, base[lo : lo + block], out=scores)
            potential += scores.sum(axis=1)
            parts.append(scores)
        best = int(np.argmin(potential))
        seeds[k] = candidates[best]
        shifted[rows] = row = np.concatenate([p[best] for p in parts])
        new = np.maximum(row + x_norm[rows], 0.0)
        closest[rows] = new
        cell_pot[cells] = np.add.reduceat(new, offsets, dtype=np.float64)
        cell_max[cells] = np.maximum.reduceat(new, offsets)
    return seeds


def _draw(closest, cell_pot, starts, n_trials, rng) -> np.ndarray:
    """``n_trials`` rows drawn with probability proportional to ``closest``: cell, then row."""
    cumulative = np.cumsum(cell_pot)
    total = cumulative[-1]
    if not total > 0:  # every point sits on a seed (duplicates): any point will do
        return rng.integers(len(closest), size=n_trials)
    u = rng.random(n_trials) * total
    cells = np.minimum(np.searchsorted(cumulative, u, side="right"), len(cell_pot) - 1)
    rest = u - (cumulative[cells] - cell_pot[cells])
    out = np.empty(n_trials, dtype=np.int64)
    for t, (b, r) in enumerate(zip(cells, rest, strict=True)):
        lo, hi = starts[b], starts[b + 1]
        j = np.searchsorted(np.cumsum(closest[lo:hi]), r, side="right")
        out[t] = lo + min(int(j), hi - lo - 1)
    return out
