"""Every study's summary is typed data with one JSON form: ``from_json(to_json(s)) == s`` through a
real JSON text (NaN-safe), for summaries of tiny runs and of synthetic rows."""

import json
import math

import pytest

from tests.simulations.studies import (
    test_atomic,
    test_density,
    test_lemma3,
    test_matching,
    test_robustness,
    test_vqvae,
    test_w2,
)
from vqmatch.simulations.core.jsondata import JsonData
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.stats import Estimate
from vqmatch.simulations.studies import STUDIES


def _run(name, cfg):
    return run_study(STUDIES[name], cfg, seed=3, out_dir=None, progress=False).summary


BUILD = {
    "lemma3": lambda: _run("lemma3", test_lemma3.TINY),
    "density": lambda: _run("density", test_density.TINY),
    "w2": lambda: _run("w2", test_w2.TINY),
    "matching": lambda: _run("matching", test_matching.TINY),
    "atomic": lambda: _run("atomic", test_atomic.TINY),
    "atomic (synthetic)": lambda: test_atomic._synthetic(test_atomic._paper_like(None)).summary,
    "robustness": lambda: _run("robustness", test_robustness.TINY),
    "robustness (synthetic)": lambda: test_robustness.PAPER_LIKE.summary,
    "vqvae (synthetic)": lambda: test_vqvae._result(0.99, 0.1, 0.97, 0.3, n=1).summary,
}


def _floats(obj):
    """Every float in a JSON form."""
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)
    elif isinstance(obj, float):
        yield obj


@pytest.mark.parametrize("name", sorted(BUILD))
def test_summary_round_trips_through_json(name):
    summary = BUILD[name]()
    study = STUDIES[name.split(" ")[0]]
    assert isinstance(summary, study.summary) and isinstance(summary, JsonData)
    text = json.dumps(summary.to_json())
    back = study.summary.from_json(json.loads(text))
    assert back == summary
    assert json.dumps(back.to_json()) == text  # the same JSON again
    assert not any(math.isnan(x) for x in _floats(json.loads(text)))  # NaN is written as null


def test_summaries_with_nan_compare_equal():
    """One replicate: no paired test; the Clopper-Pearson rate and a one-value estimate have NaN
    standard errors and intervals, which survive the round trip."""
    from vqmatch.simulations.core.stats import replicate_estimate as estimate

    summary = BUILD["vqvae (synthetic)"]()
    test = summary.comparisons[0].utilization
    assert test.test is None and test.replicates == 1
    one = estimate([0.5])
    assert one.n == 1 and math.isnan(one.low) and math.isnan(one.se)
    assert Estimate.from_json(json.loads(json.dumps(one.to_json()))) == one
    back = type(summary).from_json(json.loads(json.dumps(summary.to_json())))
    assert math.isnan(back.gap.violation_rate.se) and back == summary


def test_every_study_declares_its_summary_and_claims():
    for study in STUDIES.values():
        assert issubclass(study.summary, JsonData) and hasattr(study.summary, "from_rows")
        assert study.claims and all(c.study == study.name for c in study.claims)
