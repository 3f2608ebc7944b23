r"""Study ``matching``: static codebooks drawn from :math:`P_B` against features from :math:`P_A`
(no training), measured by the criterion triple (E = mean squared distance, U, C).

Five sub-studies (``vqmatch matching --part NAME``; cell keys ``"<part>/..."``):

``theorem1``
    Theorem 1 (support matching iff full utilization and vanishing worst-case error). P_A uniform
    on the unit disk; P_B (i) the same law, (ii) the same support with a centre-concentrated
    density, (iii) a smaller and (iv) a larger concentric disk, (v) a shifted disk; K up to 1e5,
    N = ``features_per_code`` x K. The worst-case distance over the closed disk is bracketed by
    branch and bound (:func:`.theory.worst_case_distance`, relative width
    ``rel_tol``). Nearest codes by an exact k-d tree (O(N log K) in d = 2).
``fig3``
    The prototypical disks of Figure 3 (d = 2, N = 10,000, K = 400), the paper's eight
    configurations plus the script's unshown ones, replicated; E as mean squared distance and as
    RMS (what the figure prints). Features are shared by the codebooks of a group in a replicate
    (as in the authors' script), so comparisons are paired.
``appf``
    Appendix F sweeps over K, d and N: features N(0, I) (or U(-1, 1)^d), codebooks shifted by
    mu 1 or scaled by s (the paper's grids plus off-grid scale factors). Common random numbers: one base
    codebook per replicate is shifted / scaled, so differences from the matched codebook are
    paired. float32 search (faiss); E accumulated in float64 from directly recomputed squared
    distances (relative error about 1e-6, far below the replicate spread).
``appg``
    Appendix G table: P_A = P_B = N_8(0, s^2 I) or U_8(-s, s) for s from 1e-4 to 1; independent
    draws per s; the log-log slope of E in s and the constancy of U and C.
``utilization``
    The expected utilization of a random codebook,
    :math:`E[U] = 1 - \frac1K\sum_k E(1 - P_A(V_k))^N`: the closed form for P_A = P_B uniform
    in 1-D, and the exact conditional expectation given the codebook (cell masses from the CDF in
    1-D, from a large sample on the disk) against direct simulation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np

from vqmatch.theory import criterion_triple, usage_criteria
from vqmatch.theory.quantization import expected_utilization

from ...core.registry import Cell
from ...core.seeding import child_generator
from . import theory as mt
from .config import MatchingConfig, fig3_configurations, theorem1_cases


def _row(part: str, case: str, d: int, k: int, n: int, triple: dict, replicate: int,
         paper=None, **extra) -> dict:
    return {"part": part, "case": case, "d": d, "codebook_size": k, "n_features": n,
            **triple, "replicate": replicate, "paper": paper, **extra}


# ---------------------------------------------------------------------------------------------
# theorem1

def theorem1_cell(case: str, codebook_size: int, features_per_code: int,
                  circle_points_per_code: int, rel_tol: float, small_radius: float,
                  large_radius: float, shift: float, seed, replicate: int) -> list[dict]:
    """One codebook of the case's law against the unit disk: U, certified sup distance, U(N=inf)."""
    law = theorem1_cases(small_radius, large_radius, shift)[case]["law"]
    feature_law = mt.BallLaw((0.0, 0.0), 1.0)
    k, n = codebook_size, features_per_code * codebook_size
    rng = child_generator(seed, replicate)
    codes = law.sample(k, rng)
    triple = mt.triple_kdtree(feature_law.sample(n, rng), codes)
    wc = mt.worst_case_distance(codes, (0.0, 0.0), 1.0, rel_tol=rel_tol)
    u_inf = mt.limit_utilization_disk(codes, (0.0, 0.0), 1.0,
                                      circle_points=circle_points_per_code * k)
    return [_row("theorem1", case, 2, k, n, triple, replicate, sup_low=wc.low, sup_high=wc.high,
                 utilization_limit=u_inf, u_limit_is_one=bool(u_inf == 1.0),
                 sup_cell=wc.cell_size, in_support=float(feature_law.contains(codes).mean()),
                 u_is_one=bool(triple["utilization"] == 1.0))]


# ---------------------------------------------------------------------------------------------
# fig3

def fig3_cell(group: str, n_features: int, codebook_size: int, seed,
              replicate: int) -> list[dict]:
    """One feature draw and one codebook per configuration of the group (paired)."""
    confs = [c for c in fig3_configurations() if c["group"] == group]
    rng = child_generator(seed, replicate)
    feats = mt.BallLaw((confs[0]["feature_center"], 0.0), 1.0).sample(n_features, rng)
    rows = []
    for c in confs:
        codes = mt.BallLaw((c["code_center"], 0.0), c["code_radius"]).sample(codebook_size, rng)
        extra = {}
        if replicate == 0:  # the points of one draw, for the scatter panels (10 % / 90 %)
            extra = {"scatter_features": np.round(feats[: n_features // 10], 3).tolist(),
                     "scatter_codes": np.round(codes[: 9 * codebook_size // 10], 3).tolist()}
        rows.append(_row("fig3", c["label"], 2, codebook_size, n_features,
                         mt.triple_kdtree(feats, codes), replicate, c["paper"],
                         group=group, matched=c["matched"], **extra))
    return rows


# ---------------------------------------------------------------------------------------------
# appf

def _base(family: str, n: int, d: int, rng) -> np.ndarray:
    if family == "gaussian":
        return rng.standard_normal((n, d), dtype=np.float32)
    return (2 * rng.random((n, d), dtype=np.float32) - 1).astype(np.float32)


def appf_cell(family: str, codebook_size: int, d: int, n_features: int,
              shifts: tuple[float, ...], scale_factors: tuple[float, ...],
              extra_scale_factors: tuple[float, ...], seed, replicate: int) -> list[dict]:
    """One base codebook shifted and scaled (common random numbers) against one feature draw."""
    k, n = codebook_size, n_features
    rng = child_generator(seed, replicate)
    feats, base = _base(family, n, d, rng), _base(family, k, d, rng)
    matched = criterion_triple(feats, base).as_dict()
    variants = [("shift", v, True) for v in shifts]
    variants += [("scale", v, True) for v in scale_factors]
    variants += [("scale", v, False) for v in extra_scale_factors if v not in scale_factors]
    rows = []
    for kind, v, on_grid in variants:
        is_matched = (kind == "shift" and v == 0.0) or (kind == "scale" and v == 1.0)
        if is_matched:
            triple = matched
        else:
            codes = base + np.float32(v) if kind == "shift" else base * np.float32(v)
            triple = criterion_triple(feats, codes).as_dict()
        rows.append(_row("appf", f"{family}-{kind}={v:g}", d, k, n, triple, replicate, None,
                         family=family, kind=kind, value=float(v), matched=is_matched,
                         paper_grid=on_grid))
    return rows


# ---------------------------------------------------------------------------------------------
# appg

def appg_cell(family: str, scale_factor: float, d: int, codebook_size: int, n_features: int,
              seed, replicate: int) -> list[dict]:
    """P_A = P_B at one scale factor s: the criterion triple of an independent codebook draw."""
    s = scale_factor
    paper = mt.APPG_PAPER.get(family, {}).get(s)
    at_paper_size = (codebook_size, n_features, d) == tuple(mt.APPG_PAPER_SIZE.values())
    rng = child_generator(seed, replicate)
    feats = _base(family, n_features, d, rng) * np.float32(s)
    codes = _base(family, codebook_size, d, rng) * np.float32(s)
    triple = criterion_triple(feats, codes).as_dict()
    return [_row("appg", f"{family}-scale={s:g}", d, codebook_size, n_features, triple,
                 replicate, None if paper is None else
                 {"error_mse": paper[0], "utilization": paper[1], "perplexity": paper[2]},
                 family=family, scale_factor=float(s), at_paper_size=at_paper_size)]


# ---------------------------------------------------------------------------------------------
# utilization

@functools.lru_cache(maxsize=256)
def _closed_form_matched_1d(k: int, n: int) -> float:
    return mt.expected_utilization_matched_1d(k, n)


def util_1d_cell(case: str, law: str, codebook_size: int, features_per_code: int, shift: float,
                 seed, replicate: int) -> list[dict]:
    """A 1-D codebook against features of the same ``law`` (``uniform``: U(0, 1); ``gaussian``:
    N(0, 1)), the codes shifted by ``shift``: simulated and conditional E[U], and the closed form
    where it is exact (the matched uniform law)."""
    from scipy.stats import norm, uniform

    k = codebook_size
    n = k * features_per_code
    exact = case == "matched1d" and law == "uniform" and shift == 0.0
    closed = _closed_form_matched_1d(k, n) if exact else None
    rng = child_generator(seed, replicate)
    if law == "uniform":
        codes, feats, cdf = rng.random(k) + shift, rng.random(n), uniform.cdf
    elif law == "gaussian":
        codes, feats, cdf = rng.standard_normal(k) + shift, rng.standard_normal(n), norm.cdf
    else:
        raise ValueError(f"law must be 'uniform' or 'gaussian', got law={law!r}")
    idx, sq = mt.usage_1d(codes, feats)
    u, c = usage_criteria(np.bincount(idx, minlength=k))
    e = float(sq.mean())
    cond = expected_utilization(mt.cell_masses_1d(codes, cdf), n)
    return [_row("utilization", case, 1, k, n, {"error_mse": e, "error_rms": math.sqrt(e),
                                                "utilization": u, "perplexity": c}, replicate,
                 None, law=law, expected_given_codes=cond, closed_form=closed)]


def util_disk_cell(codebook_size: int, features_per_code: int, mass_samples: int, seed,
                   replicate: int) -> list[dict]:
    """A uniform-disk codebook: simulated U and its conditional expectation (cell masses from a
    large sample)."""
    law = mt.BallLaw((0.0, 0.0), 1.0)
    k, n = codebook_size, codebook_size * features_per_code
    rng = child_generator(seed, replicate)
    codes = law.sample(k, rng)
    big, _ = mt.nearest_code_kdtree(law.sample(mass_samples, rng), codes)
    masses = np.bincount(big, minlength=k) / mass_samples
    cond = expected_utilization(masses, n)
    return [_row("utilization", "disk2d", 2, k, n, mt.triple_kdtree(law.sample(n, rng), codes),
                 replicate, None, expected_given_codes=cond, closed_form=None)]


# ---------------------------------------------------------------------------------------------

def list_cells(cfg: MatchingConfig) -> Iterator[Cell]:
    t1 = cfg.theorem1
    disks = {"small_radius": t1.small_radius, "large_radius": t1.large_radius, "shift": t1.shift}
    for case in theorem1_cases(**disks):
        for k in t1.codebook_sizes:
            yield Cell(f"theorem1/{case}-K{k}", theorem1_cell,
                       {"case": case, "codebook_size": k, "features_per_code": t1.features_per_code,
                        "circle_points_per_code": t1.circle_points_per_code,
                        "rel_tol": t1.rel_tol, **disks}, replicates=t1.replicates)
    f3 = cfg.fig3
    for group in ("shift", "radius"):
        yield Cell(f"fig3/{group}", fig3_cell, {"group": group, "n_features": f3.n_features,
                                                "codebook_size": f3.codebook_size},
                   replicates=f3.replicates)
    af = cfg.appf
    for family in af.families:
        for k, d, n in af.points():
            yield Cell(f"appf/{family}-K{k}-d{d}-N{n}", appf_cell,
                       {"family": family, "codebook_size": k, "d": d, "n_features": n,
                        "shifts": tuple(af.shifts), "scale_factors": tuple(af.scale_factors),
                        "extra_scale_factors": tuple(af.extra_scale_factors)},
                       replicates=af.replicates)
    ag = cfg.appg
    for family in ag.families:
        for s in ag.scale_factors:
            yield Cell(f"appg/{family}-s{s:g}", appg_cell,
                       {"family": family, "scale_factor": s, "d": ag.d,
                        "codebook_size": ag.codebook_size, "n_features": ag.n_features},
                       replicates=ag.replicates)
    u = cfg.utilization
    # the closed form on the matched uniform law (where it is exact); Gaussian codes shifted by
    # u.shift against N(0, 1) features for the conditional expectation alone
    for case, law in (("matched1d", "uniform"), ("shifted1d", "gaussian")):
        for k in u.codebook_sizes:
            for f in u.features_per_code:
                yield Cell(f"utilization/{case}-K{k}-N{f * k}", util_1d_cell,
                           {"case": case, "law": law, "codebook_size": k, "features_per_code": f,
                            "shift": 0.0 if case == "matched1d" else u.shift},
                           replicates=u.replicates)
    for k in u.disk_codebook_sizes:
        yield Cell(f"utilization/disk2d-K{k}", util_disk_cell,
                   {"codebook_size": k, "features_per_code": u.disk_features_per_code,
                    "mass_samples": u.disk_mass_samples}, replicates=u.disk_replicates)
