"""Scales of the ``w2`` study."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.checks import check_int
from .truth import PAIRS


@dataclass(frozen=True)
class W2Config:
    """Sizes of the study (see the module docstring)."""

    dims: tuple[int, ...] = (1, 2, 8, 32)
    sizes: tuple[int, ...] = (100, 200, 400, 800, 1600)
    ot_max_n: int = 800  # exact OT by network simplex (d >= 2) only up to this n
    replicates: int = 5
    pairs: tuple[str, ...] = PAIRS
    n_projections: int = 50
    sliced_truth_directions: int = 20_000
    shift: float = 0.5
    bimodal_separation: float = 1.5
    gap_separations: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)
    misrank_separation: float = 1.5
    misrank_scale: float = 1.05
    misrank_shift: float = 0.1
    misrank_dims: tuple[int, ...] = (1, 2, 8)
    misrank_n: int = 800
    misrank_replicates: int = 8
    translation_n: int = 400
    translation_replicates: int = 20

    def __post_init__(self):
        for name, lo in (("dims", 1), ("sizes", 2), ("misrank_dims", 1)):
            vals = getattr(self, name)
            if not vals:
                raise ValueError(f"{name} must be a non-empty tuple, got {name}={vals!r}")
            for v in vals:
                check_int(v, name, lo)
        if list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"sizes must be strictly increasing, got sizes={self.sizes!r}")
        unknown = [p for p in self.pairs if p not in PAIRS]
        if not self.pairs or unknown:
            raise ValueError(f"pairs must be a non-empty subset of {PAIRS}, got pairs={self.pairs!r}")
        # at least two replicates (confidence intervals), two samples, two directions
        for name in ("replicates", "misrank_replicates", "translation_replicates", "ot_max_n",
                     "n_projections", "sliced_truth_directions", "misrank_n", "translation_n"):
            check_int(getattr(self, name), name, 2)
        if not self.misrank_scale > 0:
            raise ValueError(f"misrank_scale must be > 0, got misrank_scale={self.misrank_scale!r}")
        if any(z < 0 for z in self.gap_separations) or self.bimodal_separation < 0 \
                or self.misrank_separation < 0:
            raise ValueError("bimodal separations (bimodal_separation, gap_separations, "
                             "misrank_separation) must be >= 0")


SCALES = {
    "quick": W2Config(),
    "default": W2Config(dims=(1, 2, 4, 8, 16, 32, 64), sizes=(100, 250, 500, 1000, 2000, 10_000,
                                                              100_000),
                        ot_max_n=2000, replicates=6, sliced_truth_directions=100_000,
                        gap_separations=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
                        misrank_n=2000, misrank_replicates=10),
    "full": W2Config(dims=(1, 2, 4, 8, 16, 32, 64), sizes=(100, 300, 1000, 3000, 10_000, 100_000,
                                                           300_000),
                     ot_max_n=10_000, replicates=10, sliced_truth_directions=400_000,
                     gap_separations=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
                     misrank_n=5000, misrank_replicates=20),
}
