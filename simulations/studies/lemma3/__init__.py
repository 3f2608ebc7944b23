"""Study ``lemma3``: the closed-form Gaussian W2 (Lemma 3) against exact optimal transport: the
Monge map, exact OT between samples, the trace-term symmetry, Gelbrich's bound, and the authors'
atomic-setting shortcut (see :mod:`.cells`)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="lemma3",
              description="closed-form Gaussian W2 (Lemma 3) vs exact OT, trace symmetry, Gelbrich "
                          "bound",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.Lemma3Summary,
              claims=claims.CLAIMS, version=3)
