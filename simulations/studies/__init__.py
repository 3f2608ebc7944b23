"""The studies, one package each (``config``: presets; ``cells``: the units of work; ``summary``;
``claims``), listed here explicitly: importing a study registers nothing.

``STUDIES`` maps a study's name to its :class:`~vqmatch.simulations.core.registry.Study`; ``CLAIMS`` maps a
claim id to its :class:`~vqmatch.simulations.core.registry.Claim`. Studies never import each other: what
two of them share lives in ``sources``, ``engines`` or ``core``.
"""

from ..core.registry import check_unique
from . import atomic, density, lemma3, matching, robustness, vqvae, w2

ALL = (lemma3, w2, density, matching, atomic, robustness, vqvae)

check_unique([m.STUDY for m in ALL], [c for m in ALL for c in m.CLAIMS])
STUDIES = {m.STUDY.name: m.STUDY for m in ALL}
CLAIMS = {c.id: c for m in ALL for c in m.CLAIMS}

__all__ = ["ALL", "CLAIMS", "STUDIES"]
