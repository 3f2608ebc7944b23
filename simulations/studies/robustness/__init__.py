"""Study ``robustness``: distribution matching beyond the Gaussian assumption (bimodal and
Student-t features; Wasserstein against MMD, sliced-W2 and density-adjusted matching; see
:mod:`.cells`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="robustness",
              description="non-Gaussian robustness: Wasserstein (Gaussian moments) vs MMD / sliced "
                          "matching on bimodal features (E, U vs separation) and Student-t(3) "
                          "features",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.RobustnessSummary,
              claims=claims.CLAIMS, version=3)
