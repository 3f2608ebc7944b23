"""Scales of the ``lemma3`` study."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lemma3Config:
    """Sizes of the four checks (see the module docstring)."""

    monge_dims: tuple[int, ...] = (1, 2, 5, 16)
    monge_samples: int = 20_000
    monge_replicates: int = 10
    coupling_samples: int = 300
    ot_dim: int = 2
    ot_sizes: tuple[int, ...] = (50, 100, 200, 400, 800)
    ot_replicates: int = 10
    symmetry_dims: tuple[int, ...] = (2, 8, 32, 64)
    symmetry_pairs: int = 25
    gelbrich_pairs: tuple[tuple[str, str], ...] = (
        ("uniform", "laplace"),
        ("bimodal", "gaussian"),
        ("student_t", "uniform"),
    )
    gelbrich_dims: tuple[int, ...] = (1, 2, 5)
    gelbrich_samples: int = 200
    gelbrich_replicates: int = 8


SCALES = {
    "quick": Lemma3Config(),
    "default": Lemma3Config(monge_samples=100_000, monge_replicates=20, coupling_samples=600,
                            ot_sizes=(100, 200, 400, 800, 1600), ot_replicates=10,
                            symmetry_pairs=100, gelbrich_samples=400, gelbrich_replicates=20),
    "full": Lemma3Config(monge_dims=(1, 2, 5, 16, 64), monge_samples=400_000,
                         monge_replicates=40, coupling_samples=1000,
                         ot_sizes=(125, 250, 500, 1000, 2000, 4000), ot_replicates=20,
                         symmetry_pairs=400, gelbrich_dims=(1, 2, 5, 10),
                         gelbrich_samples=1000, gelbrich_replicates=40),
}
