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

Sizes: the ``full`` scale is the paper's (K = 16384, 50,000 features per step, 2000 steps): GPU
scale, days on a CPU. ``default`` is the CPU-sized version (K = 2048), and ``quick`` the CI one.
A smaller K also speeds up Wasserstein VQ's transport of the codebook mean: its gradient on each
code scales like 1/K, so its codebook crosses a shift in fewer steps than at K = 16384 (the
authors' U > 0.9 only at step 1200 for mu = 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ...core.registry import Cell
from ...core.seeding import child
from ...engines.training import VARIANTS, TrainSettings, train_run
from .config import DENSITY_VARIANTS, AtomicConfig


def shift_cell(label: str, source: str, shift: float, train: TrainSettings, seed,
               replicate: int) -> list[dict]:
    """One training run of a variant on shifted features (stream shared by every variant)."""
    rows = train_run(VARIANTS[label], source, train, child(seed, replicate), shift=shift,
                     replicate=replicate)
    return [dict(r, part="shift") for r in rows]


def density_cell(label: str, d: int, train: TrainSettings, seed, replicate: int) -> list[dict]:
    """Exact vs density-adjusted matching on N(0, I_d) (stream shared by the targets)."""
    rows = train_run(VARIANTS[label], "gaussian", replace(train, dim=d), child(seed, replicate),
                     replicate=replicate)
    return [dict(r, part="density") for r in rows]


def list_cells(cfg: AtomicConfig) -> Iterator[Cell]:
    for source in cfg.sources:
        for mu in cfg.shifts:
            for label in cfg.quantizers:  # one stream per (source, shift): common random numbers
                yield Cell(f"shift/{label}-{source}-mu{mu:g}", shift_cell,
                           {"label": label, "source": source, "shift": float(mu),
                            "train": cfg.train},
                           replicates=cfg.replicates, stream=f"shift/{source}-mu{mu:g}", block=1)
    for d in cfg.density_dims:
        for label in DENSITY_VARIANTS:
            yield Cell(f"density/{label}-d{d}", density_cell,
                       {"label": label, "d": d, "train": cfg.density_train},
                       replicates=cfg.density_replicates, stream=f"density/d{d}", block=1)
