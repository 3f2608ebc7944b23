r"""Study ``lemma3``: the closed-form Gaussian W2 (the paper's Lemma 3) against exact optimal transport.

Four independent checks, each a set of resumable cells:

``monge``
    For a random non-commuting Gaussian pair in dimension d, push samples of the source through the
    Knott-Smith map :math:`T`: the Monte Carlo mean of :math:`\|X - T(X)\|^2` must equal the closed
    form :math:`W_2^2` (CLT error bars over replicates), :math:`T_\#P_s` must have the target
    covariance, and exact OT between the sample and its image (POT ``emd2``) must find no cheaper
    coupling than :math:`(X_i, T(X_i))` (the map is the gradient of a convex function, hence
    cyclically monotone, hence optimal for the empirical measures too).
``sample_ot``
    Exact OT between independent n-samples of the two Gaussians. Its fluctuation is dominated by the
    sample moments (order :math:`n^{-1/2}`), which hides its bias, so the check is made on the part
    that is not moment noise: the excess :math:`D_n = W_2^2(\hat P_n, \hat Q_n) - G_n \ge 0` of exact
    OT over the closed form :math:`G_n` of the two samples' own moments (Gelbrich's bound). If the
    closed form is the exact W2 between Gaussians, :math:`D_n \to 0` as the empirical measures
    approach the Gaussians (and :math:`G_n \to W_2^2` at the parametric rate): the check fits the
    rate of :math:`E D_n` in n.
``symmetry``
    :math:`\operatorname{tr}(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2} =
    \operatorname{tr}(\Sigma_2^{1/2}\Sigma_1\Sigma_2^{1/2})^{1/2}` (the paper writes one order, its
    README the other), by an independent scipy ``sqrtm`` computation on random pairs with condition
    numbers up to 1e4. The same cells measure the authors' atomic-setting shortcut, ``eigh`` of the
    non-symmetric product :math:`\Sigma_z\Sigma_c` (the authors' ``SimulationAnalyses/.../VariousVQs.py``;
    paper_notes.md, Lemma 3 section), on commuting
    and non-commuting pairs.
``gelbrich``
    On non-Gaussian samples, exact OT between the two empirical measures is never below the Gaussian
    closed form of their moments (Gelbrich's bound), and by how much it exceeds it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import scipy.linalg

from vqmatch.theory import gaussian_monge_map, gaussian_w2, gelbrich_bound

from ...core.registry import Cell
from ...core.seeding import child_generator
from ...sources import make_source, random_pair
from .config import Lemma3Config


def _sample(rng, mean, cov, n):
    return rng.multivariate_normal(mean, cov, size=n, method="cholesky")


def _emd2(x: np.ndarray, y: np.ndarray) -> float:
    """Exact OT cost (squared Euclidean) between two uniform point clouds (POT network simplex).

    POT is imported here, not at module level: it imports torch, which makes `vqmatch --help` slow.
    """
    import ot

    return float(ot.emd2([], [], ot.dist(x, y), numItermax=10_000_000))


def monge_cell(d: int, samples: int, coupling_samples: int, seed, replicate: int) -> list[dict]:
    """Replicate ``replicate`` of the Monge-map check in dimension d (the pair is the cell's)."""
    m_s, c_s, m_t, c_t = random_pair(child_generator(seed, 0), d)
    w2sq = float(gaussian_w2(m_s, c_s, m_t, c_t, squared=True))
    rng = child_generator(seed, replicate + 1)
    x = _sample(rng, m_s, c_s, samples)
    y = gaussian_monge_map(m_s, c_s, m_t, c_t)(x)
    cost = float(((x - y) ** 2).sum(1).mean())
    cov_err = float(np.linalg.norm(np.cov(y.T).reshape(d, d) - c_t) / np.linalg.norm(c_t))
    rows = [{"check": "monge_mc", "d": d, "n": samples, "replicate": replicate,
             "value": cost, "reference": w2sq, "cov_rel_error": cov_err}]
    if replicate == 0:  # exact OT between a subsample and its image: can it beat the map?
        xs, ys = x[:coupling_samples], y[:coupling_samples]
        map_cost = float(((xs - ys) ** 2).sum(1).mean())
        rows.append({"check": "monge_coupling", "d": d, "n": coupling_samples,
                     "replicate": replicate, "value": _emd2(xs, ys), "reference": map_cost})
    return rows


def sample_ot_cell(n: int, d: int, seed, replicate: int) -> list[dict]:
    """Exact OT between independent n-samples of a fixed Gaussian pair (the cell's)."""
    m_s, c_s, m_t, c_t = random_pair(child_generator(seed, 0), d)
    w2sq = float(gaussian_w2(m_s, c_s, m_t, c_t, squared=True))
    rng = child_generator(seed, replicate + 1)
    x, y = _sample(rng, m_s, c_s, n), _sample(rng, m_t, c_t, n)
    return [{"check": "sample_ot", "d": d, "n": n, "replicate": replicate, "value": _emd2(x, y),
             "reference": w2sq, "sample_closed_form": float(gelbrich_bound(x, y, squared=True))}]


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    return np.real(scipy.linalg.sqrtm(a))


def _trace_term_scipy(a: np.ndarray, b: np.ndarray) -> float:
    """tr((a^1/2 b a^1/2)^1/2) by two scipy (Schur) square roots: independent of our code."""
    ra = _sqrtm_psd(a)
    return float(np.trace(_sqrtm_psd(ra @ b @ ra)))


def repo_product_eigh_w2sq(m_s, c_s, m_t, c_t) -> float:
    """W2^2 as the authors' atomic-setting script computes the trace term: eigenvalues of the
    NON-symmetric product Σz Σc taken by a symmetric eigen-solver that reads its lower triangle
    (``torch.linalg.eigh`` reads one triangle; the eps guards are left out). Exact only if the two
    covariances commute."""
    p = c_s @ c_t
    sym = np.tril(p) + np.tril(p, -1).T
    lam = np.linalg.eigvalsh(sym)
    return float(((m_s - m_t) ** 2).sum() + np.trace(c_s) + np.trace(c_t)
                 - 2 * np.sqrt(np.maximum(lam, 0)).sum())


def symmetry_cell(d: int, seed, replicate: int) -> list[dict]:
    """One random pair (condition number up to 1e4): trace symmetry and the authors' shortcut."""
    rng = child_generator(seed, replicate)
    cond = float(10 ** rng.uniform(0, 4))
    m_s, c_s, m_t, c_t = random_pair(rng, d, cond)
    t_st, t_ts = _trace_term_scipy(c_s, c_t), _trace_term_scipy(c_t, c_s)
    ours_st = float(gaussian_w2(m_s, c_s, m_t, c_t, squared=True))
    ours_ts = float(gaussian_w2(m_t, c_t, m_s, c_s, squared=True))
    exact = float(((m_s - m_t) ** 2).sum() + np.trace(c_s) + np.trace(c_t) - 2 * t_st)
    rows = [{"check": "trace_symmetry", "d": d, "replicate": replicate, "cond": cond,
             "value": abs(t_st - t_ts) / abs(t_st),
             "ours_asymmetry": abs(ours_st - ours_ts) / max(ours_st, 1e-300),
             "ours_vs_scipy": abs(ours_st - exact) / max(exact, 1e-300)}]
    # the authors' shortcut, on a commuting pair (shared eigenvectors) and a non-commuting one
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a_eig, b_eig = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    commuting = ((q * a_eig) @ q.T, (q * b_eig) @ q.T)
    for name, (a, b) in (("commuting", commuting), ("non_commuting", (c_s, c_t))):
        truth = float(gaussian_w2(m_s, a, m_t, b, squared=True))
        repo = repo_product_eigh_w2sq(m_s, a, m_t, b)
        rows.append({"check": "repo_product_eigh", "d": d, "replicate": replicate, "pair": name,
                     "value": abs(math.sqrt(max(repo, 0)) - math.sqrt(truth)) / math.sqrt(truth),
                     "reference": truth})
    return rows


# labels used in the Gelbrich pairs -> (source name, parameters) for vqmatch.simulations.sources
GELBRICH_SOURCES = {
    "uniform": ("uniform", {}),
    "laplace": ("laplace", {}),
    "gaussian": ("gaussian", {}),
    "student_t": ("student_t", {"df": 5.0}),
    "bimodal": ("gaussian_mixture", {"separation": 2.0}),
}


def gelbrich_cell(pair: tuple[str, str], d: int, samples: int, seed, replicate: int) -> list[dict]:
    """Exact OT between two non-Gaussian samples against the closed form of their moments."""
    (name_a, par_a), (name_b, par_b) = GELBRICH_SOURCES[pair[0]], GELBRICH_SOURCES[pair[1]]
    src_a, src_b = make_source(name_a, d, **par_a), make_source(name_b, d, **par_b)
    rng = child_generator(seed, replicate)
    x = src_a.sample(samples, seed=rng)
    y = src_b.sample(samples, seed=rng) + 0.5  # shift: means differ as well
    return [{"check": "gelbrich", "pair": f"{pair[0]}|{pair[1]}", "d": d, "n": samples,
             "replicate": replicate, "value": _emd2(x, y),
             "reference": float(gelbrich_bound(x, y, squared=True))}]


def list_cells(cfg: Lemma3Config) -> Iterator[Cell]:
    for d in cfg.monge_dims:
        yield Cell(f"monge-d{d}", monge_cell,
                   {"d": d, "samples": cfg.monge_samples, "coupling_samples": cfg.coupling_samples},
                   replicates=cfg.monge_replicates)
    for n in cfg.ot_sizes:
        yield Cell(f"sample_ot-n{n}", sample_ot_cell, {"n": n, "d": cfg.ot_dim},
                   replicates=cfg.ot_replicates)
    for d in cfg.symmetry_dims:
        yield Cell(f"symmetry-d{d}", symmetry_cell, {"d": d}, replicates=cfg.symmetry_pairs)
    for pair in cfg.gelbrich_pairs:
        for d in cfg.gelbrich_dims:
            yield Cell(f"gelbrich-{pair[0]}-{pair[1]}-d{d}", gelbrich_cell,
                       {"pair": tuple(pair), "d": d, "samples": cfg.gelbrich_samples},
                       replicates=cfg.gelbrich_replicates)
