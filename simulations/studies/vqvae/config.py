"""Grids of the ``vqvae`` study: which VQ-VAE runs a configuration trains (its scales and the named
grids of the paper's tables), and the paper's table values.

A grid is the product quantizer x K x d x gamma x beta x codebook lr x dataset, each point trained
``replicates`` times (one seed each), plus (``control=True``) the fair-comparison points that
separate the matching loss from the settings the authors' code gives only to it (a codebook lr 400x
the model lr and a commitment weight beta ten times smaller): the baselines trained with the
Wasserstein settings, and Wasserstein trained with the baselines' settings. ``None`` in gammas /
betas / codebook_lrs means the quantizer's default
(:func:`vqmatch.simulations.vqvae.config.quantizer_settings`); gamma applies to the matching
quantizers only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...core.checks import check_int, check_positive_ints
from ...vqvae.config import (
    BASELINE_BETA,
    MATCHING,
    MATCHING_BETA,
    MATCHING_CODEBOOK_LR,
    MATCHING_GAMMA,
    TrainConfig,
    apply_overrides,
)
from ...vqvae.config import PRESETS as TRAIN_PRESETS
from ...vqvae.config import preset as training_preset

# the Wasserstein settings of the authors' VQ-VAE code (the control gives them to the baselines)
W_CODEBOOK_LR, W_BETA = MATCHING_CODEBOOK_LR, MATCHING_BETA
CONTROL_BASELINES = ("vanilla", "ema", "online")


@dataclass(frozen=True)
class GridPoint:
    """One trained configuration of the grid (a cell; its training runs are the cell's
    replicates)."""

    quantizer: str
    codebook_size: int
    codebook_dim: int
    dataset: str
    gamma: float | None = None
    beta: float | None = None
    codebook_lr: float | None = None
    # "paper": the authors' settings for this quantizer; "control": the fair-comparison control;
    # "beta": the beta sweep (the quantizer's own codebook lr); "sensitivity": the gamma x codebook
    # lr grid of Wasserstein VQ
    setting: str = "paper"

    @property
    def key(self) -> str:
        """``<dataset>/<quantizer>-K<K>-d<d>`` plus the settings that differ from the defaults."""
        extra = "".join(f"-{name}{v:g}" for name, v in (("g", self.gamma), ("b", self.beta),
                                                        ("lr", self.codebook_lr)) if v is not None)
        return f"{self.dataset}/{self.quantizer}-K{self.codebook_size}-d{self.codebook_dim}{extra}"


@dataclass(frozen=True)
class VQVAEConfig:
    """A grid of VQ-VAE runs (see the module docstring).

    ``train_preset``: the name of a training preset (a :data:`vqmatch.simulations.vqvae.config.PRESETS`
    entry); ``overrides``: its ``key=value`` changes
    (``vqmatch.simulations.vqvae.config.apply_overrides``); ``replicates``: training runs (seeds) per
    grid point; ``nproc``: processes per
    run (``> 1``: the run is launched with ``torchrun``); ``gap_images``: held-out images on which the
    STE gradient gap is measured at the end of every run at the largest K (0: skip; the
    gradient-gap claims and figure read the largest K only); ``recon_images`` and
    ``latent_points``: held-out reconstructions and the latent-space picture
    (:func:`vqmatch.simulations.vqvae.tokens.latent_projection`) kept for the figures, from the first
    training run of every point at the largest K.

    ``beta_sweep``: commitment weights at which Vanilla and Wasserstein VQ are also trained at the
    largest K with their own codebook lr (setting "beta"; their default weights are the paper
    points), so that the gradient gap and the PSNR can be compared at equal beta.
    ``sensitivity``: (gamma, codebook lr) pairs at which Wasserstein VQ is also trained at the
    largest K (setting "sensitivity"; the default (0.5, 0.02) is the paper point).
    """

    train_preset: str = "quick-cpu"
    quantizers: tuple[str, ...] = ("vanilla", "ema", "online", "wasserstein", "mmd", "ste++")
    codebook_sizes: tuple[int, ...] = (1024,)
    codebook_dims: tuple[int, ...] = (8,)
    gammas: tuple[float | None, ...] = (None,)
    betas: tuple[float | None, ...] = (None,)
    codebook_lrs: tuple[float | None, ...] = (None,)
    datasets: tuple[str, ...] = ("builtin",)
    replicates: int = 5
    control: bool = True
    overrides: tuple[str, ...] = ()
    nproc: int = 1
    gap_images: int = 64
    recon_images: int = 8
    latent_points: int = 2048
    power_iterations: int = 20
    beta_sweep: tuple[float, ...] = ()
    sensitivity: tuple[tuple[float, float], ...] = ()

    def __post_init__(self):
        if self.train_preset not in TRAIN_PRESETS:
            raise ValueError(f"train_preset must be one of {tuple(TRAIN_PRESETS)}, "
                             f"got train_preset={self.train_preset!r}")
        base = self.base()  # validates the overrides
        for name in ("quantizers", "codebook_sizes", "codebook_dims", "datasets", "gammas",
                     "betas", "codebook_lrs"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise ValueError(f"{name} must be a non-empty tuple, got {name}={value!r}")
        for q in self.quantizers:
            replace(base, quantizer=q)  # TrainConfig validates the name
        check_positive_ints(self, "replicates", "nproc", "power_iterations")
        for name in ("gap_images", "recon_images", "latent_points"):
            check_int(getattr(self, name), name, minimum=0)
        object.__setattr__(self, "beta_sweep", tuple(float(b) for b in self.beta_sweep))
        object.__setattr__(self, "sensitivity", tuple((float(g), float(lr)) for g, lr in self.sensitivity))
        for b in self.beta_sweep:
            if not b >= 0:
                raise ValueError(f"beta_sweep must hold non-negative numbers, got {self.beta_sweep!r}")
        for g, lr in self.sensitivity:
            if not (g >= 0 and lr > 0):
                raise ValueError(f"sensitivity must hold (gamma >= 0, codebook lr > 0) pairs, got "
                                 f"{self.sensitivity!r}")

    def base(self) -> TrainConfig:
        """The training configuration every point starts from."""
        return apply_overrides(training_preset(self.train_preset), list(self.overrides))

    def points(self) -> list[GridPoint]:
        """The grid, then the control points (each once)."""
        out: list[GridPoint] = []
        for ds in self.datasets:
            for q in self.quantizers:
                for k in self.codebook_sizes:
                    for d in self.codebook_dims:
                        for g in (self.gammas if q in MATCHING else (None,)):
                            for b in self.betas:
                                for lr in self.codebook_lrs:
                                    out.append(GridPoint(q, k, d, ds, g, b, lr))
            if self.control:
                out += control_points(self, ds)
            out += sweep_points(self, ds)
        return list(dict.fromkeys(out))

    def train_config(self, p: GridPoint) -> TrainConfig:
        """The TrainConfig of one point (its seed is set per replicate)."""
        return replace(self.base(), quantizer=p.quantizer, codebook_size=p.codebook_size,
                       codebook_dim=p.codebook_dim, dataset=p.dataset, gamma=p.gamma, beta=p.beta,
                       codebook_lr=p.codebook_lr)


def sweep_points(cfg: VQVAEConfig, dataset: str) -> list[GridPoint]:
    """The beta sweep (Vanilla and Wasserstein, each at its own codebook lr) and the sensitivity grid
    (Wasserstein's gamma x codebook lr) at the largest K and the first d; the quantizer's default
    settings are the paper points, so they are not repeated."""
    k, d = max(cfg.codebook_sizes), cfg.codebook_dims[0]
    default_beta = {"vanilla": BASELINE_BETA, "wasserstein": W_BETA}
    out = [GridPoint(q, k, d, dataset, None, b, None, "beta") for q in ("vanilla", "wasserstein")
           if q in cfg.quantizers for b in cfg.beta_sweep if b != default_beta[q]]
    if "wasserstein" in cfg.quantizers:
        out += [GridPoint("wasserstein", k, d, dataset, g, None, lr, "sensitivity")
                for g, lr in cfg.sensitivity if (g, lr) != (MATCHING_GAMMA, W_CODEBOOK_LR)]
    return out


def control_points(cfg: VQVAEConfig, dataset: str) -> list[GridPoint]:
    """The fair-comparison points at the largest K and the first d: the baselines with the
    Wasserstein codebook lr and beta (EMA has no codebook lr: beta only), and Wasserstein with the
    baselines' settings (codebook in the model group at the model lr, beta = 1)."""
    k, d = max(cfg.codebook_sizes), cfg.codebook_dims[0]
    out = [GridPoint(q, k, d, dataset, None, W_BETA, None if q == "ema" else W_CODEBOOK_LR,
                     "control") for q in CONTROL_BASELINES if q in cfg.quantizers]
    if "wasserstein" in cfg.quantizers:
        out.append(GridPoint("wasserstein", k, d, dataset, None, BASELINE_BETA, cfg.base().lr,
                             "control"))
    return out


# The paper's VQ-VAE tables (final evaluation rows; U as a fraction, PSNR in dB (the authors'
# Y-channel PSNR), SSIM on [0, 1], rec = pixel MSE on [-1, 1]), for comparison where a training
# preset is the paper's setting.
PAPER_TABLES = {
    # Table 6: CIFAR-10, 8x8 tokens, d = 8
    "cifar10": {
        ("vanilla", 8192, 8): (0.027, 186.9, 27.15, 0.83, 0.0147),
        ("ema", 8192, 8): (0.997, 6416.1, 29.43, 0.88, 0.0095),
        ("online", 8192, 8): (0.221, 995.4, 28.20, 0.85, 0.0123),
        ("wasserstein", 8192, 8): (1.000, 7781.8, 29.88, 0.90, 0.0085),
        ("vanilla", 16384, 8): (0.016, 220.3, 27.36, 0.84, 0.0141),
        ("ema", 16384, 8): (0.808, 10557.3, 29.43, 0.88, 0.0093),
        ("online", 16384, 8): (0.134, 798.5, 27.54, 0.82, 0.0141),
        ("wasserstein", 16384, 8): (1.000, 15583.7, 30.19, 0.90, 0.0080),
        ("vanilla", 32768, 8): (0.005, 154.8, 27.10, 0.83, 0.0150),
        ("ema", 32768, 8): (0.544, 14427.0, 29.57, 0.88, 0.0091),
        ("online", 32768, 8): (0.072, 1556.0, 28.84, 0.87, 0.0106),
        ("wasserstein", 32768, 8): (0.990, 29845.1, 30.63, 0.91, 0.0071),
        # Table 9: codebook dimension at K = 16384
        ("vanilla", 16384, 2): (0.038, 532.2, 27.00, 0.80, 0.0162),
        ("ema", 16384, 2): (0.976, 14460.3, 27.25, 0.80, 0.0155),
        ("online", 16384, 2): (0.090, 611.8, 26.62, 0.79, 0.0178),
        ("wasserstein", 16384, 2): (0.993, 12278.9, 27.30, 0.81, 0.0155),
        ("vanilla", 16384, 4): (0.013, 176.7, 27.15, 0.83, 0.0149),
        ("ema", 16384, 4): (0.998, 13153.9, 29.57, 0.89, 0.0092),
        ("online", 16384, 4): (0.111, 877.7, 26.69, 0.79, 0.0173),
        ("wasserstein", 16384, 4): (1.000, 15724.7, 29.93, 0.89, 0.0087),
        ("vanilla", 16384, 16): (0.011, 150.8, 27.05, 0.83, 0.0152),
        ("ema", 16384, 16): (0.325, 4169.2, 29.31, 0.88, 0.0099),
        ("online", 16384, 16): (0.182, 2051.0, 28.29, 0.85, 0.0122),
        ("wasserstein", 16384, 16): (0.992, 14832.2, 30.27, 0.91, 0.0078),
        ("vanilla", 16384, 32): (0.007, 94.37, 26.67, 0.81, 0.0165),
        ("ema", 16384, 32): (0.070, 942.7, 28.24, 0.85, 0.0122),
        ("online", 16384, 32): (0.188, 2278.0, 28.92, 0.87, 0.0104),
        ("wasserstein", 16384, 32): (0.964, 14056.9, 30.39, 0.91, 0.0076),
    },
    # Table 7: SVHN, 8x8 tokens, d = 8
    "svhn": {
        ("vanilla", 8192, 8): (0.081, 533.1, 37.81, 0.97, 0.0018),
        ("ema", 8192, 8): (0.568, 3363.0, 40.38, 0.98, 0.0010),
        ("online", 8192, 8): (0.278, 1325.1, 39.04, 0.97, 0.0016),
        ("wasserstein", 8192, 8): (0.882, 6154.5, 41.04, 0.98, 0.0009),
        ("vanilla", 16384, 8): (0.034, 446.0, 37.87, 0.97, 0.0017),
        ("ema", 16384, 8): (0.222, 2593.8, 40.19, 0.98, 0.0011),
        ("online", 16384, 8): (0.135, 1090.5, 39.12, 0.97, 0.0014),
        ("wasserstein", 16384, 8): (0.875, 11967.2, 41.49, 0.98, 0.0008),
        ("vanilla", 32768, 8): (0.018, 467.5, 37.87, 0.97, 0.0017),
        ("ema", 32768, 8): (0.358, 7662.9, 40.25, 0.98, 0.0010),
        ("online", 32768, 8): (0.070, 1334.8, 39.26, 0.97, 0.0014),
        ("wasserstein", 32768, 8): (0.887, 24376.3, 41.84, 0.98, 0.0008),
    },
}
# the training presets at the paper's setting -> the dataset of their table
PAPER_TRAIN_PRESETS = {"paper-cifar10": "cifar10", "paper-svhn": "svhn"}

_BASELINES = ("vanilla", "ema", "online", "wasserstein")

SCALES = {
    # ``verify --quick`` (minutes on 2 cores): the builtin photographs, the tiny model, the paper's
    # four quantizers at a small and a large K and the control, one training run per point, 120 steps
    "quick": VQVAEConfig(train_preset="quick-cpu", quantizers=_BASELINES,
                         codebook_sizes=(32, 1024), replicates=1,
                         overrides=("steps=120", "eval_every=60", "checkpoint_every=60"),
                         gap_images=64, latent_points=1024),
    # about an hour on 2 cores (--jobs 2): the same quantizers at K = 32, 64, 128 and 4096, the
    # control, the beta sweep and the gamma x codebook-lr grid, 5 runs per point, 300 steps each
    "default": VQVAEConfig(train_preset="quick-cpu", codebook_sizes=(32, 64, 128, 4096),
                           replicates=5,
                           overrides=("steps=300", "eval_every=60", "checkpoint_every=100"),
                           beta_sweep=(0.1, 1.0),
                           sensitivity=((0.1, 0.02), (2.0, 0.02), (0.5, 0.005))),
    # the paper's CIFAR-10 grid (Table 6 + the control), one GPU per run
    "full": VQVAEConfig(train_preset="paper-cifar10", quantizers=(*_BASELINES, "ste++"),
                        codebook_sizes=(8192, 16384, 32768), datasets=("cifar10",), replicates=5,
                        gap_images=256, beta_sweep=(0.1, 1.0)),
}

# the named grids of the paper's tables, on GPUs (see README: data roots, Slurm):
# ``vqmatch vqvae --table NAME``
GRIDS = {
    "table6": VQVAEConfig(train_preset="paper-cifar10", quantizers=_BASELINES,
                          codebook_sizes=(8192, 16384, 32768), datasets=("cifar10",), replicates=3,
                          control=False, gap_images=256),
    "table7": VQVAEConfig(train_preset="paper-svhn", quantizers=_BASELINES,
                          codebook_sizes=(8192, 16384, 32768), datasets=("svhn",), replicates=3,
                          control=False, gap_images=256),
    "table9": VQVAEConfig(train_preset="paper-cifar10", quantizers=_BASELINES,
                          codebook_sizes=(16384,), codebook_dims=(2, 4, 8, 16, 32),
                          datasets=("cifar10",), replicates=3, control=False, gap_images=256),
    "table8": VQVAEConfig(train_preset="paper-ffhq", quantizers=_BASELINES,
                          codebook_sizes=(1024, 2048, 4096, 8192), datasets=("folder",),
                          replicates=1, control=False, gap_images=64),
    "table1": VQVAEConfig(train_preset="paper-ffhq", quantizers=(*_BASELINES, "ste++"),
                          codebook_sizes=(16384, 50000, 100000), datasets=("folder",),
                          replicates=1, control=True, gap_images=64),
    "table2": VQVAEConfig(train_preset="paper-imagenet", quantizers=(*_BASELINES, "ste++"),
                          codebook_sizes=(16384, 50000, 100000), datasets=("folder",),
                          replicates=1, control=True, gap_images=64),
    "gamma": VQVAEConfig(train_preset="paper-ffhq", quantizers=("wasserstein",),
                         codebook_sizes=(16384,), gammas=(1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0),
                         datasets=("folder",), replicates=1, control=False, gap_images=64),
}

__all__ = ["GRIDS", "PAPER_TABLES", "PAPER_TRAIN_PRESETS", "SCALES", "GridPoint", "VQVAEConfig",
           "control_points", "sweep_points"]
