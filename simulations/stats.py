"""Small statistics shared by the studies and the claim evaluators (one place, no copies)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeanCI:
    """Mean of replicates with a t-based confidence interval."""

    mean: float
    low: float
    high: float
    stderr: float
    n: int
    level: float = 0.95

    @property
    def halfwidth(self) -> float:
        return 0.5 * (self.high - self.low)

    def __str__(self) -> str:
        return f"{_fmt(self.mean)} ± {_fmt(self.halfwidth)} ({self.level:.0%} CI, n={self.n})"


def _fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x}"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def mean_ci(values: Iterable[float], level: float = 0.95) -> MeanCI:
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
    from scipy import stats  # lazy: scipy.stats is slow to import and the CLI must start fast

    q = float(stats.t.ppf(0.5 + level / 2, df=v.size - 1))
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
