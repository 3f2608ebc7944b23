"""Scales of the ``robustness`` study."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.checks import check_positive_ints
from ...engines.training import TrainSettings, check_labels, check_shifts

ROBUSTNESS_VARIANTS = ("vanilla", "wasserstein", "density_wasserstein", "mmd", "sliced")
NONPARAMETRIC = ("mmd", "sliced")


@dataclass(frozen=True)
class RobustnessConfig:
    """Variants, bimodal separations z, Student-t locations, training sizes, replicates."""

    quantizers: tuple[str, ...] = ROBUSTNESS_VARIANTS
    separations: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
    student_t_shifts: tuple[float, ...] = (0.0,)
    train: TrainSettings = field(default_factory=lambda: TrainSettings(steps=10_000))
    replicates: int = 5

    def __post_init__(self):
        check_labels(self.quantizers, ROBUSTNESS_VARIANTS, "quantizers")
        check_shifts(self.separations, "separations")
        if self.student_t_shifts:
            check_shifts(self.student_t_shifts, "student_t_shifts")
        check_positive_ints(self, "replicates")
        if not isinstance(self.train, TrainSettings):
            raise TypeError(f"train must be a TrainSettings, got {self.train!r}")


SCALES = {
    "quick": RobustnessConfig(
        separations=(0.0, 4.0),
        train=TrainSettings(codebook_size=128, steps=150, batch_size=512, eval_every=50,
                            eval_samples=8192),
        replicates=5),
    "default": RobustnessConfig(
        separations=(0.0, 1.0, 2.0, 3.0, 4.0),
        train=TrainSettings(codebook_size=512, steps=600, batch_size=2048, eval_every=100,
                            eval_samples=32_768),
        replicates=5),
    # the paper's experiment: its z grid and 10,000 steps; d and K as in the atomic setting
    "full": RobustnessConfig(train=TrainSettings(steps=10_000, eval_every=500),
                             replicates=5),
}
