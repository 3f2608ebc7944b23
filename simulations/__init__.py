"""vqmatch.simulations: sources, engines (Lloyd-Max, k-means, VQ quantizers), studies and the CLI.

Layout (layers point one way: ``cli -> studies -> vqvae -> engines -> sources -> core / theory``):

``core``     registry (studies, cells, claims), results store, statistics, verdict constants, seeding,
             executors (in process, local worker processes, Slurm through submitit)
``sources``  laws with exact moments, random SPD pairs
``engines``  Lloyd-Max, k-means, the point-density exponent, the quantizer library and the codebook
             training loop
``studies``  one package per study (config + cells, summary, claims), listed in ``studies.ALL``

The stable entry points are functions of the package, re-exported by :mod:`vqmatch`: ``kmeans``,
``lloyd_max``, ``make_source``, and ``make_quantizer`` and ``QUANTIZERS`` (torch; imported on first
use, so numpy-only work never loads torch).
"""

if not __name__.startswith("vqmatch."):  # this folder imported under its folder name: a second copy
    raise ImportError(f"import vqmatch.{__name__} (the package's only import name), not {__name__}")

from .engines.kmeans import KMeansResult, kmeans
from .engines.lloyd_max import lloyd_max
from .sources import make_source

_LAZY = {"make_quantizer": "engines.quantizers", "QUANTIZERS": "engines.quantizers"}

__all__ = ["KMeansResult", "kmeans", "lloyd_max", "make_source", *_LAZY]

def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
