"""Small statistics shared by the studies and the claim evaluators (one place, no copies).

Replicate comparisons are Student t tests with n - 1 degrees of freedom (:func:`paired_t`,
:func:`one_sample_t`), reported as an effect with its confidence interval, t, df and p
(:class:`TTest`); :func:`significant` decides with the constants of :mod:`vqmatch.simulations.core.verdicts`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .verdicts import ALPHA, LEVEL, MIN_REPLICATES, decide


@dataclass(frozen=True)
class MeanCI:
    """Mean of replicates with a t-based confidence interval."""

    mean: float
    low: float
    high: float
    stderr: float
    n: int
    level: float = LEVEL

    @property
    def halfwidth(self) -> float:
        return 0.5 * (self.high - self.low)

    def __str__(self) -> str:
        return f"{_fmt(self.mean)} ± {_fmt(self.halfwidth)} ({self.level:.0%} CI, n={self.n})"


def _fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x}"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def mean_ci(values: Iterable[float], level: float = LEVEL) -> MeanCI:
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
    return MeanCI(m, m - q * se, m + q * se, se, int(v.size), level)


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


fmt = _fmt


@dataclass(frozen=True)
class TTest:
    r"""A Student t test of replicate values against a reference (paired differences against 0).

    ``estimate``: the mean effect; ``low``/``high``: its two-sided ``level`` interval; ``se``: the
    standard error; ``t`` = (estimate - reference) / se; ``df`` = n - 1; ``p``: the two-sided
    p-value; ``n``: the number of replicates (pairs); ``a``/``b``: the two means of a paired test.
    """

    estimate: float
    low: float
    high: float
    se: float
    t: float
    df: int
    p: float
    n: int
    reference: float = 0.0
    level: float = LEVEL
    a: float | None = None
    b: float | None = None

    @property
    def ci(self) -> list[float]:
        return [self.low, self.high]

    def __str__(self) -> str:
        return (f"{_signed(self.estimate)} [{_signed(self.low)}, {_signed(self.high)}] "
                f"(t({self.df}) = {self.t:+.2f}, p = {_fmt_p(self.p)})")

    def relative(self, scale: float) -> str:
        """The effect and its interval as percentages of ``scale``."""
        return (f"{100 * self.estimate / scale:+.2f} % [{100 * self.low / scale:+.2f}, "
                f"{100 * self.high / scale:+.2f}] (t({self.df}) = {self.t:+.2f}, "
                f"p = {_fmt_p(self.p)})")

    def as_dict(self) -> dict:
        return {"mean": self.estimate, "ci": self.ci, "se": self.se, "t": self.t, "df": self.df,
                "p": self.p, "n": self.n, "a": self.a, "b": self.b, "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> TTest:
        """The inverse of :meth:`as_dict` (tests stored in a summary)."""
        return cls(d["mean"], d["ci"][0], d["ci"][1], d["se"], d["t"], d["df"], d["p"], d["n"],
                   level=d.get("level", LEVEL), a=d.get("a"), b=d.get("b"))


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
    diff = ci.mean - reference
    if ci.stderr > 0:
        t = diff / ci.stderr
        p = t_pvalue(t, ci.n - 1)
    else:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
    return TTest(ci.mean, ci.low, ci.high, ci.stderr, float(t), ci.n - 1, p, ci.n, reference,
                 level)


def paired_t(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> TTest:
    """Paired Student t test of ``a - b`` (same replicate in both, common random numbers)."""
    a, b = np.asarray(list(a), float), np.asarray(list(b), float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair up, got {a.shape[0]} and {b.shape[0]} values")
    test = one_sample_t(a - b, 0.0, level)
    return TTest(**{**test.__dict__, "a": float(a.mean()), "b": float(b.mean())})


def significant(test: TTest | None, sign: int, *, comparisons: int = 1,
                alpha: float = ALPHA) -> bool:
    """Whether ``test`` shows an effect of the given sign (+1 / -1): at least ``MIN_REPLICATES``
    replicates and a two-sided p-value below ``alpha / comparisons`` (Bonferroni)."""
    if not enough(test):
        return False
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got sign={sign!r}")
    return test.p < alpha / max(int(comparisons), 1) and math.copysign(1.0, test.estimate) == sign \
        and test.estimate != 0


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
