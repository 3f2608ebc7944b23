"""Figure for the ``density`` study (Theorem 2): three panels.

(a) estimated point-density exponent against d, with the three candidate curves d/(d+2), 1 and the
paper's (d+2)/d; (b) the 1-D Lloyd-Max levels of the unit Gaussian as a density, against f^(1/3),
f and f^3; (c) random Gaussian codebooks: E(s^2)/E(1) for each d, with the measured and the
high-resolution minima.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import CANDIDATE_STYLE, RC, plt, save


def _panel_exponent(ax, summary) -> None:
    d_grid = np.linspace(1, max(8, max(e.d for e in summary.estimates)), 200)
    curves = {"classical d/(d+2)": d_grid / (d_grid + 2), "matched 1": np.ones_like(d_grid),
              "paper (d+2)/d": (d_grid + 2) / d_grid}
    for name, y in curves.items():
        ax.plot(d_grid, y, label=name, **CANDIDATE_STYLE[name], lw=1.2)
    markers = {"gaussian": "o", "laplace": "s", "student_t": "^", "bimodal": "D"}
    largest: dict[tuple, object] = {}
    for e in summary.estimates:
        key = (e.part, e.d, e.source)
        if key not in largest or e.codebook_size > largest[key].codebook_size:
            largest[key] = e
    seen = set()
    for (part, d, source), e in sorted(largest.items()):
        x = e.exponent
        jitter = {"gaussian": -0.09, "laplace": -0.03, "student_t": 0.03, "bimodal": 0.09}[source]
        label = source if source not in seen else None
        seen.add(source)
        ax.errorbar(d + jitter, x.value, yerr=[[x.value - x.low], [x.high - x.value]],
                    fmt=markers[source], ms=4, color="k", mfc="white" if part == "kmeans" else "k",
                    capsize=2, lw=0.8, label=label)
    ax.set_xlabel("dimension d")
    ax.set_ylabel("exponent a in  point density ∝ f^a")
    ax.set_title("(a) measured exponent at the largest K\n(filled: 1-D Lloyd-Max, open: k-means)")
    ax.set_ylim(0, 3.2)
    ax.legend(loc="upper right", ncols=2)


def _panel_levels(ax, summary) -> None:
    levels_by_k = summary.gaussian_levels
    k = max(levels_by_k)
    levels = np.asarray(levels_by_k[k])
    ax.hist(levels, bins=40, density=True, color="0.8", edgecolor="0.5",
            label=f"Lloyd-Max levels, K={k}")
    x = np.linspace(levels.min() * 1.1, levels.max() * 1.1, 400)
    for name, a in (("classical d/(d+2)", 1 / 3), ("matched 1", 1.0), ("paper (d+2)/d", 3.0)):
        # f^a for the unit Gaussian, normalised: N(0, 1/a)
        dens = np.sqrt(a / (2 * np.pi)) * np.exp(-a * x * x / 2)
        ax.plot(x, dens, label=f"f^{a:.3g}", **CANDIDATE_STYLE[name], lw=1.2)
    ax.set_xlabel("x")
    ax.set_ylabel("density of levels")
    ax.set_title("(b) 1-D unit Gaussian: the optimal levels\nfollow f^(1/3), not f or f^3")
    ax.legend(loc="upper right")


def _panel_random(ax, summary) -> None:
    cmap = plt.get_cmap("viridis")
    rows = summary.random_codebook
    for i, r in enumerate(rows):
        color = cmap(i / max(1, len(rows) - 1))
        s2 = np.asarray(r.curve_scale2)
        e = np.asarray(r.curve_distortion) / r.distortion_matched
        best = r.best_scale2.value
        ax.plot(s2, e, color=color, lw=1.2, label=f"d={r.d}")
        ax.plot(best, np.interp(best, s2, e), "o", color=color, ms=4)
        ax.axvline(r.best_scale2_theory, color=color, lw=0.6, ls="--")
        if r.best_scale2_lowrate < 1.0:
            ax.axvline(r.best_scale2_lowrate, color=color, lw=0.6, ls="-.")
    ax.axvline(1.0, color="0.3", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("codebook variance s² (features N(0, I))")
    ax.set_ylabel("E(s²) / E(1)")
    k = rows[0].codebook_size if rows else "?"
    ax.set_title(f"(c) random codebooks N(0, s²I), K={k}: dots = measured argmin,\n"
                 "dashed = high-resolution (d+2)/d, dash-dot = low-rate m_K²/d", fontsize=9)
    ax.legend(loc="upper right", ncols=2)


def draw(summary) -> dict:
    """``{"optimal_density": Figure}`` of a :class:`DensitySummary`."""
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
        _panel_exponent(axes[0], summary)
        _panel_levels(axes[1], summary)
        _panel_random(axes[2], summary)
        fig.suptitle("Theorem 2: which power of f do optimal codebooks follow?", y=1.02)
    return {"optimal_density": fig}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figure of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary), out_dir)
