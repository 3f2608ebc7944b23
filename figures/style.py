"""Shared matplotlib style and helpers of every figure module. A figure module draws a study's typed
summary (read from ``<out>/results/<study>/summary.json`` by :func:`vqmatch.figures.make_figures`)
and never computes a Monte Carlo estimate: ``draw(summary) -> {name: Figure}`` makes the figures,
``make(summary, out_dir)`` writes them."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no display needed (CI, servers)
import matplotlib.pyplot as plt

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
CANDIDATE_STYLE = {
    "classical d/(d+2)": {"color": "tab:blue", "ls": "-"},
    "matched 1": {"color": "0.4", "ls": ":"},
    "paper (d+2)/d": {"color": "tab:red", "ls": "--"},
}


def save(drawn: dict, out_dir: str | Path) -> list[Path]:
    """Write each figure of ``{name: Figure}`` to ``<out>/figures/<name>.png`` and ``.pdf``, close
    it, and return the paths."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(RC):  # the savefig settings (dpi, tight bounding box)
        for name, fig in drawn.items():
            for p in (folder / f"{name}.png", folder / f"{name}.pdf"):
                fig.savefig(p)
                paths.append(p)
            plt.close(fig)
    return paths

QUANTIZER_STYLE = {
    "vanilla": {"color": "tab:gray", "marker": "o"},
    "ema": {"color": "tab:orange", "marker": "s"},
    "online": {"color": "tab:green", "marker": "^"},
    "online_farthest": {"color": "tab:olive", "marker": "v", "ls": "--"},
    "linear": {"color": "tab:purple", "marker": "D"},
    "wasserstein": {"color": "tab:red", "marker": "*"},
    "mmd": {"color": "tab:blue", "marker": "P"},
    "sliced": {"color": "tab:cyan", "marker": "X"},
    "density_wasserstein": {"color": "tab:brown", "marker": "h", "ls": ":"},
    "density_finite_k": {"color": "tab:pink", "marker": "p", "ls": ":"},
    "ste++": {"color": "black", "marker": "d"},
}


def style(quantizer: str) -> dict:
    """Line style of a quantizer variant (grey for unknown names)."""
    return {"ls": "-", **QUANTIZER_STYLE.get(quantizer, {"color": "k", "marker": "."})}


def yerr(estimates) -> list[list[float]]:
    """Error-bar lengths ``[below, above]`` of estimates with intervals (an estimate without a
    finite interval, e.g. a single replicate, gets none)."""
    def gap(a, b):
        return b - a if math.isfinite(a) and math.isfinite(b) else 0.0

    return [[gap(e.low, e.value) for e in estimates], [gap(e.value, e.high) for e in estimates]]


def errorbar_line(ax, entries, x_key: str, metric: str, label: str) -> None:
    """One quantizer's line with its 95% CI bars: ``metric`` (an Estimate attribute) of the entries
    against their ``x_key`` attribute; entries without the metric are left out."""
    entries = sorted((e for e in entries if getattr(e, metric) is not None),
                     key=lambda e: getattr(e, x_key))
    if not entries:
        return
    est = [getattr(e, metric) for e in entries]
    st = style(label)
    ax.errorbar([getattr(e, x_key) for e in entries], [m.value for m in est], yerr=yerr(est),
                label=label, color=st["color"], marker=st["marker"], ls=st["ls"], ms=4, lw=1.1,
                capsize=2)
