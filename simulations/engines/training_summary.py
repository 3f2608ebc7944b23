"""Summaries of training runs (rows of :func:`vqmatch.simulations.engines.training.train_run`) shared by the
studies that train codebooks: final values with intervals, paired comparisons between variants
(common random numbers), training curves."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..core.jsondata import JsonData
from ..core.stats import Estimate, TTest, mean_ci, paired_t

RUN = ("quantizer", "source", "shift", "separation", "d", "part", "replicate")  # one training run
LAW = ("quantizer", "source", "shift", "separation", "d")  # one (variant, feature law) over replicates
METRICS = ("error", "utilization", "perplexity", "w2")


@dataclass(frozen=True, eq=False)
class FinalEntry(JsonData):
    """The final step of one variant on one feature law, over its replicates: each metric's mean
    and t interval (one replicate: the value, an infinite standard error; None where no replicate
    has the metric, e.g. every run diverged)."""

    quantizer: str
    source: str
    shift: float
    separation: float
    d: int
    codebook_size: int
    n: int
    diverged: int
    step: int
    error: Estimate | None
    utilization: Estimate | None
    perplexity: Estimate | None
    w2: Estimate | None


@dataclass(frozen=True, eq=False)
class Curve(JsonData):
    """Training curve of one variant on one feature law: the replicate means of every metric at
    each evaluation step (diverged runs left out)."""

    quantizer: str
    source: str
    shift: float
    separation: float
    step: tuple[int, ...]
    error: tuple[float, ...]
    utilization: tuple[float, ...]
    perplexity: tuple[float, ...]
    w2: tuple[float, ...]


def final_rows(rows: list[dict], run: tuple[str, ...] = RUN) -> list[dict]:
    """The last evaluation row (largest ``step``) of every run, a run being the values of ``run``."""
    last: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r.get(k, "") for k in run)
        if key not in last or r["step"] > last[key]["step"]:
            last[key] = r
    return list(last.values())


def metric_estimate(values: Iterable[float | None]) -> Estimate | None:
    """Mean and t interval of a metric over replicates (see :class:`FinalEntry`)."""
    vals = [v for v in values if v is not None]
    if len(vals) >= 2:
        return mean_ci(vals)
    if vals:
        return Estimate(vals[0], vals[0], vals[0], math.inf, 0, 1)
    return None


def final_table(rows: list[dict]) -> tuple[FinalEntry, ...]:
    """One :class:`FinalEntry` per (variant, feature law, d), sorted by those."""
    groups: dict[tuple, list[dict]] = {}
    for r in final_rows(rows):
        groups.setdefault(tuple(r[g] for g in LAW), []).append(r)
    table = []
    for key, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        table.append(FinalEntry(
            *key, codebook_size=g[0].get("codebook_size"), n=len(g),
            diverged=sum(bool(r.get("diverged")) for r in g), step=max(r["step"] for r in g),
            **{m: metric_estimate(r.get(m) for r in g) for m in METRICS}))
    return tuple(table)


def present(final: Iterable[FinalEntry], names) -> list[str]:
    """Those of ``names`` (in order) that have a final entry (ran in this study)."""
    have = {e.quantizer for e in final}
    return [n for n in names if n in have]


def final_entry(final: Iterable[FinalEntry], quantizer: str, source: str, *, shift: float = 0.0,
                separation: float = 0.0) -> FinalEntry | None:
    """The final entry of one (quantizer, source, shift, separation), or None."""
    return next((e for e in final if (e.quantizer, e.source, e.shift, e.separation)
                 == (quantizer, source, shift, separation)), None)


def paired_values(final: list[dict], metric: str, a: dict, b: dict,
                  pair: str = "replicate") -> tuple[list[float], list[float]]:
    """``metric`` of the rows matching ``a`` and of those matching ``b``, paired by the field
    ``pair`` (the replicate: common random numbers), in the order of ``pair``."""
    def pick(match):
        return {r[pair]: r[metric] for r in final
                if all(r.get(k) == v for k, v in match.items()) and r.get(metric) is not None}

    ra, rb = pick(a), pick(b)
    common = sorted(set(ra) & set(rb))
    return [ra[i] for i in common], [rb[i] for i in common]


@dataclass(frozen=True, eq=False)
class Paired(JsonData):
    """A metric at the final step, runs ``a`` minus runs ``b`` paired by replicate: the two means,
    their difference, the number of pairs and (two or more) the paired t test (df = n - 1)."""

    a: float
    b: float
    diff: float
    replicates: int
    test: TTest | None


def paired(final: list[dict], metric: str, a: dict, b: dict) -> Paired | None:
    """``metric`` of the runs matching ``a`` minus the runs matching ``b``, paired by replicate over
    the replicates where both are finite (:class:`Paired`); None when no replicate has both."""
    pairs = [(u, v) for u, v in zip(*paired_values(final, metric, a, b), strict=True)
             if math.isfinite(u) and math.isfinite(v)]
    if not pairs:
        return None
    xa, xb = [u for u, _ in pairs], [v for _, v in pairs]
    return Paired(float(np.mean(xa)), float(np.mean(xb)), float(np.mean(xa) - np.mean(xb)),
                  len(xa), paired_t(xa, xb) if len(xa) >= 2 else None)


def paired_difference(final: list[dict], metric: str, a: dict, b: dict) -> TTest | None:
    """Paired Student t test (df = n - 1) of the final-step ``metric`` of runs matching ``a`` minus
    those matching ``b``, paired by replicate (common random numbers); ``final``: the runs' final
    rows (:func:`final_rows`, computed once by the caller). None when fewer than two replicate
    pairs exist."""
    xa, xb = paired_values(final, metric, a, b)
    return paired_t(xa, xb) if len(xa) >= 2 else None


def curves(rows: list[dict], group: tuple[str, ...], metrics: tuple[str, ...]) -> list[dict]:
    """Training curves: replicate means of each of ``metrics`` at every evaluation step, per
    ``group`` (diverged runs left out); one dict per group with its ``group`` values, ``step``
    and one list per metric."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for r in rows:
        if r.get("diverged"):
            continue
        groups.setdefault(tuple(r[g] for g in group), {}).setdefault(r["step"], []).append(r)
    out = []
    for key, by_step in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        steps = sorted(by_step)
        entry = dict(zip(group, key, strict=True))
        entry["step"] = tuple(steps)
        for m in metrics:
            entry[m] = tuple(float(np.mean([r[m] for r in by_step[s]])) for s in steps)
        out.append(entry)
    return out


def training_curves(rows: list[dict]) -> tuple[Curve, ...]:
    """:func:`curves` of every variant and feature law, as :class:`Curve` s."""
    return tuple(Curve(**c) for c in curves(rows, LAW[:4], METRICS))
