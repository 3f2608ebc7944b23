"""vqmatch: numerical and symbolic verification of distributional matching for vector quantization
(Fang et al., arXiv 2506.15078).

Subpackages: :mod:`vqmatch.theory` (closed forms and estimators), :mod:`vqmatch.simulations`
(sources, engines, the VQ-VAE, studies, the command line) and :mod:`vqmatch.figures`.

The stable names are re-exported here and resolved on first use, so that ``import vqmatch`` stays
cheap and numpy-only work never loads torch::

    from vqmatch import gaussian_w2, make_quantizer
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# stable name -> the subpackage that defines it
_EXPORTS = {
    "gaussian_w2": "theory",
    "empirical_gaussian_w2": "theory",
    "criterion_triple": "theory",
    "wasserstein_vq_loss": "theory",
    "nearest_code": "theory",
    "optimal_density_exponent": "theory",
    "kmeans": "simulations",
    "lloyd_max": "simulations",
    "make_source": "simulations",
    "make_quantizer": "simulations",
    "QUANTIZERS": "simulations",
}
_SUBPACKAGES = ("theory", "simulations", "figures")

__all__ = [*_EXPORTS, *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # resolved once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
