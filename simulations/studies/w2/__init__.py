"""Study ``w2``: the W2 estimators side by side (the paper's closed form on sample moments, exact
OT, sliced and max-sliced W2) on Gaussian and non-Gaussian pairs with exact truths (see
:mod:`.cells` and :mod:`.truth`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="w2",
              description="W2 estimators side by side: closed form vs exact OT vs sliced, Gaussian "
                          "and not",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.W2Summary,
              claims=claims.CLAIMS, version=4)
