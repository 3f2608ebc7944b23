"""Summaries of training runs (rows of :func:`vqmatch.simulations.engines.training.train_run`) shared by the
studies that train codebooks: final values with intervals, paired comparisons between variants
(common random numbers), training curves."""

from __future__ import annotations

import math

import numpy as np

from ..core.stats import TTest, mean_ci, paired_t

RUN = ("quantizer", "source", "mu", "d", "part", "replicate")  # what identifies one training run


def final_rows(rows: list[dict], run: tuple[str, ...] = RUN) -> list[dict]:
    """The last evaluation row (largest ``step``) of every run, a run being the values of ``run``."""
    last: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r.get(k, "") for k in run)
        if key not in last or r["step"] > last[key]["step"]:
            last[key] = r
    return list(last.values())


METRICS = ("error", "utilization", "perplexity", "w2")


def final_table(rows: list[dict], group: tuple[str, ...] = ("quantizer", "source", "mu")) \
        -> list[dict]:
    """Mean and 95% CI over replicates of every metric at the final step, one entry per
    ``group`` value. With a single replicate the CI collapses to the value (``n = 1``)."""
    groups: dict[tuple, list[dict]] = {}
    for r in final_rows(rows):
        groups.setdefault(tuple(r[g] for g in group), []).append(r)
    table = []
    for key, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        entry = dict(zip(group, key, strict=True))
        entry.setdefault("d", g[0].get("d"))
        entry.setdefault("n_codes", g[0].get("n_codes"))
        entry["n"] = len(g)
        entry["diverged"] = sum(bool(r.get("diverged")) for r in g)
        entry["step"] = max(r["step"] for r in g)
        for m in METRICS:
            vals = [r[m] for r in g if m in r and r[m] is not None]
            if len(vals) >= 2:
                ci = mean_ci(vals)
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = ci.mean, [ci.low, ci.high], ci.stderr
            elif vals:
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = vals[0], [vals[0], vals[0]], math.inf
            else:
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = None, None, None
        table.append(entry)
    return table


def present(summary: dict, names) -> list[str]:
    """Those of ``names`` (in order) that have a final entry in ``summary`` (ran in this study)."""
    have = {e["quantizer"] for e in summary["final"]}
    return [n for n in names if n in have]


def final_entry(summary: dict, quantizer: str, source: str, mu: float) -> dict | None:
    """The ``summary["final"]`` entry (see :func:`final_table`) of one (quantizer, source, shift)."""
    for e in summary["final"]:
        if (e["quantizer"], e["source"], e["mu"]) == (quantizer, source, mu):
            return e
    return None


def paired_values(final: list[dict], metric: str, a: dict, b: dict,
                  pair: str = "replicate") -> tuple[list[float], list[float]]:
    """``metric`` of the rows matching ``a`` and of those matching ``b``, paired by the field
    ``pair`` (the replicate or seed: common random numbers), in the order of ``pair``."""
    def pick(match):
        return {r[pair]: r[metric] for r in final
                if all(r.get(k) == v for k, v in match.items()) and r.get(metric) is not None}

    ra, rb = pick(a), pick(b)
    common = sorted(set(ra) & set(rb))
    return [ra[i] for i in common], [rb[i] for i in common]


def paired_difference(final: list[dict], metric: str, a: dict, b: dict) -> TTest | None:
    """Paired Student t test (df = n - 1) of the final-step ``metric`` of runs matching ``a`` minus
    those matching ``b``, paired by replicate (common random numbers); ``final``: the runs' final
    rows (:func:`final_rows`, computed once by the caller). None when fewer than two replicate
    pairs exist."""
    xa, xb = paired_values(final, metric, a, b)
    return paired_t(xa, xb) if len(xa) >= 2 else None


def curves(rows: list[dict], group: tuple[str, ...] = ("quantizer", "source", "mu"),
           metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """Training curves: replicate means of each of ``metrics`` at every evaluation step, per
    ``group`` (diverged runs left out)."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for r in rows:
        if r.get("diverged"):
            continue
        groups.setdefault(tuple(r[g] for g in group), {}).setdefault(r["step"], []).append(r)
    out = []
    for key, by_step in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        steps = sorted(by_step)
        entry = dict(zip(group, key, strict=True))
        entry["step"] = steps
        for m in metrics:
            entry[m] = [float(np.mean([r[m] for r in by_step[s]])) for s in steps]
        out.append(entry)
    return out
