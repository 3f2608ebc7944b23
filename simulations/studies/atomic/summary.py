"""Summary of the ``atomic`` study: final values per (variant, source, shift), the authors' values
beside ours, training curves, the density targets' paired effects, measured step times."""

from __future__ import annotations

import numpy as np

from ...engines.training_summary import curves, final_rows, final_table, paired_difference
from .config import AUTHORS_FINAL_STEP2000, DENSITY_VARIANTS, AtomicConfig


def _authors_table(table: list[dict]) -> list[dict]:
    """Ours next to the authors' final values, at the shifts both have (integer mu <= 8)."""
    out = []
    for e in table:
        ref = AUTHORS_FINAL_STEP2000.get(e["source"], {}).get(e["quantizer"])
        mu = e["mu"]
        if ref is None or mu != int(mu) or not 0 <= mu <= 8:
            continue
        out.append({"quantizer": e["quantizer"], "source": e["source"], "mu": mu,
                    "error": e["error"], "utilization": e["utilization"],
                    "authors_error": ref["error"][int(mu)],
                    "authors_utilization": ref["utilization"][int(mu)]})
    return out


def _density_summary(rows: list[dict]) -> list[dict]:
    """Paired E difference of each adjusted target against exact matching, per d."""
    out, final = [], final_rows(rows)
    for d in sorted({r["d"] for r in rows}):
        for target in DENSITY_VARIANTS[1:]:
            diff = paired_difference(final, "error", {"quantizer": target, "d": d},
                                     {"quantizer": "wasserstein", "d": d})
            if diff is None:
                continue
            out.append({"d": d, "target": target, "error_exact": diff.b,
                        "error_adjusted": diff.a, "test": diff.as_dict(),
                        "relative": diff.estimate / diff.b,
                        "relative_ci": [c / diff.b for c in diff.ci]})
    return out


def _timing(rows: list[dict]) -> list[dict]:
    """Measured training seconds per step of every variant (mean over its runs' final rows)."""
    per: dict[tuple, list[float]] = {}
    for r in final_rows(rows):
        if r["step"] > 0 and "seconds" in r:
            per.setdefault((r["quantizer"], r["part"], r["n_codes"], r["d"]), []).append(
                r["seconds"] / r["step"])
    return [{"quantizer": q, "part": part, "n_codes": k, "d": d,
             "seconds_per_step": float(np.mean(v)), "runs": len(v)}
            for (q, part, k, d), v in sorted(per.items())]


def summarize(cfg: AtomicConfig, rows: list[dict]) -> dict:
    shift_rows = [r for r in rows if r.get("part") == "shift"]
    density_rows = [r for r in rows if r.get("part") == "density"]
    table = final_table(shift_rows)
    return {
        "final": table,
        "authors_comparison": _authors_table(table),
        "curves": curves(shift_rows),
        "density": _density_summary(density_rows),
        "density_final": final_table(density_rows, ("quantizer", "d")),
        "timing": _timing(rows),
        "diverged_runs": sum(bool(r.get("diverged")) for r in rows),
    }
