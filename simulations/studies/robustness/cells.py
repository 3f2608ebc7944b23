r"""Study ``robustness``: distribution matching beyond the Gaussian assumption.

The later version of the paper (its "Non-Gaussian robustness" experiment, figures only)
trains codebooks on the bimodal features :math:`\tfrac12 N(z\mathbf 1, I) + \tfrac12 N(-z\mathbf 1,
I)`, :math:`z = 0..4`, from an :math:`N(0, I)` codebook, and reports that Gaussian moment matching
(Wasserstein VQ) degrades as z grows while MMD VQ keeps a lower E and a higher U (figures only; d
and K not stated). v1 lists "relies on the Gaussian assumption" as its limitation.

Here the same atomic training machinery (:mod:`vqmatch.simulations.engines.training`) trains Vanilla VQ (the
reference without matching), Wasserstein VQ (Gaussian moments), the density-adjusted Wasserstein
target, MMD VQ and sliced-W2 VQ (both non-parametric) on the bimodal features at every separation
z and on heavy-tailed features (i.i.d. Student-t coordinates, 3 degrees of freedom). A matched
Gaussian codebook for the bimodal law is :math:`N(0, I + z^2\mathbf 1\mathbf 1^\top)`: it puts codes
in the empty gap between the modes, which is why moment matching should waste codes. Variants are
compared by paired Student t tests over replicates (df = n - 1; constants in
:mod:`vqmatch.simulations.core.verdicts`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...core.registry import Cell
from ...core.seeding import child
from ...engines.training import VARIANTS, TrainSettings, train_run
from .config import RobustnessConfig


def run_cell(label: str, source: str, shift: float, separation: float, train: TrainSettings,
             seed, replicate: int) -> list[dict]:
    """One training run (stream shared by every variant of the feature law)."""
    return train_run(VARIANTS[label], source, train, child(seed, replicate), shift=shift,
                     separation=separation, replicate=replicate)


def list_cells(cfg: RobustnessConfig) -> Iterator[Cell]:
    laws = [("bimodal", 0.0, z) for z in cfg.separations] + [("student_t", m, 0.0)
                                                              for m in cfg.student_t_shifts]
    for source, shift, separation in laws:
        value = separation if source == "bimodal" else shift  # names the cell and its stream
        for label in cfg.quantizers:
            yield Cell(f"{label}-{source}-{value:g}", run_cell,
                       {"label": label, "source": source, "shift": float(shift),
                        "separation": float(separation), "train": cfg.train},
                       replicates=cfg.replicates, stream=f"{source}-{value:g}", block=1)
