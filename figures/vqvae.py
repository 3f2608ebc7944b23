"""Figures of the ``vqvae`` study (reads ``<out>/results/vqvae/summary.json`` and the saved
reconstructions; never trains).

``vqvae_k``: held-out utilization U and Y-channel PSNR against the codebook size K, one line per
quantizer (the authors' settings; bars: 95% t interval over seeds when there are several), with the
fair-comparison control points as open markers. ``vqvae_dim`` and ``vqvae_gamma``: the same
against the codebook dimension and the matching weight, when the grid varies them.
``vqvae_gap``: the STE gradient gap G of every held-out image against ||z_e - z_q|| at the largest
K, with the bound's median slope. ``vqvae_recon``: held-out originals and their reconstructions per
quantizer at the largest K (first seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from .style import RC, load_summary, plt, save, style


def _line(ax, points, x_key, metric, q):
    pts = sorted((p for p in points if p["quantizer"] == q and p[metric]["mean"] is not None),
                 key=lambda p: p[x_key])
    if not pts:
        return
    x = [p[x_key] for p in pts]
    y = [p[metric]["mean"] for p in pts]
    lo = [p[metric]["mean"] - p[metric]["ci"][0] if p[metric]["ci"] else 0.0 for p in pts]
    hi = [p[metric]["ci"][1] - p[metric]["mean"] if p[metric]["ci"] else 0.0 for p in pts]
    st = style(q)
    ax.errorbar(x, y, yerr=[lo, hi], label=q, color=st["color"], marker=st["marker"], ls=st["ls"],
                ms=4, lw=1.1, capsize=2)


def _versus(summary, out_dir, x_key, name, xlabel, keep) -> list[Path]:
    pts = [p for p in summary["points"] if keep(p)]
    if len({p[x_key] for p in pts}) < 2:
        return []
    quantizers = sorted({p["quantizer"] for p in pts})
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
        for ax, (metric, label) in zip(axes, (("utilization", "held-out U"),
                                              ("psnr_y", "held-out PSNR (Y, dB)")), strict=True):
            for q in quantizers:
                _line(ax, [p for p in pts if p["setting"] == "paper"], x_key, metric, q)
            for p in pts:
                if p["setting"] == "control" and p[metric]["mean"] is not None:
                    st = style(p["quantizer"])
                    ax.plot(p[x_key], p[metric]["mean"], marker=st["marker"], mfc="none",
                            color=st["color"], ms=7, ls="none")
            if x_key in ("codebook_size", "gamma"):
                ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
        axes[0].set_ylim(-0.02, 1.02)
        axes[0].legend(fontsize=7, title="open: fair-comparison control", title_fontsize=6)
        fig.suptitle(f"VQ-VAE ({summary['train']}): {xlabel}", fontsize=10)
        fig.tight_layout()
        return save(fig, out_dir, name)


def _gap(summary, out_dir) -> list[Path]:
    scatter = summary.get("gap_scatter") or {}
    if not scatter:
        return []
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for q, e in sorted(scatter.items()):
            st = style(q)
            ax.scatter(e["distance"], e["gap"], s=6, alpha=0.6, color=st["color"], label=q)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("||z_e - z_q|| (per held-out image)")
        ax.set_ylabel("gradient gap G")
        g = summary["gap"]
        if g.get("runs"):
            ax.set_title(f"K = {summary['largest_k']}: bound violated on {g['violations']} of "
                         f"{g['images']} images; median G/bound {g['gap_over_bound_median']:.2f}",
                         fontsize=8)
        ax.legend(fontsize=7, markerscale=2)
        fig.tight_layout()
        return save(fig, out_dir, "vqvae_gap")


def _recon(summary, out_dir) -> list[Path]:
    root = Path(out_dir) / "results" / "vqvae"
    k = summary["largest_k"]
    panels = []
    for p in summary["points"]:
        if p["codebook_size"] == k and p["setting"] == "paper" and p.get("recon_file"):
            f = root / p["recon_file"]
            if f.is_file():
                panels.append((p["quantizer"], np.load(f)))
    if not panels:
        return []
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
        return save(fig, out_dir, "vqvae_recon")


def make(out_dir: str | Path = "out") -> list[Path]:
    """Draw the ``vqvae`` figures that the grid of the results supports."""
    s = load_summary(out_dir, "vqvae")["summary"]
    if not s["points"]:
        return []
    d0 = sorted({p["codebook_dim"] for p in s["points"]})
    k = s["largest_k"]
    paths = _versus(s, out_dir, "codebook_size", "vqvae_k", "codebook size K",
                    lambda p: p["codebook_dim"] == (8 if 8 in d0 else d0[0]))
    paths += _versus(s, out_dir, "codebook_dim", "vqvae_dim", "codebook dimension d",
                     lambda p: p["codebook_size"] == k and p["setting"] == "paper")
    paths += _versus(s, out_dir, "gamma", "vqvae_gamma", "matching weight gamma",
                     lambda p: p["gamma"] is not None and p["setting"] == "paper")
    return paths + _gap(s, out_dir) + _recon(s, out_dir)
