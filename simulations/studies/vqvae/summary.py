"""Summary of the ``vqvae`` study: final values per grid point (mean and t interval over replicates),
training curves, paired comparisons of Wasserstein VQ with every other quantizer (same replicates:
common random numbers), the fair-comparison control, the STE gradient gap, and the paper's table
values beside ours where the training preset is the paper's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vqmatch.theory.quantization import expected_utilization

from ...core.jsondata import JsonData
from ...core.stats import Estimate
from ...core.stats import replicate_estimate as estimate
from ...core.verdicts import PLATEAU_E, PLATEAU_FRACTION, PLATEAU_U
from ...engines.training_summary import Paired, curves, final_rows, paired
from .config import PAPER_TABLES, PAPER_TRAIN_PRESETS, VQVAEConfig

METRICS = ("utilization", "perplexity", "error", "psnr", "psnr_y", "ssim", "rec_loss")
GAP = ("gap_mean", "bound_mean", "gap_over_bound_median", "violation_rate", "gap_error_slope")
POINT = ("quantizer", "codebook_size", "codebook_dim", "dataset", "gamma", "beta", "codebook_lr",
         "setting")
CURVE_METRICS = ("utilization", "error", "psnr", "rec_loss")
_NAN = math.nan


@dataclass(frozen=True, eq=False)
class VQVAEPoint(JsonData):
    """One grid point at its final step over its replicates (``replicates``: their indices)."""

    quantizer: str
    codebook_size: int
    codebook_dim: int
    dataset: str
    gamma: float | None
    beta: float | None
    codebook_lr: float | None
    setting: str
    replicates: tuple[int, ...]
    step: int
    utilization: Estimate | None
    perplexity: Estimate | None
    error: Estimate | None
    psnr: Estimate | None
    psnr_y: Estimate | None
    ssim: Estimate | None
    rec_loss: Estimate | None
    gap_mean: Estimate | None
    bound_mean: Estimate | None
    gap_over_bound_median: Estimate | None
    violation_rate: Estimate | None
    gap_error_slope: Estimate | None
    images_per_s: Estimate | None
    seconds: Estimate | None
    recon_file: str | None
    latent_file: str | None = None
    latent_w2: Estimate | None = None
    heldout_tokens: int | None = None
    utilization_change: Estimate | None = None
    error_change: Estimate | None = None

    @property
    def utilization_ceiling(self) -> float | None:
        """E[U] of a perfectly matched codebook (every code of mass 1/K) on the held-out tokens:
        1 - (1 - 1/K)^N (App. G's E[U] = 1 - E_k (1 - P(V_k))^N with equal cell masses)."""
        if not self.heldout_tokens:
            return None
        return expected_utilization(np.full(self.codebook_size, 1.0 / self.codebook_size),
                                    self.heldout_tokens)

    @property
    def converged(self) -> bool | None:
        """Held-out U and E at a plateau over the last quarter of training (mean over replicates of
        the final value minus the one at PLATEAU_FRACTION of the steps: within PLATEAU_U, and
        within PLATEAU_E relative); None without an earlier evaluation."""
        if self.utilization_change is None or self.error_change is None:
            return None
        return (abs(self.utilization_change.value) <= PLATEAU_U
                and abs(self.error_change.value) <= PLATEAU_E)


@dataclass(frozen=True, eq=False)
class VQVAECurve(JsonData):
    """Training curve of one grid point: replicate means at every evaluation step."""

    quantizer: str
    codebook_size: int
    codebook_dim: int
    dataset: str
    gamma: float | None
    beta: float | None
    codebook_lr: float | None
    setting: str
    step: tuple[int, ...]
    utilization: tuple[float, ...]
    error: tuple[float, ...]
    psnr: tuple[float, ...]
    rec_loss: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Comparison(JsonData):
    """Wasserstein VQ (the authors' settings) against ``other`` at one (K, d, dataset)."""

    codebook_size: int
    codebook_dim: int
    dataset: str
    other: str
    utilization: Paired | None
    psnr: Paired | None
    psnr_y: Paired | None
    ssim: Paired | None
    rec_loss: Paired | None
    gap_mean: Paired | None


@dataclass(frozen=True, eq=False)
class Control(JsonData):
    """The fair-comparison control for one baseline (see :func:`_control`)."""

    codebook_size: int
    codebook_dim: int
    dataset: str
    baseline: str
    baseline_control_beta: float | None
    baseline_control_codebook_lr: float | None
    gain_paper: Paired | None
    baseline_change: Paired | None
    wasserstein_control_beta: float | None = None
    wasserstein_control_codebook_lr: float | None = None
    gain_swapped: Paired | None = None
    gap_swapped: Paired | None = None
    psnr_swapped: Paired | None = None


@dataclass(frozen=True, eq=False)
class EqualBeta(JsonData):
    """Wasserstein minus Vanilla VQ at one commitment weight beta (each at its own codebook lr; the
    beta sweep and the paper points), paired by replicate."""

    beta: float
    codebook_size: int
    codebook_dim: int
    dataset: str
    gap_mean: Paired | None
    psnr_y: Paired | None
    utilization: Paired | None


@dataclass(frozen=True, eq=False)
class GapSummary(JsonData):
    """The STE gradient gap over every run that measured it: the fraction of held-out images
    violating the first-order bound (Clopper-Pearson interval), the median G / bound and the
    slope of G in the quantization distance over runs."""

    runs: int
    images: int = 0
    violations: int = 0
    violation_rate: Estimate | None = None
    gap_over_bound_median: float | None = None
    gap_error_slope: Estimate | None = None


@dataclass(frozen=True, eq=False)
class GapScatter(JsonData):
    """Per held-out image (distance ||z_e - z_q||, gap G) of one quantizer, pooled over runs."""

    quantizer: str
    distance: tuple[float, ...]
    gap: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class PaperValue(JsonData):
    """Our final values next to the paper's table row of the same quantizer, K and d."""

    quantizer: str
    codebook_size: int
    codebook_dim: int
    utilization: Estimate | None
    psnr_y: Estimate | None
    rec_loss: Estimate | None
    paper_utilization: float
    paper_perplexity: float
    paper_psnr: float
    paper_ssim: float
    paper_rec_loss: float


@dataclass(frozen=True, eq=False)
class VQVAESummary(JsonData):
    """Everything the claims and figures read (see the module docstring); ``largest_codebook_size``:
    the largest K of the run (None without rows)."""

    train_preset: str
    points: tuple[VQVAEPoint, ...]
    curves: tuple[VQVAECurve, ...]
    comparisons: tuple[Comparison, ...]
    control: tuple[Control, ...]
    gap: GapSummary
    gap_scatter: tuple[GapScatter, ...]
    paper: tuple[PaperValue, ...]
    largest_codebook_size: int | None
    equal_beta: tuple[EqualBeta, ...] = ()

    @classmethod
    def from_rows(cls, cfg: VQVAEConfig, rows: list[dict]) -> VQVAESummary:
        final = final_rows(rows, run=(*POINT, "replicate"))
        points = _points(final, _changes(rows))
        largest = max((r["codebook_size"] for r in final), default=None)
        return cls(train_preset=cfg.train_preset, points=points,
                   curves=tuple(VQVAECurve(**c) for c in curves(rows, POINT, CURVE_METRICS)),
                   comparisons=_comparisons(final), control=_control(final), gap=_gap(final),
                   gap_scatter=_gap_scatter(final, largest), paper=_paper(cfg, points),
                   largest_codebook_size=largest, equal_beta=_equal_beta(final, largest))

    def point(self, quantizer: str, codebook_size: int, codebook_dim: int, dataset: str,
              setting: str = "paper") -> VQVAEPoint | None:
        return next((e for e in self.points if (e.quantizer, e.codebook_size, e.codebook_dim,
                                                e.dataset, e.setting)
                     == (quantizer, codebook_size, codebook_dim, dataset, setting)), None)


def _changes(rows: list[dict]) -> dict[tuple, tuple[float, float]]:
    """Per run (POINT + replicate): the final held-out U minus the one at PLATEAU_FRACTION of its
    steps (the last evaluation at or before it), and the same relative change of E."""
    runs: dict[tuple, list[dict]] = {}
    for r in rows:
        runs.setdefault(tuple(r[k] for k in (*POINT, "replicate")), []).append(r)
    out = {}
    for key, rs in runs.items():
        rs = sorted(rs, key=lambda r: r["step"])
        last = rs[-1]
        earlier = [r for r in rs[:-1] if r["step"] <= PLATEAU_FRACTION * last["step"]]
        if not earlier:
            continue
        e = earlier[-1]
        out[key] = (last["utilization"] - e["utilization"],
                    (last["error"] - e["error"]) / e["error"] if e["error"] else math.nan)
    return out


def _points(final: list[dict], changes: dict[tuple, tuple[float, float]]) -> tuple[VQVAEPoint, ...]:
    groups: dict[tuple, list[dict]] = {}
    for r in final:
        groups.setdefault(tuple(r[k] for k in POINT), []).append(r)
    out = []
    for key, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        ch = [changes.get((*key, r["replicate"])) for r in g]
        tokens = {r.get("heldout_tokens") for r in g} - {None}
        out.append(VQVAEPoint(
            *key, replicates=tuple(sorted(r["replicate"] for r in g)),
            step=max(r["step"] for r in g),
            **{m: estimate(r.get(m) for r in g) for m in (*METRICS, *GAP, "images_per_s",
                                                          "seconds")},
            recon_file=next((r["recon_file"] for r in g if r.get("recon_file")), None),
            latent_file=next((r["latent_file"] for r in g if r.get("latent_file")), None),
            latent_w2=estimate(r.get("latent_w2") for r in g),
            heldout_tokens=min(tokens) if tokens else None,
            utilization_change=estimate(c[0] for c in ch if c is not None),
            error_change=estimate(c[1] for c in ch if c is not None)))
    return tuple(out)


def _equal_beta(final: list[dict], k: int | None) -> tuple[EqualBeta, ...]:
    """Wasserstein minus Vanilla at every beta both were trained with at the largest K (their own
    codebook lr: the paper points and the beta sweep)."""
    runs = [r for r in final if r["setting"] in ("paper", "beta") and r["codebook_size"] == k
            and r["quantizer"] in ("wasserstein", "vanilla")]
    out = []
    for d, ds in sorted({(r["codebook_dim"], r["dataset"]) for r in runs}):
        here = [r for r in runs if r["codebook_dim"] == d and r["dataset"] == ds]
        betas = ({r["beta"] for r in here if r["quantizer"] == "wasserstein"}
                 & {r["beta"] for r in here if r["quantizer"] == "vanilla"})
        for b in sorted(betas):
            w = {"quantizer": "wasserstein", "beta": b}
            v = {"quantizer": "vanilla", "beta": b}
            out.append(EqualBeta(b, k, d, ds, **{m: paired(here, m, w, v)
                                                 for m in ("gap_mean", "psnr_y", "utilization")}))
    return tuple(out)


def _comparisons(final: list[dict]) -> tuple[Comparison, ...]:
    """Wasserstein VQ (the authors' settings) against every other quantizer at each (K, d, dataset)
    of the paper-setting grid."""
    out = []
    paper = [r for r in final if r["setting"] == "paper"]
    for key in sorted({(r["codebook_size"], r["codebook_dim"], r["dataset"]) for r in paper}):
        k, d, ds = key
        where = {"codebook_size": k, "codebook_dim": d, "dataset": ds, "setting": "paper"}
        w = [r for r in paper if r["quantizer"] == "wasserstein" and r["codebook_size"] == k
             and r["codebook_dim"] == d and r["dataset"] == ds]
        if not w:
            continue
        w_gamma = 0.5 if any(r["gamma"] == 0.5 for r in w) else w[0]["gamma"]  # the paper's
        for q in sorted({r["quantizer"] for r in paper if r["quantizer"] != "wasserstein"}):
            out.append(Comparison(k, d, ds, q, **{
                m: paired(final, m, {**where, "quantizer": "wasserstein", "gamma": w_gamma},
                          {**where, "quantizer": q})
                for m in ("utilization", "psnr", "psnr_y", "ssim", "rec_loss", "gap_mean")}))
    return tuple(out)


def _control(final: list[dict]) -> tuple[Control, ...]:
    """The fair-comparison control at its (K, d, dataset): for every baseline b, the utilization
    gain of Wasserstein VQ with each quantizer's own settings (``gain_paper``: U(W) - U(b)) and with
    the settings swapped (``gain_swapped``: U(W with b's settings) - U(b with W's settings)), the
    same swapped differences of the gradient gap (``gap_swapped``) and of the Y-PSNR
    (``psnr_swapped``), paired by replicate; and each control point's change against its own
    settings."""
    ctl = [r for r in final if r["setting"] == "control"]
    out = []
    for k, d, ds in sorted({(r["codebook_size"], r["codebook_dim"], r["dataset"]) for r in ctl}):
        where = {"codebook_size": k, "codebook_dim": d, "dataset": ds}
        w_ctl = [r for r in ctl if r["quantizer"] == "wasserstein"
                 and all(r[x] == v for x, v in where.items())]
        for q in sorted({r["quantizer"] for r in ctl if r["quantizer"] != "wasserstein"}):
            b_ctl = [r for r in ctl if r["quantizer"] == q
                     and all(r[x] == v for x, v in where.items())]
            swapped = {}
            if w_ctl:
                swapped = {"wasserstein_control_beta": w_ctl[0]["beta"],
                           "wasserstein_control_codebook_lr": w_ctl[0]["codebook_lr"]}
                for m, name in (("utilization", "gain_swapped"), ("gap_mean", "gap_swapped"),
                                ("psnr_y", "psnr_swapped")):
                    swapped[name] = paired(final, m, {**where, "quantizer": "wasserstein",
                                                      "setting": "control"},
                                           {**where, "quantizer": q, "setting": "control"})
            out.append(Control(
                k, d, ds, q, b_ctl[0]["beta"], b_ctl[0]["codebook_lr"],
                gain_paper=paired(final, "utilization",
                                  {**where, "quantizer": "wasserstein", "setting": "paper"},
                                  {**where, "quantizer": q, "setting": "paper"}),
                baseline_change=paired(final, "utilization",
                                       {**where, "quantizer": q, "setting": "control"},
                                       {**where, "quantizer": q, "setting": "paper"}),
                **swapped))
    return tuple(out)


def _gap(final: list[dict]) -> GapSummary:
    runs = [r for r in final if r.get("gap_images")]
    if not runs:
        return GapSummary(runs=0)
    images = sum(r["gap_images"] for r in runs)
    violations = sum(r["gap_violations"] for r in runs)
    from scipy.stats import beta

    lo = float(beta.ppf(0.025, violations, images - violations + 1)) if violations else 0.0
    hi = float(beta.ppf(0.975, violations + 1, images - violations)) if violations < images else 1.0
    return GapSummary(
        runs=len(runs), images=images, violations=violations,
        violation_rate=Estimate(violations / images, lo, hi, _NAN, _NAN, images),
        gap_over_bound_median=float(np.median([r["gap_over_bound_median"] for r in runs])),
        gap_error_slope=estimate(r.get("gap_error_slope") for r in runs))


def _gap_scatter(final: list[dict], k: int | None) -> tuple[GapScatter, ...]:
    """Per-image (distance ||z_e - z_q||, gap G) of every quantizer at the largest K, paper
    setting, pooled over replicates (the gradient-gap figure)."""
    out: dict[str, tuple[list, list]] = {}
    for r in final:
        if r["codebook_size"] != k or r["setting"] != "paper" or not r.get("gap_per_image"):
            continue
        distance, gap = out.setdefault(r["quantizer"], ([], []))
        distance += r["distance_per_image"]
        gap += r["gap_per_image"]
    return tuple(GapScatter(q, tuple(d), tuple(g)) for q, (d, g) in sorted(out.items()))


def _paper(cfg: VQVAEConfig, points: tuple[VQVAEPoint, ...]) -> tuple[PaperValue, ...]:
    table = PAPER_TABLES.get(PAPER_TRAIN_PRESETS.get(cfg.train_preset, ""), {})
    out = []
    for e in points:
        ref = table.get((e.quantizer, e.codebook_size, e.codebook_dim))
        if ref is None or e.setting != "paper":
            continue
        out.append(PaperValue(e.quantizer, e.codebook_size, e.codebook_dim, e.utilization,
                              e.psnr_y, e.rec_loss, *ref))
    return tuple(out)
