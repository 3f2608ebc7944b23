"""Figures of the ``atomic`` study (the paper's atomic setting).

``atomic``: the paper's four-panel layout, final-step E, U, C and W2 against the shift mu, one line
per quantizer (95% CI bars over replicates), one row per feature source (Gaussian, uniform); the
authors' final values (their CSVs, K = 16384) as small crosses where they exist.
``atomic_curves``: training curves (U and E against the step) at the largest shift.
``atomic_density``: exact vs density-adjusted Wasserstein target, relative E difference against d.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import RC, errorbar_line, plt, save, style, yerr

PANELS = (("error", "E (mean squared error)", True), ("utilization", "U (utilization)", False),
          ("perplexity", "C (perplexity)", True), ("w2", "W2 (Gaussian, features vs codes)", True))
SOURCE_TITLE = {"gaussian": "features N(mu 1, I), codes from N(0, I)",
                "uniform": "features U(nu-1, nu+1), codes from U(-1, 1)"}


def _four_panels(summary):
    final = [e for e in summary.final if e.error is not None]
    sources = [s for s in ("gaussian", "uniform") if any(e.source == s for e in final)]
    quantizers = sorted({e.quantizer for e in final})
    authors = summary.authors_comparison
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(sources), 4, figsize=(13, 3.1 * len(sources)),
                                 squeeze=False)
        for row, source in enumerate(sources):
            for col, (metric, label, log) in enumerate(PANELS):
                ax = axes[row][col]
                for q in quantizers:
                    errorbar_line(ax, [e for e in final if e.quantizer == q
                                       and e.source == source], "shift", metric, q)
                if metric in ("error", "utilization"):
                    for q in quantizers:
                        pts = [a for a in authors if a.quantizer == q and a.source == source]
                        if pts:
                            ax.plot([a.shift for a in pts],
                                    [getattr(a, f"authors_{metric}") for a in pts], "x",
                                    color=style(q)["color"], ms=5, alpha=0.7)
                if log:
                    ax.set_yscale("log")
                else:
                    ax.set_ylim(-0.03, 1.05)
                ax.set_xlabel("shift mu" if source == "gaussian" else "shift nu")
                ax.set_ylabel(label)
                if row == 0:
                    ax.set_title(f"({'abcd'[col]}) {label.split(' ')[0]} at the final step")
            axes[row][0].annotate(SOURCE_TITLE[source], (0, 1.17), xycoords="axes fraction",
                                  fontsize=9, fontweight="bold")
        axes[0][3].legend(loc="lower right", fontsize=7)
        k = final[0].codebook_size if final else "?"
        fig.suptitle(f"Atomic setting, K = {k}, d = {final[0].d if final else '?'}: final "
                     "step (lines: ours, 95% CI over replicates; x: the authors' CSVs, K = 16384)",
                     y=1.02)
        fig.tight_layout()
    return fig


def _curves(summary):
    curves = summary.curves
    sources = [s for s in ("gaussian", "uniform") if any(c.source == s for c in curves)]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(sources), 2, figsize=(9, 3 * len(sources)), squeeze=False)
        for row, source in enumerate(sources):
            mu = max(c.shift for c in curves if c.source == source)
            for col, (metric, label) in enumerate((("utilization", "U"), ("error", "E"))):
                ax = axes[row][col]
                for c in curves:
                    if c.source == source and c.shift == mu:
                        st = style(c.quantizer)
                        ax.plot(c.step, getattr(c, metric), label=c.quantizer, color=st["color"],
                                ls=st["ls"], lw=1.2)
                ax.set_xlabel("training step")
                ax.set_ylabel(label)
                ax.set_title(f"{source}, shift {mu:g}: {label} during training")
                if metric == "error":
                    ax.set_yscale("log")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
    return fig


def _density(summary):
    rows = summary.density
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for target in sorted({r.target for r in rows}):
            g = sorted((r for r in rows if r.target == target), key=lambda r: r.d)
            st = style(target)
            ax.errorbar([r.d for r in g], [100 * r.relative.value for r in g],
                        yerr=100 * np.asarray(yerr([r.relative for r in g])),
                        label=target, color=st["color"], marker=st["marker"], capsize=2)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("dimension d")
        ax.set_ylabel("E(adjusted) / E(exact) - 1  [%]")
        ax.set_title("Trained codebooks on N(0, I): adjusted target\nvs exact matching (95% CI)")
        ax.legend(fontsize=7)
        fig.tight_layout()
    return fig


def draw(summary) -> dict:
    """The figures of an :class:`AtomicSummary` (``atomic_density`` only with density runs)."""
    drawn = {"atomic": _four_panels(summary), "atomic_curves": _curves(summary)}
    if summary.density:
        drawn["atomic_density"] = _density(summary)
    return drawn


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figures of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary), out_dir)
