"""Tests of vqmatch.simulations.engines.kmeans: hand-computed oracles, fixed-point and monotonicity
properties."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._helpers import to_lib, to_numpy
from vqmatch.simulations.engines import kmeans as km
from vqmatch.simulations.engines.kmeans import ConvergenceWarning, KMeansResult, kmeans
from vqmatch.theory.assignment import nearest_code

DTYPES = ["float32", "float64"]


def _blobs(n_per, centers, scale, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=np.float64)
    x = np.concatenate([c + scale * rng.standard_normal((n_per, centers.shape[1])) for c in centers])
    return x[rng.permutation(len(x))].astype(dtype)


def _reference_assignment(x, codebook):
    """Slow, obviously correct nearest centre: the full float64 distance matrix."""
    x, c = np.asarray(x, dtype=np.float64), np.asarray(codebook, dtype=np.float64)
    dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    return dist.argmin(1), dist.min(1), dist


def _fit_quiet(*args, **kwargs) -> KMeansResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return kmeans(*args, **kwargs)


# --- hand-computed oracles -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_separated_pairs_exact(xp_name, dtype):
    """Two pairs: one iteration moves the centres to the pair means, the second confirms."""
    x = to_lib([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]], xp_name, dtype)
    init = to_lib([[0.0, 0.0], [4.0, 0.0]], xp_name, dtype)
    res = kmeans(x, 2, init=init)
    assert type(res.codebook) is type(x) and res.codebook.dtype == x.dtype
    assert type(res.labels) is type(x) and str(res.labels.dtype).endswith("int64")
    np.testing.assert_array_equal(to_numpy(res.codebook), [[0.0, 0.5], [4.0, 0.5]])
    np.testing.assert_array_equal(to_numpy(res.labels), [0, 0, 1, 1])
    assert res.distortion == 0.25
    assert res.n_iter == 2
    assert res.converged
    assert res.inertia_history == [0.25, 0.25]


def test_three_points_1d_exact_history():
    """x = (0, 1, 10), centres (0, 1): centres (0, 5.5), then (0.5, 10), then labels are fixed."""
    res = kmeans(np.array([[0.0], [1.0], [10.0]]), 2, init=np.array([[0.0], [1.0]]))
    np.testing.assert_array_equal(res.codebook, [[0.5], [10.0]])
    np.testing.assert_array_equal(res.labels, [0, 0, 1])
    assert res.n_iter == 3 and res.converged
    np.testing.assert_allclose(res.inertia_history, [21.25 / 3, 0.5 / 3, 0.5 / 3], rtol=1e-15)
    assert res.distortion == pytest.approx(1 / 6, rel=1e-15)


def test_random_init_n_init_finds_the_pairs():
    """Random init may put both centres in one pair; the best of 10 runs does not."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]])
    res = kmeans(x, 2, init="random", n_init=10, seed=3)
    assert res.distortion == 0.25
    assert sorted(map(tuple, res.codebook.tolist())) == [(0.0, 0.5), (4.0, 0.5)]


def test_empty_cluster_relocated_to_farthest_point(xp_name):
    """Centre 100 gets no point: it moves onto 12, the point farthest from its centre (10)."""
    x = to_lib([[0.0], [1.0], [10.0], [12.0]], xp_name)
    res = kmeans(x, 3, init=to_lib([[0.0], [10.0], [100.0]], xp_name))
    np.testing.assert_array_equal(to_numpy(res.codebook), [[0.5], [10.0], [12.0]])
    np.testing.assert_array_equal(to_numpy(res.labels), [0, 0, 1, 2])
    assert res.distortion == 0.125
    assert res.n_iter == 2 and res.converged


@pytest.mark.parametrize("dtype", DTYPES)
def test_far_centres_are_relocated_and_used(xp_name, dtype):
    """Several centres far from all data: every cluster ends up non-empty, no warning."""
    x_np = _blobs(100, [[0, 0], [5, 0], [0, 5]], 0.5, seed=1)
    init = np.concatenate([x_np[:3], np.full((3, 2), 1e3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = kmeans(to_lib(x_np, xp_name, dtype), 6, init=to_lib(init, xp_name, dtype))
    counts = np.bincount(to_numpy(res.labels), minlength=6)
    assert (counts > 0).all()
    assert np.abs(to_numpy(res.codebook)).max() < 20


def test_duplicate_points_warn_fewer_distinct_centres():
    x = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match="distinct centres"):
        res = kmeans(x, 3, seed=0)
    assert res.distortion == 0.0


def test_verbose_reports_every_iteration(capsys):
    kmeans(np.array([[0.0], [1.0], [10.0]]), 2, init=np.array([[0.0], [1.0]]), verbose=True)
    out = capsys.readouterr().out
    assert "iteration 1: distortion" in out and "iteration 3" in out and "labels unchanged" in out


def test_max_iter_reached_warns():
    x = _blobs(200, [[0, 0], [3, 0]], 1.0, seed=2)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        res = kmeans(x, 5, max_iter=1, seed=0)
    assert res.n_iter == 1 and not res.converged and len(res.inertia_history) == 1


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 60),
    d=st.integers(1, 3),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    rounded=st.booleans(),
    init=st.sampled_from(["k-means++", "random"]),
)
def test_inertia_non_increasing(n, d, k, seed, rounded, init):
    """Neither Lloyd step (nor an empty-cluster relocation) can increase the distortion."""
    k = min(k, n)
    x = np.random.default_rng(seed).standard_normal((n, d))
    if rounded:  # many duplicates and ties
        x = np.round(x)
    res = _fit_quiet(x, k, seed=seed, tol=0.0, max_iter=30, init=init)
    hist = np.array(res.inertia_history)
    assert len(hist) == res.n_iter
    assert np.all(np.diff(hist) <= 1e-12 * (1 + hist[:-1]))
    assert hist[-1] == res.distortion
    _, ref_sq, _ = _reference_assignment(x, res.codebook)
    np.testing.assert_allclose(res.distortion, ref_sq.mean(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_result_is_a_fixed_point(xp_name, dtype):
    """Converged: every sample at its nearest centre, every centre the mean of its cluster."""
    x_np = _blobs(300, [[0, 0, 0], [4, 0, 0], [0, 4, 1], [3, 3, 3]], 1.0, seed=4, dtype=dtype)
    res = kmeans(to_lib(x_np, xp_name, dtype), 7, seed=5, tol=0.0)
    assert res.converged
    labels, codebook = to_numpy(res.labels), to_numpy(res.codebook)
    ref_labels, ref_sq, dist = _reference_assignment(x_np, codebook)
    own = dist[np.arange(len(x_np)), labels]
    np.testing.assert_allclose(own, ref_sq, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    assert (labels == ref_labels).mean() > 0.999  # exact up to float32 near-ties
    means = np.stack([x_np[labels == j].astype(np.float64).mean(0) for j in range(7)])
    np.testing.assert_allclose(codebook, means, rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(res.distortion, ref_sq.mean(), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_labels_are_nearest_code_of_returned_codebook(dtype):
    x = _blobs(500, [[0, 0], [2, 2]], 1.0, seed=6, dtype=dtype) + 100.0  # far from the origin
    res = _fit_quiet(x, 9, seed=1, max_iter=5)
    found = nearest_code(x, res.codebook)
    np.testing.assert_array_equal(res.labels, found.indices)
    assert res.distortion == float(found.sq_dist.mean(dtype=np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_and_torch_agree(dtype):
    import torch  # noqa: F401
    x_np = _blobs(400, [[0, 0], [3, 1], [1, 4]], 0.8, seed=7, dtype=dtype)
    a = kmeans(x_np, 5, seed=11, tol=0.0)
    b = kmeans(to_lib(x_np, "torch", dtype), 5, seed=11, tol=0.0)
    np.testing.assert_array_equal(a.labels, to_numpy(b.labels))
    np.testing.assert_allclose(a.codebook, to_numpy(b.codebook), rtol=1e-6, atol=1e-6)
    assert a.n_iter == b.n_iter
    np.testing.assert_allclose(a.distortion, b.distortion, rtol=1e-6)


def test_same_seed_same_result(xp_name):
    x = to_lib(_blobs(300, [[0, 0], [3, 0], [0, 3]], 1.0, seed=8), xp_name)
    a = kmeans(x, 6, seed=123, n_init=2)
    b = kmeans(x, 6, seed=123, n_init=2)
    np.testing.assert_array_equal(to_numpy(a.codebook), to_numpy(b.codebook))
    np.testing.assert_array_equal(to_numpy(a.labels), to_numpy(b.labels))
    assert a.inertia_history == b.inertia_history
    gen = kmeans(x, 6, seed=np.random.default_rng(123))
    assert gen.codebook.shape == (6, 2)


def test_more_restarts_never_worse():
    """Run 0 of n_init=4 is the run of n_init=1, so the best of 4 is at least as good."""
    x = _blobs(200, [[0, 0], [3, 0], [0, 3], [3, 3]], 1.2, seed=9)
    one = kmeans(x, 8, seed=5, init="random")
    four = kmeans(x, 8, seed=5, init="random", n_init=4)
    assert four.distortion <= one.distortion


def test_kmeans_plusplus_separates_blobs():
    """Ten tight, far-apart blobs: k-means++ puts one centre in each."""
    centers = 20.0 * np.random.default_rng(0).standard_normal((10, 3))
    x = _blobs(50, centers, 0.1, seed=10)
    res = kmeans(x, 10, seed=0)
    assert res.distortion < 0.05
    assert len(np.unique(res.labels)) == 10


def test_kmeans_plusplus_on_a_subsample(monkeypatch):
    """With a small subsample size the seeding path that subsamples is used, and still works."""
    monkeypatch.setattr(km, "KMEANSPP_MIN_SAMPLES", 30)
    monkeypatch.setattr(km, "KMEANSPP_SAMPLES_PER_CLUSTER", 3)
    centers = 20.0 * np.random.default_rng(1).standard_normal((8, 2))
    x = _blobs(100, centers, 0.1, seed=11)
    res = kmeans(x, 8, seed=2, n_init=3)
    assert res.distortion < 0.05


@pytest.mark.parametrize("rows", [7, 1000])
def test_cluster_sums_numpy_and_torch_match_bincount(rows):
    """Both update kernels equal per-column bincount sums (float64), chunked or not."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal((500, 3)).astype(np.float32)
    labels = rng.integers(0, 9, 500)
    labels[labels == 4] = 5  # an empty cluster
    ref = np.stack([np.bincount(labels, weights=x[:, j], minlength=9) for j in range(3)], 1)
    sums, counts = km._cluster_sums_numpy(x, labels, 9, rows)
    np.testing.assert_allclose(sums, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=9))
    import torch
    sums_t, counts_t = km._cluster_sums_torch(torch.from_numpy(x), torch.from_numpy(labels), 9, rows)
    np.testing.assert_allclose(sums_t, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(counts_t, counts)


def test_device_path_matches_host_path():
    """The torch-only engine path (used for GPU tensors) gives the host path's run, relocation
    included; exercised on CPU by switching the engine off the host path."""
    import torch
    x_np = _blobs(200, [[0, 0], [4, 0]], 0.7, seed=15)
    init = np.concatenate([x_np[:3], np.full((2, 2), 50.0)])  # two empty clusters at first
    runs = []
    for host in (True, False):
        engine = km.LloydEngine(km.namespace(torch.zeros(1)), torch.from_numpy(x_np), 5, None)
        if not host:
            engine.host, engine.x_host = False, None
        runs.append(km._lloyd(engine, init.copy(), 100, 0.0, False))
        assert engine.initial_centers("k-means++", np.random.default_rng(0)).shape == (5, 2)
    (c_host, n_host, conv_host, _), (c_dev, n_dev, conv_dev, _) = runs
    np.testing.assert_allclose(c_dev, c_host, rtol=1e-12, atol=1e-12)
    assert n_dev == n_host and conv_dev and conv_host


def _naive_greedy_kmeans_plusplus(x, k, rng):
    """Plain greedy k-means++: every candidate scored against every point."""
    trials = 2 + int(np.log(k))
    seeds = [int(rng.integers(len(x)))]
    closest = ((x - x[seeds[0]]) ** 2).sum(1)
    for _ in range(1, k):
        cum = np.cumsum(closest)
        u = rng.random(trials) * cum[-1]
        cand = np.minimum(np.searchsorted(cum, u, side="right"), len(x) - 1)
        pots = [np.minimum(closest, ((x - x[c]) ** 2).sum(1)).sum() for c in cand]
        best = cand[int(np.argmin(pots))]
        seeds.append(int(best))
        closest = np.minimum(closest, ((x - x[best]) ** 2).sum(1))
    return np.array(seeds)


@pytest.mark.parametrize(("d", "dtype"), [(1, "float64"), (3, "float64"), (6, "float32")])
@pytest.mark.parametrize("n_cells", [1, 7, 40])
def test_pruned_kmeans_plusplus_matches_naive_reference(d, dtype, n_cells):
    """Cell pruning and two-level sampling pick exactly the seeds of the plain greedy loop."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((600, d))
    rank = np.argsort(np.argsort(x[:, 0]))
    cell = rng.integers(0, n_cells, len(x)) if n_cells < 40 else rank // 15  # random / slabs
    x = x[np.argsort(cell, kind="stable")]  # rows grouped by (arbitrary) cells
    starts = np.concatenate([[0], np.cumsum(np.bincount(cell)[np.bincount(cell) > 0])])
    fast = km._greedy_seeds(x.astype(dtype), starts, 25, np.random.default_rng(0))
    naive = _naive_greedy_kmeans_plusplus(x, 25, np.random.default_rng(0))
    np.testing.assert_array_equal(fast, naive)


def test_kmeans_plusplus_seeds_are_distinct_sample_points():
    x = np.random.default_rng(13).standard_normal((3000, 2))
    seeds = km._kmeans_plusplus(x, 50, np.random.default_rng(1))
    assert len(np.unique(seeds)) == 50 and seeds.min() >= 0 and seeds.max() < 3000


# --- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clusters": 5}, r"n_samples=4 should be >= n_clusters=5"),
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 2.0}, "n_clusters"),
        ({"n_clusters": 2, "init": np.zeros((3, 2))}, r"init should have shape"),
        ({"n_clusters": 2, "init": np.zeros((2, 3))}, r"init should have shape"),
        ({"n_clusters": 2, "init": "kmeans++"}, "init"),
        ({"n_clusters": 2, "max_iter": 0}, "max_iter"),
        ({"n_clusters": 2, "n_init": 0}, "n_init"),
        ({"n_clusters": 2, "tol": -1.0}, "tol"),
        ({"n_clusters": 2, "chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    x = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=match):
        kmeans(x, **kwargs)


def test_bad_data_raise():
    with pytest.raises(ValueError, match="x contains NaN"):
        kmeans(np.array([[0.0], [np.nan], [1.0]]), 2)
    with pytest.raises(ValueError, match="x must be a 2-D"):
        kmeans(np.arange(5.0), 2)
    with pytest.raises(ValueError, match="x must be float32 or float64"):
        kmeans(np.zeros((4, 2), dtype=np.float16), 2)
    with pytest.raises(ValueError, match="init contains NaN"):
        kmeans(np.arange(8.0).reshape(4, 2), 1, init=np.array([[np.nan, 0.0]]))


def test_mixed_libraries_raise():
    import torch
    with pytest.raises(ValueError, match="init"):
        kmeans(torch.zeros(4, 2), 1, init=np.zeros((1, 2)))


def test_explicit_init_with_n_init_warns_and_runs_once():
    x = np.array([[0.0], [1.0], [10.0]])
    with pytest.warns(UserWarning, match="n_init=3"):
        res = kmeans(x, 2, init=np.array([[0.0], [1.0]]), n_init=3)
    assert res.n_iter == 3


# --- the Lloyd-Max quantizer of N(0, 1) ----------------------------------------------------


def test_recovers_lloyd_max_levels_of_unit_gaussian():
    """8-level Lloyd-Max quantizer of N(0,1): levels +-0.2451, 0.7560, 1.344, 2.152, MSE 0.03454."""
    x = np.random.default_rng(2025).standard_normal((200_000, 1)).astype(np.float32)
    res = kmeans(x, 8, seed=0, tol=1e-9, max_iter=1000)
    assert res.converged
    levels = np.sort(res.codebook[:, 0].astype(np.float64))
    expected = np.array([0.2451, 0.7560, 1.344, 2.152])
    np.testing.assert_allclose(levels, np.concatenate([-expected[::-1], expected]), atol=0.02)
    assert res.distortion == pytest.approx(0.03454, rel=0.02)
