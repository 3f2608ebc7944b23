"""Importing this module registers every study and its claims (the CLI imports it)."""

from . import atomic, lemma3, matching, optimal_density, robustness, w2_comparison  # noqa: F401
