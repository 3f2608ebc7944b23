"""Figure for the ``w2`` study: the W2 estimators side by side.

Top row, one panel per dimension d: mean |estimate - W2| against n (log-log) on the Gaussian pair
``gauss_shift`` for each estimator (closed form on sample moments, exact OT, sqrt(d)-scaled sliced,
max-sliced), with the exact-OT error on two samples of one law (``gauss_same``) dotted, and a
n^(-1/2) guide. Bottom row: wall time per call against n; the Gaussian surrogate's gap to the true
W2 against the separation z of the bimodal law (the Gelbrich slack).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import RC, plt, save

STYLE = {
    "closed_form_emp": {"color": "tab:blue", "marker": "o", "label": "closed form (sample moments)"},
    "exact_ot": {"color": "tab:red", "marker": "s", "label": "exact OT (POT emd2)"},
    "sliced": {"color": "tab:green", "marker": "^", "label": "sqrt(d) x sliced (L directions)"},
    "max_sliced": {"color": "tab:purple", "marker": "v", "label": "max-sliced"},
}


def _errors(summary, pair, est, d):
    rows = sorted((e for e in summary.errors if e.pair == pair and e.estimator == est
                   and e.d == d), key=lambda e: e.n)
    return (np.array([e.n for e in rows]), np.array([e.abs_error.value for e in rows]),
            np.array([e.abs_error.ci for e in rows]).reshape(-1, 2))


def _panel_error(ax, summary, d):
    for est, st in STYLE.items():
        n, m, ci = _errors(summary, "gauss_shift", est, d)
        if n.size:  # error bars: the 95% CI of the mean, clipped at 0 on the log axis
            ax.errorbar(n, m, yerr=[m - np.maximum(ci[:, 0], m / 10), ci[:, 1] - m],
                        marker=st["marker"], color=st["color"], ms=3, lw=1.2, capsize=2,
                        label=st["label"])
    n, m, _ = _errors(summary, "gauss_same", "exact_ot", d)
    if n.size:
        ax.plot(n, m, ls=":", color="tab:red", lw=1.2, label="exact OT, one law twice")
    n, m, _ = _errors(summary, "gauss_shift", "closed_form_emp", d)
    if n.size:
        ax.plot(n, m[0] * (n / n[0]) ** -0.5, color="0.5", lw=0.8, ls="--", label="n^(-1/2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(f"d = {d}")
    ax.set_xlabel("n (samples per law)")


def _panel_time(ax, summary):
    dims = sorted({t.d for t in summary.timing})
    for t in summary.timing:
        st = STYLE.get(t.estimator)
        if st is None:
            continue
        alpha = 0.3 + 0.7 * dims.index(t.d) / max(1, len(dims) - 1)
        ax.plot(t.n, t.seconds, color=st["color"], marker=st["marker"], ms=3, lw=1, alpha=alpha,
                label=f"_{t.estimator} d={t.d}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("seconds per call (median)")
    ax.set_title("(b) wall time (darker: larger d)")


def _panel_gap(ax, summary):
    for shift in sorted({g.shift for g in summary.gap}):
        g = sorted((x for x in summary.gap if x.shift == shift), key=lambda x: x.separation)
        z = [x.separation for x in g]
        ax.plot(z, [x.truth_w2_per_sqrt_d for x in g], marker="o", ms=3, lw=1.2,
                label=f"true W2 / sqrt(d), shift {shift:g}")
        ax.plot(z, [x.closed_form_per_sqrt_d for x in g], ls="--", lw=1.2,
                label=f"Gaussian closed form, shift {shift:g}")
    ax.set_xlabel("separation z of 0.5 N(-z,1) + 0.5 N(z,1) (vs Gaussian of equal variance)")
    ax.set_ylabel("W2 per sqrt(d)")
    ax.set_title("(c) the surrogate's gap grows with bimodality")
    ax.legend(fontsize=7)


def draw(summary) -> dict:
    """``{"w2_comparison": Figure}`` of a :class:`W2Summary`."""
    dims = sorted({e.d for e in summary.errors})
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(3.0 * max(len(dims), 2), 6.4))
        grid = fig.add_gridspec(2, max(len(dims), 2))
        axes = [fig.add_subplot(grid[0, i]) for i in range(len(dims))]
        for ax, d in zip(axes, dims, strict=True):
            _panel_error(ax, summary, d)
        axes[0].set_ylabel("mean |estimate - W2| (gauss_shift)")
        axes[0].legend(fontsize=6, loc="lower left")
        fig.text(0.01, 0.99, "(a) error against n", va="top")
        half = max(len(dims), 2) // 2
        _panel_time(fig.add_subplot(grid[1, :half]), summary)
        _panel_gap(fig.add_subplot(grid[1, half:]), summary)
        fig.tight_layout()
    return {"w2_comparison": fig}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figure of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary), out_dir)
