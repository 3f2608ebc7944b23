"""Study ``matching``: static codebooks drawn from P_B against features from P_A (no training):
Theorem 1 (supports), the Figure 3 disks, the Appendix F sweeps, the Appendix G table and the
expected utilization of a random codebook, as parts (see :mod:`.cells`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="matching",
              description="Static codebooks from P_B against features from P_A: Theorem 1 "
                          "(supports), the Fig. 3 disks, the App. F sweeps, the App. G table, "
                          "expected utilization",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.MatchingSummary,
              claims=claims.CLAIMS, version=3, parts=config.PARTS)
