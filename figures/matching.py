"""Figures of the ``matching`` study, one per sub-study present in the results.

``matching_theorem1``: worst-case distance and utilization against K for the five codebook laws;
``matching_fig3``: the prototypical disks (one draw: 10 % of the features, 90 % of the codes) with
our replicated (E_rms, E_mse, U, C) beside the paper's printed values; ``matching_appf_<family>_
<kind>``: E, U, C against K, d and N for every shift / scale; ``matching_appg``: E, U and C
against the common scale s; ``matching_utilization``: simulated utilization against the closed
form and the conditional expectation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullLocator

from .style import RC, plt, save, yerr

CASE_STYLE = {"matched": ("k", "o"), "same_support_peaked": ("tab:green", "s"),
              "smaller": ("tab:blue", "v"), "larger": ("tab:orange", "^"),
              "shifted": ("tab:red", "D")}


def _theorem1(s):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for c in s.cases:
        color, marker = CASE_STYLE.get(c.case, ("0.5", "x"))
        ks = [p.codebook_size for p in c.per_k]
        axes[0].plot(ks, [p.sup_high.value for p in c.per_k], marker=marker, color=color,
                     label=c.case, ms=4)
        if c.sup_floor > 0:
            axes[0].axhline(c.sup_floor, color=color, lw=0.7, ls=":")
        axes[1].plot(ks, [p.utilization_limit.value for p in c.per_k], marker=marker,
                     color=color, ms=4, label=c.case)
        axes[1].axhline(c.predicted_u_limit, color=color, lw=0.7, ls=":")
        axes[2].plot(ks, [p.utilization.value for p in c.per_k], marker=marker,
                     color=color, ms=4, label=c.case)
    k = np.geomspace(min(ks), max(ks), 50)
    axes[0].plot(k, 0.9 * np.sqrt(np.log(k) / k), color="0.6", lw=0.8, ls="--",
                 label="~ sqrt(log K / K)")
    axes[0].set(xscale="log", yscale="log", xlabel="K", ylabel="sup over the disk of the distance",
                title="(a) worst-case distance (dotted: radius gap)")
    axes[0].legend(fontsize=7)
    axes[1].set(xscale="log", xlabel="K", ylabel="U as N -> inf",
                title="(b) limit utilization (dotted: predicted)")
    axes[2].set(xscale="log", xlabel="K", ylabel="U at N = c K",
                title="(c) utilization at finite N")
    return fig


def _fig3(s):
    labels = [lab for lab in "abcdefgh" if s.panel(lab) is not None]
    scatter = {sc.label: sc for sc in s.scatter}
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.6))
    for ax, lab in zip(axes.ravel(), labels, strict=False):
        c = s.panel(lab)
        sc = scatter.get(lab)
        if sc:
            f, k = np.asarray(sc.features), np.asarray(sc.codes)
            ax.scatter(f[:, 0], f[:, 1], s=2, color="tab:blue", alpha=0.5, lw=0, label="features")
            ax.scatter(k[:, 0], k[:, 1], s=3, color="tab:red", lw=0, label="codes")
        p = c.paper
        ax.set_title(f"({lab}) ours: E_rms {c.error_rms.value:.3f}, E {c.error_mse.value:.3f}"
                     f"\nU {100 * c.utilization.value:.1f}%, C {c.perplexity.value:.1f}"
                     f"\npaper: E {p['error_rms']}, U {100 * p['utilization']:.1f}%, "
                     f"C {p['perplexity']}", fontsize=7.5)
        ax.set_aspect("equal")
        ax.set_xlim(-1.8, 2.6)
        ax.set_ylim(-1.7, 1.7)
    fig.suptitle(f"Prototypical disks (N={s.n_features}, K={s.codebook_size}); blue: 10% of the "
                 "features, red: 90% of the codes; ours = mean over replicates", fontsize=9)
    return fig


def _appf(s) -> dict:
    drawn = {}
    crit = (("error_mse", "E", True), ("utilization", "U", False), ("perplexity", "C", True))
    families = sorted({p.family for p in s.points})
    for family in families:
        for kind in ("shift", "scale"):
            fig, axes = plt.subplots(3, 3, figsize=(12, 9))
            for j, (axis, pts) in enumerate(s.sweeps.items()):
                sel = [p for p in s.points if p.family == family and p.kind == kind
                       and (p.codebook_size, p.d, p.n_features) in pts]
                xkey = {"K": "codebook_size", "d": "d", "N": "n_features"}[axis]
                sel.sort(key=lambda p: getattr(p, xkey))
                if not sel:
                    continue
                values = [v.value for v in sel[0].values]
                cmap = plt.get_cmap("viridis")
                for vi, v in enumerate(values):
                    xs = [getattr(p, xkey) for p in sel]
                    entries = [next(e for e in p.values if e.value == v) for p in sel]
                    grid = entries[0].paper_grid
                    color = "k" if entries[0].matched else cmap(vi / max(1, len(values) - 1))
                    for i, (key, name, logy) in enumerate(crit):
                        ys = [getattr(e, key).value for e in entries]
                        axes[i, j].plot(xs, ys, color=color, ls="-" if grid else "--",
                                        lw=1.6 if entries[0].matched else 0.9,
                                        label=f"{v:g}")
                        axes[i, j].set(xscale="log", yscale="log" if logy else "linear",
                                       xlabel=axis, ylabel=name)
                        axes[i, j].set_xticks(xs, [f"{x:g}" for x in xs])
                        axes[i, j].xaxis.set_minor_locator(NullLocator())
            axes[0, 0].legend(title="shift" if kind == "shift" else "scale", fontsize=6, ncol=2)
            fig.suptitle(f"App. F, {family} features, codebook {kind} sweep (black: matched; "
                         "dashed: off the paper's grid)", fontsize=9)
            drawn[f"matching_appf_{family}_{kind}"] = fig
    return drawn


def _appg(s):
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for i, f in enumerate(s.families):
        color = "tab:blue" if f.family == "gaussian" else "tab:orange"
        sc = [p.scale_factor for p in f.per_scale]
        for ax, key in zip(axes, ("error_mse", "utilization", "perplexity_over_k"), strict=True):
            est = [getattr(p, key) for p in f.per_scale]
            ax.errorbar(sc, [e.value for e in est], yerr=yerr(est), fmt="o-", color=color, ms=4,
                        capsize=2, label=f"{f.family} (K={f.codebook_size}, N={f.n_features})")
            pkey, div = (("perplexity", 8192) if key == "perplexity_over_k" else (key, 1))
            paper = [p.paper[pkey] / div if p.paper else np.nan for p in f.per_scale]
            ax.plot(sc, paper, "x", color=color, ms=6, label=f"{f.family}: paper (K=8192, N=1e5)")
        axes[0].text(0.05, 0.9 - 0.1 * i, f"{f.family}: slope {f.slope.value:.4f}",
                     transform=axes[0].transAxes, fontsize=7)
    axes[0].set(xscale="log", yscale="log", xlabel="scale s", ylabel="E", title="E ∝ s²")
    axes[1].set(xscale="log", xlabel="scale s", ylabel="U", title="U does not depend on s")
    axes[2].set(xscale="log", xlabel="scale s", ylabel="C / K", title="C does not depend on s")
    axes[2].legend(fontsize=6)
    return fig


def _utilization(s):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    tests = s.tests
    closed = [t for t in tests if t.closed_form is not None]
    x = [t.closed_form for t in closed]
    axes[0].errorbar(x, [t.utilization.value for t in closed],
                     yerr=[1.96 * t.utilization.se for t in closed], fmt="o", ms=4, capsize=2,
                     label="simulated")
    axes[0].plot([0, 1], [0, 1], color="0.5", lw=0.8)
    axes[0].set(xlabel="closed form E[U] (1-D, P_B = P_A)", ylabel="simulated mean U",
                title="(a) closed form vs simulation")
    cases = sorted({t.case for t in tests})
    for i, case in enumerate(cases):
        zs = [t.z_conditional for t in tests if t.case == case]
        axes[1].plot(np.full(len(zs), i), zs, "o", ms=4, label=case)
    axes[1].axhspan(-2, 2, color="0.9")
    axes[1].set_xticks(range(len(cases)), cases)
    axes[1].set(ylabel="z of U - E[U | codebook]", title="(b) conditional expectation")
    return fig


def draw(summary) -> dict:
    """The figure of every sub-study present in a :class:`MatchingSummary` (``matching_<part>``;
    App. F: one per family and sweep kind)."""
    drawn = {}
    with plt.rc_context(RC):
        for part in summary.parts_present:
            s = getattr(summary, part)
            if part == "appf":
                drawn.update(_appf(s))
            else:
                drawn[f"matching_{part}"] = {"theorem1": _theorem1, "fig3": _fig3,
                                               "appg": _appg, "utilization": _utilization}[part](s)
    return drawn


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figures of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary), out_dir)
