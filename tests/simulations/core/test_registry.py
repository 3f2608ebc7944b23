"""Cells, claims and their validation."""

from dataclasses import replace

import pytest

from tests.simulations.core.toy import ToyConfig, point_cell, toy_study
from vqmatch.simulations.core.registry import Cell, Claim, Measurement, check_unique, claim


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"key": ""}, "key"),
    ({"replicates": 0}, "replicates"),
    ({"replicates": True}, "replicates"),
    ({"replicates": 2, "seeded": False}, "deterministic"),
    ({"block": 0}, "block"),
])
def test_cell_validation(kwargs, match):
    args = {"key": "k", "fn": point_cell, "params": {"x": 0.0, "log_dir": None}} | kwargs
    with pytest.raises(ValueError, match=match):
        Cell(**args)


def test_replicated_cell_needs_a_replicate():
    cell = Cell("k", point_cell, {"x": 0.0, "log_dir": None}, replicates=2)
    with pytest.raises(ValueError, match="replicate"):
        cell.compute(0)


def test_claim_decorator_registers_nothing_and_check_unique():
    @claim(id="toy.a", source="s", statement="st", expected="e", study="toy")
    def a(res):
        return Measurement("m", "confirmed")

    assert isinstance(a, Claim) and a.evaluate(None).verdict == "confirmed"
    study = replace(toy_study(), claims=(a,))
    check_unique([study])
    twin = replace(a, study="other")  # the same id in another study
    with pytest.raises(ValueError, match="repeated claim id"):
        check_unique([study, replace(study, name="other", claims=(twin,))])
    with pytest.raises(ValueError, match="repeated study name"):
        check_unique([study, study])
    with pytest.raises(ValueError, match="not claims of study other"):
        replace(study, name="other")


def test_a_study_declares_every_scale():
    with pytest.raises(ValueError, match="scales"):
        replace(toy_study(), scales={"quick": ToyConfig()})


def test_measurement_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        Measurement("x", "probably")


def test_config_is_a_toy_config():
    assert toy_study().config("quick") == ToyConfig()
