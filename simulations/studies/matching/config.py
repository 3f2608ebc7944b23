"""Scales of the ``matching`` study and the cases its parts compare."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from . import theory as mt

PARTS = ("theorem1", "fig3", "appf", "appg", "utilization")


def _check(cfg, positive: tuple[str, ...] = (), at_least_two: tuple[str, ...] = ()) -> None:
    """ValueError naming the field for non-positive sizes / fewer than two replicates."""
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        values = v if isinstance(v, tuple) else (v,)
        if f.name in positive and (not values or any(not (isinstance(x, (int, float)) and x > 0)
                                                     for x in values)):
            raise ValueError(f"{f.name} must be positive (and non-empty), got {f.name}={v!r}")
        if f.name in at_least_two and not (isinstance(v, int) and v >= 2):
            raise ValueError(f"{f.name} must be an integer >= 2 (for a CI), got {f.name}={v!r}")


@dataclass(frozen=True)
class Theorem1Config:
    """Sizes of the Theorem 1 part; the disks are fixed (unit disk P_A; radii and shift here)."""

    codebook_sizes: tuple[int, ...] = (100, 300, 1000, 3000, 10_000)
    features_per_code: int = 20
    circle_points_per_code: int = 20
    replicates: int = 5
    rel_tol: float = 0.01
    small_radius: float = 0.8
    large_radius: float = 1.25
    shift: float = 0.5

    def __post_init__(self):
        _check(self, positive=("codebook_sizes", "features_per_code", "circle_points_per_code",
                               "rel_tol", "small_radius",
                               "large_radius", "shift"), at_least_two=("replicates",))
        if not self.small_radius < 1 < self.large_radius:
            raise ValueError(f"need small_radius < 1 < large_radius, got small_radius="
                             f"{self.small_radius}, large_radius={self.large_radius}")


@dataclass(frozen=True)
class Fig3Config:
    """Figure 3: the paper's N = 10,000 features and K = 400 codes; replicated draws."""

    n_features: int = 10_000
    codebook_size: int = 400
    replicates: int = 20

    def __post_init__(self):
        _check(self, positive=("n_features", "codebook_size"), at_least_two=("replicates",))


@dataclass(frozen=True)
class AppFConfig:
    """Appendix F: defaults (K, d, N) and the three sweeps; the codebook's shifts mu / nu and scale
    factors s / zeta."""

    families: tuple[str, ...] = ("gaussian", "uniform")
    n_features: int = 10_000
    codebook_size: int = 512
    d: int = 32
    codebook_size_sweep: tuple[int, ...] = (128, 512, 2048)
    dims_sweep: tuple[int, ...] = (2, 8, 32)
    features_sweep: tuple[int, ...] = (2500, 10_000)
    shifts: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
    scale_factors: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    extra_scale_factors: tuple[float, ...] = (0.5, 0.75, 1.25, 1.5)  # off the paper's grid
    replicates: int = 60

    def __post_init__(self):
        _check(self, positive=("n_features", "codebook_size", "d", "codebook_size_sweep",
                               "dims_sweep", "features_sweep", "scale_factors"),
               at_least_two=("replicates",))
        bad = [f for f in self.families if f not in ("gaussian", "uniform")]
        if bad or not self.families:
            raise ValueError(f"families must be among ('gaussian', 'uniform'), got "
                             f"families={self.families!r}")
        if 0.0 not in self.shifts or 1.0 not in self.scale_factors:
            raise ValueError("shifts must contain 0.0 and scale_factors 1.0 (the matched codebook), "
                             f"got shifts={self.shifts!r}, scale_factors={self.scale_factors!r}")

    def sweeps(self) -> dict[str, list[tuple[int, int, int]]]:
        """The (K, d, N) points of each sweep: K, d and N varied one at a time from the default."""
        return {"K": [(k, self.d, self.n_features) for k in self.codebook_size_sweep],
                "d": [(self.codebook_size, d, self.n_features) for d in self.dims_sweep],
                "N": [(self.codebook_size, self.d, n) for n in self.features_sweep]}

    def points(self) -> list[tuple[int, int, int]]:
        """Distinct (K, d, N) of the three sweeps (the default point is shared)."""
        return list(dict.fromkeys(p for pts in self.sweeps().values() for p in pts))


@dataclass(frozen=True)
class AppGConfig:
    """Appendix G: P_A = P_B in d = 8 at scale factors s from 1e-4 to 1."""

    families: tuple[str, ...] = ("gaussian", "uniform")
    d: int = 8
    codebook_size: int = 2048
    n_features: int = 25_000
    scale_factors: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    replicates: int = 5

    def __post_init__(self):
        _check(self, positive=("d", "codebook_size", "n_features", "scale_factors"),
               at_least_two=("replicates",))
        if len(self.scale_factors) < 3:
            raise ValueError("scale_factors needs at least 3 values for a slope, got "
                             f"scale_factors={self.scale_factors!r}")


@dataclass(frozen=True)
class UtilizationConfig:
    """Expected utilization: 1-D (matched, shifted codebook) and the uniform disk."""

    codebook_sizes: tuple[int, ...] = (2, 8, 32, 128)
    features_per_code: tuple[int, ...] = (1, 4, 16)
    replicates: int = 200
    shift: float = 1.0
    disk_codebook_sizes: tuple[int, ...] = (50, 200)
    disk_features_per_code: int = 4
    disk_mass_samples: int = 200_000
    disk_replicates: int = 10

    def __post_init__(self):
        _check(self, positive=("codebook_sizes", "features_per_code", "disk_codebook_sizes",
                               "disk_features_per_code", "disk_mass_samples"),
               at_least_two=("replicates", "disk_replicates"))


@dataclass(frozen=True)
class MatchingConfig:
    theorem1: Theorem1Config = field(default_factory=Theorem1Config)
    fig3: Fig3Config = field(default_factory=Fig3Config)
    appf: AppFConfig = field(default_factory=AppFConfig)
    appg: AppGConfig = field(default_factory=AppGConfig)
    utilization: UtilizationConfig = field(default_factory=UtilizationConfig)


_PAPER_APPF = AppFConfig(n_features=200_000, codebook_size=1024, d=32,
                         codebook_size_sweep=(128, 256, 512, 1024, 2048, 4096, 8192, 16384),
                         dims_sweep=(2, 4, 8, 16, 32, 64, 128, 256),
                         features_sweep=(10_000, 50_000, 100_000, 200_000, 300_000, 500_000,
                                         800_000, 1_000_000), replicates=60)
SCALES = {
    "quick": MatchingConfig(),
    "default": MatchingConfig(
        theorem1=Theorem1Config(codebook_sizes=(100, 316, 1000, 3162, 10_000, 31_623, 100_000),
                                features_per_code=100, replicates=8),
        fig3=Fig3Config(replicates=200),
        appf=AppFConfig(n_features=50_000, codebook_size=1024,
                        codebook_size_sweep=(128, 256, 512, 1024, 2048, 4096, 8192),
                        dims_sweep=(2, 4, 8, 16, 32, 64), features_sweep=(10_000, 50_000, 200_000),
                        replicates=60),
        appg=AppGConfig(codebook_size=8192, n_features=100_000, replicates=5),
        utilization=UtilizationConfig(codebook_sizes=(2, 8, 32, 128, 512), replicates=2000,
                                      disk_codebook_sizes=(50, 200, 800),
                                      disk_mass_samples=2_000_000, disk_replicates=50)),
    "full": MatchingConfig(
        theorem1=Theorem1Config(codebook_sizes=(100, 316, 1000, 3162, 10_000, 31_623, 100_000),
                                features_per_code=100, replicates=16),
        fig3=Fig3Config(replicates=1000),
        appf=_PAPER_APPF,
        appg=AppGConfig(codebook_size=8192, n_features=100_000, replicates=10),
        utilization=UtilizationConfig(codebook_sizes=(2, 8, 32, 128, 512, 2048), replicates=4000,
                                      disk_codebook_sizes=(50, 200, 800),
                                      disk_mass_samples=5_000_000, disk_replicates=100)),
}


def theorem1_cases(small_radius: float, large_radius: float, shift: float) -> dict[str, dict]:
    """Codebook law per case, with what Theorem 1 predicts for it (P_A = uniform unit disk)."""
    s = shift
    lens = (2 * math.acos(s / 2) - (s / 2) * math.sqrt(4 - s * s)) / math.pi  # P_B(supp A)
    return {
        "matched": {"law": mt.BallLaw((0.0, 0.0), 1.0), "support_match": True,
                    "u_limit": 1.0, "sup_floor": 0.0},
        "same_support_peaked": {"law": mt.BallLaw((0.0, 0.0), 1.0, radial_power=1.0),
                                "support_match": True, "u_limit": 1.0, "sup_floor": 0.0},
        "smaller": {"law": mt.BallLaw((0.0, 0.0), small_radius), "support_match": False,
                    "u_limit": 1.0, "sup_floor": 1.0 - small_radius},
        "larger": {"law": mt.BallLaw((0.0, 0.0), large_radius), "support_match": False,
                   "u_limit": 1.0 / large_radius ** 2, "sup_floor": 0.0},
        "shifted": {"law": mt.BallLaw((s, 0.0), 1.0), "support_match": False,
                    "u_limit": lens, "sup_floor": s},
    }


def fig3_configurations() -> list[dict]:
    """The paper's eight panels and the script's unshown settings, grouped by feature disk."""
    out = []
    for label, fc, cc, rad, e, u, c in mt.FIG3_PAPER:
        out.append({"label": label, "feature_center": fc, "code_center": cc, "code_radius": rad,
                    "paper": {"error_rms": e, "utilization": u, "perplexity": c}})
    for label, fc, cc, rad in mt.FIG3_SCRIPT_ONLY:
        out.append({"label": label, "feature_center": fc, "code_center": cc, "code_radius": rad,
                    "paper": None})
    for o in out:
        o["group"] = "shift" if o["feature_center"] != 0.0 else "radius"
        o["matched"] = o["code_center"] == o["feature_center"] and o["code_radius"] == 1.0
    return out
