"""Verdicts and every constant a verdict is decided with, in one place.

A claim's ``expected`` text is written with these constants (f-strings), so what it says is what it
decides. A replicate-based comparison is a Student t test on paired differences with n - 1 degrees
of freedom (:func:`vqmatch.simulations.core.stats.paired_t`); it counts as significant when its two-sided
p-value is below ``ALPHA`` (divided by the number of comparisons when ANY of several may decide,
Bonferroni) and it rests on at least ``MIN_REPLICATES`` pairs. Intervals are reported at ``LEVEL``.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["confirmed", "refuted", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "refuted", "inconclusive")

LEVEL = 0.95
"""Confidence level of every reported interval."""

ALPHA = 0.01
"""Two-sided level at which a replicate-based difference is significant."""

ALPHA_DISAGREE = 1e-6
"""A measurement contradicts a reference value (closed form, table) only below this p-value; between
it and ``ALPHA`` the comparison is inconclusive."""

MIN_REPLICATES = 5
"""Fewest replicate pairs a t-test verdict may rest on (below: ``inconclusive``)."""

NEAR_FULL_U = 0.95
"""Utilization that counts as "near-full" (the paper's "near 100%")."""

COLLAPSED_U = 0.25
"""Utilization below which a codebook counts as collapsed (fewer than a quarter of its codes used)."""

FULL_U = 0.99
"""Utilization that counts as full in the N -> infinity limit of a static codebook (Theorem 1)."""

PLATEAU_FRACTION = 0.75
"""A training run is judged at a plateau by comparing its final evaluation with the one at this
fraction of its steps."""

PLATEAU_U = 0.02
"""Largest change of held-out U over the last quarter of training (mean over replicates) that still
counts as a plateau."""

PLATEAU_E = 0.10
"""Largest relative change of held-out E over the last quarter of training (mean over replicates)
that still counts as a plateau."""


PAIRED_TEST = (f"paired t test over replicates (df = n - 1), significant at p < {ALPHA} with at "
               f"least {MIN_REPLICATES} pairs")
"""How a claim's ``expected`` text names the replicate comparison it decides with."""


def within(value: float, *, confirm_below: float, refute_above: float) -> Verdict:
    """``confirmed`` if value <= confirm_below, ``refuted`` if value > refute_above, else
    ``inconclusive`` (the grey zone between the two thresholds)."""
    if not confirm_below <= refute_above:
        raise ValueError(f"confirm_below={confirm_below} must not exceed refute_above={refute_above}")
    if value <= confirm_below:
        return "confirmed"
    if value > refute_above:
        return "refuted"
    return "inconclusive"


def decide(*, confirmed: bool, refuted: bool) -> Verdict:
    """The verdict of two measured conditions: ``refuted`` wins, then ``confirmed``, otherwise
    ``inconclusive`` (neither condition met by the data)."""
    if refuted:
        return "refuted"
    if confirmed:
        return "confirmed"
    return "inconclusive"


def agrees(pvalues) -> Verdict:
    """A measurement against reference values (closed forms, tables), one p-value per comparison:
    ``confirmed`` when none is significant at ``ALPHA`` / (number of comparisons) (Bonferroni),
    ``refuted`` when one is below ``ALPHA_DISAGREE``, otherwise (and with no comparison)
    ``inconclusive``."""
    ps = list(pvalues)
    if not ps:
        return "inconclusive"
    return decide(confirmed=min(ps) >= ALPHA / len(ps), refuted=min(ps) < ALPHA_DISAGREE)


def combine(verdicts: list[Verdict]) -> Verdict:
    """All parts confirmed -> confirmed; any part refuted -> refuted; otherwise inconclusive."""
    if any(v == "refuted" for v in verdicts):
        return "refuted"
    if verdicts and all(v == "confirmed" for v in verdicts):
        return "confirmed"
    return "inconclusive"
