"""Study ``w2``: the W2 estimators side by side (the paper's closed form on sample moments, exact
OT, sliced and max-sliced W2) on Gaussian and non-Gaussian pairs with exact truths (see
:mod:`.cells` and :mod:`.truth`)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PRESETS, W2Config
from .summary import summarize

STUDY = Study(
    name="w2",
    description="W2 estimators side by side: closed form vs exact OT vs sliced, Gaussian and not",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    version=3,
)

__all__ = ["CLAIMS", "PRESETS", "STUDY", "W2Config"]
