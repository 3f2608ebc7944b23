"""Summary of the ``prior`` study: per tokenizer point (quantizer, K, d, dataset) the prior's and
the samples' numbers over replicates (mean and t interval), Wasserstein VQ minus every other
quantizer paired by replicate (replicate r: the same VQ-VAE seed and the same prior seed), and the
association of the sampled tokens' utilization with the tokenizer's over all runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ...core.jsondata import JsonData
from ...core.stats import Estimate, t_pvalue
from ...core.stats import replicate_estimate as estimate
from ...core.verdicts import LEVEL
from ...engines.training_summary import Paired, paired
from .config import PriorStudyConfig

POINT = ("quantizer", "codebook_size", "codebook_dim", "dataset")
METRICS = ("bits_per_token", "bits_per_image", "heldout_entropy_bits", "train_unigram_bits",
           "tokenizer_utilization", "tokenizer_perplexity", "distortion", "sample_utilization",
           "sample_perplexity", "sample_js", "frechet", "kid", "precision", "recall",
           "recon_frechet", "inception_fid", "inception_kid")
COMPARED = ("bits_per_image", "bits_per_token", "distortion", "frechet", "kid", "precision",
            "recall", "sample_js", "sample_utilization", "tokenizer_utilization")
REFERENCE = "wasserstein"


@dataclass(frozen=True, eq=False)
class PriorPoint(JsonData):
    """One tokenizer point over its replicates (``replicates``: their indices); ``per_replicate``
    holds (bits per image, distortion, Fréchet distance) of every run for the figures;
    ``samples_file``: the first replicate's decoded samples (relative to the results folder)."""

    quantizer: str
    codebook_size: int
    codebook_dim: int
    dataset: str
    replicates: tuple[int, ...]
    log2_k: float
    tokens_per_image: int
    bits_per_token: Estimate | None
    bits_per_image: Estimate | None
    heldout_entropy_bits: Estimate | None
    train_unigram_bits: Estimate | None
    tokenizer_utilization: Estimate | None
    tokenizer_perplexity: Estimate | None
    distortion: Estimate | None
    sample_utilization: Estimate | None
    sample_perplexity: Estimate | None
    sample_js: Estimate | None
    frechet: Estimate | None
    kid: Estimate | None
    precision: Estimate | None
    recall: Estimate | None
    recon_frechet: Estimate | None
    inception_fid: Estimate | None
    inception_kid: Estimate | None
    per_replicate: tuple[tuple[int, float, float, float], ...]
    samples_file: str | None


@dataclass(frozen=True, eq=False)
class PriorComparison(JsonData):
    """Wasserstein VQ against ``other`` at one (K, d, dataset), one entry per compared metric."""

    codebook_size: int
    codebook_dim: int
    dataset: str
    other: str
    metrics: dict[str, Paired]


@dataclass(frozen=True, eq=False)
class Association(JsonData):
    """Pearson correlation ``r`` of ``y`` on ``x`` over ``n`` runs with its Fisher-z interval
    (``low``, ``high``), the t test of r = 0 (``t``, df = n - 2, two-sided ``p``), the least-squares
    slope, and the mean of y - x."""

    x: str
    y: str
    n: int
    r: float
    low: float
    high: float
    t: float
    df: int
    p: float
    slope: float
    mean_difference: float


def association(xs, ys, x: str, y: str, level: float = LEVEL) -> Association | None:
    """:class:`Association` of the paired values (None with fewer than 4 or without spread)."""
    a, b = np.asarray(xs, float), np.asarray(ys, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = int(a.size)
    if n < 4 or a.std() == 0 or b.std() == 0:
        return None
    r = float(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))
    if abs(r) < 1:
        t = r * math.sqrt((n - 2) / (1 - r * r))
        z, q = math.atanh(r), NormalDist().inv_cdf(0.5 + level / 2) / math.sqrt(n - 3)
        low, high = math.tanh(z - q), math.tanh(z + q)
    else:
        t, low, high = math.copysign(math.inf, r), r, r
    slope = float(np.polyfit(a, b, 1)[0])
    return Association(x, y, n, r, low, high, float(t), n - 2, t_pvalue(t, n - 2), slope,
                       float((b - a).mean()))


@dataclass(frozen=True, eq=False)
class PriorSummary(JsonData):
    """The ``prior`` study's summary (module docstring)."""

    vqvae_scale: str
    prior_preset: str
    samples: int
    temperature: float
    top_k: int | None
    points: tuple[PriorPoint, ...]
    comparisons: tuple[PriorComparison, ...]
    utilization: Association | None

    @classmethod
    def from_rows(cls, cfg: PriorStudyConfig, rows: list[dict]) -> PriorSummary:
        return cls(vqvae_scale=cfg.vqvae_scale, prior_preset=cfg.prior_preset, samples=cfg.samples,
                   temperature=float(cfg.temperature), top_k=cfg.top_k, points=_points(rows),
                   comparisons=_comparisons(rows),
                   utilization=association([r.get("tokenizer_utilization") for r in rows],
                                           [r.get("sample_utilization") for r in rows],
                                           "tokenizer_utilization", "sample_utilization"))

    def point(self, quantizer: str, codebook_size: int) -> PriorPoint | None:
        return next((p for p in self.points
                     if (p.quantizer, p.codebook_size) == (quantizer, codebook_size)), None)

    def comparison(self, other: str, codebook_size: int) -> PriorComparison | None:
        return next((c for c in self.comparisons
                     if (c.other, c.codebook_size) == (other, codebook_size)), None)


def _points(rows: list[dict]) -> tuple[PriorPoint, ...]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in POINT), []).append(r)
    out = []
    for key, g in sorted(groups.items()):
        g = sorted(g, key=lambda r: r["replicate"])
        files = [r.get("samples_file") for r in g if r.get("samples_file")]
        out.append(PriorPoint(
            *key, replicates=tuple(r["replicate"] for r in g), log2_k=float(g[0]["log2_k"]),
            tokens_per_image=int(g[0]["tokens_per_image"]),
            **{m: estimate(r.get(m) for r in g) for m in METRICS},
            per_replicate=tuple((int(r["replicate"]), float(r["bits_per_image"]),
                                 float(r["distortion"]), float(r["frechet"])) for r in g),
            samples_file=files[0] if files else None))
    return tuple(out)


def _comparisons(rows: list[dict]) -> tuple[PriorComparison, ...]:
    out = []
    for k, d, ds in sorted({(r["codebook_size"], r["codebook_dim"], r["dataset"]) for r in rows}):
        where = {"codebook_size": k, "codebook_dim": d, "dataset": ds}
        here = {r["quantizer"] for r in rows if all(r[f] == v for f, v in where.items())}
        if REFERENCE not in here:
            continue
        for other in sorted(here - {REFERENCE}):
            metrics = {m: paired(rows, m, {**where, "quantizer": REFERENCE},
                                  {**where, "quantizer": other}) for m in COMPARED}
            out.append(PriorComparison(k, d, ds, other,
                                       {m: v for m, v in metrics.items() if v is not None}))
    return tuple(out)


__all__ = [
    "COMPARED",
    "METRICS",
    "Association",
    "Paired",
    "PriorComparison",
    "PriorPoint",
    "PriorSummary",
    "association",
    "estimate",
]
