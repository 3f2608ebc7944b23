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

from .style import RC, load_summary, plt, save

CASE_STYLE = {"matched": ("k", "o"), "same_support_peaked": ("tab:green", "s"),
              "smaller": ("tab:blue", "v"), "larger": ("tab:orange", "^"),
              "shifted": ("tab:red", "D")}


def _err(ci: dict) -> tuple[float, list[list[float]]]:
    m = ci["mean"]
    lo = ci["low"] if ci["low"] == ci["low"] else m
    hi = ci["high"] if ci["high"] == ci["high"] else m
    return m, [[m - lo], [hi - m]]


def _theorem1(s: dict, out: Path) -> list[Path]:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for case, c in s.items():
        color, marker = CASE_STYLE.get(case, ("0.5", "x"))
        ks = [p["n_codes"] for p in c["per_k"]]
        sup = [p["sup_high"]["mean"] for p in c["per_k"]]
        axes[0].plot(ks, sup, marker=marker, color=color, label=case, ms=4)
        if c["sup_floor"] > 0:
            axes[0].axhline(c["sup_floor"], color=color, lw=0.7, ls=":")
        axes[1].plot(ks, [p["utilization_limit"]["mean"] for p in c["per_k"]], marker=marker,
                     color=color, ms=4)
        axes[1].axhline(c["predicted_u_limit"], color=color, lw=0.7, ls=":")
        axes[2].plot(ks, [p["utilization"]["mean"] for p in c["per_k"]], marker=marker,
                     color=color, ms=4)
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
    return save(fig, out, "matching_theorem1")


def _fig3(s: dict, out: Path) -> list[Path]:
    confs = s["configs"]
    labels = [lab for lab in "abcdefgh" if lab in confs]
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.6))
    for ax, lab in zip(axes.ravel(), labels, strict=False):
        c = confs[lab]
        sc = s["scatter"].get(lab)
        if sc:
            f, k = np.asarray(sc["features"]), np.asarray(sc["codes"])
            ax.scatter(f[:, 0], f[:, 1], s=2, color="tab:blue", alpha=0.5, lw=0)
            ax.scatter(k[:, 0], k[:, 1], s=3, color="tab:red", lw=0)
        p = c["paper"]
        ax.set_title(f"({lab}) ours: E_rms {c['error_rms']['mean']:.3f}, E {c['error_mse']['mean']:.3f}"
                     f"\nU {100 * c['utilization']['mean']:.1f}%, C {c['perplexity']['mean']:.1f}"
                     f"\npaper: E {p['error_rms']}, U {100 * p['utilization']:.1f}%, "
                     f"C {p['perplexity']}", fontsize=7.5)
        ax.set_aspect("equal")
        ax.set_xlim(-1.8, 2.6)
        ax.set_ylim(-1.7, 1.7)
    fig.suptitle(f"Prototypical disks (N={s['n_features']}, K={s['n_codes']}); blue: 10% of the "
                 "features, red: 90% of the codes; ours = mean over replicates", fontsize=9)
    return save(fig, out, "matching_fig3")


def _appf(s: dict, out: Path) -> list[Path]:
    paths = []
    crit = (("error_mse", "E", True), ("utilization", "U", False), ("perplexity", "C", True))
    families = sorted({p["family"] for p in s["points"]})
    for family in families:
        for kind in ("shift", "scale"):
            fig, axes = plt.subplots(3, 3, figsize=(12, 9))
            for j, (axis, pts) in enumerate(s["sweeps"].items()):
                pts = [tuple(p) for p in pts]
                sel = [p for p in s["points"] if p["family"] == family and p["kind"] == kind
                       and (p["n_codes"], p["d"], p["n_features"]) in pts]
                xkey = {"K": "n_codes", "d": "d", "N": "n_features"}[axis]
                sel.sort(key=lambda p: p[xkey])
                if not sel:
                    continue
                values = [v["value"] for v in sel[0]["values"]]
                cmap = plt.get_cmap("viridis")
                for vi, v in enumerate(values):
                    xs = [p[xkey] for p in sel]
                    entries = [next(e for e in p["values"] if e["value"] == v) for p in sel]
                    grid = entries[0]["paper_grid"]
                    color = "k" if entries[0]["matched"] else cmap(vi / max(1, len(values) - 1))
                    for i, (key, name, logy) in enumerate(crit):
                        ys = [e[key]["mean"] for e in entries]
                        axes[i, j].plot(xs, ys, color=color, ls="-" if grid else "--",
                                        lw=1.6 if entries[0]["matched"] else 0.9,
                                        label=f"{v:g}" if i == 0 and j == 0 else None)
                        axes[i, j].set(xscale="log", yscale="log" if logy else "linear",
                                       xlabel=axis, ylabel=name)
                        axes[i, j].set_xticks(xs, [f"{x:g}" for x in xs])
                        axes[i, j].xaxis.set_minor_locator(NullLocator())
            axes[0, 0].legend(title="shift" if kind == "shift" else "scale", fontsize=6, ncol=2)
            fig.suptitle(f"App. F, {family} features, codebook {kind} sweep (black: matched; "
                         "dashed: off the paper's grid)", fontsize=9)
            paths += save(fig, out, f"matching_appf_{family}_{kind}")
    return paths


def _appg(s: dict, out: Path) -> list[Path]:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for family, f in s.items():
        color = "tab:blue" if family == "gaussian" else "tab:orange"
        sc = [p["scale"] for p in f["per_scale"]]
        for ax, key in zip(axes, ("error_mse", "utilization", "perplexity_over_k"), strict=True):
            m = [p[key]["mean"] for p in f["per_scale"]]
            yerr = np.array([_err(p[key])[1] for p in f["per_scale"]])[:, :, 0].T
            ax.errorbar(sc, m, yerr=yerr, fmt="o-", color=color, ms=4, capsize=2,
                        label=f"{family} (K={f['n_codes']}, N={f['n_features']})")
            pkey, div = (("perplexity", 8192) if key == "perplexity_over_k" else (key, 1))
            paper = [p["paper"][pkey] / div if p["paper"] else np.nan for p in f["per_scale"]]
            ax.plot(sc, paper, "x", color=color, ms=6, label=f"{family}: paper (K=8192, N=1e5)")
        axes[0].text(0.05, 0.9 - 0.1 * list(s).index(family),
                     f"{family}: slope {f['slope']:.4f}", transform=axes[0].transAxes, fontsize=7)
    axes[0].set(xscale="log", yscale="log", xlabel="scale s", ylabel="E", title="E ∝ s²")
    axes[1].set(xscale="log", xlabel="scale s", ylabel="U", title="U does not depend on s")
    axes[2].set(xscale="log", xlabel="scale s", ylabel="C / K", title="C does not depend on s")
    axes[2].legend(fontsize=6)
    return save(fig, out, "matching_appg")


def _utilization(s: dict, out: Path) -> list[Path]:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    tests = s["tests"]
    closed = [t for t in tests if "closed_form" in t]
    x = [t["closed_form"] for t in closed]
    y = [t["utilization"]["mean"] for t in closed]
    yerr = [1.96 * t["utilization"]["stderr"] for t in closed]
    axes[0].errorbar(x, y, yerr=yerr, fmt="o", ms=4, capsize=2)
    axes[0].plot([0, 1], [0, 1], color="0.5", lw=0.8)
    axes[0].set(xlabel="closed form E[U] (1-D, P_B = P_A)", ylabel="simulated mean U",
                title="(a) closed form vs simulation")
    cases = sorted({t["case"] for t in tests})
    for i, case in enumerate(cases):
        zs = [t["z_conditional"] for t in tests if t["case"] == case]
        axes[1].plot(np.full(len(zs), i), zs, "o", ms=4)
    axes[1].axhspan(-2, 2, color="0.9")
    axes[1].set_xticks(range(len(cases)), cases)
    axes[1].set(ylabel="z of U - E[U | codebook]", title="(b) conditional expectation")
    return save(fig, out, "matching_utilization")


def make(out_dir: str | Path = "out") -> list[Path]:
    """Draw the figure of every sub-study present in ``<out>/results/matching``."""
    summary = load_summary(out_dir, "matching")["summary"]
    out = Path(out_dir)
    draw = {"theorem1": _theorem1, "fig3": _fig3, "appf": _appf, "appg": _appg,
            "utilization": _utilization}
    paths: list[Path] = []
    with plt.rc_context(RC):
        for part in summary.get("parts_present", []):
            paths += draw[part](summary[part], out)
    return paths
