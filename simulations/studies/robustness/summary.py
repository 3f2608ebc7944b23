"""Summary of the ``robustness`` study: final values and training curves per (variant, source,
separation or Student-t location)."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.jsondata import JsonData
from ...engines.training_summary import Curve, FinalEntry, final_table, training_curves
from .config import RobustnessConfig


@dataclass(frozen=True, eq=False)
class RobustnessSummary(JsonData):
    """Final values per variant and feature law, training curves, and the count of diverged
    evaluation rows."""

    final: tuple[FinalEntry, ...]
    curves: tuple[Curve, ...]
    diverged_runs: int

    @classmethod
    def from_rows(cls, cfg: RobustnessConfig, rows: list[dict]) -> RobustnessSummary:
        return cls(final_table(rows), training_curves(rows),
                   sum(bool(r.get("diverged")) for r in rows))
