r"""Study ``w2``: the W2 estimators side by side, on Gaussian and non-Gaussian pairs of laws.

Every value in the rows is on the **W2 scale (not squared)**, the scale of the paper's loss
:math:`L_W`; ``abs_error = |value - truth|`` with ``truth`` the exact :math:`W_2` of the two
populations, and ``target_error = |value - target|`` against what the estimator converges to (W2 for
exact OT; the closed form on the true moments for the paper's loss, which is W2 only for Gaussian
pairs; the population :math:`\sqrt d\,SW_2` for sliced on Gaussian pairs). Convergence slopes in n
are fitted to the mean ``target_error``.

Pairs of laws (``P`` features, ``Q`` target), each with an exact truth in every dimension d:

``gauss_shift``
    Two Gaussians with random non-commuting covariances (condition 100) and means
    (``sources.random_pair``); truth = Lemma 3 on the true moments.
``gauss_same``
    The same Gaussian twice (truth 0): the estimators' pure sampling error.
``uniform_laplace``, ``t4_gauss``, ``bimodal_gauss``
    Product laws rotated by a common Haar rotation (:mod:`.truth`): unit-variance
    uniform vs Laplace, Student-t(4) (heavy tails, infinite fourth moment: "feature-like") vs
    Gaussian, and the bimodal :math:`\tfrac12 N(-z,1) + \tfrac12 N(z,1)` vs the Gaussian of the same
    variance; the target is shifted by ``shift`` per coordinate and all coordinates are scaled by
    :math:`s_j \in [1/2, 2]`. Truth = the exact 1-D quantile formula summed over coordinates.

No truth is a large-sample OT estimate: every truth is a closed form or a quadrature with an error
bound below 1e-9 (``truth_error`` in the rows), so estimator biases are measured against exact values.

Estimators (one replicate = one pair of independent n-samples, all estimators on the same samples):

``closed_form_true``
    Lemma 3 on the populations' true moments (no sampling): for non-Gaussian pairs its gap to the
    truth is the price of the Gaussian surrogate (Gelbrich: it can only be below).
``closed_form_emp``
    Lemma 3 on the samples' moments: the paper's loss (``vqmatch.theory.empirical_gaussian_w2``).
``exact_ot``
    :math:`W_2` between the two empirical measures: POT ``emd2`` (network simplex, squared Euclidean
    cost, uniform weights) for d >= 2 and n <= ``ot_max_n``; in d = 1 the sorted matching (exact).
``sliced``
    :math:`\sqrt d\, SW_2` with ``n_projections`` directions uniform on the sphere (the quantity of
    POT's ``sliced_wasserstein_distance``, computed here by sorting the projections, which is exact
    for equal-size uniform samples and cheaper than POT's general weighted path; POT returns
    :math:`SW_2 = (\text{mean}_\theta W_2^2(\theta_\#P_n, \theta_\#Q_n))^{1/2}`). For any coupling
    :math:`\gamma`,
    :math:`E_\theta (\theta\cdot(X - Y))^2 = E\|X - Y\|^2/d`, so :math:`d\,SW_2^2 \le W_2^2` with
    equality for pure translations: the scaled value is a lower bound of :math:`W_2`. Its own target
    (the population :math:`\sqrt d\,SW_2`) is known for Gaussian pairs (``target`` in the rows) and its
    error against that target gives its rate.
``max_sliced``
    POT's ``max_sliced_wasserstein_distance`` quantity (same sorting) on the same directions:
    :math:`\max_\theta W_2(\theta_\#P_n, \theta_\#Q_n) \le W_2(P_n, Q_n)` exactly (projections are
    1-Lipschitz).

Other parts: ``translation`` (P and P + v: the sliced equality case, and exact OT = |v|), ``gap``
(the surrogate's gap against the separation z of the bimodal law, deterministic) and ``misrank``
(two codebook laws, the surrogate and the truth rank them differently; see the claim).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from vqmatch.theory import empirical_gaussian_w2, gaussian_w2

from ...core.registry import Cell
from ...core.seeding import child_generator
from ...sources import make_source, random_pair
from . import truth as truth_mod
from .config import W2Config
from .truth import make_pair, misrank_laws, product_truth

# ---------------------------------------------------------------------------------------------
# estimators (value on the W2 scale, seconds)


def _timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return float(value), time.perf_counter() - start


def exact_ot_w2(x: np.ndarray, y: np.ndarray) -> float:
    """W2 between two uniform empirical measures of the same size: sorting in 1-D, POT's network
    simplex (``emd2``, squared Euclidean cost) otherwise. POT imported lazily (it imports torch)."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.shape[1] == 1:
        return math.sqrt(float(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2)))
    import ot

    return math.sqrt(max(float(ot.emd2([], [], ot.dist(x, y), numItermax=100_000_000)), 0.0))


def random_directions(rng: np.random.Generator, d: int, n_projections: int) -> np.ndarray:
    """``(d, n_projections)`` directions uniform on the sphere (POT's ``projections`` layout)."""
    theta = rng.standard_normal((d, n_projections))
    return theta / np.linalg.norm(theta, axis=0, keepdims=True)


def projected_costs(x: np.ndarray, y: np.ndarray, projections: np.ndarray) -> np.ndarray:
    r"""1-D :math:`W_2^2(\theta_{l\#}P_n, \theta_{l\#}Q_n)` for each direction (columns of
    ``projections``), for two uniform samples of the same size: sort and match.

    The quantity POT's ``sliced_wasserstein_distance`` / ``max_sliced_wasserstein_distance`` average
    / maximise (the tests check equality with POT), without POT's general path for arbitrary
    weights (quantile interpolation), which large n makes slow.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    px, py = np.sort(x @ projections, axis=0), np.sort(y @ projections, axis=0)
    return np.mean((px - py) ** 2, axis=0)


def sliced_w2(x, y, projections) -> float:
    r""":math:`\sqrt d\, SW_2` (POT's sliced distance rescaled to the W2 scale; a lower bound)."""
    return math.sqrt(x.shape[1] * float(np.mean(projected_costs(x, y, projections))))


def max_sliced_w2(x, y, projections) -> float:
    """Max-sliced W2 over the given directions (POT's ``max_sliced_wasserstein_distance``)."""
    return math.sqrt(float(np.max(projected_costs(x, y, projections))))


def _row(part, pair, d, n, estimator, replicate, value, truth, seconds, **extra) -> dict:
    return {"part": part, "pair": pair, "d": d, "n": n, "estimator": estimator,
            "replicate": replicate, "value": value, "truth": truth,
            "abs_error": abs(value - truth), "seconds": seconds, **extra}


# ---------------------------------------------------------------------------------------------
# cells: every cell of one (pair, d) shares the stream "<pair>-d<d>": child 0 / 1 build the pair
# and its sliced truth, child (2, n, r) draws replicate r of size n


def truth_cell(label: str, d: int, shift: float, bimodal_separation: float,
               sliced_truth_directions: int, seed) -> list[dict]:
    """The pair's exact W2 and the closed form on its true moments."""
    pair = make_pair(label, d, seed, shift=shift, bimodal_separation=bimodal_separation,
                     sliced_truth_directions=sliced_truth_directions)
    cf, sec = _timed(gaussian_w2, pair.p.mean, pair.p.cov, pair.q.mean, pair.q.cov)
    extra = {"truth_error": pair.truth_error}
    if pair.sliced_target is not None:
        extra |= {"sliced_target": pair.sliced_target,
                  "sliced_target_stderr": pair.sliced_target_stderr}
    return [_row("truth", label, d, 0, "closed_form_true", 0, cf, pair.truth, sec, **extra)]


def sweep_cell(label: str, d: int, n: int, shift: float, bimodal_separation: float,
               sliced_truth_directions: int, ot_max_n: int, n_projections: int, seed,
               replicate: int) -> list[dict]:
    """Every estimator on one pair of independent n-samples."""
    pair = make_pair(label, d, seed, shift=shift, bimodal_separation=bimodal_separation,
                     sliced_truth_directions=sliced_truth_directions)
    rng = child_generator(seed, 2, n, replicate)
    x, y = pair.p.sample(n, seed=rng), pair.q.sample(n, seed=rng)
    proj = random_directions(rng, d, n_projections)
    est = {"closed_form_emp": (empirical_gaussian_w2, x, y),
           "sliced": (sliced_w2, x, y, proj), "max_sliced": (max_sliced_w2, x, y, proj)}
    if d == 1 or n <= ot_max_n:
        est["exact_ot"] = (exact_ot_w2, x, y)
    rows = []
    for name, call in est.items():
        value, sec = _timed(*call)
        target = {"closed_form_emp": pair.closed_form_true, "exact_ot": pair.truth,
                  "sliced": pair.sliced_target}.get(name)
        extra = {} if target is None else {"target": target, "target_error": abs(value - target)}
        rows.append(_row("sweep", label, d, n, name, replicate, value, pair.truth, sec, **extra))
    return rows


def translation_cell(d: int, n: int, n_projections: int, seed, replicate: int) -> list[dict]:
    """P and its translate P + v (|v| = 1): exact OT must give |v|, sqrt(d) SW2 gives |v| on
    average over directions, and exactly sqrt(d mean_l (theta_l . v)^2) for the drawn directions."""
    m, c, _, _ = random_pair(child_generator(seed, 0), d)
    src = make_source("gaussian", d, mean=m, cov=c)
    rng = child_generator(seed, 1, replicate)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    x = src.sample(n, seed=rng)
    proj = random_directions(rng, d, n_projections)
    predicted = math.sqrt(d * float(np.mean((v @ proj) ** 2)))
    y = x + v
    rows = []
    for name, call in (("sliced", (sliced_w2, x, y, proj)),
                       ("max_sliced", (max_sliced_w2, x, y, proj)),
                       ("exact_ot", (exact_ot_w2, x, y))):
        value, sec = _timed(*call)
        extra = {"predicted": predicted} if name == "sliced" else {}
        rows.append(_row("translation", "translate", d, n, name, replicate, value, 1.0, sec,
                         **extra))
    return rows


def gap_cell(separations: tuple[float, ...], shift: float) -> list[dict]:
    """Bimodal 0.5 N(-z,1) + 0.5 N(z,1) (z: each separation) vs the Gaussian of the same variance,
    shifted by 0 or ``shift``, in d = 1 (with unit scales every quantity scales by sqrt(d), ratios
    do not change)."""
    rows = []
    for z in separations:
        for s in (0.0, shift):
            ka, kb = {"separation": z}, {"var": 1 + z * z}
            w1, err = truth_mod.cached_quantile_w2sq("bimodal", tuple(ka.items()), "gaussian",
                                                     tuple(kb.items()), 1.0, 0.0, s)
            cf = float(gaussian_w2(np.zeros(1), np.array([[1 + z * z]]), np.array([s]),
                                   np.array([[1 + z * z]])))
            w = math.sqrt(w1)
            rows.append(_row("gap", f"bimodal_z{z:g}_shift{s:g}", 1, 0, "closed_form_true", 0,
                             cf, w, 0.0, separation=z, shift=s,
                             excess_kurtosis=truth_mod.bimodal_excess_kurtosis(z),
                             truth_error=err / (2 * w) if w > 0 else math.sqrt(err)))
    return rows


def misrank_truth_cell(d: int, separation: float, scale: float, shift: float,
                       seed) -> list[dict]:
    """Exact W2 and closed form of the features against the two codebook laws."""
    f, a, b, keys_a, keys_b = misrank_laws(d, seed, separation=separation, scale=scale,
                                           shift=shift)
    rows = []
    for cb_label, law, keys in (("A_gaussian", a, keys_a), ("B_bimodal", b, keys_b)):
        w, err = product_truth(f, law, keys)
        cf = float(gaussian_w2(f.mean, f.cov, law.mean, law.cov))
        rows.append(_row("misrank", cb_label, d, 0, "closed_form_true", 0, cf, w, 0.0,
                         truth_error=err))
    return rows


def misrank_cell(d: int, n: int, separation: float, scale: float, shift: float, seed,
                 replicate: int) -> list[dict]:
    """The paper's loss and exact OT of one feature sample against one sample of each law."""
    f, a, b, keys_a, keys_b = misrank_laws(d, seed, separation=separation, scale=scale,
                                           shift=shift)
    rng = child_generator(seed, 1, replicate)
    x = f.sample(n, seed=rng)
    rows = []
    for cb_label, law, keys in (("A_gaussian", a, keys_a), ("B_bimodal", b, keys_b)):
        w, _ = product_truth(f, law, keys)
        y = law.sample(n, seed=rng)
        for name, fn in (("closed_form_emp", empirical_gaussian_w2), ("exact_ot", exact_ot_w2)):
            value, sec = _timed(fn, x, y)
            rows.append(_row("misrank", cb_label, d, n, name, replicate, value, w, sec))
    return rows


def list_cells(cfg: W2Config) -> Iterator[Cell]:
    pair_law = {"shift": cfg.shift, "bimodal_separation": cfg.bimodal_separation,
                "sliced_truth_directions": cfg.sliced_truth_directions}
    for label in cfg.pairs:
        for d in cfg.dims:
            stream = f"{label}-d{d}"
            yield Cell(f"truth-{label}-d{d}", truth_cell, {"label": label, "d": d, **pair_law},
                       stream=stream)
            for n in cfg.sizes:
                yield Cell(f"sweep-{label}-d{d}-n{n}", sweep_cell,
                           {"label": label, "d": d, "n": n, **pair_law, "ot_max_n": cfg.ot_max_n,
                            "n_projections": cfg.n_projections},
                           replicates=cfg.replicates, stream=stream)
    for d in cfg.dims:
        if d > 1:
            yield Cell(f"translation-d{d}", translation_cell,
                       {"d": d, "n": cfg.translation_n, "n_projections": cfg.n_projections},
                       replicates=cfg.translation_replicates)
    yield Cell("gap", gap_cell, {"separations": tuple(cfg.gap_separations), "shift": cfg.shift},
               seeded=False)
    law = {"separation": cfg.misrank_separation, "scale": cfg.misrank_scale,
           "shift": cfg.misrank_shift}
    for d in cfg.misrank_dims:
        yield Cell(f"misrank-truth-d{d}", misrank_truth_cell, {"d": d, **law},
                   stream=f"misrank-d{d}")
        yield Cell(f"misrank-d{d}", misrank_cell, {"d": d, "n": cfg.misrank_n, **law},
                   replicates=cfg.misrank_replicates, stream=f"misrank-d{d}")
