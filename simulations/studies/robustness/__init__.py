"""Study ``robustness``: distribution matching beyond the Gaussian assumption (bimodal and
Student-t features; Wasserstein against MMD, sliced-W2 and density-adjusted matching; see
:mod:`.cells`)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PRESETS, RobustnessConfig
from .summary import summarize

STUDY = Study(
    name="robustness",
    description="non-Gaussian robustness: Wasserstein (Gaussian moments) vs MMD / sliced matching "
                "on bimodal features (E, U vs separation) and Student-t(3) features",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    version=2,
)

__all__ = ["CLAIMS", "PRESETS", "STUDY", "RobustnessConfig"]
