"""Summary of the ``density`` study: exponent estimates per (method, d, source, K), the random
codebook's best scale and gain, the Panter-Dite check."""

from __future__ import annotations

import math

import numpy as np

from vqmatch.theory.quantization import best_gaussian_codebook_scale2, gaussian_codebook_gain

from ...core.stats import mean_ci, one_sample_t, paired_t
from .config import DensityConfig, candidates, lowrate_best_scale2


def parabola_argmin(log_x: np.ndarray, y: np.ndarray) -> float:
    """Argmin of y over a grid in log x, refined by a parabola through the lowest point and its two
    neighbours (the grid end if the minimum is on the boundary)."""
    i = int(np.argmin(y))
    if i == 0 or i == len(y) - 1:
        return float(log_x[i])
    a, b, _ = np.polyfit(log_x[i - 1: i + 2], y[i - 1: i + 2], 2)
    return float(-b / (2 * a)) if a > 0 else float(log_x[i])


def _candidate_p(values: list[float], est: float, se: float, cand: dict) -> dict:
    """Two-sided p-value of each candidate exponent: a one-sample t test over replicates (df =
    n - 1), or, for one deterministic estimate, the normal test of its regression error."""
    if len(values) > 1:
        return {name: one_sample_t(values, v).p for name, v in cand.items()}
    from scipy.stats import norm

    return {name: float(2 * norm.sf(abs(est - v) / se)) if se > 0 else float(est == v)
            for name, v in cand.items()}


def _estimate_rows(rows: list[dict]) -> list[dict]:
    """One row per (part, d, source, K): exponent over replicates with a t confidence interval
    (for the deterministic Lloyd-Max levels: the regression interval), its separation in standard
    errors from each candidate exponent and the test's p-value (:func:`_candidate_p`)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["part"] in ("lloyd_max", "kmeans"):
            groups.setdefault((r["part"], r["d"], r["source"], r["n_codes"]), []).append(r)
    out = []
    for (part, d, source, k), g in sorted(groups.items()):
        if len(g) > 1:
            ci = mean_ci(r["exponent_hat"] for r in g)
            est, se, lo, hi = ci.mean, ci.stderr, ci.low, ci.high
        else:
            est, se = g[0]["exponent_hat"], g[0]["exponent_stderr"]
            lo, hi = g[0]["exponent_ci"]
        cand = candidates(d)
        row = {"part": part, "d": d, "source": source, "n_codes": k, "method": g[0]["method"],
               "n_replicates": len(g), "exponent_hat": est, "exponent_stderr": se,
               "exponent_ci": [lo, hi], "candidates": cand,
               "separation_se": {name: (est - v) / se if se > 0 else math.inf
                                 for name, v in cand.items()},
               "p": _candidate_p([r["exponent_hat"] for r in g], est, se, cand),
               "test": "t" if len(g) > 1 else "normal (regression error)",
               "distortion": float(np.mean([r["distortion"] for r in g]))}
        if "exponent_moment" in g[0]:
            m = mean_ci(r["exponent_moment"] for r in g) if len(g) > 1 else None
            row["exponent_moment"] = m.mean if m else g[0]["exponent_moment"]
        if "k2_distortion" in g[0]:
            row["k2_distortion"] = g[0]["k2_distortion"]
        out.append(row)
    return out


def _random_summary(cfg: DensityConfig, rows: list[dict]) -> list[dict]:
    out = []
    for d in cfg.random_dims:
        best, gains, e_best, e_one = [], [], [], []
        reps = sorted({x["replicate"] for x in rows if x["part"] == "random_codebook"
                       and x["d"] == d})
        if len(reps) < 2:
            continue
        for r in reps:
            g = [x for x in rows if x["part"] == "random_codebook" and x["d"] == d
                 and x["replicate"] == r]
            grid = sorted((x for x in g if not x.get("matched") and not x.get("target")),
                          key=lambda x: x["scale2"])
            log_s = np.log([x["scale2"] for x in grid])
            e = np.array([x["distortion"] for x in grid])
            best.append(math.exp(parabola_argmin(log_s, e)))
            one = next(x["distortion"] for x in g if x.get("matched"))
            lowest = float(min(e.min(), one))
            gains.append(1.0 - lowest / one)
            e_best.append(lowest)
            e_one.append(one)
        b, gain = mean_ci(best), mean_ci(gains)
        theory = best_gaussian_codebook_scale2(d)
        curve = {}
        for x in rows:
            if x["part"] == "random_codebook" and x["d"] == d and not x.get("matched") \
                    and not x.get("target"):
                curve.setdefault(x["scale2"], []).append(x["distortion"])
        out.append({"d": d, "n_codes": cfg.random_codes, "n_features": cfg.random_features,
                    "best_scale2": b.mean, "best_scale2_ci": [b.low, b.high],
                    "best_scale2_stderr": b.stderr, "best_scale2_theory": theory,
                    "best_scale2_lowrate": lowrate_best_scale2(d, cfg.random_codes),
                    "gain_vs_matched": gain.mean, "gain_vs_matched_ci": [gain.low, gain.high],
                    "gain_vs_matched_theory": gaussian_codebook_gain(d) if d > 2 else None,
                    "distortion_matched": float(np.mean(e_one)),
                    "distortion_best": float(np.mean(e_best)),
                    "curve": {"scale2": sorted(curve),
                              "distortion": [float(np.mean(curve[s])) for s in sorted(curve)]},
                    "targets": _target_tests(rows, d)})
    return out


def _target_tests(rows: list[dict], d: int) -> list[dict]:
    """Paired t tests (over replicates, df = n - 1) of E at each theory-predicted scale minus E of
    the matched codebook, with the effect relative to E(matched)."""
    mine = [x for x in rows if x["part"] == "random_codebook" and x["d"] == d]
    one = {x["replicate"]: x["distortion"] for x in mine if x.get("matched")}
    out = []
    for name in sorted({x["target"] for x in mine if x.get("target")}):
        at = {x["replicate"]: x for x in mine if x.get("target") == name}
        reps = sorted(set(at) & set(one))
        if len(reps) < 2:
            continue
        t = paired_t([at[r]["distortion"] for r in reps], [one[r] for r in reps])
        out.append({"target": name, "scale2": at[reps[0]]["scale2"], "test": t.as_dict(),
                    "relative": t.estimate / t.b, "relative_ci": [c / t.b for c in t.ci]})
    return out


def summarize(cfg: DensityConfig, rows: list[dict]) -> dict:
    levels = {r["n_codes"]: r["levels"] for r in rows if r["part"] == "lloyd_max"
              and r["source"] == "gaussian"}
    panter = [{"n_codes": r["n_codes"], "k2_distortion": r["k2_distortion"],
               "panter_dite": r["panter_dite"],
               "rel_diff": r["k2_distortion"] / r["panter_dite"] - 1.0}
              for r in sorted(rows, key=lambda r: r["n_codes"])
              if r["part"] == "lloyd_max" and r["source"] == "gaussian"]
    kmeans_rows = [r for r in rows if r["part"] == "kmeans"]
    return {
        "estimates": _estimate_rows(rows),
        "random_codebook": _random_summary(cfg, rows),
        "panter_dite": panter,
        "gaussian_levels": {str(k): v for k, v in levels.items()},
        "kmeans_not_converged": sum(not r["converged"] for r in kmeans_rows),
    }
