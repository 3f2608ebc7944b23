"""Core machinery shared by every study: the registry (studies, cells, claims), the per-cell results
store, statistics and verdict constants, seeding, and the executors that run cells."""
