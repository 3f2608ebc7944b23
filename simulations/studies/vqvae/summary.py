"""Summary of the ``vqvae`` study: final values per grid point (mean and t interval over seeds),
training curves, paired comparisons of Wasserstein VQ with every other quantizer (same seeds: common
random numbers), the fair-comparison control, the STE gradient gap, and the paper's table values
beside ours where the training preset is the paper's."""

from __future__ import annotations

import math

import numpy as np

from ...core.stats import mean_ci, paired_t
from ...engines.training_summary import curves, final_rows, paired_values
from .config import PAPER_PRESETS, PAPER_TABLES, VQVAEConfig

METRICS = ("utilization", "perplexity", "error", "psnr", "psnr_y", "ssim", "rec_loss")
GAP = ("gap_mean", "bound_mean", "gap_over_bound_median", "violation_rate", "gap_error_slope")
POINT = ("quantizer", "codebook_size", "codebook_dim", "dataset", "gamma", "beta", "codebook_lr",
         "setting")


def _ci(values: list[float]) -> dict:
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not values:
        return {"mean": None, "ci": None, "n": 0}
    if len(values) == 1 or max(values) == min(values):
        return {"mean": values[0] if len(values) == 1 else float(np.mean(values)),
                "ci": None if len(values) == 1 else [values[0], values[0]], "n": len(values)}
    c = mean_ci(values)
    return {"mean": c.mean, "ci": [c.low, c.high], "n": c.n,
            "sd": float(np.std(values, ddof=1))}


def _points(final: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in final:
        groups.setdefault(tuple(r[k] for k in POINT), []).append(r)
    out = []
    for key, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        entry = dict(zip(POINT, key, strict=True))
        entry["seeds"] = sorted(r["seed"] for r in g)
        entry["step"] = max(r["step"] for r in g)
        for m in (*METRICS, *GAP, "images_per_s", "seconds"):
            entry[m] = _ci([r.get(m) for r in g])
        entry["recon_file"] = next((r["recon_file"] for r in g if r.get("recon_file")), None)
        out.append(entry)
    return out


def paired(final: list[dict], metric: str, a: dict, b: dict) -> dict | None:
    """``metric`` at the final step, runs matching ``a`` minus runs matching ``b``, paired by seed:
    the means (``a``, ``b``, ``diff``, ``seeds``) and, with two or more common seeds, the paired t
    test (``test``); None when no seed has both."""
    xa, xb = paired_values(final, metric, a, b, pair="seed")
    if not xa:
        return None
    out = {"a": float(np.mean(xa)), "b": float(np.mean(xb)),
           "diff": float(np.mean(xa) - np.mean(xb)), "seeds": len(xa), "test": None}
    if len(xa) >= 2:
        out["test"] = paired_t(xa, xb).as_dict()
    return out


def _comparisons(final: list[dict]) -> list[dict]:
    """Wasserstein VQ (the authors' settings) against every other quantizer at each (K, d, dataset)
    of the paper-setting grid."""
    out = []
    paper = [r for r in final if r["setting"] == "paper"]
    for key in sorted({(r["codebook_size"], r["codebook_dim"], r["dataset"]) for r in paper}):
        k, d, ds = key
        where = {"codebook_size": k, "codebook_dim": d, "dataset": ds, "setting": "paper"}
        w = [r for r in paper if r["quantizer"] == "wasserstein" and r["codebook_size"] == k
             and r["codebook_dim"] == d and r["dataset"] == ds]
        if not w:
            continue
        w_gamma = 0.5 if any(r["gamma"] == 0.5 for r in w) else w[0]["gamma"]  # the paper's
        for q in sorted({r["quantizer"] for r in paper if r["quantizer"] != "wasserstein"}):
            entry = {"codebook_size": k, "codebook_dim": d, "dataset": ds, "other": q}
            for m in ("utilization", "psnr", "psnr_y", "ssim", "rec_loss", "gap_mean"):
                entry[m] = paired(final, m, {**where, "quantizer": "wasserstein", "gamma": w_gamma},
                                  {**where, "quantizer": q})
            out.append(entry)
    return out


def _control(cfg: VQVAEConfig, final: list[dict]) -> list[dict]:
    """The fair-comparison control at its (K, d, dataset): for every baseline b, the utilization
    gain of Wasserstein VQ with each quantizer's own settings (``gain_paper``: U(W) - U(b)) and with
    the settings swapped (``gain_swapped``: U(W with b's settings) - U(b with W's settings)), the
    same swapped differences of the gradient gap (``gap_swapped``) and of the Y-PSNR
    (``psnr_swapped``), paired by seed; and each control point's change against its own
    settings."""
    ctl = [r for r in final if r["setting"] == "control"]
    out = []
    for k, d, ds in sorted({(r["codebook_size"], r["codebook_dim"], r["dataset"]) for r in ctl}):
        where = {"codebook_size": k, "codebook_dim": d, "dataset": ds}
        w_ctl = [r for r in ctl if r["quantizer"] == "wasserstein"
                 and all(r[x] == v for x, v in where.items())]
        for q in sorted({r["quantizer"] for r in ctl if r["quantizer"] != "wasserstein"}):
            b_ctl = [r for r in ctl if r["quantizer"] == q
                     and all(r[x] == v for x, v in where.items())]
            entry = {**where, "baseline": q, "baseline_control_beta": b_ctl[0]["beta"],
                     "baseline_control_codebook_lr": b_ctl[0]["codebook_lr"],
                     "gain_paper": paired(final, "utilization",
                                          {**where, "quantizer": "wasserstein", "setting": "paper"},
                                          {**where, "quantizer": q, "setting": "paper"}),
                     "baseline_change": paired(final, "utilization",
                                               {**where, "quantizer": q, "setting": "control"},
                                               {**where, "quantizer": q, "setting": "paper"})}
            if w_ctl:
                entry |= {"wasserstein_control_beta": w_ctl[0]["beta"],
                          "wasserstein_control_codebook_lr": w_ctl[0]["codebook_lr"]}
                for m, name in (("utilization", "gain_swapped"), ("gap_mean", "gap_swapped"),
                                ("psnr_y", "psnr_swapped")):
                    entry[name] = paired(final, m, {**where, "quantizer": "wasserstein",
                                                    "setting": "control"},
                                         {**where, "quantizer": q, "setting": "control"})
            out.append(entry)
    return out


def _gap(final: list[dict]) -> dict:
    runs = [r for r in final if r.get("gap_images")]
    if not runs:
        return {"runs": 0}
    images = sum(r["gap_images"] for r in runs)
    violations = sum(r["gap_violations"] for r in runs)
    from scipy.stats import beta

    lo = float(beta.ppf(0.025, violations, images - violations + 1)) if violations else 0.0
    hi = float(beta.ppf(0.975, violations + 1, images - violations)) if violations < images else 1.0
    return {"runs": len(runs), "images": images, "violations": violations,
            "violation_rate": violations / images, "violation_rate_ci": [lo, hi],
            "gap_over_bound_median": float(np.median([r["gap_over_bound_median"] for r in runs])),
            "gap_error_slope": _ci([r.get("gap_error_slope") for r in runs])}


def _gap_scatter(final: list[dict], k: int | None) -> dict:
    """Per-image (distance ||z_e - z_q||, gap G) of every quantizer at the largest K, paper
    setting, pooled over seeds (the gradient-gap figure)."""
    out: dict = {}
    for r in final:
        if r["codebook_size"] != k or r["setting"] != "paper" or not r.get("gap_per_image"):
            continue
        e = out.setdefault(r["quantizer"], {"distance": [], "gap": []})
        e["distance"] += r["distance_per_image"]
        e["gap"] += r["gap_per_image"]
    return out


def _paper(cfg: VQVAEConfig, points: list[dict]) -> list[dict]:
    table = PAPER_TABLES.get(PAPER_PRESETS.get(cfg.train, ""), {})
    out = []
    for e in points:
        ref = table.get((e["quantizer"], e["codebook_size"], e["codebook_dim"]))
        if ref is None or e["setting"] != "paper":
            continue
        u, c, psnr, ssim, rec = ref
        out.append({"quantizer": e["quantizer"], "codebook_size": e["codebook_size"],
                    "codebook_dim": e["codebook_dim"], "utilization": e["utilization"],
                    "psnr_y": e["psnr_y"], "rec_loss": e["rec_loss"], "paper_utilization": u,
                    "paper_perplexity": c, "paper_psnr": psnr, "paper_ssim": ssim,
                    "paper_rec_loss": rec})
    return out


def summarize(cfg: VQVAEConfig, rows: list[dict]) -> dict:
    final = final_rows(rows, run=(*POINT, "seed"))
    points = _points(final)
    largest = max((r["codebook_size"] for r in final), default=None)
    return {"train": cfg.train, "points": points,
            "curves": curves(rows, POINT, ("utilization", "psnr", "rec_loss")),
            "comparisons": _comparisons(final), "control": _control(cfg, final),
            "gap": _gap(final), "gap_scatter": _gap_scatter(final, largest),
            "paper": _paper(cfg, points), "largest_k": largest}
