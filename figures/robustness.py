"""Figure of the ``robustness`` study: final-step E and U against the bimodal separation z, one line
per quantizer (95% CI bars over replicates), and E (bars, with U written above them) on Student-t(3)
features at the smallest location."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import RC, errorbar_line, plt, save, style, yerr


def draw(summary) -> dict:
    """``{"robustness": Figure}`` of a :class:`RobustnessSummary`."""
    final = [e for e in summary.final if e.error is not None]
    quantizers = sorted({e.quantizer for e in final})
    heavy = [e for e in final if e.source == "student_t"]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 3 if heavy else 2, figsize=(12 if heavy else 8.5, 3.3))
        for ax, (metric, label) in zip(axes[:2], (("error", "E (mean squared error)"),
                                                  ("utilization", "U (utilization)")),
                                       strict=True):
            for q in quantizers:
                errorbar_line(ax, [e for e in final if e.quantizer == q
                                   and e.source == "bimodal"], "separation", metric, q)
            ax.set_xlabel("separation z")
            ax.set_ylabel(label)
            ax.set_title(f"{label.split(' ')[0]}: features 0.5 N(z1, I) + 0.5 N(-z1, I)")
        axes[0].legend(fontsize=7)
        if heavy:
            ax = axes[2]
            loc = min(e.shift for e in heavy)
            g = {e.quantizer: e for e in heavy if e.shift == loc}
            names = [q for q in quantizers if q in g]
            x = np.arange(len(names))
            ax.bar(x, [g[q].error.value for q in names], yerr=yerr([g[q].error for q in names]),
                   color=[style(q)["color"] for q in names], capsize=3)
            for xi, q in zip(x, names, strict=True):
                ax.annotate(f"U={g[q].utilization.value:.2f}", (xi, g[q].error.high), ha="center",
                            va="bottom", fontsize=7, xytext=(0, 4), textcoords="offset points")
            ax.set_xticks(x, names, rotation=30, ha="right")
            ax.set_ylabel("E (mean squared error)")
            ax.set_title("Student-t (3 dof) features: E and U")
        fig.tight_layout()
    return {"robustness": fig}


def make(summary, out_dir: str | Path = "out") -> list[Path]:
    """Write the figure of :func:`draw` under ``<out>/figures``."""
    return save(draw(summary), out_dir)
