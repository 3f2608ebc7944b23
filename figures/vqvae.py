"""Figures of the ``vqvae`` study (its summary and the saved reconstructions; never trains).

``vqvae_k``: held-out utilization U and Y-channel PSNR against the codebook size K, one line per
quantizer (the authors' settings; bars: 95% t interval over replicates when there are several), with the
fair-comparison control points as open markers. ``vqvae_dim`` and ``vqvae_gamma``: the same
against the codebook dimension and the matching weight, when the grid varies them.
``vqvae_gap``: the STE gradient gap G of every held-out image against ||z_e - z_q|| at the largest
K, with the bound's median slope. ``vqvae_recon``: held-out originals and their reconstructions per
quantizer at the largest K (first replicate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from .style import RC, plt, save, style, yerr


def _line(ax, points, x_key, metric, q):
    pts = sorted((p for p in points if p.quantizer == q and getattr(p, metric) is not None),
                 key=lambda p: getattr(p, x_key))
    if not pts:
        return
    est = [getattr(p, metric) for p in pts]
    st = style(q)
    ax.errorbar([getattr(p, x_key) for p in pts], [e.value for e in est], yerr=yerr(est), label=q,
                color=st["color"], marker=st["marker"], ls=st["ls"], ms=4, lw=1.1, capsize=2)


def _versus(summary, x_key, xlabel, keep):
    pts = [p for p in summary.points if keep(p)]
    if len({getattr(p, x_key) for p in pts}) < 2:
        return None
    quantizers = sorted({p.quantizer for p in pts})
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
        for ax, (metric, label) in zip(axes, (("utilization", "held-out U"),
                                              ("psnr_y", "held-out PSNR (Y, dB)")), strict=True):
            for q in quantizers:
                _line(ax, [p for p in pts if p.setting == "paper"], x_key, metric, q)
            for p in pts:
                if p.setting == "control" and getattr(p, metric) is not None:
                    st = style(p.quantizer)
                    ax.plot(getattr(p, x_key), getattr(p, metric).value, marker=st["marker"],
                            mfc="none", color=st["color"], ms=7, ls="none",
                            label=f"_control {p.quantizer}")
            if x_key in ("codebook_size", "gamma"):
                ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
        axes[0].set_ylim(-0.02, 1.02)
        axes[0].legend(fontsize=7, title="open: fair-comparison control", title_fontsize=6)
        fig.suptitle(f"VQ-VAE ({summary.train_preset}): {xlabel}", fontsize=10)
        fig.tight_layout()
    return fig


def _gap(summary):
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for e in summary.gap_scatter:
            st = style(e.quantizer)
            ax.scatter(e.distance, e.gap, s=6, alpha=0.6, color=st["color"], label=e.quantizer)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("||z_e - z_q|| (per held-out image)")
        ax.set_ylabel("gradient gap G")
        g = summary.gap
        if g.runs:
            ax.set_title(f"K = {summary.largest_codebook_size}: bound violated on "
                         f"{g.violations} of {g.images} images; median G/bound "
                         f"{g.gap_over_bound_median:.2f}", fontsize=8)
        ax.legend(fontsize=7, markerscale=2)
        fig.tight_layout()
    return fig


def _recon(summary, results_dir):
    k = summary.largest_codebook_size
    panels = []
    for p in summary.points:
        if p.codebook_size == k and p.setting == "paper" and p.recon_file:
            f = Path(results_dir) / p.recon_file
            if f.is_file():
                panels.append((p.quantizer, np.load(f)))
    if not panels:
        return None
    panels.sort(key=lambda x: x[0])
    n = panels[0][1]["original"].shape[0]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(panels) + 1, n, figsize=(1.1 * n, 1.15 * (len(panels) + 1)),
                                 squeeze=False)
        for j in range(n):
            axes[0, j].imshow(panels[0][1]["original"][j])
        axes[0, 0].set_ylabel("original", fontsize=7)
        for i, (q, data) in enumerate(panels, start=1):
            for j in range(n):
                axes[i, j].imshow(data["reconstruction"][j])
            axes[i, 0].set_ylabel(q, fontsize=7)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.suptitle(f"held-out reconstructions, K = {k}", fontsize=9)
        fig.tight_layout()
    return fig


def draw(summary, results_dir: str | Path | None = None) -> dict:
    """The figures a :class:`VQVAESummary`'s grid supports (``vqvae_recon`` reads the saved
    reconstructions under ``results_dir``, the study's results folder)."""
    if not summary.points:
        return {}
    d0 = sorted({p.codebook_dim for p in summary.points})
    k = summary.largest_codebook_size
    drawn = {
        "vqvae_k": _versus(summary, "codebook_size", "codebook size K",
                           lambda p: p.codebook_dim == (8 if 8 in d0 else d0[0])),
        "vqvae_dim": _versus(summary, "codebook_dim", "codebook dimension d",
                             lambda p: p.codebook_size == k and p.setting == "paper"),
        "vqvae_gamma": _versus(summary, "gamma", "matching weight gamma",
                               lambda p: p.gamma is not None and p.setting == "paper"),
        "vqvae_gap": _gap(summary) if summary.gap_scatter else None,
        "vqvae_recon": _recon(summary, results_dir) if results_dir is not None else None,
    }
    return {name: fig for name, fig in drawn.items() if fig is not None}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figures of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary, Path(out_dir) / "results" / "vqvae"), out_dir)
