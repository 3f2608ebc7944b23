"""Study ``density``: the point density of optimal codebooks (the paper's Theorem 2), measured by
exact 1-D Lloyd-Max quantizers, k-means and random Gaussian codebooks (see :mod:`.cells`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="density",
              description="Theorem 2: point density of optimal codebooks (Lloyd-Max, k-means, "
                          "random codebooks) against f^(d/(d+2)), f and the paper's f^((d+2)/d)",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.DensitySummary,
              claims=claims.CLAIMS, version=3)
