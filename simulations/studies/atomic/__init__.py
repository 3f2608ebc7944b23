"""Study ``atomic``: the paper's atomic setting, codebooks trained alone on mean-shifted features
with every quantizer of the library, and exact vs density-adjusted matching (see :mod:`.cells`)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PRESETS, AtomicConfig
from .summary import summarize

STUDY = Study(
    name="atomic",
    description="atomic setting: codebooks trained on mean-shifted Gaussian / uniform features "
                "(all quantizers; E, U, C, W2 vs shift) and exact vs density-adjusted matching",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    parts=("shift", "density"),
    version=2,
)

__all__ = ["CLAIMS", "PRESETS", "STUDY", "AtomicConfig"]
