"""Summary of the ``w2`` study's rows: errors with CIs, convergence slopes, timing, the Gelbrich
checks, the gap series, the misranking example and the sliced relations (all on the W2 scale)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.stats import loglog_slope, mean_ci, one_sample_t
from .truth import GAUSSIAN_PAIRS

ESTIMATORS = ("closed_form_true", "closed_form_emp", "exact_ot", "sliced", "max_sliced")


def theory_slope(pair: str, estimator: str, d: int) -> float | None:
    r"""Asymptotic log-log slope in n of the mean |error| on the W2 scale, from the literature.

    Closed form on sample moments: :math:`-1/2` (delta method; for ``gauss_same`` :math:`W_2` of the
    fitted Gaussians is :math:`O_P(n^{-1/2})` too). Exact OT, same law (truth 0): :math:`E W_2(P_n,
    Q_n) \asymp n^{-1/d}` for d >= 3 and :math:`n^{-1/2}` up to logs for d <= 2 (Dudley 1969;
    Fournier & Guillin 2015; Ajtai-Komlos-Tusnady in d = 2). Exact OT, distinct laws: fluctuation
    :math:`n^{-1/2}` plus a bias :math:`n^{-2/d}` for d >= 5 (Chizat et al. 2020; Manole &
    Niles-Weed 2024), i.e. :math:`-\min(1/2, 2/d)`. Sliced against its own target: :math:`-1/2` in
    n (Nadjahi et al. 2020) plus the Monte Carlo error of the L directions, :math:`O(L^{-1/2})`
    whatever n, so at fixed L the slope tends to 0 (except on ``gauss_same``, where every projected
    distance vanishes). ``None`` where no rate applies. Slopes are of the error against the
    estimator's own limit (``target``): for the closed form on non-Gaussian pairs that is the closed
    form on the true moments, not W2."""
    if estimator == "closed_form_emp":
        return -0.5
    if estimator == "sliced":  # fixed L: the random directions leave an O(L^-1/2) floor, unless
        return -0.5 if pair == "gauss_same" else 0.0  # every projection is 0 (same law)
    if estimator == "exact_ot":
        if pair == "gauss_same":
            return -0.5 if d <= 2 else -1.0 / d
        return -min(0.5, 2.0 / d)
    return None


def _bootstrap_slope(sizes, per_size: list[np.ndarray], n_boot: int = 200) -> tuple[float, float]:
    """Percentile 95% interval of the log-log slope of the mean over resampled replicates."""
    rng = np.random.default_rng(12345)  # fixed: the interval is a deterministic function of rows
    lx = np.log(np.asarray(sizes, float))
    slopes = []
    for _ in range(n_boot):
        means = [float(np.mean(v[rng.integers(0, v.size, v.size)])) for v in per_size]
        if min(means) <= 0:
            continue
        slopes.append(float(np.polyfit(lx, np.log(means), 1)[0]))
    if len(slopes) < 10:
        return math.nan, math.nan
    return float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5))


def _ci(values) -> dict:
    c = mean_ci(values)
    return {"mean": c.mean, "ci": [c.low, c.high], "stderr": c.stderr, "n": c.n}


def summarize(cfg: Any, rows: list[dict]) -> dict:
    out: dict = {"scale": "W2 (not squared); abs_error = |value - truth|", "truth": [],
                 "errors": [], "slopes": [], "timing": [], "timing_in_d": {}, "gelbrich": [],
                 "gap": [],
                 "misrank": [], "sliced_checks": {}}
    truth_rows = {(r["pair"], r["d"]): r for r in rows if r["part"] == "truth"}
    for (label, d), r in sorted(truth_rows.items()):
        out["truth"].append({"pair": label, "d": d, "truth": r["truth"],
                             "truth_error": r["truth_error"], "closed_form_true": r["value"],
                             "gap": r["truth"] - r["value"],
                             "sliced_target": r.get("sliced_target")})
    sweep = [r for r in rows if r["part"] == "sweep"]
    groups: dict[tuple, list[dict]] = {}
    for r in sweep:
        groups.setdefault((r["pair"], r["d"], r["estimator"], r["n"]), []).append(r)
    for (label, d, est, n), g in sorted(groups.items()):
        vals = [x["value"] for x in g]
        entry = {"pair": label, "d": d, "estimator": est, "n": n, "truth": g[0]["truth"],
                 "value": _ci(vals), "bias": _ci([x["value"] - x["truth"] for x in g]),
                 "abs_error": _ci([x["abs_error"] for x in g]), "spread": float(np.std(vals, ddof=1)),
                 "seconds": float(np.median([x["seconds"] for x in g]))}
        if g[0].get("target") is not None:
            entry["target"] = g[0]["target"]
            entry["target_error"] = _ci([x["target_error"] for x in g])
        out["errors"].append(entry)
    # slopes of the mean |error| in n, per (pair, estimator, d)
    for (label, d, est) in sorted({k[:3] for k in groups}):
        sizes = sorted(n for (lb, dd, e, n) in groups if (lb, dd, e) == (label, d, est))
        if len(sizes) < 3 or groups[(label, d, est, sizes[0])][0].get("target") is None:
            continue  # max-sliced, and sliced on non-Gaussian pairs: no known population target
        # the error against what the estimator is consistent for (W2 itself for exact OT and, on
        # Gaussian pairs, for the closed form); its error against W2 is abs_error in the rows
        per = [np.array([x["target_error"] for x in groups[(label, d, est, n)]]) for n in sizes]
        means = [float(v.mean()) for v in per]
        if min(means) <= 0:
            continue
        slope, se = loglog_slope(sizes, means)
        lo, hi = _bootstrap_slope(sizes, per)
        out["slopes"].append({"pair": label, "d": d, "estimator": est, "slope": slope,
                              "stderr": se, "df": len(sizes) - 2, "bootstrap_ci": [lo, hi],
                              "n_range": [sizes[0],
                                                                                  sizes[-1]],
                              "theory": theory_slope(label, est, d)})
    # wall time and its scaling in n (per estimator and d, on the Gaussian shift pair)
    for (label, d, est) in sorted({k[:3] for k in groups}):
        if label != "gauss_shift":
            continue
        sizes = sorted(n for (lb, dd, e, n) in groups if (lb, dd, e) == (label, d, est))
        secs = [float(np.median([x["seconds"] for x in groups[(label, d, est, n)]])) for n in sizes]
        fit = loglog_slope(sizes, secs)[0] if len(sizes) >= 3 and min(secs) > 0 else None
        out["timing"].append({"d": d, "estimator": est, "n": sizes, "seconds": secs,
                              "time_slope_in_n": fit})
    # ... and in d, at the largest n where every estimator ran (d >= 2: d = 1 uses sorting)
    n_common = max((n for n in cfg.sizes if n <= cfg.ot_max_n), default=None)
    for est in ESTIMATORS[1:]:
        pts = sorted((d, float(np.median([x["seconds"] for x in g])))
                     for (lb, d, e, n), g in groups.items()
                     if lb == "gauss_shift" and e == est and n == n_common and d >= 2)
        if len(pts) >= 3 and min(t for _, t in pts) > 0:
            out["timing_in_d"][est] = {"n": n_common, "d": [d for d, _ in pts],
                                       "seconds": [t for _, t in pts],
                                       "time_slope_in_d": loglog_slope(*zip(*pts, strict=True))[0]}
    # Gelbrich on every non-Gaussian pair (true moments vs exact truth), incl. the gap series
    for (label, d), r in sorted(truth_rows.items()):
        if label in GAUSSIAN_PAIRS:
            continue
        out["gelbrich"].append({"pair": label, "d": d, "truth": r["truth"],
                                "closed_form_true": r["value"], "truth_error": r["truth_error"],
                                "slack": r["truth"] - r["value"],
                                "holds": r["value"] <= r["truth"] + r["truth_error"] + 1e-12})
    for r in (r for r in rows if r["part"] == "gap"):
        out["gap"].append({"z": r["z"], "shift": r["shift"], "excess_kurtosis": r["excess_kurtosis"],
                           "truth_w2_per_sqrt_d": r["truth"], "closed_form_per_sqrt_d": r["value"],
                           "gap_per_sqrt_d": r["truth"] - r["value"],
                           "ratio": r["value"] / r["truth"] if r["truth"] > 0 else 1.0})
        out["gelbrich"].append({"pair": r["pair"], "d": 1, "truth": r["truth"],
                                "closed_form_true": r["value"], "truth_error": r["truth_error"],
                                "slack": r["truth"] - r["value"],
                                "holds": r["value"] <= r["truth"] + r["truth_error"] + 1e-12})
    out["misrank"] = _summarize_misrank(rows)
    out["sliced_checks"] = _summarize_sliced(rows, truth_rows)
    return out


def _summarize_misrank(rows) -> list[dict]:
    mis = [r for r in rows if r["part"] == "misrank"]
    res = []
    for d in sorted({r["d"] for r in mis}):
        sub = [r for r in mis if r["d"] == d]
        pop = {r["pair"]: r for r in sub if r["estimator"] == "closed_form_true"}
        entry = {"d": d, "truth_A": pop["A_gaussian"]["truth"], "truth_B": pop["B_bimodal"]["truth"],
                 "closed_form_A": pop["A_gaussian"]["value"],
                 "closed_form_B": pop["B_bimodal"]["value"]}
        entry["misranked"] = bool((entry["closed_form_A"] < entry["closed_form_B"])
                                  != (entry["truth_A"] < entry["truth_B"]))
        for est in ("closed_form_emp", "exact_ot"):
            by_rep: dict[int, dict] = {}
            for r in sub:
                if r["estimator"] == est:
                    by_rep.setdefault(r["replicate"], {})[r["pair"]] = r["value"]
            diffs = [v["A_gaussian"] - v["B_bimodal"] for v in by_rep.values()]
            t = one_sample_t(diffs)
            entry[f"{est}_A_minus_B"] = {"mean": t.estimate, "ci": t.ci, "stderr": t.se, "z": t.t,
                                         "p": t.p, "replicates": t.n,
                                         "n": sub[-1]["n"] if sub else None}
        res.append(entry)
    return res


def _summarize_sliced(rows, truth_rows) -> dict:
    """The sliced relations: d SW2^2 <= W2^2 (population, Gaussian pairs), equality for
    translations (and the exact finite-direction identity), max-sliced <= exact OT on samples."""
    out: dict = {"translation": [], "population": [], "sample_max_sliced_violation": None,
                 "sample_sliced_above_ot_fraction": None}
    tr = [r for r in rows if r["part"] == "translation"]
    for d in sorted({r["d"] for r in tr}):
        s = [r for r in tr if r["d"] == d and r["estimator"] == "sliced"]
        ot_ = [r for r in tr if r["d"] == d and r["estimator"] == "exact_ot"]
        ms = [r for r in tr if r["d"] == d and r["estimator"] == "max_sliced"]
        t = one_sample_t([r["value"] ** 2 for r in s], 1.0)
        out["translation"].append({
            "d": d, "d_sw2sq_over_v2": {"mean": t.estimate, "ci": t.ci, "z": t.t, "p": t.p,
                                        "n": t.n},
            "max_identity_error": max(abs(r["value"] - r["predicted"]) for r in s),
            "max_exact_ot_error": max(abs(r["value"] - 1.0) for r in ot_),
            "max_sliced_max": max(r["value"] for r in ms)})
    for (label, d), r in sorted(truth_rows.items()):
        if r.get("sliced_target") is not None:
            out["population"].append({"pair": label, "d": d, "sqrt_d_sw2": r["sliced_target"],
                                      "stderr": r["sliced_target_stderr"], "w2": r["truth"],
                                      "ratio": r["sliced_target"] / r["truth"] if r["truth"] > 0
                                      else None})
    keyed: dict[tuple, dict] = {}
    for r in rows:
        if r["part"] == "sweep":
            keyed.setdefault((r["pair"], r["d"], r["n"], r["replicate"]), {})[r["estimator"]] = r
    viol, above, total = -math.inf, 0, 0
    for v in keyed.values():
        if {"exact_ot", "sliced", "max_sliced"} <= set(v):
            ot_v = v["exact_ot"]["value"]
            viol = max(viol, (v["max_sliced"]["value"] - ot_v) / max(ot_v, 1e-300))
            above += v["sliced"]["value"] > ot_v
            total += 1
    out["sample_max_sliced_violation"] = viol if total else None
    out["sample_sliced_above_ot_fraction"] = above / total if total else None
    return out
