"""The studies, one package each (``config``: scales; ``cells``: the units of work; ``summary``: the
typed summary; ``claims``), listed here explicitly: importing a study registers nothing.

``STUDIES`` maps a study's name to its :class:`~vqmatch.simulations.core.registry.Study`; ``CLAIMS`` maps a
claim id to its :class:`~vqmatch.simulations.core.registry.Claim` (each study carries its own). Studies
never import each other: what two of them share lives in ``sources``, ``engines`` or ``core``.
"""

from ..core.registry import check_unique
from . import atomic, density, lemma3, matching, prior, robustness, vqvae, w2

ALL = tuple(m.STUDY for m in (lemma3, w2, density, matching, atomic, robustness, vqvae, prior))

check_unique(ALL)
STUDIES = {s.name: s for s in ALL}
CLAIMS = {c.id: c for s in ALL for c in s.claims}

__all__ = ["ALL", "CLAIMS", "STUDIES"]
