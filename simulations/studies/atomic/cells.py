r"""Study ``atomic``: the paper's atomic (controlled) setting, trained codebooks under a mean shift.

The paper (v1 App. H, later Section 4; the authors' script ``VariousVQs.py`` in
``SimulationAnalyses/DistributionalMatchingPerspective``) trains a codebook
alone (no encoder) on fresh features :math:`N_d(\mu\mathbf 1, I)`, :math:`\mu = 0..8`, from the
initial codebook :math:`N(0, I)`, and on the uniform analogue :math:`U(\nu-1, \nu+1)^d` from
:math:`U(-1, 1)^d`; K = 16384, d = 8, 2000 SGD steps of 50,000 fresh features, evaluation on 200,000
fresh features every 100 steps. It reports that Wasserstein VQ (loss 0.1 commit + 10 W2) keeps
near-full utilization and low error at every shift while Vanilla, EMA, Online and Linear VQ
degrade. The authors ran each (method, shift) once with seed 12; here every run is replicated and
every variant of a replicate shares its initial codebook and feature streams.

Two parts (``part`` in the rows):

``shift``
    Every variant (all library quantizers, plus ``online_farthest``: the online quantizer
    re-anchoring dead codes to the farthest feature as the authors' VQ-VAE code does, instead of the
    nearest as CVQ-VAE and their simulation do) on every (source, shift).
``density``
    Exact matching (``wasserstein``) against the density-adjusted target (``density_wasserstein``,
    codebook law :math:`\propto f^{d/(d+2)}` as classical quantization theory prescribes, i.e. the
    Gaussian target widened to variance (d+2)/d; and ``density_finite_k``, the best i.i.d. Gaussian
    scale at this finite K) on :math:`N(0, I_d)`, d = 2, 4, 8: does an adjusted target lower the
    trained E, and by how much.

Verdicts compare variants by paired Student t tests over replicates (common random numbers,
df = n - 1; :func:`vqmatch.simulations.core.stats.significant` with the constants of
:mod:`vqmatch.simulations.core.verdicts`).

Runtime on this 2-core CPU (faiss search, float32), measured: a Vanilla training step at the
paper's size (K = 16384, 50,000 features, d = 8) costs 0.27 s on an idle machine and 2.2 s when
the 2 cores are shared by other jobs (load 8); relative to Vanilla (loaded): EMA 0.9x, Online
1.7x, Online with farthest anchors 12.6x, Linear 1.2x, Wasserstein 1.4x, MMD 5.4x, sliced 3.9x,
density-adjusted 1.6x; an evaluation on 200,000 features about 4 Vanilla steps. So one
paper-scale run of Vanilla VQ takes about 9 minutes on 2 idle cores, the paper's own grid (5
methods x 9 shifts, Gaussian, one run) about 8.5 hours, and the ``full`` preset (9 variants, 2
sources, 9 shifts, 2 replicates) about a week: it is the paper's scale for a GPU. ``default`` is
the documented CPU preset: extrapolated from per-step times measured at its size (2.1 s per
(source, shift, replicate) for its 7 variants under load 8.5), about 14 hours on the loaded machine
and about 2 hours on 2 idle cores. A smaller K also speeds up Wasserstein VQ's transport of the
codebook mean: its gradient on each code scales like 1/K, so its codebook crosses a shift in fewer
steps than at K = 16384 (the authors' U > 0.9 only at step 1200 for mu = 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ...core.registry import Cell
from ...core.seeding import child
from ...engines.training import VARIANTS, TrainSettings, train_run
from .config import DENSITY_VARIANTS, AtomicConfig


def shift_cell(label: str, source: str, mu: float, train: TrainSettings, seed,
               replicate: int) -> list[dict]:
    """One training run of a variant on shifted features (stream shared by every variant)."""
    rows = train_run(VARIANTS[label], source, mu, train, child(seed, replicate),
                     replicate=replicate)
    return [dict(r, part="shift") for r in rows]


def density_cell(label: str, d: int, train: TrainSettings, seed, replicate: int) -> list[dict]:
    """Exact vs density-adjusted matching on N(0, I_d) (stream shared by the targets)."""
    rows = train_run(VARIANTS[label], "gaussian", 0.0, replace(train, dim=d),
                     child(seed, replicate), replicate=replicate)
    return [dict(r, part="density") for r in rows]


def list_cells(cfg: AtomicConfig) -> Iterator[Cell]:
    for source in cfg.sources:
        for mu in cfg.shifts:
            for label in cfg.quantizers:  # one stream per (source, mu): common random numbers
                yield Cell(f"shift/{label}-{source}-mu{mu:g}", shift_cell,
                           {"label": label, "source": source, "mu": float(mu), "train": cfg.train},
                           replicates=cfg.replicates, stream=f"shift/{source}-mu{mu:g}", block=1)
    for d in cfg.density_dims:
        for label in DENSITY_VARIANTS:
            yield Cell(f"density/{label}-d{d}", density_cell,
                       {"label": label, "d": d, "train": cfg.density_train},
                       replicates=cfg.density_replicates, stream=f"density/d{d}", block=1)
