"""Summary of the ``w2`` study's rows: errors with CIs, convergence slopes, timing, the Gelbrich
checks, the gap series, the misranking example and the sliced relations (all on the W2 scale)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.jsondata import JsonData
from ...core.stats import Estimate, TTest, loglog_fit, loglog_slope, mean_ci, one_sample_t
from .config import W2Config
from .truth import GAUSSIAN_PAIRS

ESTIMATORS = ("closed_form_true", "closed_form_emp", "exact_ot", "sliced", "max_sliced")


@dataclass(frozen=True, eq=False)
class TruthEntry(JsonData):
    """A pair of laws in dimension ``d``: its exact W2 (with the quadrature's error bound), the
    closed form on the true moments, their gap and the population sqrt(d) SW2 (Gaussian pairs)."""

    pair: str
    d: int
    truth: float
    truth_error: float
    closed_form_true: float
    gap: float
    sliced_target: float | None


@dataclass(frozen=True, eq=False)
class ErrorEntry(JsonData):
    """One estimator on one (pair, d, n) over replicates: its value, bias and |error| against W2
    (t intervals), and its |error| against its own limit ``target`` where known."""

    pair: str
    d: int
    estimator: str
    n: int
    truth: float
    value: Estimate
    bias: Estimate
    abs_error: Estimate
    spread: float
    seconds: float
    target: float | None = None
    target_error: Estimate | None = None


@dataclass(frozen=True, eq=False)
class SlopeEntry(JsonData):
    """The log-log slope in n of an estimator's mean |error| against its target (t interval, df =
    sizes - 2), its bootstrap interval over replicates and the literature's rate (``theory``)."""

    pair: str
    d: int
    estimator: str
    slope: Estimate
    bootstrap_ci: tuple[float, float]
    n_range: tuple[int, int]
    theory: float | None


@dataclass(frozen=True, eq=False)
class TimingEntry(JsonData):
    """Median seconds per call of an estimator against n (Gaussian shift pair, dimension d)."""

    d: int
    estimator: str
    n: tuple[int, ...]
    seconds: tuple[float, ...]
    time_slope_in_n: float | None


@dataclass(frozen=True, eq=False)
class TimingInD(JsonData):
    """Median seconds per call of an estimator against d at the sample size ``n``."""

    estimator: str
    n: int
    d: tuple[int, ...]
    seconds: tuple[float, ...]
    time_slope_in_d: float


@dataclass(frozen=True, eq=False)
class GelbrichEntry(JsonData):
    """A non-Gaussian pair: the closed form on the true moments against the exact W2."""

    pair: str
    d: int
    truth: float
    closed_form_true: float
    truth_error: float
    slack: float
    holds: bool


@dataclass(frozen=True, eq=False)
class GapEntry(JsonData):
    """The bimodal law with ``separation`` z against the Gaussian of its variance (d = 1)."""

    separation: float
    shift: float
    excess_kurtosis: float
    truth_w2_per_sqrt_d: float
    closed_form_per_sqrt_d: float
    gap_per_sqrt_d: float
    ratio: float


@dataclass(frozen=True, eq=False)
class MisrankEntry(JsonData):
    """Features F against the codebook laws A (Gaussian, F's moments) and B (F mis-scaled): true W2
    and closed forms, whether the closed form ranks them wrongly, and the paired t tests of A - B
    over replicates of the paper's loss and of exact OT (``sample_size`` points per sample)."""

    d: int
    truth_a: float
    truth_b: float
    closed_form_a: float
    closed_form_b: float
    misranked: bool
    closed_form_emp_a_minus_b: TTest
    exact_ot_a_minus_b: TTest
    sample_size: int | None


@dataclass(frozen=True, eq=False)
class TranslationCheck(JsonData):
    """P against its translate P + v in dimension d: d SW2^2 / |v|^2 tested against 1, the
    finite-direction identity, exact OT against |v| and the largest max-sliced value."""

    d: int
    d_sw2sq_over_v2: TTest
    max_identity_error: float
    max_exact_ot_error: float
    max_sliced_max: float


@dataclass(frozen=True, eq=False)
class PopulationSliced(JsonData):
    """Population sqrt(d) SW2 (Monte Carlo over directions, ``stderr``) against W2."""

    pair: str
    d: int
    sqrt_d_sw2: float
    stderr: float
    w2: float
    ratio: float | None


@dataclass(frozen=True, eq=False)
class SlicedChecks(JsonData):
    """The sliced relations (see :func:`_summarize_sliced`)."""

    translation: tuple[TranslationCheck, ...]
    population: tuple[PopulationSliced, ...]
    sample_max_sliced_violation: float | None
    sample_sliced_above_ot_fraction: float | None


@dataclass(frozen=True, eq=False)
class W2Summary(JsonData):
    """Every part of the ``w2`` study (see :mod:`.cells`); ``units`` says what the values are."""

    units: str
    truth: tuple[TruthEntry, ...]
    errors: tuple[ErrorEntry, ...]
    slopes: tuple[SlopeEntry, ...]
    timing: tuple[TimingEntry, ...]
    timing_in_d: tuple[TimingInD, ...]
    gelbrich: tuple[GelbrichEntry, ...]
    gap: tuple[GapEntry, ...]
    misrank: tuple[MisrankEntry, ...]
    sliced_checks: SlicedChecks

    @classmethod
    def from_rows(cls, cfg: W2Config, rows: list[dict]) -> W2Summary:
        return _summarize(cfg, rows)


def theory_slope(pair: str, estimator: str, d: int) -> float | None:
    r"""Asymptotic log-log slope in n of the mean |error| on the W2 scale, from the literature.

    Closed form on sample moments: :math:`-1/2` (delta method; for ``gauss_same`` :math:`W_2` of the
    fitted Gaussians is :math:`O_P(n^{-1/2})` too). Exact OT, same law (truth 0): :math:`E W_2(P_n,
    Q_n) \asymp n^{-1/d}` for d >= 3 and :math:`n^{-1/2}` up to logs for d <= 2 (Dudley 1969;
    Fournier & Guillin 2015; Ajtai-Komlos-Tusnady in d = 2). Exact OT, distinct laws: fluctuation
    :math:`n^{-1/2}` plus a bias :math:`n^{-2/d}` for d >= 5 (Chizat et al. 2020; Manole &
    Niles-Weed 2024), i.e. :math:`-\min(1/2, 2/d)`. Sliced against its own target: :math:`-1/2` in
    n (Nadjahi et al. 2020) plus the Monte Carlo error of the L directions, :math:`O(L^{-1/2})`
    whatever n, so at fixed L the slope tends to 0 (except on ``gauss_same``, where every projected
    distance vanishes). ``None`` where no rate applies. Slopes are of the error against the
    estimator's own limit (``target``): for the closed form on non-Gaussian pairs that is the closed
    form on the true moments, not W2."""
    if estimator == "closed_form_emp":
        return -0.5
    if estimator == "sliced":  # fixed L: the random directions leave an O(L^-1/2) floor, unless
        return -0.5 if pair == "gauss_same" else 0.0  # every projection is 0 (same law)
    if estimator == "exact_ot":
        if pair == "gauss_same":
            return -0.5 if d <= 2 else -1.0 / d
        return -min(0.5, 2.0 / d)
    return None


def _bootstrap_slope(sizes, per_size: list[np.ndarray], n_boot: int = 200) -> tuple[float, float]:
    """Percentile 95% interval of the log-log slope of the mean over resampled replicates."""
    rng = np.random.default_rng(12345)  # fixed: the interval is a deterministic function of rows
    lx = np.log(np.asarray(sizes, float))
    slopes = []
    for _ in range(n_boot):
        means = [float(np.mean(v[rng.integers(0, v.size, v.size)])) for v in per_size]
        if min(means) <= 0:
            continue
        slopes.append(float(np.polyfit(lx, np.log(means), 1)[0]))
    if len(slopes) < 10:
        return math.nan, math.nan
    return float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5))


def _summarize(cfg: W2Config, rows: list[dict]) -> W2Summary:
    truth_rows = {(r["pair"], r["d"]): r for r in rows if r["part"] == "truth"}
    truth = tuple(TruthEntry(label, d, r["truth"], r["truth_error"], r["value"],
                             r["truth"] - r["value"], r.get("sliced_target"))
                  for (label, d), r in sorted(truth_rows.items()))
    sweep = [r for r in rows if r["part"] == "sweep"]
    groups: dict[tuple, list[dict]] = {}
    for r in sweep:
        groups.setdefault((r["pair"], r["d"], r["estimator"], r["n"]), []).append(r)
    errors = []
    for (label, d, est, n), g in sorted(groups.items()):
        vals = [x["value"] for x in g]
        target = g[0].get("target")
        errors.append(ErrorEntry(
            pair=label, d=d, estimator=est, n=n, truth=g[0]["truth"], value=mean_ci(vals),
            bias=mean_ci([x["value"] - x["truth"] for x in g]),
            abs_error=mean_ci([x["abs_error"] for x in g]),
            spread=float(np.std(vals, ddof=1)),
            seconds=float(np.median([x["seconds"] for x in g])), target=target,
            target_error=None if target is None else mean_ci([x["target_error"] for x in g])))
    # slopes of the mean |error| in n, per (pair, estimator, d)
    slopes = []
    for (label, d, est) in sorted({k[:3] for k in groups}):
        sizes = sorted(n for (lb, dd, e, n) in groups if (lb, dd, e) == (label, d, est))
        if len(sizes) < 3 or groups[(label, d, est, sizes[0])][0].get("target") is None:
            continue  # max-sliced, and sliced on non-Gaussian pairs: no known population target
        # the error against what the estimator is consistent for (W2 itself for exact OT and, on
        # Gaussian pairs, for the closed form); its error against W2 is abs_error in the rows
        per = [np.array([x["target_error"] for x in groups[(label, d, est, n)]]) for n in sizes]
        means = [float(v.mean()) for v in per]
        if min(means) <= 0:
            continue
        slopes.append(SlopeEntry(label, d, est, loglog_fit(sizes, means),
                                 _bootstrap_slope(sizes, per), (sizes[0], sizes[-1]),
                                 theory_slope(label, est, d)))
    # wall time and its scaling in n (per estimator and d, on the Gaussian shift pair)
    timing = []
    for (label, d, est) in sorted({k[:3] for k in groups}):
        if label != "gauss_shift":
            continue
        sizes = sorted(n for (lb, dd, e, n) in groups if (lb, dd, e) == (label, d, est))
        secs = [float(np.median([x["seconds"] for x in groups[(label, d, est, n)]])) for n in sizes]
        fit = loglog_slope(sizes, secs)[0] if len(sizes) >= 3 and min(secs) > 0 else None
        timing.append(TimingEntry(d, est, tuple(sizes), tuple(secs), fit))
    # ... and in d, at the largest n where every estimator ran (d >= 2: d = 1 uses sorting)
    n_common = max((n for n in cfg.sizes if n <= cfg.ot_max_n), default=None)
    timing_in_d = []
    for est in ESTIMATORS[1:]:
        pts = sorted((d, float(np.median([x["seconds"] for x in g])))
                     for (lb, d, e, n), g in groups.items()
                     if lb == "gauss_shift" and e == est and n == n_common and d >= 2)
        if len(pts) >= 3 and min(t for _, t in pts) > 0:
            timing_in_d.append(TimingInD(est, n_common, tuple(d for d, _ in pts),
                                         tuple(t for _, t in pts),
                                         loglog_slope(*zip(*pts, strict=True))[0]))
    # Gelbrich on every non-Gaussian pair (true moments vs exact truth), incl. the gap series
    gelbrich = [GelbrichEntry(label, d, r["truth"], r["value"], r["truth_error"],
                              r["truth"] - r["value"],
                              r["value"] <= r["truth"] + r["truth_error"] + 1e-12)
                for (label, d), r in sorted(truth_rows.items()) if label not in GAUSSIAN_PAIRS]
    gap = []
    for r in (r for r in rows if r["part"] == "gap"):
        gap.append(GapEntry(r["separation"], r["shift"], r["excess_kurtosis"], r["truth"],
                            r["value"], r["truth"] - r["value"],
                            r["value"] / r["truth"] if r["truth"] > 0 else 1.0))
        gelbrich.append(GelbrichEntry(r["pair"], 1, r["truth"], r["value"], r["truth_error"],
                                      r["truth"] - r["value"],
                                      r["value"] <= r["truth"] + r["truth_error"] + 1e-12))
    return W2Summary(units="W2 (not squared); abs_error = |value - truth|", truth=truth,
                     errors=tuple(errors), slopes=tuple(slopes), timing=tuple(timing),
                     timing_in_d=tuple(timing_in_d), gelbrich=tuple(gelbrich), gap=tuple(gap),
                     misrank=_summarize_misrank(rows),
                     sliced_checks=_summarize_sliced(rows, truth_rows))


def _summarize_misrank(rows) -> tuple[MisrankEntry, ...]:
    mis = [r for r in rows if r["part"] == "misrank"]
    res = []
    for d in sorted({r["d"] for r in mis}):
        sub = [r for r in mis if r["d"] == d]
        pop = {r["pair"]: r for r in sub if r["estimator"] == "closed_form_true"}
        truth_a, truth_b = pop["A_gaussian"]["truth"], pop["B_bimodal"]["truth"]
        cf_a, cf_b = pop["A_gaussian"]["value"], pop["B_bimodal"]["value"]
        tests = {}
        for est in ("closed_form_emp", "exact_ot"):
            by_rep: dict[int, dict] = {}
            for r in sub:
                if r["estimator"] == est:
                    by_rep.setdefault(r["replicate"], {})[r["pair"]] = r["value"]
            tests[est] = one_sample_t([v["A_gaussian"] - v["B_bimodal"] for v in by_rep.values()])
        res.append(MisrankEntry(d, truth_a, truth_b, cf_a, cf_b,
                                bool((cf_a < cf_b) != (truth_a < truth_b)),
                                tests["closed_form_emp"], tests["exact_ot"],
                                sub[-1]["n"] if sub else None))
    return tuple(res)


def _summarize_sliced(rows, truth_rows) -> SlicedChecks:
    """The sliced relations: d SW2^2 <= W2^2 (population, Gaussian pairs), equality for
    translations (and the exact finite-direction identity), max-sliced <= exact OT on samples."""
    translation = []
    tr = [r for r in rows if r["part"] == "translation"]
    for d in sorted({r["d"] for r in tr}):
        s = [r for r in tr if r["d"] == d and r["estimator"] == "sliced"]
        ot_ = [r for r in tr if r["d"] == d and r["estimator"] == "exact_ot"]
        ms = [r for r in tr if r["d"] == d and r["estimator"] == "max_sliced"]
        translation.append(TranslationCheck(
            d, one_sample_t([r["value"] ** 2 for r in s], 1.0),
            max(abs(r["value"] - r["predicted"]) for r in s),
            max(abs(r["value"] - 1.0) for r in ot_), max(r["value"] for r in ms)))
    population = [PopulationSliced(label, d, r["sliced_target"], r["sliced_target_stderr"],
                                   r["truth"],
                                   r["sliced_target"] / r["truth"] if r["truth"] > 0 else None)
                  for (label, d), r in sorted(truth_rows.items())
                  if r.get("sliced_target") is not None]
    keyed: dict[tuple, dict] = {}
    for r in rows:
        if r["part"] == "sweep":
            keyed.setdefault((r["pair"], r["d"], r["n"], r["replicate"]), {})[r["estimator"]] = r
    viol, above, total = -math.inf, 0, 0
    for v in keyed.values():
        if {"exact_ot", "sliced", "max_sliced"} <= set(v):
            ot_v = v["exact_ot"]["value"]
            viol = max(viol, (v["max_sliced"]["value"] - ot_v) / max(ot_v, 1e-300))
            above += v["sliced"]["value"] > ot_v
            total += 1
    return SlicedChecks(tuple(translation), tuple(population), viol if total else None,
                        above / total if total else None)
