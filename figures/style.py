"""Shared matplotlib style and the results reader for every figure module (figures never compute
Monte Carlo estimates: they read ``<out>/results/<study>/summary.json``)."""

from __future__ import annotations

import json
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


def load_summary(out_dir: str | Path, study: str) -> dict:
    """The summary of a finished study run, or a ValueError telling how to produce it."""
    path = Path(out_dir) / "results" / study / "summary.json"
    if not path.exists():
        raise ValueError(f"no results for study {study!r} under {out_dir}: run "
                         f"`vqmatch {study} --out {out_dir}` first")
    return json.loads(path.read_text(encoding="utf-8"))


def save(fig, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``<out>/figures/<name>.png`` and ``.pdf``; return the paths."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    for p in paths:
        fig.savefig(p)
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


def errorbar_line(ax, entries: list[dict], x_key: str, metric: str, label: str) -> None:
    """One quantizer's line with its 95% CI bars (entries sorted by ``x_key``)."""
    entries = sorted(entries, key=lambda e: e[x_key])
    x = [e[x_key] for e in entries]
    y = [e[metric] for e in entries]
    lo = [e[metric] - e[f"{metric}_ci"][0] for e in entries]
    hi = [e[f"{metric}_ci"][1] - e[metric] for e in entries]
    st = style(label)
    ax.errorbar(x, y, yerr=[lo, hi], label=label, color=st["color"], marker=st["marker"],
                ls=st["ls"], ms=4, lw=1.1, capsize=2)
