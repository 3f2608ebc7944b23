"""Figures of the ``prior`` study (its summary and the saved samples; never trains).

``prior_rd``: the prior's held-out bits per image against the tokenizer's held-out distortion
(mean squared pixel error on [-1, 1]), one point per replicate (seed), one marker per quantizer, one
panel per codebook size K. ``prior_fd``: the Fréchet distance (random-conv features) of decoded
samples to the held-out images per quantizer (mean and 95% t interval over replicates), one series
per K, with the held-out reconstructions' distance (the tokenizer's floor) dotted.
``prior_samples``: decoded samples of the first replicate's prior, one row per quantizer (largest
K).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import RC, plt, save, style, yerr


def _rd(summary):
    sizes = sorted({p.codebook_size for p in summary.points})
    if not sizes:
        return None
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.4), squeeze=False)
        for ax, k in zip(axes[0], sizes, strict=True):
            for p in sorted((p for p in summary.points if p.codebook_size == k),
                            key=lambda p: p.quantizer):
                st = style(p.quantizer)
                ax.plot([r[2] for r in p.per_replicate], [r[1] for r in p.per_replicate],
                        ls="none", marker=st["marker"], color=st["color"], ms=6, label=p.quantizer)
            ax.set_xlabel("held-out distortion (pixel MSE on [-1, 1])")
            ax.set_ylabel("prior held-out bits / image")
            uniform = next(p.log2_k * p.tokens_per_image for p in summary.points
                           if p.codebook_size == k)
            ax.set_title(f"K = {k} (uniform prior: {uniform:.0f} bits / image)")
            ax.legend()
        fig.suptitle(f"rate against distortion ({summary.prior_preset} prior), one point per seed",
                     fontsize=9)
        fig.tight_layout()
    return fig


def _fd(summary):
    quantizers = sorted({p.quantizer for p in summary.points})
    sizes = sorted({p.codebook_size for p in summary.points})
    if not quantizers:
        return None
    x = {q: i for i, q in enumerate(quantizers)}
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(1.4 * len(quantizers) + 2.5, 3.4))
        for j, k in enumerate(sizes):
            shift = 0.12 * (j - (len(sizes) - 1) / 2)
            for metric, label, ls in (("frechet", f"samples, K = {k}", "-"),
                                      ("recon_frechet", f"reconstructions, K = {k}", ":")):
                pts = [p for p in summary.points
                       if p.codebook_size == k and getattr(p, metric) is not None]
                pts.sort(key=lambda p: x[p.quantizer])
                est = [getattr(p, metric) for p in pts]
                ax.errorbar([x[p.quantizer] + shift for p in pts], [e.value for e in est],
                            yerr=yerr(est), label=label, marker="o" if ls == "-" else "x", ls=ls,
                            capsize=2, lw=1.0, ms=4)
        ax.set_xticks(range(len(quantizers)), quantizers)
        ax.set_xlabel("quantizer")
        ax.set_ylabel("Fréchet distance to held-out images")
        ax.set_title(f"{summary.samples} samples at temperature {summary.temperature:g} "
                     f"(random-conv features)")
        ax.legend()
        fig.tight_layout()
    return fig


def _samples(summary, results_dir):
    if not summary.points:
        return None
    k = max(p.codebook_size for p in summary.points)
    panels = []
    for p in sorted(summary.points, key=lambda p: p.quantizer):
        if p.codebook_size == k and p.samples_file:
            f = Path(results_dir) / p.samples_file
            if f.is_file():
                panels.append((p.quantizer, np.load(f)["samples"]))
    if not panels:
        return None
    n = max(len(s) for _, s in panels)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(panels), n, figsize=(1.1 * n, 1.15 * len(panels)),
                                 squeeze=False)
        for i, (q, images) in enumerate(panels):
            for j in range(n):
                if j < len(images):
                    axes[i, j].imshow(images[j])
                else:
                    axes[i, j].set_axis_off()
            axes[i, 0].set_ylabel(q, fontsize=7)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.suptitle(f"decoded prior samples, K = {k} (first seed)", fontsize=9)
        fig.tight_layout()
    return fig


def draw(summary, results_dir: str | Path | None = None) -> dict:
    """The figures of a :class:`~vqmatch.simulations.studies.prior.summary.PriorSummary`
    (``prior_samples`` reads the saved samples under ``results_dir``, the study's results
    folder)."""
    if not summary.points:
        return {}
    drawn = {"prior_rd": _rd(summary), "prior_fd": _fd(summary),
             "prior_samples": _samples(summary, results_dir) if results_dir is not None else None}
    return {name: fig for name, fig in drawn.items() if fig is not None}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figures of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary, Path(out_dir) / "results" / "prior"), out_dir)
