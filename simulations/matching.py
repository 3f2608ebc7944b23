r"""Study ``matching``: static codebooks drawn from :math:`P_B` against features from :math:`P_A`
(no training), measured by the criterion triple (E = mean squared distance, U, C).

Five sub-studies (``vqmatch matching --part NAME``; cell keys ``"<part>/..."``):

``theorem1``
    Theorem 1 (support matching iff full utilization and vanishing worst-case error). P_A uniform
    on the unit disk; P_B (i) the same law, (ii) the same support with a centre-concentrated
    density, (iii) a smaller and (iv) a larger concentric disk, (v) a shifted disk; K up to 1e5,
    N = ``features_per_code`` x K. The worst-case distance over the closed disk is bracketed by
    branch and bound (:func:`simulations._matching_theory.worst_case_distance`, relative width
    ``rel_tol``). Nearest codes by an exact k-d tree (O(N log K) in d = 2).
``fig3``
    The prototypical disks of Figure 3 (d = 2, N = 10,000, K = 400), the paper's eight
    configurations plus the script's unshown ones, replicated; E as mean squared distance and as
    RMS (what the figure prints). Features are shared by the codebooks of a group in a replicate
    (as in the authors' script), so comparisons are paired.
``appf``
    Appendix F sweeps over K, d and N: features N(0, I) (or U(-1, 1)^d), codebooks shifted by
    mu 1 or scaled by s (the paper's grids plus off-grid scales). Common random numbers: one base
    codebook per replicate is shifted / scaled, so differences from the matched codebook are
    paired. float32 search (faiss); E accumulated in float64 from directly recomputed squared
    distances (relative error about 1e-6, far below the replicate spread).
``appg``
    Appendix G table: P_A = P_B = N_8(0, s^2 I) or U_8(-s, s) for s from 1e-4 to 1; independent
    draws per s; the log-log slope of E in s and the constancy of U and C.
``utilization``
    The expected utilization of a random codebook,
    :math:`E[U] = 1 - \frac1K\sum_k E(1 - P_A(V_k))^N`: the distribution-free closed form for
    P_A = P_B in 1-D, and the exact conditional expectation given the codebook (cell masses from
    the CDF in 1-D, from a large sample on the disk) against direct simulation.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np

from theory import criterion_triple, usage_criteria

from . import _matching_theory as mt
from ._random import spawn_generators
from .registry import Cell, Study, register_study

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

    n_codes: tuple[int, ...] = (100, 300, 1000, 3000, 10_000)
    features_per_code: int = 20
    circle_points_per_code: int = 20
    replicates: int = 3
    rel_tol: float = 0.01
    small_radius: float = 0.8
    large_radius: float = 1.25
    shift: float = 0.5

    def __post_init__(self):
        _check(self, positive=("n_codes", "features_per_code", "circle_points_per_code",
                               "rel_tol", "small_radius",
                               "large_radius", "shift"), at_least_two=("replicates",))
        if not self.small_radius < 1 < self.large_radius:
            raise ValueError(f"need small_radius < 1 < large_radius, got small_radius="
                             f"{self.small_radius}, large_radius={self.large_radius}")


@dataclass(frozen=True)
class Fig3Config:
    """Figure 3: the paper's N = 10,000 features and K = 400 codes; replicated draws."""

    n_features: int = 10_000
    n_codes: int = 400
    replicates: int = 20

    def __post_init__(self):
        _check(self, positive=("n_features", "n_codes"), at_least_two=("replicates",))


@dataclass(frozen=True)
class AppFConfig:
    """Appendix F: defaults (K, d, N) and the three sweeps; shifts mu / nu and scales s / zeta."""

    families: tuple[str, ...] = ("gaussian", "uniform")
    n_features: int = 10_000
    n_codes: int = 512
    d: int = 32
    codes_sweep: tuple[int, ...] = (128, 512, 2048)
    dims_sweep: tuple[int, ...] = (2, 8, 32)
    features_sweep: tuple[int, ...] = (2500, 10_000)
    shifts: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
    scales: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    extra_scales: tuple[float, ...] = (0.5, 0.75, 1.25, 1.5)  # off the paper's grid
    replicates: int = 3

    def __post_init__(self):
        _check(self, positive=("n_features", "n_codes", "d", "codes_sweep", "dims_sweep",
                               "features_sweep", "scales"), at_least_two=("replicates",))
        bad = [f for f in self.families if f not in ("gaussian", "uniform")]
        if bad or not self.families:
            raise ValueError(f"families must be among ('gaussian', 'uniform'), got "
                             f"families={self.families!r}")
        if 0.0 not in self.shifts or 1.0 not in self.scales:
            raise ValueError("shifts must contain 0.0 and scales 1.0 (the matched codebook), got "
                             f"shifts={self.shifts!r}, scales={self.scales!r}")

    def points(self) -> list[tuple[int, int, int]]:
        """Distinct (K, d, N) of the three sweeps (the default point is shared)."""
        pts = [(k, self.d, self.n_features) for k in self.codes_sweep]
        pts += [(self.n_codes, d, self.n_features) for d in self.dims_sweep]
        pts += [(self.n_codes, self.d, n) for n in self.features_sweep]
        return list(dict.fromkeys(pts))


@dataclass(frozen=True)
class AppGConfig:
    """Appendix G: P_A = P_B in d = 8 at scales from 1e-4 to 1."""

    families: tuple[str, ...] = ("gaussian", "uniform")
    d: int = 8
    n_codes: int = 2048
    n_features: int = 25_000
    scales: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    replicates: int = 3

    def __post_init__(self):
        _check(self, positive=("d", "n_codes", "n_features", "scales"),
               at_least_two=("replicates",))
        if len(self.scales) < 3:
            raise ValueError(f"scales needs at least 3 values for a slope, got scales={self.scales!r}")


@dataclass(frozen=True)
class UtilizationConfig:
    """Expected utilization: 1-D (matched, shifted codebook) and the uniform disk."""

    n_codes: tuple[int, ...] = (2, 8, 32, 128)
    features_per_code: tuple[int, ...] = (1, 4, 16)
    replicates: int = 200
    shift: float = 1.0
    disk_codes: tuple[int, ...] = (50, 200)
    disk_features_per_code: int = 4
    disk_mass_samples: int = 200_000
    disk_replicates: int = 10

    def __post_init__(self):
        _check(self, positive=("n_codes", "features_per_code", "disk_codes",
                               "disk_features_per_code", "disk_mass_samples"),
               at_least_two=("replicates", "disk_replicates"))


@dataclass(frozen=True)
class MatchingConfig:
    theorem1: Theorem1Config = field(default_factory=Theorem1Config)
    fig3: Fig3Config = field(default_factory=Fig3Config)
    appf: AppFConfig = field(default_factory=AppFConfig)
    appg: AppGConfig = field(default_factory=AppGConfig)
    utilization: UtilizationConfig = field(default_factory=UtilizationConfig)


_PAPER_APPF = AppFConfig(n_features=200_000, n_codes=1024, d=32,
                         codes_sweep=(128, 256, 512, 1024, 2048, 4096, 8192, 16384),
                         dims_sweep=(2, 4, 8, 16, 32, 64, 128, 256),
                         features_sweep=(10_000, 50_000, 100_000, 200_000, 300_000, 500_000,
                                         800_000, 1_000_000), replicates=5)
PRESETS = {
    "quick": MatchingConfig(),
    "default": MatchingConfig(
        theorem1=Theorem1Config(n_codes=(100, 316, 1000, 3162, 10_000, 31_623, 100_000),
                                features_per_code=100, replicates=8),
        fig3=Fig3Config(replicates=200),
        appf=AppFConfig(n_features=50_000, n_codes=1024, codes_sweep=(128, 256, 512, 1024, 2048, 4096, 8192),
                        dims_sweep=(2, 4, 8, 16, 32, 64), features_sweep=(10_000, 50_000, 200_000),
                        replicates=5),
        appg=AppGConfig(n_codes=8192, n_features=100_000, replicates=5),
        utilization=UtilizationConfig(n_codes=(2, 8, 32, 128, 512), replicates=2000,
                                      disk_codes=(50, 200, 800), disk_mass_samples=2_000_000,
                                      disk_replicates=50)),
    "full": MatchingConfig(
        theorem1=Theorem1Config(n_codes=(100, 316, 1000, 3162, 10_000, 31_623, 100_000),
                                features_per_code=100, replicates=16),
        fig3=Fig3Config(replicates=1000),
        appf=_PAPER_APPF,
        appg=AppGConfig(n_codes=8192, n_features=100_000, replicates=10),
        utilization=UtilizationConfig(n_codes=(2, 8, 32, 128, 512, 2048), replicates=4000,
                                      disk_codes=(50, 200, 800), disk_mass_samples=5_000_000,
                                      disk_replicates=100)),
}


def cell_seed(seed: int | None, key: str) -> np.random.SeedSequence:
    """Independent seed of a cell from the master seed and the cell key (order-free)."""
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(key.encode()),))


def _row(part: str, config: str, d: int, k: int, n: int, triple: dict, replicate: int,
         paper=None, **extra) -> dict:
    return {"study": part, "config": config, "d": d, "n_codes": k, "n_features": n,
            **triple, "replicate": replicate, "paper": paper, **extra}


# ---------------------------------------------------------------------------------------------
# theorem1

def theorem1_cases(cfg: Theorem1Config) -> dict[str, dict]:
    """Codebook law per case, with what Theorem 1 predicts for it (P_A = uniform unit disk)."""
    s = cfg.shift
    lens = (2 * math.acos(s / 2) - (s / 2) * math.sqrt(4 - s * s)) / math.pi  # P_B(supp A)
    return {
        "matched": {"law": mt.BallLaw((0.0, 0.0), 1.0), "support_match": True,
                    "u_limit": 1.0, "sup_floor": 0.0},
        "same_support_peaked": {"law": mt.BallLaw((0.0, 0.0), 1.0, radial_power=1.0),
                                "support_match": True, "u_limit": 1.0, "sup_floor": 0.0},
        "smaller": {"law": mt.BallLaw((0.0, 0.0), cfg.small_radius), "support_match": False,
                    "u_limit": 1.0, "sup_floor": 1.0 - cfg.small_radius},
        "larger": {"law": mt.BallLaw((0.0, 0.0), cfg.large_radius), "support_match": False,
                   "u_limit": 1.0 / cfg.large_radius ** 2, "sup_floor": 0.0},
        "shifted": {"law": mt.BallLaw((s, 0.0), 1.0), "support_match": False,
                    "u_limit": lens, "sup_floor": s},
    }


def _theorem1_cell(cfg: Theorem1Config, case: str, k: int, seed) -> list[dict]:
    law = theorem1_cases(cfg)[case]["law"]
    feature_law = mt.BallLaw((0.0, 0.0), 1.0)
    n = cfg.features_per_code * k
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.replicates)):
        codes = law.sample(k, rng)
        triple = mt.triple_kdtree(feature_law.sample(n, rng), codes)
        wc = mt.worst_case_distance(codes, (0.0, 0.0), 1.0, rel_tol=cfg.rel_tol)
        u_inf = mt.limit_utilization_disk(codes, (0.0, 0.0), 1.0,
                                          circle_points=cfg.circle_points_per_code * k)
        rows.append(_row("theorem1", case, 2, k, n, triple, r, sup_low=wc.low, sup_high=wc.high,
                         utilization_limit=u_inf, u_limit_is_one=bool(u_inf == 1.0),
                         sup_cell=wc.cell_size, in_support=float(feature_law.contains(codes).mean()),
                         u_is_one=bool(triple["utilization"] == 1.0)))
    return rows


# ---------------------------------------------------------------------------------------------
# fig3

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


def _fig3_cell(cfg: Fig3Config, group: str, seed) -> list[dict]:
    confs = [c for c in fig3_configurations() if c["group"] == group]
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.replicates)):
        feats = mt.BallLaw((confs[0]["feature_center"], 0.0), 1.0).sample(cfg.n_features, rng)
        for c in confs:
            codes = mt.BallLaw((c["code_center"], 0.0), c["code_radius"]).sample(cfg.n_codes, rng)
            extra = {}
            if r == 0:  # the points of one draw, for the scatter panels (10 % / 90 % as the paper)
                extra = {"scatter_features": np.round(feats[: cfg.n_features // 10], 3).tolist(),
                         "scatter_codes": np.round(codes[: 9 * cfg.n_codes // 10], 3).tolist()}
            rows.append(_row("fig3", c["label"], 2, cfg.n_codes, cfg.n_features,
                             mt.triple_kdtree(feats, codes), r, c["paper"],
                             group=group, matched=c["matched"], **extra))
    return rows


# ---------------------------------------------------------------------------------------------
# appf

def _base(family: str, n: int, d: int, rng) -> np.ndarray:
    if family == "gaussian":
        return rng.standard_normal((n, d), dtype=np.float32)
    return (2 * rng.random((n, d), dtype=np.float32) - 1).astype(np.float32)


def _appf_cell(cfg: AppFConfig, family: str, k: int, d: int, n: int, seed) -> list[dict]:
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.replicates)):
        feats, base = _base(family, n, d, rng), _base(family, k, d, rng)
        matched = criterion_triple(feats, base).as_dict()
        variants = [("shift", v, True) for v in cfg.shifts]
        variants += [("scale", v, True) for v in cfg.scales]
        variants += [("scale", v, False) for v in cfg.extra_scales if v not in cfg.scales]
        for kind, v, on_grid in variants:
            is_matched = (kind == "shift" and v == 0.0) or (kind == "scale" and v == 1.0)
            if is_matched:
                triple = matched
            else:
                codes = base + np.float32(v) if kind == "shift" else base * np.float32(v)
                triple = criterion_triple(feats, codes).as_dict()
            rows.append(_row("appf", f"{family}-{kind}={v:g}", d, k, n, triple, r, None,
                             family=family, kind=kind, value=float(v), matched=is_matched,
                             paper_grid=on_grid))
    return rows


# ---------------------------------------------------------------------------------------------
# appg

def _appg_cell(cfg: AppGConfig, family: str, scale: float, seed) -> list[dict]:
    paper = mt.APPG_PAPER.get(family, {}).get(scale)
    at_paper_size = (cfg.n_codes, cfg.n_features, cfg.d) == tuple(mt.APPG_PAPER_SIZE.values())
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.replicates)):
        feats = _base(family, cfg.n_features, cfg.d, rng) * np.float32(scale)
        codes = _base(family, cfg.n_codes, cfg.d, rng) * np.float32(scale)
        triple = criterion_triple(feats, codes).as_dict()
        rows.append(_row("appg", f"{family}-scale={scale:g}", cfg.d, cfg.n_codes, cfg.n_features,
                         triple, r, None if paper is None else
                         {"error_mse": paper[0], "utilization": paper[1], "perplexity": paper[2]},
                         family=family, scale=float(scale), at_paper_size=at_paper_size))
    return rows


# ---------------------------------------------------------------------------------------------
# utilization

def _util_1d_cell(cfg: UtilizationConfig, case: str, k: int, per_code: int, seed) -> list[dict]:
    from scipy.stats import norm

    n = k * per_code
    shift = 0.0 if case == "matched1d" else cfg.shift
    closed = mt.expected_utilization_matched_1d(k, n) if case == "matched1d" else None
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.replicates)):
        codes = rng.standard_normal(k) + shift
        feats = rng.standard_normal(n)
        idx, sq = mt.usage_1d(codes, feats)
        u, c = usage_criteria(np.bincount(idx, minlength=k))
        e = float(sq.mean())
        cond = mt.expected_utilization_from_masses(mt.cell_masses_1d(codes, norm.cdf), n)
        rows.append(_row("utilization", case, 1, k, n, {"error_mse": e, "error_rms": math.sqrt(e),
                                                        "utilization": u, "perplexity": c}, r,
                         None, expected_given_codes=cond, closed_form=closed))
    return rows


def _util_disk_cell(cfg: UtilizationConfig, k: int, seed) -> list[dict]:
    law = mt.BallLaw((0.0, 0.0), 1.0)
    n = k * cfg.disk_features_per_code
    rows = []
    for r, rng in enumerate(spawn_generators(seed, cfg.disk_replicates)):
        codes = law.sample(k, rng)
        big, _ = mt.nearest_code_kdtree(law.sample(cfg.disk_mass_samples, rng), codes)
        masses = np.bincount(big, minlength=k) / cfg.disk_mass_samples
        cond = mt.expected_utilization_from_masses(masses, n)
        rows.append(_row("utilization", "disk2d", 2, k, n,
                         mt.triple_kdtree(law.sample(n, rng), codes), r, None,
                         expected_given_codes=cond, closed_form=None))
    return rows


# ---------------------------------------------------------------------------------------------

def _cells(cfg: MatchingConfig, seed: int | None) -> Iterator[Cell]:
    def cell(key, fun, *args):
        return Cell(key, lambda: fun(*args, cell_seed(seed, key)))

    t1 = cfg.theorem1
    for case in theorem1_cases(t1):
        for k in t1.n_codes:
            yield cell(f"theorem1/{case}-K{k}", _theorem1_cell, t1, case, k)
    for group in ("shift", "radius"):
        yield cell(f"fig3/{group}", _fig3_cell, cfg.fig3, group)
    for family in cfg.appf.families:
        for k, d, n in cfg.appf.points():
            yield cell(f"appf/{family}-K{k}-d{d}-N{n}", _appf_cell, cfg.appf, family, k, d, n)
    for family in cfg.appg.families:
        for s in cfg.appg.scales:
            yield cell(f"appg/{family}-s{s:g}", _appg_cell, cfg.appg, family, s)
    u = cfg.utilization
    for case in ("matched1d", "shifted1d"):
        for k in u.n_codes:
            for f in u.features_per_code:
                yield cell(f"utilization/{case}-K{k}-N{f * k}", _util_1d_cell, u, case, k, f)
    for k in u.disk_codes:
        yield cell(f"utilization/disk2d-K{k}", _util_disk_cell, u, k)


def _summarize(cfg: MatchingConfig, rows: list[dict]) -> dict:
    from . import _matching_summary as ms

    present = [p for p in PARTS if any(r.get("study") == p for r in rows)]
    out = {"parts_present": present}
    for p in present:
        part_rows = [r for r in rows if r.get("study") == p]
        out[p] = getattr(ms, f"summarize_{p}")(getattr(cfg, p), part_rows)
    return out


STUDY = register_study(Study(
    name="matching",
    description="Static codebooks from P_B against features from P_A: Theorem 1 (supports), the "
                "Fig. 3 disks, the App. F sweeps, the App. G table, expected utilization",
    presets=PRESETS,
    cells=_cells,
    summarize=_summarize,
    parts=PARTS,
))

from . import _matching_claims  # noqa: E402,F401  (registers the matching.* claims)
