"""Importing this module registers every study and its claims (the CLI imports it)."""

from . import lemma3, matching, optimal_density  # noqa: F401
