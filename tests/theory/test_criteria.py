"""Nearest-code assignment and the criterion triple (E, U, C) of the paper (Section 2.2, App. D):
a brute-force reference, a memory bound, hand cases, the paper's K = 10 examples, properties of the
perplexity and the validation contract."""

import math
import tracemalloc

import faiss
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests._helpers import to_lib, to_numpy
from vqmatch.theory import criterion_triple, nearest_code, usage_criteria
from vqmatch.theory.assignment import faiss_search

# ----------------------------------------------------------------------------------------------
# nearest_code against brute force
# ----------------------------------------------------------------------------------------------


def brute_force(features, codebook):
    """Obviously-correct reference: the full N x K matrix of squared distances, in float64."""
    z = np.asarray(features, dtype=np.float64)
    e = np.asarray(codebook, dtype=np.float64)
    d2 = ((z[:, None, :] - e[None, :, :]) ** 2).sum(-1)
    return d2


def _data(seed, n=300, k=40, d=6):
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(k, d)) * rng.uniform(0.5, 2.0, size=d) + 3.0  # off-centre on purpose
    feats = rng.normal(size=(n, d)) * 1.5 + 3.0
    return feats, codes


COMBOS = [
    ("numpy", "float64", "blas"),
    ("numpy", "float32", "blas"),
    ("numpy", "float32", "faiss"),
    ("torch", "float64", "blas"),
    ("torch", "float32", "blas"),
    ("torch", "float32", "faiss"),
]


@pytest.mark.parametrize("chunk_size", [1, 7, None])
@pytest.mark.parametrize(("lib", "dtype", "engine"), COMBOS)
def test_nearest_code_matches_brute_force(lib, dtype, engine, chunk_size):
    feats64, codes64 = _data(1)
    # the reference sees exactly the values the function sees (after the cast to dtype)
    feats, codes = feats64.astype(dtype), codes64.astype(dtype)
    d2 = brute_force(feats, codes)
    res = nearest_code(to_lib(feats, lib, dtype), to_lib(codes, lib, dtype),
                       chunk_size=chunk_size, engine=engine)
    idx, sq = to_numpy(res.indices), to_numpy(res.sq_dist)
    assert idx.dtype == np.int64 and idx.shape == (feats.shape[0],)
    assert sq.dtype == np.dtype(dtype) and sq.shape == (feats.shape[0],)
    if lib == "torch":
        assert isinstance(res.indices, torch.Tensor) and isinstance(res.sq_dist, torch.Tensor)
    # round-off of the ||c||^2 - 2 x.c search: ~eps * (|x|^2 + |c|^2) (scale ~ 100 here)
    tol = (1e-10 if dtype == "float64" else 1e-3)
    best = d2.min(axis=1)
    second = np.partition(d2, 1, axis=1)[:, 1]
    clear = second - best > tol
    assert clear.mean() > 0.98  # continuous random data: (almost) no near-ties at this tolerance
    np.testing.assert_array_equal(idx[clear], d2.argmin(axis=1)[clear])
    # where the gap is within round-off, the chosen code is still a nearest one up to tol
    assert np.all(d2[np.arange(len(idx)), idx] <= best + tol)
    # sq_dist is ||z - e_idx||^2, recomputed directly (no expansion cancellation)
    direct = ((feats.astype(np.float64) - codes.astype(np.float64)[idx]) ** 2).sum(-1)
    np.testing.assert_allclose(sq, direct, rtol=1e-12 if dtype == "float64" else 1e-5,
                               atol=0 if dtype == "float64" else 1e-5)


def test_nearest_code_engines_and_chunks_agree():
    feats, codes = _data(2, n=500, k=64, d=4)
    ref = nearest_code(feats, codes, engine="blas").indices
    for kwargs in ({"chunk_size": 3}, {"chunk_size": 10_000}, {"max_chunk_bytes": 1},
                   {"max_chunk_bytes": 64 * 8 * 5}):
        np.testing.assert_array_equal(nearest_code(feats, codes, **kwargs).indices, ref)


def test_nearest_code_exact_ties_give_a_nearest_code():
    codes = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    feats = np.array([[0.0, 0.0], [0.0, 5.0], [2.0, 0.0]])
    res = nearest_code(feats, codes, engine="blas")
    np.testing.assert_array_equal(res.sq_dist, [1.0, 26.0, 1.0])
    assert res.indices[2] in (0, 2)


def test_nearest_code_ties_return_a_tied_code_with_exact_distance():
    # NearestCode.indices documents that among exactly tied codes the one returned depends on
    # round-off. Features 0 and 1 are equidistant from all three codes (distance^2 1 and 26);
    # feature 2 is tied between codes 0 and 2 (distance^2 1); code 1 is at distance^2 9.
    codes = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    feats = np.array([[0.0, 0.0], [0.0, 5.0], [2.0, 0.0]])
    for engine, dtype in (("blas", np.float64), ("faiss", np.float32)):
        res = nearest_code(feats.astype(dtype), codes.astype(dtype), engine=engine)
        assert res.indices[0] in (0, 1, 2) and res.indices[1] in (0, 1, 2)
        assert res.indices[2] in (0, 2)
        np.testing.assert_array_equal(res.sq_dist, np.array([1.0, 26.0, 1.0], dtype=dtype))


def test_nearest_code_torch_returns_no_graph():
    feats, codes = _data(3)
    f = torch.tensor(feats, requires_grad=True)
    c = torch.tensor(codes, requires_grad=True)
    res = nearest_code(f, c)
    assert not res.sq_dist.requires_grad


# ----------------------------------------------------------------------------------------------
# memory bound
# ----------------------------------------------------------------------------------------------


def test_nearest_code_memory_is_chunked():
    rng = np.random.default_rng(4)
    n, k, d = 20_000, 5_000, 4
    feats, codes = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    chunk = 1 << 20  # 1 MiB of distances per chunk
    tracemalloc.start()
    try:
        res = nearest_code(feats, codes, max_chunk_bytes=chunk, engine="blas")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = n * k * 8  # 800 MB: the distance matrix that must never exist
    # a few chunk-sized temporaries plus O(N d) outputs and gathers (~2.5 MB here)
    bound = 8 * chunk + 4 * n * d * 8
    assert peak < bound, (peak, bound)
    assert bound < full / 50
    # spot-check correctness on a subset
    sub = slice(0, 200)
    np.testing.assert_array_equal(res.indices[sub], brute_force(feats[sub], codes).argmin(1))


# ----------------------------------------------------------------------------------------------
# criterion triple: hand cases
# ----------------------------------------------------------------------------------------------


def test_criterion_triple_hand_case(xp_name):
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [10.0, 10.0]])
    feats = np.array([[0.0, 0.5], [2.0, 1.0], [1.9, 0.0], [0.0, 3.0]])
    # nearest: e0 (0.25), e1 (1.0), e1 (0.01), e2 (0.0); e3 unused
    t = criterion_triple(to_lib(feats, xp_name), to_lib(codes, xp_name))
    np.testing.assert_array_equal(t.counts, [1, 2, 1, 0])
    np.testing.assert_allclose(t.error, (0.25 + 1.0 + 0.01 + 0.0) / 4, rtol=1e-14)
    np.testing.assert_allclose(t.rms, math.sqrt(0.315), rtol=1e-14)
    assert t.utilization == 0.75
    # p = (1/4, 1/2, 1/4): H = 1.5 log 2, C = 2^1.5
    np.testing.assert_allclose(t.perplexity, 2**1.5, rtol=1e-14)
    assert t.n_codes == 4 and t.n_features == 4
    assert t.as_dict() == {"error_mse": t.error, "error_rms": t.rms,
                           "utilization": t.utilization, "perplexity": t.perplexity}


def test_criterion_triple_docstring_example():
    codes = np.array([[0.0, 0.0], [1.0, 0.0]])
    t = criterion_triple(np.array([[0.0, 0.5], [1.0, 0.0], [1.0, 1.0]]), codes)
    np.testing.assert_allclose(t.error, (0.25 + 0 + 1) / 3, rtol=1e-14)
    assert t.utilization == 1.0
    np.testing.assert_allclose(t.perplexity, math.exp(-(1 / 3) * math.log(1 / 3)
                                                      - (2 / 3) * math.log(2 / 3)), rtol=1e-14)


def test_single_code(xp_name):
    rng = np.random.default_rng(5)
    feats, code = rng.normal(size=(50, 3)), rng.normal(size=(1, 3))
    t = criterion_triple(to_lib(feats, xp_name), to_lib(code, xp_name))
    assert t.utilization == 1.0 and t.perplexity == 1.0
    np.testing.assert_allclose(t.error, np.mean(np.sum((feats - code) ** 2, axis=1)), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_features_at_codes_give_zero_error(dtype, xp_name):
    rng = np.random.default_rng(6)
    codes = rng.normal(size=(12, 5)) * 3
    feats = codes[rng.integers(0, 12, size=100)]
    t = criterion_triple(to_lib(feats, xp_name, dtype), to_lib(codes, xp_name, dtype))
    assert t.error == 0.0 and t.rms == 0.0
    np.testing.assert_array_equal(t.counts, np.bincount(
        [int(np.flatnonzero((codes == f).all(1))[0]) for f in feats], minlength=12))


# ----------------------------------------------------------------------------------------------
# the paper's Appendix D examples (K = 10)
# ----------------------------------------------------------------------------------------------

APP_D = {
    "a_half_used": ([3, 2, 2, 2, 2, 0, 0, 0, 0, 0], 0.5, 4.92),
    "b_uniform": ([7] * 10, 1.0, 10.00),
    "c_one_dominant": ([4000] + [1] * 9, 1.0, 1.02),
    "d_all_used_uneven": ([15, 7, 1, 1, 1, 1, 1, 1, 1, 1], 1.0, 4.92),
}


@pytest.mark.parametrize("case", list(APP_D))
def test_paper_appendix_d_examples(case):
    counts, u_paper, c_paper = APP_D[case]
    u, c = usage_criteria(np.array(counts))
    assert u == u_paper
    assert round(c, 2) == c_paper, c
    # the same through criterion_triple: features placed at the codes with those multiplicities
    codes = np.stack([np.cos(np.arange(10)), np.sin(np.arange(10))], axis=1) * 5.0
    feats = np.repeat(codes, counts, axis=0)
    t = criterion_triple(feats, codes)
    np.testing.assert_array_equal(t.counts, counts)
    assert t.error == 0.0
    assert t.utilization == u_paper
    assert round(t.perplexity, 2) == c_paper
    np.testing.assert_allclose(t.perplexity, c, rtol=1e-14)


# ----------------------------------------------------------------------------------------------
# usage_criteria properties
# ----------------------------------------------------------------------------------------------

counts_strategy = st.lists(st.integers(0, 1000), min_size=1, max_size=30).filter(
    lambda c: sum(c) > 0)


@given(counts_strategy)
def test_perplexity_bounds(counts):
    k = len(counts)
    used = sum(1 for c in counts if c > 0)
    u, c = usage_criteria(np.array(counts))
    assert u == used / k
    assert 1.0 - 1e-12 <= c <= used * (1 + 1e-12)
    # C == K iff usage is uniform; otherwise the deficit is far above round-off (integer counts
    # <= 1000, K <= 30: relative deficit >~ 1e-8)
    if len(set(counts)) == 1:
        assert abs(c - k) <= 1e-12 * k
    else:
        assert c < k * (1 - 1e-12)
    # C equals the exponential of the entropy computed independently
    p = np.array([x for x in counts if x > 0], dtype=float) / sum(counts)
    np.testing.assert_allclose(c, math.exp(-sum(q * math.log(q) for q in p)), rtol=1e-12)


@given(counts_strategy, st.randoms(use_true_random=False),
       st.sampled_from([0.5, 3.0, 1e-3, 1e6]))
def test_perplexity_invariances(counts, rnd, factor):
    u, c = usage_criteria(np.array(counts))
    perm = list(counts)
    rnd.shuffle(perm)
    u_p, c_p = usage_criteria(np.array(perm))
    assert u_p == u
    np.testing.assert_allclose(c_p, c, rtol=1e-12)
    u_s, c_s = usage_criteria(np.array(counts, dtype=float) * factor)
    assert u_s == u
    np.testing.assert_allclose(c_s, c, rtol=1e-12)


def test_usage_criteria_accepts_torch_counts():
    assert usage_criteria(torch.tensor([2, 2, 0, 4])) == usage_criteria(np.array([2, 2, 0, 4]))


@pytest.mark.parametrize("bad", [[], [[1, 2]], [1, -1], [0, 0, 0], [1.0, np.nan], [np.inf, 1]])
def test_usage_criteria_bad_counts(bad):
    with pytest.raises(ValueError, match="counts"):
        usage_criteria(np.array(bad, dtype=float))


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

FUNCS = [nearest_code, criterion_triple]


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_inputs_name_the_parameter(fn, xp_name):
    good_f, good_c = np.ones((5, 3)), np.ones((4, 3))
    nan_f = good_f.copy()
    nan_f[2, 1] = np.nan
    cases = [
        (nan_f, good_c, "features"),
        (good_f, np.full((4, 3), np.inf), "codebook"),
        (good_f, np.ones((4, 2)), "codebook"),  # dimension mismatch
        (np.ones(3), good_c, "features"),  # 1-D features
        (good_f, np.ones((0, 3)), "codebook"),  # empty codebook
        (np.ones((0, 3)), good_c, "features"),  # no features
        (good_f, np.ones(3), "codebook"),
    ]
    for f, c, name in cases:
        with pytest.raises(ValueError, match=name):
            fn(to_lib(f, xp_name), to_lib(c, xp_name))


@pytest.mark.parametrize("fn", FUNCS)
def test_mixing_numpy_and_torch_rejected(fn):
    f, c = np.ones((5, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="codebook"):
        fn(f, to_lib(c, "torch"))
    with pytest.raises(ValueError, match="features"):
        fn(to_lib(f, "torch"), c)


def test_bad_options_rejected():
    f, c = np.ones((5, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="chunk_size"):
        nearest_code(f, c, chunk_size=0)
    with pytest.raises(ValueError, match="max_chunk_bytes"):
        nearest_code(f, c, max_chunk_bytes=0)
    with pytest.raises(ValueError, match="engine"):
        nearest_code(f, c, engine="annoy")
    with pytest.raises(ValueError, match="faiss"):
        nearest_code(f, c, engine="faiss")  # float64: faiss is float32-only


def test_faiss_search_restores_its_global_switch():
    before = faiss.cvar.distance_compute_blas_threshold
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 8)).astype(np.float32)
    c = rng.standard_normal((64, 8)).astype(np.float32)
    idx = faiss_search(x, c)
    assert faiss.cvar.distance_compute_blas_threshold == before
    brute = ((x[:, None, :].astype(np.float64) - c[None].astype(np.float64)) ** 2).sum(-1).argmin(1)
    assert (idx == brute).mean() > 0.999
