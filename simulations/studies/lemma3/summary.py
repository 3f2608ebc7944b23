"""Summary of the ``lemma3`` study's rows: per check and dimension (or sample size), the estimates
with their t intervals and the worst cases the claims read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.jsondata import JsonData
from ...core.stats import Estimate, TTest, loglog_fit, mean_ci, one_sample_t
from .config import Lemma3Config


@dataclass(frozen=True, eq=False)
class MongeCheck(JsonData):
    """Dimension ``d``: the Monte Carlo cost of the Monge map against the closed form W2^2
    (``cost``: one-sample t test of the replicates against it), and the map's checks."""

    d: int
    closed_form_w2sq: float
    cost: TTest
    rel_error: float
    max_cov_rel_error: float
    emd_gain_over_map: float


@dataclass(frozen=True, eq=False)
class SampleOTCheck(JsonData):
    """Sample size ``n``: exact OT between independent samples against the closed form (``ot``), and
    its excess over the closed form of the samples' own moments, relative to W2^2 (``excess``)."""

    n: int
    closed_form_w2sq: float
    ot: TTest
    excess: Estimate
    min_rel_excess: float


@dataclass(frozen=True, eq=False)
class SymmetryCheck(JsonData):
    """Dimension ``d``: the two factor orders of the trace term (scipy) and our closed form."""

    d: int
    max_rel_diff: float
    max_ours_asymmetry: float
    max_ours_vs_scipy: float


@dataclass(frozen=True, eq=False)
class ProductEighCheck(JsonData):
    """The authors' shortcut on ``pair`` ('commuting' or 'non_commuting') covariances in
    dimension ``d``: its relative W error."""

    pair: str
    d: int
    max_rel_error: float
    median_rel_error: float


@dataclass(frozen=True, eq=False)
class GelbrichCheck(JsonData):
    """A pair of non-Gaussian laws in dimension ``d``: the smallest relative slack of exact OT over
    the closed form, and the mean ratio W_gauss / W_exact."""

    pair: str
    d: int
    min_rel_slack: float
    mean_w_gauss_over_w_exact: float

    @property
    def label(self) -> str:
        return f"{self.pair} d={self.d}"


@dataclass(frozen=True, eq=False)
class Lemma3Summary(JsonData):
    """The four checks (see :mod:`.cells`); ``sample_ot_excess_slope``: the log-log slope of the
    mean excess in n (None when an excess is not positive or there are fewer than 3 sizes)."""

    monge: tuple[MongeCheck, ...]
    sample_ot: tuple[SampleOTCheck, ...]
    sample_ot_excess_slope: Estimate | None
    symmetry: tuple[SymmetryCheck, ...]
    repo_product_eigh: tuple[ProductEighCheck, ...]
    gelbrich: tuple[GelbrichCheck, ...]

    @classmethod
    def from_rows(cls, cfg: Lemma3Config, rows: list[dict]) -> Lemma3Summary:
        return _summarize(cfg, rows)


def _rows(rows, check):
    return [r for r in rows if r["check"] == check]


def _summarize(cfg: Lemma3Config, rows: list[dict]) -> Lemma3Summary:
    monge = []
    for d in cfg.monge_dims:
        mc = [r for r in _rows(rows, "monge_mc") if r["d"] == d]
        ref = mc[0]["reference"]
        t = one_sample_t([r["value"] for r in mc], ref)
        cpl = next(r for r in _rows(rows, "monge_coupling") if r["d"] == d)
        monge.append(MongeCheck(d, ref, t, (t.value - ref) / ref,
                                max(r["cov_rel_error"] for r in mc),
                                (cpl["reference"] - cpl["value"]) / cpl["reference"]))
    sample_ot, sizes, excess = [], [], []
    for n in cfg.ot_sizes:
        s = [r for r in _rows(rows, "sample_ot") if r["n"] == n]
        ref = s[0]["reference"]
        t = one_sample_t([r["value"] for r in s], ref)
        ex = mean_ci((r["value"] - r["sample_closed_form"]) / ref for r in s)
        sample_ot.append(SampleOTCheck(n, ref, t, ex,
                                       min((r["value"] - r["sample_closed_form"]) / ref
                                           for r in s)))
        sizes.append(n)
        excess.append(ex.value)
    slope = loglog_fit(sizes, excess) if len(sizes) >= 3 and all(e > 0 for e in excess) else None
    symmetry, eigh = [], {"commuting": [], "non_commuting": []}
    for d in cfg.symmetry_dims:
        s = [r for r in _rows(rows, "trace_symmetry") if r["d"] == d]
        symmetry.append(SymmetryCheck(d, max(r["value"] for r in s),
                                      max(r["ours_asymmetry"] for r in s),
                                      max(r["ours_vs_scipy"] for r in s)))
        for name in eigh:
            e = [r["value"] for r in _rows(rows, "repo_product_eigh")
                 if r["d"] == d and r["pair"] == name]
            eigh[name].append(ProductEighCheck(name, d, max(e), float(np.median(e))))
    slack: dict[tuple, float] = {}
    ratios: dict[tuple, list[float]] = {}
    for r in _rows(rows, "gelbrich"):
        key = (r["pair"], r["d"])
        slack[key] = min(slack.get(key, math.inf), (r["value"] - r["reference"]) / r["value"])
        ratios.setdefault(key, []).append(math.sqrt(max(r["reference"], 0) / r["value"]))
    gelbrich = tuple(GelbrichCheck(pair, d, slack[(pair, d)], float(np.mean(ratios[(pair, d)])))
                     for pair, d in slack)
    return Lemma3Summary(tuple(monge), tuple(sample_ot), slope, tuple(symmetry),
                         (*eigh["commuting"], *eigh["non_commuting"]), gelbrich)
