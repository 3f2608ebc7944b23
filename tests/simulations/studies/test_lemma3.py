"""The lemma3 study: its helpers, a tiny end-to-end run, and claim evaluators that can fail."""

import copy

import numpy as np
import pytest

from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.sources import random_spd
from vqmatch.simulations.studies import CLAIMS, lemma3
from vqmatch.simulations.studies.lemma3.cells import _trace_term_scipy, repo_product_eigh_w2sq
from vqmatch.simulations.studies.lemma3.config import Lemma3Config
from vqmatch.simulations.studies.lemma3.summary import Lemma3Summary
from vqmatch.theory import gaussian_w2

TINY = Lemma3Config(monge_dims=(1, 3), monge_samples=4000, monge_replicates=6,
                           coupling_samples=60, ot_sizes=(25, 50, 100, 200), ot_replicates=8,
                           symmetry_dims=(2, 6), symmetry_pairs=4,
                           gelbrich_pairs=(("uniform", "laplace"), ("bimodal", "gaussian")),
                           gelbrich_dims=(1, 3), gelbrich_samples=40, gelbrich_replicates=3)


@pytest.fixture(scope="module")
def tiny_result():
    return run_study(lemma3.STUDY, TINY, seed=3, out_dir=None, progress=False)


def test_random_spd_condition_and_symmetry():
    rng = np.random.default_rng(0)
    a = random_spd(rng, 6, cond=1e3)
    eig = np.linalg.eigvalsh(a)
    np.testing.assert_allclose(a, a.T)
    assert eig.min() > 0 and eig.max() / eig.min() <= 1e3 * (1 + 1e-9)


def test_repo_shortcut_exact_iff_commuting():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    a, b = (q * rng.uniform(0.5, 2, 5)) @ q.T, (q * rng.uniform(0.5, 2, 5)) @ q.T
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    exact = float(gaussian_w2(m1, a, m2, b, squared=True))
    assert repo_product_eigh_w2sq(m1, a, m2, b) == pytest.approx(exact, rel=1e-10)
    c = random_spd(rng, 5, cond=50)
    exact = float(gaussian_w2(m1, a, m2, c, squared=True))
    assert abs(repo_product_eigh_w2sq(m1, a, m2, c) - exact) > 1e-6 * exact


def test_trace_term_scipy_matches_closed_form_1d():
    assert _trace_term_scipy(np.array([[4.0]]), np.array([[9.0]])) == pytest.approx(6.0)


def test_tiny_run_rows_and_claims(tiny_result):
    checks = {r["check"] for r in tiny_result.rows}
    assert checks == {"monge_mc", "monge_coupling", "sample_ot", "trace_symmetry",
                      "repo_product_eigh", "gelbrich"}
    assert CLAIMS["lemma3.trace_symmetry"].evaluate(tiny_result).verdict == "confirmed"
    assert CLAIMS["lemma3.gelbrich_bound"].evaluate(tiny_result).verdict == "confirmed"
    assert CLAIMS["repo.atomic_w_product_eigh"].evaluate(tiny_result).verdict == "refuted"
    assert CLAIMS["lemma3.closed_form_equals_ot"].evaluate(tiny_result).verdict != "refuted"


def test_same_seed_same_rows():
    tiny = Lemma3Config(
        monge_dims=(2,), monge_samples=500, monge_replicates=3, coupling_samples=20,
        ot_sizes=(10, 20, 30), ot_replicates=3, symmetry_dims=(2,), symmetry_pairs=2,
        gelbrich_pairs=(("uniform", "laplace"),), gelbrich_dims=(1,), gelbrich_samples=10,
        gelbrich_replicates=2)
    a = run_study(lemma3.STUDY, tiny, seed=5, out_dir=None, progress=False)
    b = run_study(lemma3.STUDY, tiny, seed=5, out_dir=None, progress=False)
    assert a.rows == b.rows


def test_evaluators_refute_a_wrong_closed_form(tiny_result):
    """Feed the evaluator rows whose closed form is 50% off: the verdict must turn to refuted."""
    bad = copy.deepcopy(tiny_result)
    for r in bad.rows:
        if r["check"] == "monge_mc":
            r["reference"] *= 1.5
    bad.summary = Lemma3Summary.from_rows(TINY, bad.rows)
    assert CLAIMS["lemma3.closed_form_equals_ot"].evaluate(bad).verdict == "refuted"


def test_evaluators_refute_a_violated_gelbrich_bound(tiny_result):
    bad = copy.deepcopy(tiny_result)
    for r in bad.rows:
        if r["check"] == "gelbrich":
            r["reference"] = r["value"] * 1.01
    bad.summary = Lemma3Summary.from_rows(TINY, bad.rows)
    assert CLAIMS["lemma3.gelbrich_bound"].evaluate(bad).verdict == "refuted"
