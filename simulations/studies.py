"""Importing this module registers every study and its claims (the CLI imports it)."""

from . import lemma3, matching, optimal_density, w2_comparison  # noqa: F401
