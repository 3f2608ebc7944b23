r"""Nearest-code assignment and the criterion triple (E, U, C) of the paper (Section 2.2).

The assignment is exact (brute force) and chunked so that the ``N x K`` distance matrix never has to
exist in memory at once: peak extra memory is about ``max_chunk_bytes`` whatever ``N`` and ``K``.
On CPU with float32 data it uses faiss' exact ``IndexFlatL2`` (multi-threaded, blocked BLAS), which
is several times faster than a numpy GEMM loop; float64 data and GPU tensors use a chunked GEMM in
their own library and precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .backend import namespace
from .validation import check_points

__all__ = [
    "CriterionTriple",
    "NearestCode",
    "criterion_triple",
    "nearest_code",
    "usage_criteria",
]

DEFAULT_CHUNK_BYTES = 1 << 26  # 64 MiB of distances per chunk


@dataclass(frozen=True)
class NearestCode:
    """Result of :func:`nearest_code`.

    Attributes
    ----------
    indices : array (n_features,), int64
        Index of the nearest code of each feature. Among codes at exactly the same distance, which
        one is returned depends on round-off (the search centres the data); ``sq_dist`` is exact.
    sq_dist : array (n_features,)
        Squared Euclidean distance to that code, recomputed directly as ``||z - e||^2`` (no
        cancellation from the ``||z||^2 - 2 z.e + ||e||^2`` expansion used for the search).
    """

    indices: Any
    sq_dist: Any


def _engine_for(xp, features, engine: str) -> str:
    if engine not in ("auto", "faiss", "blas"):
        raise ValueError(f"engine must be 'auto', 'faiss' or 'blas', got engine={engine!r}")
    cpu32 = str(features.dtype) in ("float32", "torch.float32") and (
        xp.name == "numpy" or features.device.type == "cpu"
    )
    if engine == "blas":
        return "blas"
    if engine == "faiss" and not cpu32:
        raise ValueError(
            f"engine='faiss' needs float32 data on the CPU, got dtype={features.dtype}"
        )
    if cpu32:
        try:
            import faiss  # noqa: F401
        except ImportError:
            if engine == "faiss":
                raise
            return "blas"
        return "faiss"
    return "blas"


FAISS_BLAS_THRESHOLD = 20


def faiss_search(x: np.ndarray, c: np.ndarray, *, inner_product: bool = False) -> np.ndarray:
    """Flat L2 search (or the largest inner product ``x . c``, ``inner_product=True``), with
    faiss' GEMM path for any batch of ``FAISS_BLAS_THRESHOLD`` queries or more. faiss 1.15 switches
    to it only at 128,000 queries; below that its one-query-at-a-time scan took 57 ms instead of
    6 ms for 8192 queries against 2048 codes in d = 8 (measured here), which is every step of a VQ
    training loop. The global switch is restored after the call."""
    import faiss

    index = (faiss.IndexFlatIP if inner_product else faiss.IndexFlatL2)(c.shape[1])
    index.add(np.ascontiguousarray(c, dtype=np.float32))
    old = faiss.cvar.distance_compute_blas_threshold
    faiss.cvar.distance_compute_blas_threshold = min(old, FAISS_BLAS_THRESHOLD)
    try:
        _, idx = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    finally:
        faiss.cvar.distance_compute_blas_threshold = old
    return idx[:, 0].astype(np.int64)


def _search_blas(xp, x, c, chunk_rows: int):
    """Chunked argmin of ``||c||^2 - 2 x.c`` (the ``||x||^2`` term does not change the argmin)."""
    lib = xp.lib
    center = c.mean(0) if xp.name == "numpy" else c.mean(dim=0)
    c0 = c - center
    c_norm = (c0 * c0).sum(-1)
    out = []
    for start in range(0, x.shape[0], chunk_rows):
        xc = x[start : start + chunk_rows] - center
        scores = c_norm - 2.0 * (xc @ xp.mT(c0))
        out.append(scores.argmin(-1) if xp.name == "numpy" else scores.argmin(dim=-1))
    return lib.concatenate(out) if xp.name == "numpy" else lib.cat(out)


def nearest_code(
    features,
    codebook,
    *,
    chunk_size: int | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    engine: Literal["auto", "faiss", "blas"] = "auto",
) -> NearestCode:
    r"""Exact nearest code of every feature, :math:`r_i = \arg\min_k \|z_i - e_k\|_2^2`.

    Parameters
    ----------
    features : array (n_features, d), numpy or torch
    codebook : array (n_codes, d), same library
    chunk_size : int, optional
        Rows of ``features`` per chunk for the BLAS engine. Default: as many as fit in
        ``max_chunk_bytes`` of distances (at least one row), so memory is bounded for any ``K``.
    max_chunk_bytes : int, default 64 MiB
    engine : {"auto", "faiss", "blas"}, default "auto"
        ``auto`` uses faiss for float32 CPU data and the chunked GEMM otherwise.

    Returns
    -------
    NearestCode
        ``indices`` (int64) and ``sq_dist`` in the input's library, dtype and device (no gradient).
    """
    xp = namespace(features, codebook, names=("features", "codebook"))
    features = check_points(xp, features, "features")
    codebook = check_points(xp, codebook, "codebook")
    if features.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"features and codebook must have the same dimension, got features.shape="
            f"{tuple(features.shape)} and codebook.shape={tuple(codebook.shape)}"
        )
    features, codebook = xp.promote(features, codebook)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got chunk_size={chunk_size!r}")
    if max_chunk_bytes < 1:
        raise ValueError(f"max_chunk_bytes must be positive, got max_chunk_bytes={max_chunk_bytes}")
    which = _engine_for(xp, features, engine)

    if xp.name == "torch":
        with xp.lib.no_grad():
            return _nearest(xp, features.detach(), codebook.detach(), which, chunk_size,
                            max_chunk_bytes)
    return _nearest(xp, features, codebook, which, chunk_size, max_chunk_bytes)


def _nearest(xp, features, codebook, which, chunk_size, max_chunk_bytes) -> NearestCode:
    if which == "faiss":
        idx = faiss_search(xp.to_numpy(features), xp.to_numpy(codebook))
        indices = idx if xp.name == "numpy" else xp.lib.from_numpy(idx)
    else:
        itemsize = 8 if "64" in str(features.dtype) else 4
        rows = chunk_size or max(1, max_chunk_bytes // (itemsize * codebook.shape[0]))
        indices = _search_blas(xp, features, codebook, rows)
    diff = features - codebook[indices]
    return NearestCode(indices=indices, sq_dist=(diff * diff).sum(-1))


def usage_criteria(counts) -> tuple[float, float]:
    r"""Codebook utilization U and perplexity C from per-code usage counts (Criteria 2 and 3).

    .. math::
        U = \frac{1}{K}\sum_k 1(n_k > 0), \qquad
        C = \exp\Big(-\sum_k p_k \log p_k\Big), \quad p_k = n_k / \sum_j n_j,

    with :math:`0 \log 0 = 0`. :math:`1 \le C \le K`, with :math:`C = K` iff usage is uniform.

    Parameters
    ----------
    counts : array (n_codes,) of non-negative numbers (numpy or torch), not all zero.

    Returns
    -------
    (utilization, perplexity) : tuple of float
    """
    counts = np.asarray(counts.detach().cpu() if hasattr(counts, "detach") else counts,
                        dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape={counts.shape}")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("counts must be finite and non-negative")
    total = counts.sum()
    if total <= 0:
        raise ValueError("counts must not be all zero")
    p = counts[counts > 0] / total
    entropy = float(-(p * np.log(p)).sum())
    return float((counts > 0).mean()), math.exp(entropy)


@dataclass(frozen=True)
class CriterionTriple:
    """The paper's criterion triple plus the RMS distance that its Figure 3 reports.

    Attributes
    ----------
    error : float
        Criterion 1: mean SQUARED distance to the nearest code, ``mean_i ||z_i - z_i'||^2``.
    utilization : float
        Criterion 2: fraction of codes that are the nearest code of at least one feature.
    perplexity : float
        Criterion 3: exponential of the entropy of the code usage distribution.
    rms : float
        ``sqrt(error)``, the root-mean-square distance (what the paper's Fig. 3 prints as "E").
    counts : numpy.ndarray (n_codes,)
        Usage count of every code.
    """

    error: float
    utilization: float
    perplexity: float
    rms: float
    counts: np.ndarray

    @property
    def n_codes(self) -> int:
        return int(self.counts.size)

    @property
    def n_features(self) -> int:
        return int(self.counts.sum())

    def as_dict(self) -> dict[str, float]:
        """The scalar criteria, ready for a result row."""
        return {
            "error_mse": self.error,
            "error_rms": self.rms,
            "utilization": self.utilization,
            "perplexity": self.perplexity,
        }


def criterion_triple(features, codebook, **search_options) -> CriterionTriple:
    r"""Quantization error E, codebook utilization U and perplexity C (the paper's Section 2.2).

    .. math::
        E = \frac1N \sum_i \min_k \|z_i - e_k\|_2^2, \quad
        U = \frac1K \sum_k 1(k \in \{r_i\}), \quad
        C = \exp\Big(-\sum_k p_k \log p_k\Big).

    Parameters
    ----------
    features : array (n_features, d), numpy or torch
    codebook : array (n_codes, d), same library
    **search_options
        Passed to :func:`nearest_code` (``chunk_size``, ``max_chunk_bytes``, ``engine``).

    Returns
    -------
    CriterionTriple
        Python floats (E is accumulated in float64 whatever the input dtype).

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> t = criterion_triple(np.array([[0.0, 0.5], [1.0, 0.0], [1.0, 1.0]]), codes)
    >>> round(t.error, 4), t.utilization, round(t.perplexity, 4)
    (0.4167, 1.0, 1.8899)
    """
    result = nearest_code(features, codebook, **search_options)
    xp = namespace(result.indices)
    idx = xp.to_numpy(result.indices)
    sq = xp.to_numpy(result.sq_dist).astype(np.float64)
    n_codes = int(codebook.shape[0])
    counts = np.bincount(idx, minlength=n_codes)
    error = float(sq.mean())
    utilization, perplexity = usage_criteria(counts)
    return CriterionTriple(
        error=error,
        utilization=utilization,
        perplexity=perplexity,
        rms=math.sqrt(error),
        counts=counts,
    )
