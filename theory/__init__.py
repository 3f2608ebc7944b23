"""vqmatch.theory: closed forms and estimators (pure functions, numpy and torch from one implementation)."""

if not __name__.startswith("vqmatch."):  # this folder imported under its folder name: a second copy
    raise ImportError(f"import vqmatch.{__name__} (the package's only import name), not {__name__}")

from .assignment import CriterionTriple, NearestCode, criterion_triple, nearest_code, usage_criteria
from .gaussian import (
    AffineMap,
    empirical_gaussian_w2,
    gaussian_moments,
    gaussian_monge_map,
    gaussian_w2,
    gelbrich_bound,
)
from .loss import wasserstein_vq_loss
from .quantization import optimal_density_exponent, paper_density_exponent

__all__ = [
    "AffineMap",
    "CriterionTriple",
    "NearestCode",
    "criterion_triple",
    "empirical_gaussian_w2",
    "gaussian_moments",
    "gaussian_monge_map",
    "gaussian_w2",
    "gelbrich_bound",
    "nearest_code",
    "optimal_density_exponent",
    "paper_density_exponent",
    "usage_criteria",
    "wasserstein_vq_loss",
]
