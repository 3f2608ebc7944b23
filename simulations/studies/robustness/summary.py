"""Summary of the ``robustness`` study: final values and training curves per (variant, source,
separation)."""

from __future__ import annotations

from ...engines.training_summary import curves, final_table
from .config import RobustnessConfig


def summarize(cfg: RobustnessConfig, rows: list[dict]) -> dict:
    return {"final": final_table(rows), "curves": curves(rows),
            "diverged_runs": sum(bool(r.get("diverged")) for r in rows)}
