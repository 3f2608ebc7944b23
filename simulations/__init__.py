"""vqmatch.simulations: sources, engines (Lloyd-Max, k-means, VQ quantizers), studies and the CLI.

The stable entry points are functions of the package (DESIGN.md): ``simulations.kmeans``,
``simulations.lloyd_max``, ``simulations.make_source`` and ``simulations.make_quantizer`` (torch;
imported on first use, so numpy-only work never loads torch). The function ``kmeans`` shadows its
module's name on the package; reach the module itself with ``from simulations.kmeans import ...``
or ``importlib.import_module("simulations.kmeans")``.
"""

from .kmeans import KMeansResult, kmeans
from .lloyd_max import lloyd_max
from .sources import make_source

_LAZY = {"make_quantizer": "quantizers", "QUANTIZERS": "quantizers"}

__all__ = ["KMeansResult", "kmeans", "lloyd_max", "make_source", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
