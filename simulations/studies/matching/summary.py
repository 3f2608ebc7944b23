"""Summaries of the ``matching`` sub-studies: replicate means with 95 % t intervals, paired
differences (t tests), slopes, one type and one function per part."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...core.jsondata import JsonData
from ...core.stats import (
    Estimate,
    TTest,
    loglog_fit,
    mean_ci,
    one_sample_t,
    single_draw_p,
    t_pvalue,
    welch_t,
    z_score,
)
from . import theory as mt
from .config import PARTS, MatchingConfig, theorem1_cases

CRITERIA = ("error_mse", "error_rms", "utilization", "perplexity")
BETTER = {"error_mse": -1, "error_rms": -1, "utilization": 1, "perplexity": 1}

_NAN = math.nan


def _estimate(values) -> Estimate:
    """Mean and t interval of replicate values (one value: the value, NaN interval)."""
    v = [float(x) for x in values]
    if len(v) < 2:
        return Estimate(v[0] if v else _NAN, _NAN, _NAN, _NAN, _NAN, len(v))
    return mean_ci(v)


def _test(values) -> TTest:
    """The Student t test of mean 0 of replicate values (df = n - 1): for paired differences."""
    v = [float(x) for x in values]
    if len(v) < 2:
        return TTest(v[0] if v else _NAN, _NAN, _NAN, _NAN, _NAN, len(v))
    return one_sample_t(v)


def _group(rows, *keys) -> dict:
    out = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return out


# ---------------------------------------------------------------------------------------------
# Theorem 1

@dataclass(frozen=True, eq=False)
class Theorem1K(JsonData):
    """One case at one K over its draws: U at N = cK and as N -> inf (and how often each is 1), the
    certified worst-case distance bracket, E and the fraction of codes in supp P_A."""

    codebook_size: int
    n_features: int
    utilization: Estimate
    p_u_is_one: float
    utilization_limit: Estimate
    p_u_limit_is_one: float
    n_draws: int
    sup_low: Estimate
    sup_high: Estimate
    error_mse: Estimate
    in_support: Estimate


@dataclass(frozen=True, eq=False)
class Theorem1Case(JsonData):
    """A codebook law against the unit disk: its points in K, the log-log slopes in K of the
    worst-case distance and of E (None with one K), and what Theorem 1 predicts for it."""

    case: str
    per_k: tuple[Theorem1K, ...]
    sup_slope: Estimate | None
    error_slope: Estimate | None
    support_match: bool
    predicted_u_limit: float
    sup_floor: float
    rel_tol: float


@dataclass(frozen=True, eq=False)
class Theorem1Summary(JsonData):
    cases: tuple[Theorem1Case, ...]


def summarize_theorem1(cfg, rows: list[dict]) -> Theorem1Summary:
    cases = theorem1_cases(cfg.small_radius, cfg.large_radius, cfg.shift)
    out = []
    for (case,), g in _group(rows, "case").items():
        by_k = _group(g, "codebook_size")
        ks = sorted(k[0] for k in by_k)
        per_k = []
        for k in ks:
            rs = by_k[(k,)]
            per_k.append(Theorem1K(
                codebook_size=k, n_features=rs[0]["n_features"],
                utilization=_estimate(r["utilization"] for r in rs),
                p_u_is_one=float(np.mean([r["u_is_one"] for r in rs])),
                utilization_limit=_estimate(r["utilization_limit"] for r in rs),
                p_u_limit_is_one=float(np.mean([r["u_limit_is_one"] for r in rs])),
                n_draws=len(rs), sup_low=_estimate(r["sup_low"] for r in rs),
                sup_high=_estimate(r["sup_high"] for r in rs),
                error_mse=_estimate(r["error_mse"] for r in rs),
                in_support=_estimate(r["in_support"] for r in rs)))
        allk = [r["codebook_size"] for r in g]
        slopes = {key: loglog_fit(allk, [r[key] for r in g]) if len(ks) >= 2 else None
                  for key in ("sup_high", "error_mse")}
        spec = cases[case]
        out.append(Theorem1Case(case, tuple(per_k), slopes["sup_high"], slopes["error_mse"],
                                spec["support_match"], spec["u_limit"], spec["sup_floor"],
                                cfg.rel_tol))
    return Theorem1Summary(tuple(out))


# ---------------------------------------------------------------------------------------------
# Figure 3

@dataclass(frozen=True, eq=False)
class Fig3Panel(JsonData):
    """One configuration of Figure 3 over its replicates: the criteria (E as mean squared and as
    RMS distance), the paper's printed values (None for the script's unshown settings) and, for
    each criterion, how far the paper's value is from ours as one more draw (``z`` in single-draw
    standard deviations after the printed rounding, and its p-value)."""

    label: str
    group: str
    matched: bool
    paper: dict[str, float] | None
    n_replicates: int
    error_mse: Estimate
    error_rms: Estimate
    utilization: Estimate
    perplexity: Estimate
    z_paper_single_draw: dict[str, float] | None = None
    p_paper_single_draw: dict[str, float] | None = None


@dataclass(frozen=True, eq=False)
class Fig3Paired(JsonData):
    """A configuration minus the matched one of its group, per criterion, paired by replicate."""

    label: str
    error_mse: TTest
    error_rms: TTest
    utilization: TTest
    perplexity: TTest


@dataclass(frozen=True, eq=False)
class Fig3Scatter(JsonData):
    """The points of one draw (10 % of the features, 90 % of the codes) for the scatter panels."""

    label: str
    features: tuple[tuple[float, ...], ...]
    codes: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, eq=False)
class Fig3Summary(JsonData):
    panels: tuple[Fig3Panel, ...]
    paired_vs_matched: tuple[Fig3Paired, ...]
    scatter: tuple[Fig3Scatter, ...]
    n_features: int
    codebook_size: int

    def panel(self, label: str) -> Fig3Panel | None:
        return next((p for p in self.panels if p.label == label), None)


def summarize_fig3(cfg, rows: list[dict]) -> Fig3Summary:
    panels, scatter = [], []
    for (label,), g in _group(rows, "case").items():
        paper = g[0]["paper"]
        crit = {c: _estimate(r[c] for r in g) for c in CRITERIA}
        z = p = None
        if paper:  # distance of the paper's single draw from our draws, in single-draw sd
            z, p = {}, {}
            for ours, theirs, tol in (("error_rms", "error_rms", "error"),
                                      ("error_mse", "error_rms", "error"),
                                      ("utilization", "utilization", "utilization"),
                                      ("perplexity", "perplexity", "perplexity")):
                sd = crit[ours].sd if len(g) > 1 else _NAN
                gap = abs(paper[theirs] - crit[ours].value)
                rounding = mt.FIG3_ROUNDING[tol] * (10 if label == "a" and tol == "utilization"
                                                    else 1)
                z[ours] = math.copysign(max(0.0, gap - rounding) / max(sd, 1e-12),
                                        paper[theirs] - crit[ours].value)
                # the paper's value as ONE more draw: (x - mean) / (sd sqrt(1 + 1/n)) ~ t(n - 1)
                p[ours] = single_draw_p(paper[theirs], crit[ours].value, sd, len(g), rounding)
        panels.append(Fig3Panel(label, g[0]["group"], g[0]["matched"], paper, len(g), **crit,
                                z_paper_single_draw=z, p_paper_single_draw=p))
        first = next((r for r in g if "scatter_features" in r), None)
        if first:
            scatter.append(Fig3Scatter(label, tuple(map(tuple, first["scatter_features"])),
                                       tuple(map(tuple, first["scatter_codes"]))))
    # paired differences against the matched configuration of the same group
    paired = []
    for g in _group(rows, "group").values():
        ref = {r["replicate"]: r for r in g if r["matched"]}
        if not ref:
            continue
        for (label,), gl in _group([r for r in g if not r["matched"]], "case").items():
            paired.append(Fig3Paired(label, **{
                c: _test(r[c] - ref[r["replicate"]][c] for r in gl if r["replicate"] in ref)
                for c in CRITERIA}))
    return Fig3Summary(tuple(panels), tuple(paired), tuple(scatter), cfg.n_features,
                       cfg.codebook_size)


# ---------------------------------------------------------------------------------------------
# Appendix F

@dataclass(frozen=True, eq=False)
class AppFDiff(JsonData):
    """A mismatched codebook minus the matched one on one criterion, paired by replicate:
    ``test`` (t test of the differences), ``advantage_t`` (its t signed so that > 0 means the
    mismatched codebook is better) and the difference relative to the matched mean."""

    test: TTest
    advantage_t: float
    relative: Estimate


@dataclass(frozen=True, eq=False)
class AppFValue(JsonData):
    """One shift / scale factor ``value`` at one (family, kind, K, d, N): the criteria and their
    paired differences from the matched codebook."""

    value: float
    matched: bool
    paper_grid: bool
    error_mse: Estimate
    error_rms: Estimate
    utilization: Estimate
    perplexity: Estimate
    diff_error_mse: AppFDiff
    diff_error_rms: AppFDiff
    diff_utilization: AppFDiff
    diff_perplexity: AppFDiff

    def diff(self, criterion: str) -> AppFDiff:
        return getattr(self, f"diff_{criterion}")


@dataclass(frozen=True, eq=False)
class AppFPoint(JsonData):
    """One (family, sweep kind, K, d, N): every value of the sweep and the best value per criterion
    (``best[c]`` on the paper's grid, ``best[c + '_all']`` over every value)."""

    family: str
    kind: str
    codebook_size: int
    d: int
    n_features: int
    values: tuple[AppFValue, ...]
    best: dict[str, float]


@dataclass(frozen=True, eq=False)
class AppFSummary(JsonData):
    """The sweeps (axis -> its (K, d, N) points) and their defaults."""

    points: tuple[AppFPoint, ...]
    sweeps: dict[str, tuple[tuple[int, int, int], ...]]
    default_codebook_size: int
    default_d: int
    default_n_features: int


def summarize_appf(cfg, rows: list[dict]) -> AppFSummary:
    points = []
    for (family, kind, k, d, n), g in sorted(_group(rows, "family", "kind", "codebook_size", "d",
                                                   "n_features").items()):
        ref = {r["replicate"]: r for r in g if r["matched"]}
        ref_mean = {c: float(np.mean([r[c] for r in ref.values()])) for c in CRITERIA}
        values = []
        for (v,), gv in sorted(_group(g, "value").items()):
            diffs = {}
            for c in CRITERIA:
                test = _test(r[c] - ref[r["replicate"]][c] for r in gv)
                relative = test.divided_by(ref_mean[c]) if ref_mean[c] else \
                    Estimate(_NAN, _NAN, _NAN, _NAN, test.df, test.n)
                # positive advantage = this value beats the matched codebook on criterion c
                diffs[f"diff_{c}"] = AppFDiff(test, BETTER[c] * test.t, relative)
            values.append(AppFValue(v, gv[0]["matched"], gv[0]["paper_grid"],
                                    **{c: _estimate(r[c] for r in gv) for c in CRITERIA}, **diffs))
        best = {}
        for c in CRITERIA:
            for grid_only in (True, False):
                cand = [e for e in values if e.paper_grid or not grid_only]
                pick = (min if BETTER[c] < 0 else max)(cand, key=lambda e: getattr(e, c).value)
                best[f"{c}{'' if grid_only else '_all'}"] = pick.value
        points.append(AppFPoint(family, kind, k, d, n, tuple(values), best))
    sweeps = {axis: tuple(tuple(p) for p in pts) for axis, pts in cfg.sweeps().items()}
    return AppFSummary(tuple(points), sweeps, cfg.codebook_size, cfg.d, cfg.n_features)


# ---------------------------------------------------------------------------------------------
# Appendix G

@dataclass(frozen=True, eq=False)
class AppGScale(JsonData):
    """One scale factor s: the criteria over independent draws, E / s^2 and C / K."""

    scale_factor: float
    paper: dict[str, float] | None
    error_mse: Estimate
    error_rms: Estimate
    utilization: Estimate
    perplexity: Estimate
    error_over_scale2: Estimate
    perplexity_over_k: Estimate


@dataclass(frozen=True, eq=False)
class AppGPooled(JsonData):
    """E / s^2, U and C pooled over every scale factor."""

    error_over_scale2: Estimate
    utilization: Estimate
    perplexity: Estimate


@dataclass(frozen=True, eq=False)
class AppGComparison(JsonData):
    """Our pooled ``criterion`` against the mean of the paper's five columns beyond the printed
    rounding: Welch's t test (``t``, ``df``, ``p``)."""

    criterion: str
    paper_mean: float
    paper_stderr: float
    ours: float
    rounding: float
    t: float
    df: float
    p: float


@dataclass(frozen=True, eq=False)
class AppGFamily(JsonData):
    """One family (gaussian, uniform): per scale factor, the slope of E in s (t interval, df =
    rows - 2), the one-way ANOVA p-values of U and C across s, the pooled values and (at the
    paper's size) the comparison with the paper's table."""

    family: str
    per_scale: tuple[AppGScale, ...]
    slope: Estimate
    anova_p: dict[str, float]
    pooled: AppGPooled
    paper_comparison: tuple[AppGComparison, ...] | None
    codebook_size: int
    n_features: int
    d: int


@dataclass(frozen=True, eq=False)
class AppGSummary(JsonData):
    families: tuple[AppGFamily, ...]


def summarize_appg(cfg, rows: list[dict]) -> AppGSummary:
    from scipy import stats

    out = []
    for (family,), g in _group(rows, "family").items():
        per = []
        for (s,), gs in sorted(_group(g, "scale_factor").items()):
            per.append(AppGScale(
                s, gs[0]["paper"], **{c: _estimate(r[c] for r in gs) for c in CRITERIA},
                error_over_scale2=_estimate(r["error_mse"] / s ** 2 for r in gs),
                perplexity_over_k=_estimate(r["perplexity"] / r["codebook_size"] for r in gs)))
        slope = loglog_fit([r["scale_factor"] for r in g], [r["error_mse"] for r in g])
        groups = {c: [[r[c] for r in gs] for _, gs in sorted(_group(g, "scale_factor").items())]
                  for c in ("utilization", "perplexity")}
        anova = {}
        for c, vals in groups.items():
            flat = np.concatenate(vals)
            anova[c] = (1.0 if np.ptp(flat) == 0 else float(stats.f_oneway(*vals).pvalue))
        pooled = AppGPooled(_estimate(r["error_mse"] / r["scale_factor"] ** 2 for r in g),
                            _estimate(r["utilization"] for r in g),
                            _estimate(r["perplexity"] for r in g))
        comparison = None
        if g[0]["at_paper_size"] and family in mt.APPG_PAPER:
            paper = mt.APPG_PAPER[family]
            comparison = []
            for name, idx, scale2 in (("error_over_scale2", 0, True), ("utilization", 1, False),
                                      ("perplexity", 2, False)):
                pv = [v[idx] / (s * s if scale2 else 1.0) for s, v in paper.items()]
                pm, pse = float(np.mean(pv)), float(np.std(pv, ddof=1) / math.sqrt(len(pv)))
                # printed precision: E to 3 significant digits, U to 4 decimals, C to 1 decimal
                half = (0.5 * 10.0 ** (math.floor(math.log10(abs(pm))) - 2) if scale2
                        else (5e-5 if name == "utilization" else 0.05))
                ours = getattr(pooled, name)
                gap = max(0.0, abs(ours.value - pm) - half)
                t, df, p = welch_t(math.copysign(gap, ours.value - pm), ours.se, ours.n,
                                   0.0, pse, len(pv))
                comparison.append(AppGComparison(name, pm, pse, ours.value, half, t, df, p))
            comparison = tuple(comparison)
        out.append(AppGFamily(family, tuple(per), slope, anova, pooled, comparison,
                              cfg.codebook_size, cfg.n_features, cfg.d))
    return AppGSummary(tuple(out))


# ---------------------------------------------------------------------------------------------
# expected utilization

@dataclass(frozen=True, eq=False)
class UtilizationTest(JsonData):
    """Simulated U of one (case, K, N) against the exact expectation given each codebook
    (``residual``: t test of U - E[U | codebook]) and, where it is exact, the closed form."""

    case: str
    d: int
    codebook_size: int
    n_features: int
    utilization: Estimate
    expected_given_codes: Estimate
    residual: TTest
    closed_form: float | None = None
    z_closed_form: float | None = None
    p_closed_form: float | None = None

    @property
    def z_conditional(self) -> float:
        return self.residual.t

    @property
    def p_conditional(self) -> float:
        return self.residual.p


@dataclass(frozen=True, eq=False)
class UtilizationSummary(JsonData):
    tests: tuple[UtilizationTest, ...]


def summarize_utilization(cfg, rows: list[dict]) -> UtilizationSummary:
    tests = []
    for (case, k, n), g in sorted(_group(rows, "case", "codebook_size", "n_features").items()):
        u = _estimate(r["utilization"] for r in g)
        extra = {}
        if g[0]["closed_form"] is not None:
            mu = g[0]["closed_form"]
            # U lies in [0, 1], so Var U <= mu (1 - mu): a floor for the standard error when every
            # replicate gives the same U (e.g. U = 1 throughout)
            se = max(u.se, math.sqrt(mu * (1 - mu) / len(g)))
            z = z_score(u.value, se, mu)
            extra = {"closed_form": mu, "z_closed_form": z, "p_closed_form": t_pvalue(z, len(g) - 1)}
        tests.append(UtilizationTest(
            case, g[0]["d"], k, n, u, _estimate(r["expected_given_codes"] for r in g),
            _test(r["utilization"] - r["expected_given_codes"] for r in g), **extra))
    return UtilizationSummary(tuple(tests))


# ---------------------------------------------------------------------------------------------

PART_SUMMARIES = {"theorem1": summarize_theorem1, "fig3": summarize_fig3, "appf": summarize_appf,
                  "appg": summarize_appg, "utilization": summarize_utilization}


@dataclass(frozen=True, eq=False)
class MatchingSummary(JsonData):
    """The summary of every part present in the rows (``parts_present``; the others are None)."""

    parts_present: tuple[str, ...]
    theorem1: Theorem1Summary | None = None
    fig3: Fig3Summary | None = None
    appf: AppFSummary | None = None
    appg: AppGSummary | None = None
    utilization: UtilizationSummary | None = None

    @classmethod
    def from_rows(cls, cfg: MatchingConfig, rows: list[dict]) -> MatchingSummary:
        present = tuple(p for p in PARTS if any(r.get("part") == p for r in rows))
        return cls(present, **{p: PART_SUMMARIES[p](getattr(cfg, p),
                                                    [r for r in rows if r.get("part") == p])
                               for p in present})
