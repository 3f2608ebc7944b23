"""Figures of the ``vqvae`` study (its summary and the saved reconstructions; never trains).

``vqvae_k``: held-out utilization U, quantization error E and Y-channel PSNR against the codebook
size K, one line per quantizer (the authors' settings; bars: 95% t interval over replicates when
there are several), with the fair-comparison control points as open markers. ``vqvae_curves``:
held-out U and E against the training step per quantizer at the largest K (means over replicates).
``vqvae_latent``: per quantizer at the largest K (first replicate), the held-out features and the
codes on the features' first two principal axes, codes coloured by how many features use them, the
closed-form W2 between the two sets in the title. ``vqvae_dim`` and ``vqvae_gamma``: the same
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
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
        for ax, (metric, label) in zip(axes, (("utilization", "held-out U"),
                                              ("error", "held-out E (mean squared distance)"),
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
            if metric == "error":
                ax.set_yscale("log")
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


def _curves(summary):
    k = summary.largest_codebook_size
    curves = sorted((c for c in summary.curves if c.codebook_size == k and c.setting == "paper"),
                    key=lambda c: c.quantizer)
    if not curves or max(len(c.step) for c in curves) < 2:
        return None
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
        for ax, (metric, label) in zip(axes, (("utilization", "held-out U"),
                                              ("error", "held-out E (mean squared distance)")),
                                       strict=True):
            for c in curves:
                st = style(c.quantizer)
                ax.plot(c.step, getattr(c, metric), label=c.quantizer, color=st["color"],
                        marker=st["marker"], ls=st["ls"], ms=3, lw=1.1)
            ax.set_xlabel("training step")
            ax.set_ylabel(label)
        axes[0].set_ylim(-0.02, 1.02)
        axes[1].set_yscale("log")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"VQ-VAE ({summary.train_preset}), K = {k}: training curves (mean over "
                     "replicates)", fontsize=10)
        fig.tight_layout()
    return fig


def _saved(summary, results_dir, attr: str) -> list:
    """(quantizer, arrays) of the files named by the points' ``attr`` at the largest K (the
    authors' settings), sorted by quantizer; a missing file is left out."""
    panels = []
    for p in summary.points:
        name = getattr(p, attr)
        if p.codebook_size == summary.largest_codebook_size and p.setting == "paper" and name:
            f = Path(results_dir) / name
            if f.is_file():
                panels.append((p.quantizer, np.load(f)))
    return sorted(panels, key=lambda x: x[0])


def _latent(summary, results_dir):
    k = summary.largest_codebook_size
    panels = _saved(summary, results_dir, "latent_file")
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
        for ax, (q, data) in zip(list(axes.flat)[:len(panels)], panels, strict=True):
            f, c, n = data["features"], data["codes"], data["counts"]
            ax.scatter(f[:, 0], f[:, 1], s=2, color="0.7", alpha=0.5, label="held-out features",
                       rasterized=True)
            used = n > 0
            sc = ax.scatter(c[used, 0], c[used, 1], s=5, c=np.log10(n[used]), cmap="viridis",
                            label="codes in use")
            ax.scatter(c[~used, 0], c[~used, 1], s=5, marker="x", color="tab:red", lw=0.6,
                       label="unused codes")
            ax.set_title(f"{q}: W2 = {float(data['w2']):.3g}, U = {used.mean():.3f}", fontsize=8)
            ax.set_xlabel("PC 1")
            ax.set_ylabel("PC 2")
            fig.colorbar(sc, ax=ax, label="log10 features per code", shrink=0.8)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=6, markerscale=2, loc="best")
        fig.suptitle(f"latent space at K = {k} (first two principal axes of the held-out "
                     "features)", fontsize=9)
        fig.tight_layout()
    return fig


def _recon(summary, results_dir):
    k = summary.largest_codebook_size
    panels = _saved(summary, results_dir, "recon_file")
    if not panels:
        return None
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
        "vqvae_curves": _curves(summary),
        "vqvae_gap": _gap(summary) if summary.gap_scatter else None,
        "vqvae_recon": _recon(summary, results_dir) if results_dir is not None else None,
        "vqvae_latent": _latent(summary, results_dir) if results_dir is not None else None,
    }
    return {name: fig for name, fig in drawn.items() if fig is not None}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figures of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary, Path(out_dir) / "results" / "vqvae"), out_dir)
