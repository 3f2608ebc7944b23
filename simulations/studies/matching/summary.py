"""Summaries of the ``matching`` sub-studies: replicate means with 95 % CIs, paired differences,
slopes and z-scores, one function per part (``summarize_<part>(cfg, rows)``)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ...core.stats import loglog_slope, one_sample_t, single_draw_p, t_pvalue, welch_t, z_score
from . import theory as mt
from .config import PARTS, MatchingConfig, theorem1_cases

CRITERIA = ("error_mse", "error_rms", "utilization", "perplexity")
BETTER = {"error_mse": -1, "error_rms": -1, "utilization": 1, "perplexity": 1}


def _ci(values) -> dict:
    """Mean, t interval and standard error of replicate values, with the Student t test of mean 0
    (``t``, ``p``; df = n - 1): used when the values are paired differences."""
    v = [float(x) for x in values]
    if len(v) < 2:
        return {"mean": v[0] if v else math.nan, "low": math.nan, "high": math.nan,
                "stderr": math.nan, "n": len(v), "t": math.nan, "p": math.nan}
    t = one_sample_t(v)
    return {"mean": t.estimate, "low": t.low, "high": t.high, "stderr": t.se, "n": t.n, "t": t.t,
            "p": t.p}


def _group(rows, *keys) -> dict:
    out = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return out


# ---------------------------------------------------------------------------------------------

def summarize_theorem1(cfg, rows: list[dict]) -> dict:
    cases = theorem1_cases(cfg.small_radius, cfg.large_radius, cfg.shift)
    out = {}
    for case, g in _group(rows, "config").items():
        case = case[0]
        by_k = _group(g, "n_codes")
        ks = sorted(k[0] for k in by_k)
        per_k = []
        for k in ks:
            rs = by_k[(k,)]
            per_k.append({"n_codes": k, "n_features": rs[0]["n_features"],
                          "utilization": _ci(r["utilization"] for r in rs),
                          "p_u_is_one": float(np.mean([r["u_is_one"] for r in rs])),
                          "utilization_limit": _ci(r["utilization_limit"] for r in rs),
                          "p_u_limit_is_one": float(np.mean([r["u_limit_is_one"] for r in rs])),
                          "n_draws": len(rs),
                          "sup_low": _ci(r["sup_low"] for r in rs),
                          "sup_high": _ci(r["sup_high"] for r in rs),
                          "error_mse": _ci(r["error_mse"] for r in rs),
                          "in_support": _ci(r["in_support"] for r in rs)})
        allk = [r["n_codes"] for r in g]
        slope = {}
        for name, key in (("sup", "sup_high"), ("error_mse", "error_mse")):
            if len(ks) >= 2:
                s, se = loglog_slope(allk, [r[key] for r in g])
                slope[name] = {"slope": s, "stderr": se, "df": len(allk) - 2}
        spec = cases[case]
        out[case] = {"per_k": per_k, "slopes": slope, "support_match": spec["support_match"],
                     "predicted_u_limit": spec["u_limit"], "sup_floor": spec["sup_floor"],
                     "rel_tol": cfg.rel_tol}
    return out


# ---------------------------------------------------------------------------------------------

def summarize_fig3(cfg, rows: list[dict]) -> dict:
    configs = {}
    scatter = {}
    for (label,), g in _group(rows, "config").items():
        paper = g[0]["paper"]
        entry = {"group": g[0]["group"], "matched": g[0]["matched"], "paper": paper,
                 "n_replicates": len(g)}
        for c in CRITERIA:
            vals = [r[c] for r in g]
            entry[c] = _ci(vals)
            entry[c]["sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan
        if paper:  # distance of the paper's single draw from our draws, in single-draw sd
            z, p = {}, {}
            for ours, theirs, tol in (("error_rms", "error_rms", "error"),
                                      ("error_mse", "error_rms", "error"),
                                      ("utilization", "utilization", "utilization"),
                                      ("perplexity", "perplexity", "perplexity")):
                sd = max(entry[ours]["sd"], 1e-12)
                gap = abs(paper[theirs] - entry[ours]["mean"])
                rounding = mt.FIG3_ROUNDING[tol] * (10 if label == "a" and tol == "utilization"
                                                    else 1)
                z[ours] = math.copysign(max(0.0, gap - rounding) / sd,
                                        paper[theirs] - entry[ours]["mean"])
                # the paper's value as ONE more draw: (x - mean) / (sd sqrt(1 + 1/n)) ~ t(n - 1)
                p[ours] = single_draw_p(paper[theirs], entry[ours]["mean"], entry[ours]["sd"],
                                        len(g), rounding)
            entry["z_paper_single_draw"] = z
            entry["p_paper_single_draw"] = p
        configs[label] = entry
        first = next((r for r in g if "scatter_features" in r), None)
        if first:
            scatter[label] = {"features": first["scatter_features"], "codes": first["scatter_codes"]}
    # paired differences against the matched configuration of the same group
    paired = {}
    for g in _group(rows, "group").values():
        ref = {r["replicate"]: r for r in g if r["matched"]}
        if not ref:
            continue
        for (label,), gl in _group([r for r in g if not r["matched"]], "config").items():
            diffs = {}
            for c in CRITERIA:
                d = [r[c] - ref[r["replicate"]][c] for r in gl if r["replicate"] in ref]
                ci = _ci(d)
                ci["z"] = ci["t"]
                diffs[c] = ci
            paired[label] = diffs
    return {"configs": configs, "paired_vs_matched": paired, "scatter": scatter,
            "n_features": cfg.n_features, "n_codes": cfg.n_codes}


# ---------------------------------------------------------------------------------------------

def summarize_appf(cfg, rows: list[dict]) -> dict:
    points = []
    for (family, kind, k, d, n), g in sorted(_group(rows, "family", "kind", "n_codes", "d",
                                                   "n_features").items()):
        ref = {r["replicate"]: r for r in g if r["matched"]}
        ref_mean = {c: float(np.mean([r[c] for r in ref.values()])) for c in CRITERIA}
        values = []
        for (v,), gv in sorted(_group(g, "value").items()):
            entry = {"value": v, "matched": gv[0]["matched"], "paper_grid": gv[0]["paper_grid"]}
            for c in CRITERIA:
                entry[c] = _ci(r[c] for r in gv)
                d_ = [r[c] - ref[r["replicate"]][c] for r in gv]
                diff = _ci(d_)
                # positive advantage = this value beats the matched codebook on criterion c
                diff["advantage_z"] = BETTER[c] * diff["t"]
                diff["relative"] = diff["mean"] / ref_mean[c] if ref_mean[c] else math.nan
                diff["relative_ci"] = ([diff["low"] / ref_mean[c], diff["high"] / ref_mean[c]]
                                       if ref_mean[c] else [math.nan, math.nan])
                entry[f"diff_{c}"] = diff
            values.append(entry)
        best = {}
        for c in CRITERIA:
            for grid_only in (True, False):
                cand = [e for e in values if e["paper_grid"] or not grid_only]
                pick = (min if BETTER[c] < 0 else max)(cand, key=lambda e: e[c]["mean"])
                best[f"{c}{'' if grid_only else '_all'}"] = pick["value"]
        points.append({"family": family, "kind": kind, "n_codes": k, "d": d, "n_features": n,
                       "values": values, "best": best})
    sweeps = {axis: [list(p) for p in pts] for axis, pts in cfg.sweeps().items()}
    return {"points": points, "sweeps": sweeps,
            "defaults": {"n_codes": cfg.n_codes, "d": cfg.d, "n_features": cfg.n_features}}


# ---------------------------------------------------------------------------------------------

def summarize_appg(cfg, rows: list[dict]) -> dict:
    from scipy import stats

    out = {}
    for (family,), g in _group(rows, "family").items():
        per = []
        for (s,), gs in sorted(_group(g, "scale").items()):
            per.append({"scale": s, "paper": gs[0]["paper"],
                        **{c: _ci(r[c] for r in gs) for c in CRITERIA},
                        "error_over_scale2": _ci(r["error_mse"] / s ** 2 for r in gs),
                        "perplexity_over_k": _ci(r["perplexity"] / r["n_codes"] for r in gs)})
        slope, se = loglog_slope([r["scale"] for r in g], [r["error_mse"] for r in g])
        groups = {c: [[r[c] for r in gs] for _, gs in sorted(_group(g, "scale").items())]
                  for c in ("utilization", "perplexity")}
        anova = {}
        for c, vals in groups.items():
            flat = np.concatenate(vals)
            anova[c] = (1.0 if np.ptp(flat) == 0 else float(stats.f_oneway(*vals).pvalue))
        pooled = {c: _ci(r[c] for r in g) for c in ("utilization", "perplexity")}
        pooled["error_over_scale2"] = _ci(r["error_mse"] / r["scale"] ** 2 for r in g)
        comparison = None
        if g[0]["at_paper_size"] and family in mt.APPG_PAPER:
            paper = mt.APPG_PAPER[family]
            comparison = {}
            for name, idx, scale2 in (("error_over_scale2", 0, True), ("utilization", 1, False),
                                      ("perplexity", 2, False)):
                pv = [v[idx] / (s * s if scale2 else 1.0) for s, v in paper.items()]
                pm, pse = float(np.mean(pv)), float(np.std(pv, ddof=1) / math.sqrt(len(pv)))
                # printed precision: E to 3 significant digits, U to 4 decimals, C to 1 decimal
                half = (0.5 * 10.0 ** (math.floor(math.log10(abs(pm))) - 2) if scale2
                        else (5e-5 if name == "utilization" else 0.05))
                ours = pooled[name]
                gap = max(0.0, abs(ours["mean"] - pm) - half)
                t, df, p = welch_t(math.copysign(gap, ours["mean"] - pm), ours["stderr"], ours["n"],
                                   0.0, pse, len(pv))
                comparison[name] = {"paper_mean": pm, "paper_stderr": pse, "ours": ours["mean"],
                                    "rounding": half, "z": t, "df": df, "p": p}
        out[family] = {"per_scale": per, "slope": slope, "slope_stderr": se, "slope_df": len(g) - 2,
                       "anova_p": anova, "pooled": pooled, "paper_comparison": comparison,
                       "n_codes": cfg.n_codes, "n_features": cfg.n_features, "d": cfg.d}
    return out


# ---------------------------------------------------------------------------------------------

def summarize_utilization(cfg, rows: list[dict]) -> dict:
    tests = []
    for (case, k, n), g in sorted(_group(rows, "config", "n_codes", "n_features").items()):
        u = _ci(r["utilization"] for r in g)
        resid = _ci(r["utilization"] - r["expected_given_codes"] for r in g)
        entry = {"case": case, "d": g[0]["d"], "n_codes": k, "n_features": n, "utilization": u,
                 "expected_given_codes": _ci(r["expected_given_codes"] for r in g),
                 "residual": resid, "z_conditional": resid["t"], "p_conditional": resid["p"]}
        if g[0]["closed_form"] is not None:
            mu = g[0]["closed_form"]
            # U lies in [0, 1], so Var U <= mu (1 - mu): a floor for the standard error when every
            # replicate gives the same U (e.g. U = 1 throughout)
            se = max(u["stderr"], math.sqrt(mu * (1 - mu) / len(g)))
            entry["closed_form"] = mu
            entry["z_closed_form"] = z_score(u["mean"], se, mu)
            entry["p_closed_form"] = t_pvalue(entry["z_closed_form"], len(g) - 1)
        tests.append(entry)
    return {"tests": tests}


PART_SUMMARIES = {"theorem1": summarize_theorem1, "fig3": summarize_fig3, "appf": summarize_appf,
                  "appg": summarize_appg, "utilization": summarize_utilization}


def summarize(cfg: MatchingConfig, rows: list[dict]) -> dict:
    present = [p for p in PARTS if any(r.get("study") == p for r in rows)]
    out = {"parts_present": present}
    for p in present:
        part_rows = [r for r in rows if r.get("study") == p]
        out[p] = PART_SUMMARIES[p](getattr(cfg, p), part_rows)
    return out
