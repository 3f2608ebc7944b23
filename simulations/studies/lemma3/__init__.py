"""Study ``lemma3``: the closed-form Gaussian W2 (Lemma 3) against exact optimal transport: the
Monge map, exact OT between samples, the trace-term symmetry, Gelbrich's bound, and the authors'
atomic-setting shortcut (see :mod:`.cells`)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PRESETS, Lemma3Config
from .summary import summarize

STUDY = Study(
    name="lemma3",
    description="closed-form Gaussian W2 (Lemma 3) vs exact OT, trace symmetry, Gelbrich bound",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    version=3,
)

__all__ = ["CLAIMS", "PRESETS", "STUDY", "Lemma3Config"]
