"""Study ``matching``: static codebooks drawn from P_B against features from P_A (no training):
Theorem 1 (supports), the Figure 3 disks, the Appendix F sweeps, the Appendix G table and the
expected utilization of a random codebook, as parts (see :mod:`.cells`)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PARTS, PRESETS, MatchingConfig
from .summary import summarize

STUDY = Study(
    name="matching",
    description="Static codebooks from P_B against features from P_A: Theorem 1 (supports), the "
                "Fig. 3 disks, the App. F sweeps, the App. G table, expected utilization",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    parts=PARTS,
    version=2,
)

__all__ = ["CLAIMS", "PARTS", "PRESETS", "STUDY", "MatchingConfig"]
