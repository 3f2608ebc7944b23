"""Summary of the ``density`` study: exponent estimates per (method, d, source, K), the random
codebook's best scale and gain, the Panter-Dite check."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vqmatch.theory.quantization import best_gaussian_codebook_scale2, gaussian_codebook_gain

from ...core.jsondata import JsonData
from ...core.stats import Estimate, TTest, mean_ci, one_sample_t, paired_t
from .config import DensityConfig, candidates, lowrate_best_scale2


@dataclass(frozen=True, eq=False)
class ExponentEstimate(JsonData):
    """The point-density exponent of one (part, d, source, K) over its replicates (``exponent``: a t
    interval; for the deterministic Lloyd-Max levels, the regression's normal interval with
    n = 1), its separation in standard errors from each candidate exponent and the p-value of each
    (``test``: which test gave it)."""

    part: str
    d: int
    source: str
    codebook_size: int
    method: str
    n_replicates: int
    exponent: Estimate
    candidates: dict[str, float]
    separation_se: dict[str, float]
    p: dict[str, float]
    test: str
    distortion: float
    exponent_moment: float | None = None
    k2_distortion: float | None = None


@dataclass(frozen=True, eq=False)
class TargetTest(JsonData):
    """E at a scale s^2 that theory predicts optimal (``target``) minus E of the matched codebook:
    the paired t test over replicates and the effect relative to E(matched)."""

    target: str
    scale2: float
    test: TTest
    relative: Estimate


@dataclass(frozen=True, eq=False)
class RandomCodebook(JsonData):
    """Random Gaussian codebooks N(0, s^2 I) in dimension ``d``: the measured best s^2 and the
    gain over the matched s^2 = 1 (t intervals over replicates), their theory values, the mean
    curve E(s^2) and the tests at the theory scales."""

    d: int
    codebook_size: int
    n_features: int
    best_scale2: Estimate
    best_scale2_theory: float
    best_scale2_lowrate: float
    gain_vs_matched: Estimate
    gain_vs_matched_theory: float | None
    distortion_matched: float
    distortion_best: float
    curve_scale2: tuple[float, ...]
    curve_distortion: tuple[float, ...]
    targets: tuple[TargetTest, ...]


@dataclass(frozen=True, eq=False)
class PanterDite(JsonData):
    """K^2 D_K of the unit Gaussian's Lloyd-Max quantizer against the Panter-Dite constant."""

    codebook_size: int
    k2_distortion: float
    panter_dite: float
    rel_diff: float


@dataclass(frozen=True, eq=False)
class DensitySummary(JsonData):
    """The three parts (see :mod:`.cells`); ``gaussian_levels``: the unit Gaussian's Lloyd-Max
    levels per K (the figure's histogram)."""

    estimates: tuple[ExponentEstimate, ...]
    random_codebook: tuple[RandomCodebook, ...]
    panter_dite: tuple[PanterDite, ...]
    gaussian_levels: dict[int, tuple[float, ...]]
    kmeans_not_converged: int

    @classmethod
    def from_rows(cls, cfg: DensityConfig, rows: list[dict]) -> DensitySummary:
        levels = {r["codebook_size"]: tuple(r["levels"]) for r in rows
                  if r["part"] == "lloyd_max" and r["source"] == "gaussian"}
        panter = [PanterDite(r["codebook_size"], r["k2_distortion"], r["panter_dite"],
                             r["k2_distortion"] / r["panter_dite"] - 1.0)
                  for r in sorted(rows, key=lambda r: r["codebook_size"])
                  if r["part"] == "lloyd_max" and r["source"] == "gaussian"]
        kmeans_rows = [r for r in rows if r["part"] == "kmeans"]
        return cls(estimates=_estimates(rows), random_codebook=_random_summary(cfg, rows),
                   panter_dite=tuple(panter), gaussian_levels=levels,
                   kmeans_not_converged=sum(not r["converged"] for r in kmeans_rows))


def parabola_argmin(log_x: np.ndarray, y: np.ndarray) -> float:
    """Argmin of y over a grid in log x, refined by a parabola through the lowest point and its two
    neighbours (the grid end if the minimum is on the boundary)."""
    i = int(np.argmin(y))
    if i == 0 or i == len(y) - 1:
        return float(log_x[i])
    a, b, _ = np.polyfit(log_x[i - 1: i + 2], y[i - 1: i + 2], 2)
    return float(-b / (2 * a)) if a > 0 else float(log_x[i])


def _candidate_p(values: list[float], est: float, se: float, cand: dict) -> dict:
    """Two-sided p-value of each candidate exponent: a one-sample t test over replicates (df =
    n - 1), or, for one deterministic estimate, the normal test of its regression error."""
    if len(values) > 1:
        return {name: one_sample_t(values, v).p for name, v in cand.items()}
    from scipy.stats import norm

    return {name: float(2 * norm.sf(abs(est - v) / se)) if se > 0 else float(est == v)
            for name, v in cand.items()}


def _estimates(rows: list[dict]) -> tuple[ExponentEstimate, ...]:
    """One estimate per (part, d, source, K): the exponent over replicates with a t interval (for
    the deterministic Lloyd-Max levels: the regression interval), its separation in standard
    errors from each candidate exponent and the test's p-value (:func:`_candidate_p`)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["part"] in ("lloyd_max", "kmeans"):
            groups.setdefault((r["part"], r["d"], r["source"], r["codebook_size"]), []).append(r)
    out = []
    for (part, d, source, k), g in sorted(groups.items()):
        if len(g) > 1:
            exponent = mean_ci(r["exponent_hat"] for r in g)
        else:
            lo, hi = g[0]["exponent_ci"]
            exponent = Estimate(g[0]["exponent_hat"], lo, hi, g[0]["exponent_stderr"], math.inf, 1)
        est, se = exponent.value, exponent.se
        cand = candidates(d)
        moment = None
        if "exponent_moment" in g[0]:
            moment = mean_ci(r["exponent_moment"] for r in g).value if len(g) > 1 \
                else g[0]["exponent_moment"]
        out.append(ExponentEstimate(
            part=part, d=d, source=source, codebook_size=k, method=g[0]["method"],
            n_replicates=len(g), exponent=exponent, candidates=cand,
            separation_se={name: (est - v) / se if se > 0 else math.inf
                           for name, v in cand.items()},
            p=_candidate_p([r["exponent_hat"] for r in g], est, se, cand),
            test="t" if len(g) > 1 else "normal (regression error)",
            distortion=float(np.mean([r["distortion"] for r in g])), exponent_moment=moment,
            k2_distortion=g[0].get("k2_distortion")))
    return tuple(out)


def _random_summary(cfg: DensityConfig, rows: list[dict]) -> tuple[RandomCodebook, ...]:
    out = []
    for d in cfg.random_dims:
        best, gains, e_best, e_one = [], [], [], []
        reps = sorted({x["replicate"] for x in rows if x["part"] == "random_codebook"
                       and x["d"] == d})
        if len(reps) < 2:
            continue
        for r in reps:
            g = [x for x in rows if x["part"] == "random_codebook" and x["d"] == d
                 and x["replicate"] == r]
            grid = sorted((x for x in g if not x.get("matched") and not x.get("target")),
                          key=lambda x: x["scale2"])
            log_s = np.log([x["scale2"] for x in grid])
            e = np.array([x["distortion"] for x in grid])
            best.append(math.exp(parabola_argmin(log_s, e)))
            one = next(x["distortion"] for x in g if x.get("matched"))
            lowest = float(min(e.min(), one))
            gains.append(1.0 - lowest / one)
            e_best.append(lowest)
            e_one.append(one)
        curve: dict[float, list[float]] = {}
        for x in rows:
            if x["part"] == "random_codebook" and x["d"] == d and not x.get("matched") \
                    and not x.get("target"):
                curve.setdefault(x["scale2"], []).append(x["distortion"])
        out.append(RandomCodebook(
            d=d, codebook_size=cfg.random_codebook_size, n_features=cfg.random_features,
            best_scale2=mean_ci(best), best_scale2_theory=best_gaussian_codebook_scale2(d),
            best_scale2_lowrate=lowrate_best_scale2(d, cfg.random_codebook_size),
            gain_vs_matched=mean_ci(gains),
            gain_vs_matched_theory=gaussian_codebook_gain(d) if d > 2 else None,
            distortion_matched=float(np.mean(e_one)), distortion_best=float(np.mean(e_best)),
            curve_scale2=tuple(sorted(curve)),
            curve_distortion=tuple(float(np.mean(curve[s])) for s in sorted(curve)),
            targets=_target_tests(rows, d)))
    return tuple(out)


def _target_tests(rows: list[dict], d: int) -> tuple[TargetTest, ...]:
    """Paired t tests (over replicates, df = n - 1) of E at each theory-predicted scale minus E of
    the matched codebook, with the effect relative to E(matched)."""
    mine = [x for x in rows if x["part"] == "random_codebook" and x["d"] == d]
    one = {x["replicate"]: x["distortion"] for x in mine if x.get("matched")}
    out = []
    for name in sorted({x["target"] for x in mine if x.get("target")}):
        at = {x["replicate"]: x for x in mine if x.get("target") == name}
        reps = sorted(set(at) & set(one))
        if len(reps) < 2:
            continue
        t = paired_t([at[r]["distortion"] for r in reps], [one[r] for r in reps])
        out.append(TargetTest(name, at[reps[0]]["scale2"], t, t.divided_by(t.b)))
    return tuple(out)
