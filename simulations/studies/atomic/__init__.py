"""Study ``atomic``: the paper's atomic setting, codebooks trained alone on mean-shifted features
with every quantizer of the library, and exact vs density-adjusted matching (see :mod:`.cells`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="atomic",
              description="atomic setting: codebooks trained on mean-shifted Gaussian / uniform "
                          "features (all quantizers; E, U, C, W2 vs shift) and exact vs "
                          "density-adjusted matching",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.AtomicSummary,
              claims=claims.CLAIMS, version=3, parts=("shift", "density"))
