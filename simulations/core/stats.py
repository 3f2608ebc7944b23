"""Small statistics shared by the studies and the claim evaluators (one place, no copies).

Replicate comparisons are Student t tests with n - 1 degrees of freedom (:func:`paired_t`,
:func:`one_sample_t`), reported as an effect with its confidence interval, t, df and p
(:class:`TTest`, an :class:`Estimate` with its test); :func:`significant` decides with the constants
of :mod:`vqmatch.simulations.core.verdicts`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .jsondata import JsonData
from .verdicts import ALPHA, LEVEL, MIN_REPLICATES, decide


@dataclass(frozen=True, eq=False)
class Estimate(JsonData):
    """An estimate with its two-sided interval: the one JSON form of such a pair in every summary.

    ``value``: the estimate (a mean of replicates, a slope, a rate); ``low`` / ``high``: its ``level``
    interval; ``se``: its standard error; ``df``: the degrees of freedom the interval rests on
    (n - 1 for a mean of replicates; inf for a normal interval; NaN where there is none); ``n``: the
    number of values (replicates) behind it.
    """

    value: float
    low: float
    high: float
    se: float
    df: float
    n: int
    level: float = LEVEL

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    @property
    def halfwidth(self) -> float:
        return 0.5 * (self.high - self.low)

    @property
    def sd(self) -> float:
        """The standard deviation of one value (se sqrt(n))."""
        return self.se * math.sqrt(self.n)

    def divided_by(self, scale: float) -> Estimate:
        """The estimate and its interval in units of ``scale`` (e.g. relative to a reference)."""
        low, high = self.low / scale, self.high / scale
        return Estimate(self.value / scale, min(low, high), max(low, high), self.se / abs(scale),
                        self.df, self.n, self.level)

    def __str__(self) -> str:
        return f"{_fmt(self.value)} ± {_fmt(self.halfwidth)} ({self.level:.0%} CI, n={self.n})"


def _fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x}"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def mean_ci(values: Iterable[float], level: float = LEVEL) -> Estimate:
    r"""Mean and Student-t interval of i.i.d. replicate values.

    :math:`\bar v \pm t_{n-1,(1+\gamma)/2}\, s/\sqrt n`, ``s`` the sample standard deviation
    (ddof = 1), :math:`\gamma` = ``level``; exact for normal replicates, asymptotically valid
    otherwise. ``values``: finite, 1-D, at least 2.
    """
    v = np.asarray(list(values), dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-D array with at least 2 entries, got shape={v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values contains NaN or Inf values")
    if not (isinstance(level, (int, float, np.floating)) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got level={level!r}")
    m = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    q = t_quantile(v.size - 1, level)
    return Estimate(m, m - q * se, m + q * se, se, int(v.size) - 1, int(v.size), level)


def replicate_estimate(values: Iterable[float | None]) -> Estimate | None:
    """:func:`mean_ci` of the finite values among ``values`` (the replicates of one grid point),
    tolerant of what a grid gives: None when no value is finite, a NaN interval for one value, a
    zero-width interval (se 0) for equal values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    if len(vals) == 1:
        return Estimate(vals[0], math.nan, math.nan, math.nan, math.nan, 1)
    if max(vals) == min(vals):
        return Estimate(vals[0], vals[0], vals[0], 0.0, len(vals) - 1, len(vals))
    return mean_ci(vals)


def z_score(estimate: float, stderr: float, value: float) -> float:
    """Number of standard errors between ``estimate`` and ``value`` (signed; inf if stderr is 0)."""
    diff = estimate - value
    if stderr <= 0 or not math.isfinite(stderr):
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / stderr


def loglog_slope(x: Iterable[float], y: Iterable[float]) -> tuple[float, float]:
    """Least-squares slope of log y on log x and its standard error."""
    lx, ly = np.log(np.asarray(list(x), float)), np.log(np.asarray(list(y), float))
    if lx.size < 3:
        raise ValueError(f"need at least 3 points for a slope, got {lx.size}")
    from scipy import stats

    fit = stats.linregress(lx, ly)
    return float(fit.slope), float(fit.stderr)


def loglog_fit(x: Iterable[float], y: Iterable[float], level: float = LEVEL) -> Estimate:
    """:func:`loglog_slope` as an :class:`Estimate`: the slope with its t interval (df = points -
    2; ``n``: the number of points)."""
    x, y = list(x), list(y)
    slope, se = loglog_slope(x, y)
    q = t_quantile(len(x) - 2, level)
    return Estimate(slope, slope - q * se, slope + q * se, se, len(x) - 2, len(x), level)


fmt = _fmt


@dataclass(frozen=True, eq=False)
class TTest(Estimate):
    r"""A Student t test of replicate values against a reference (paired differences against 0):
    the :class:`Estimate` of the mean effect (``value``, ``low``, ``high``, ``se``, ``df`` = n - 1,
    ``n`` replicates or pairs) with ``t`` = (value - reference) / se, its two-sided p-value ``p``,
    and ``a`` / ``b``, the two means of a paired test."""

    t: float = math.nan
    p: float = math.nan
    reference: float = 0.0
    a: float | None = None
    b: float | None = None

    def __str__(self) -> str:
        return (f"{_signed(self.value)} [{_signed(self.low)}, {_signed(self.high)}] "
                f"(t({self.df:g}) = {self.t:+.2f}, p = {_fmt_p(self.p)})")

    def relative(self, scale: float) -> str:
        """The effect and its interval as percentages of ``scale``."""
        return (f"{100 * self.value / scale:+.2f} % [{100 * self.low / scale:+.2f}, "
                f"{100 * self.high / scale:+.2f}] (t({self.df:g}) = {self.t:+.2f}, "
                f"p = {_fmt_p(self.p)})")


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "") + _fmt(x)


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def t_pvalue(t: float, df: int) -> float:
    """Two-sided p-value of a t statistic with ``df`` degrees of freedom (df = inf: normal)."""
    from scipy import stats

    if not math.isfinite(t):
        return 0.0
    if df is None or not math.isfinite(df):
        return float(2 * stats.norm.sf(abs(t)))
    return float(2 * stats.t.sf(abs(t), df=df))


def t_quantile(df: int, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats  # lazy: scipy.stats is slow to import and the CLI must start fast

    return float(stats.t.ppf(0.5 + level / 2, df=df))


def single_draw_p(value: float, mean: float, sd: float, n: int, rounding: float = 0.0) -> float:
    r"""Two-sided p-value of ``value`` (e.g. a printed number of the paper) read as ONE more draw
    from the population of ``n`` replicates with mean ``mean`` and sample sd ``sd``, after allowing
    for its printed ``rounding``: :math:`t = \max(0, |x - ar v| - r) / (s\sqrt{1 + 1/n})` with
    n - 1 degrees of freedom (the prediction interval of one new draw)."""
    gap = max(0.0, abs(value - mean) - rounding)
    return t_pvalue(gap / (max(sd, 1e-12) * math.sqrt(1 + 1 / n)), n - 1)


def welch_t(m1: float, se1: float, n1: int, m2: float, se2: float, n2: int) -> tuple[float, float,
                                                                                     float]:
    """Welch's t test of two independent means given their standard errors: ``(t, df, p)`` for
    m1 - m2 (Welch-Satterthwaite degrees of freedom)."""
    se = math.hypot(se1, se2)
    if se == 0:
        return (0.0 if m1 == m2 else math.copysign(math.inf, m1 - m2)), math.inf, \
            (1.0 if m1 == m2 else 0.0)
    t = (m1 - m2) / se
    df = se ** 4 / (se1 ** 4 / max(n1 - 1, 1) + se2 ** 4 / max(n2 - 1, 1))
    return t, df, t_pvalue(t, df)


def one_sample_t(values: Iterable[float], reference: float = 0.0, level: float = LEVEL) -> TTest:
    r"""Student t test of i.i.d. replicate ``values`` against ``reference``, df = n - 1.

    :math:`t = (\bar v - v_0)/(s/\sqrt n)`, two-sided p from the t distribution with n - 1
    degrees of freedom; exact for normal replicates. With zero spread the test is degenerate:
    p = 1 when the mean equals the reference, else 0 (t = +-inf).
    """
    ci = mean_ci(values, level)
    diff = ci.value - reference
    if ci.se > 0:
        t = diff / ci.se
        p = t_pvalue(t, ci.n - 1)
    else:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
    return TTest(ci.value, ci.low, ci.high, ci.se, ci.df, ci.n, level, t=float(t), p=p,
                 reference=reference)


def paired_t(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> TTest:
    """Paired Student t test of ``a - b`` (same replicate in both, common random numbers)."""
    a, b = np.asarray(list(a), float), np.asarray(list(b), float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair up, got {a.shape[0]} and {b.shape[0]} values")
    return dataclasses.replace(one_sample_t(a - b, 0.0, level), a=float(a.mean()),
                               b=float(b.mean()))


def significant(test: TTest | None, sign: int, *, comparisons: int = 1,
                alpha: float = ALPHA) -> bool:
    """Whether ``test`` shows an effect of the given sign (+1 / -1): at least ``MIN_REPLICATES``
    replicates and a two-sided p-value below ``alpha / comparisons`` (Bonferroni)."""
    if not enough(test):
        return False
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got sign={sign!r}")
    return test.p < alpha / max(int(comparisons), 1) and math.copysign(1.0, test.value) == sign \
        and test.value != 0


def versus_reference(tests: Sequence[TTest]) -> tuple[str, list[int], list[int]]:
    """A claim that a reference is best (lowest), tested by paired tests of candidate - reference:
    ``(verdict, lower, higher)`` with the indices of the candidates significantly lower (Bonferroni
    over all the tests: any one refutes) and significantly higher (each at ``ALPHA``: all must be
    for ``confirmed``)."""
    m = len(tests)
    lower = [i for i, t in enumerate(tests) if significant(t, -1, comparisons=m)]
    higher = [i for i, t in enumerate(tests) if significant(t, +1)]
    return decide(refuted=bool(lower), confirmed=m > 0 and len(higher) == m), lower, higher


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down rejections of a family of tests at family-wise level ``alpha``: the i-th
    smallest p-value is compared with alpha / (m - i) (i = 0, 1, ...), stopping at the first that
    fails. Valid under any dependence; uniformly more powerful than Bonferroni."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    reject = [False] * m
    for rank, i in enumerate(order):
        if not pvalues[i] < alpha / (m - rank):
            break
        reject[i] = True
    return reject


def too_few(ns: Iterable[int | None], what: str = "replicate pairs") -> str:
    """A sentence for a claim's measurement when the smallest of the replicate counts ``ns`` is
    below ``MIN_REPLICATES`` (else the empty string)."""
    n = min((x for x in ns if x is not None), default=0)
    if n >= MIN_REPLICATES:
        return ""
    return f" Only {n} {what}: a verdict needs at least {MIN_REPLICATES}."


def enough(test: TTest | None) -> bool:
    """Whether ``test`` has the replicates a verdict may rest on (``MIN_REPLICATES``)."""
    return test is not None and test.n >= MIN_REPLICATES
