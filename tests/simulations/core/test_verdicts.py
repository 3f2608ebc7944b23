"""Verdict helpers and the constants they decide with."""

import pytest

from vqmatch.simulations.core import verdicts
from vqmatch.simulations.core.verdicts import combine, decide, within


def test_within_decide_combine():
    assert within(0.5, confirm_below=1, refute_above=2) == "confirmed"
    assert within(1.5, confirm_below=1, refute_above=2) == "inconclusive"
    assert within(2.5, confirm_below=1, refute_above=2) == "refuted"
    with pytest.raises(ValueError, match="confirm_below"):
        within(1.0, confirm_below=2, refute_above=1)
    assert combine(["confirmed", "confirmed"]) == "confirmed"
    assert combine(["confirmed", "inconclusive"]) == "inconclusive"
    assert combine(["inconclusive", "refuted"]) == "refuted"
    assert combine([]) == "inconclusive"
    assert decide(confirmed=True, refuted=False) == "confirmed"
    assert decide(confirmed=True, refuted=True) == "refuted"
    assert decide(confirmed=False, refuted=False) == "inconclusive"


def test_constants_are_consistent():
    assert 0 < verdicts.ALPHA_DISAGREE < verdicts.ALPHA < 0.5 < verdicts.LEVEL < 1
    assert verdicts.MIN_REPLICATES >= 3
    assert 0 < verdicts.COLLAPSED_U < verdicts.NEAR_FULL_U < verdicts.FULL_U <= 1
