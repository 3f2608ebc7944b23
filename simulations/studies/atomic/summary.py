"""Summary of the ``atomic`` study: final values per (variant, source, shift), the authors' values
beside ours, training curves, the density targets' paired effects, measured step times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.jsondata import JsonData
from ...core.stats import Estimate, TTest
from ...engines.training_summary import (
    Curve,
    FinalEntry,
    final_rows,
    final_table,
    paired_difference,
    training_curves,
)
from .config import AUTHORS_FINAL_STEP2000, DENSITY_VARIANTS, AtomicConfig


@dataclass(frozen=True, eq=False)
class AuthorsValue(JsonData):
    """Our final mean E and U next to the authors' (their CSVs, K = 16384, one run)."""

    quantizer: str
    source: str
    shift: float
    error: float
    utilization: float
    authors_error: float
    authors_utilization: float


@dataclass(frozen=True, eq=False)
class DensityTarget(JsonData):
    """An adjusted target against exact matching in dimension d: the paired t test of E(adjusted)
    - E(exact) over replicates and the effect relative to E(exact)."""

    d: int
    target: str
    test: TTest
    relative: Estimate

    @property
    def error_exact(self) -> float:
        return self.test.b

    @property
    def error_adjusted(self) -> float:
        return self.test.a


@dataclass(frozen=True, eq=False)
class StepTime(JsonData):
    """Measured training seconds per step of a variant (mean over its runs' final rows)."""

    quantizer: str
    part: str
    codebook_size: int
    d: int
    seconds_per_step: float
    runs: int


@dataclass(frozen=True, eq=False)
class AtomicSummary(JsonData):
    """The two parts (see :mod:`.cells`): ``final`` / ``curves`` / ``authors_comparison`` of the
    shift part, ``density`` / ``density_final`` of the density part."""

    final: tuple[FinalEntry, ...]
    authors_comparison: tuple[AuthorsValue, ...]
    curves: tuple[Curve, ...]
    density: tuple[DensityTarget, ...]
    density_final: tuple[FinalEntry, ...]
    timing: tuple[StepTime, ...]
    diverged_runs: int

    @classmethod
    def from_rows(cls, cfg: AtomicConfig, rows: list[dict]) -> AtomicSummary:
        shift_rows = [r for r in rows if r.get("part") == "shift"]
        density_rows = [r for r in rows if r.get("part") == "density"]
        table = final_table(shift_rows)
        return cls(final=table, authors_comparison=_authors_table(table),
                   curves=training_curves(shift_rows), density=_density_summary(density_rows),
                   density_final=final_table(density_rows), timing=_timing(rows),
                   diverged_runs=sum(bool(r.get("diverged")) for r in rows))


def _authors_table(table: tuple[FinalEntry, ...]) -> tuple[AuthorsValue, ...]:
    """Ours next to the authors' final values, at the shifts both have (integer mu <= 8)."""
    out = []
    for e in table:
        ref = AUTHORS_FINAL_STEP2000.get(e.source, {}).get(e.quantizer)
        mu = e.shift
        if ref is None or mu != int(mu) or not 0 <= mu <= 8 or e.error is None:
            continue
        out.append(AuthorsValue(e.quantizer, e.source, mu, e.error.value, e.utilization.value,
                                ref["error"][int(mu)], ref["utilization"][int(mu)]))
    return tuple(out)


def _density_summary(rows: list[dict]) -> tuple[DensityTarget, ...]:
    """Paired E difference of each adjusted target against exact matching, per d."""
    out, final = [], final_rows(rows)
    for d in sorted({r["d"] for r in rows}):
        for target in DENSITY_VARIANTS[1:]:
            diff = paired_difference(final, "error", {"quantizer": target, "d": d},
                                     {"quantizer": "wasserstein", "d": d})
            if diff is None:
                continue
            out.append(DensityTarget(d, target, diff, diff.divided_by(diff.b)))
    return tuple(out)


def _timing(rows: list[dict]) -> tuple[StepTime, ...]:
    """Measured training seconds per step of every variant (mean over its runs' final rows)."""
    per: dict[tuple, list[float]] = {}
    for r in final_rows(rows):
        if r["step"] > 0 and "seconds" in r:
            per.setdefault((r["quantizer"], r["part"], r["codebook_size"], r["d"]), []).append(
                r["seconds"] / r["step"])
    return tuple(StepTime(q, part, k, d, float(np.mean(v)), len(v))
                 for (q, part, k, d), v in sorted(per.items()))
