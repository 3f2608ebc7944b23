"""Summary of the ``lemma3`` study's rows (per check: estimates with t intervals)."""

from __future__ import annotations

import math

import numpy as np

from ...core.stats import loglog_slope, mean_ci, one_sample_t
from .config import Lemma3Config


def _rows(rows, check):
    return [r for r in rows if r["check"] == check]


def summarize(cfg: Lemma3Config, rows: list[dict]) -> dict:
    out: dict = {"monge": {}, "sample_ot": {}, "symmetry": {}, "repo_product_eigh": {},
                 "gelbrich": {}}
    for d in cfg.monge_dims:
        mc = [r for r in _rows(rows, "monge_mc") if r["d"] == d]
        ref = mc[0]["reference"]
        t = one_sample_t([r["value"] for r in mc], ref)
        cpl = next(r for r in _rows(rows, "monge_coupling") if r["d"] == d)
        out["monge"][d] = {
            "closed_form_w2sq": ref, "mc_mean": t.estimate, "mc_ci": t.ci, "mc_stderr": t.se,
            "z": t.t, "p": t.p, "n": t.n, "rel_error": (t.estimate - ref) / ref,
            "max_cov_rel_error": max(r["cov_rel_error"] for r in mc),
            "emd_gain_over_map": (cpl["reference"] - cpl["value"]) / cpl["reference"],
        }
    sizes, excess = [], []
    for n in cfg.ot_sizes:
        s = [r for r in _rows(rows, "sample_ot") if r["n"] == n]
        ref = s[0]["reference"]
        t = one_sample_t([r["value"] for r in s], ref)
        ex = mean_ci((r["value"] - r["sample_closed_form"]) / ref for r in s)
        out["sample_ot"][n] = {"closed_form_w2sq": ref, "mean": t.estimate, "ci": t.ci, "z": t.t,
                               "p": t.p, "replicates": t.n,
                               "rel_excess_over_sample_moments": ex.mean,
                               "min_rel_excess": min((r["value"] - r["sample_closed_form"]) / ref
                                                     for r in s)}
        out["sample_ot"][n]["rel_excess_stderr"] = ex.stderr
        out["sample_ot"][n]["rel_excess_n"] = ex.n
        sizes.append(n)
        excess.append(ex.mean)
    if len(sizes) >= 3 and all(e > 0 for e in excess):
        slope, se = loglog_slope(sizes, excess)
        out["sample_ot_excess_slope"] = {"slope": slope, "stderr": se}
    for d in cfg.symmetry_dims:
        s = [r for r in _rows(rows, "trace_symmetry") if r["d"] == d]
        out["symmetry"][d] = {"max_rel_diff": max(r["value"] for r in s),
                              "max_ours_asymmetry": max(r["ours_asymmetry"] for r in s),
                              "max_ours_vs_scipy": max(r["ours_vs_scipy"] for r in s)}
        for name in ("commuting", "non_commuting"):
            e = [r["value"] for r in _rows(rows, "repo_product_eigh")
                 if r["d"] == d and r["pair"] == name]
            out["repo_product_eigh"].setdefault(name, {})[d] = {"max_rel_error": max(e),
                                                                "median_rel_error":
                                                                float(np.median(e))}
    for r in _rows(rows, "gelbrich"):
        key = f"{r['pair']} d={r['d']}"
        g = out["gelbrich"].setdefault(key, {"min_rel_slack": math.inf, "ratios": []})
        g["min_rel_slack"] = min(g["min_rel_slack"], (r["value"] - r["reference"]) / r["value"])
        g["ratios"].append(math.sqrt(max(r["reference"], 0) / r["value"]))
    for g in out["gelbrich"].values():
        ratios = g.pop("ratios")
        g["mean_w_gauss_over_w_exact"] = float(np.mean(ratios))
    return out
