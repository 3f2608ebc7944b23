"""The prior figures show the summary: bits per image against distortion with one point per seed
and quantizer, the Fréchet distance per quantizer and K with the reconstructions' floor, and the
decoded samples of each quantizer."""

from dataclasses import replace

import numpy as np
import pytest

from tests.figures.plotted import assert_series, legend
from vqmatch.simulations.core.stats import Estimate
from vqmatch.simulations.studies.prior import summary as ps


def _est(v, n=3):
    return Estimate(v, v - 0.1 * v, v + 0.2 * v, 0.05 * v, n - 1, n)


def _point(q, k, bits, dist, fd, samples_file=None):
    per = tuple((r, bits + r, dist * (1 + 0.1 * r), fd + 2 * r) for r in range(3))
    metrics = dict.fromkeys(ps.METRICS)
    metrics.update(frechet=_est(fd + 2), recon_frechet=_est(fd / 4), bits_per_image=_est(bits + 1),
                   distortion=_est(dist))
    return ps.PriorPoint(q, k, 8, "builtin", (0, 1, 2), float(np.log2(k)), 64, **metrics,
                         per_replicate=per, samples_file=samples_file)


@pytest.fixture
def summary():
    points = (_point("vanilla", 1024, 300.0, 0.05, 40.0), _point("wasserstein", 1024, 420.0, 0.03, 20.0),
              _point("vanilla", 4096, 310.0, 0.06, 45.0), _point("wasserstein", 4096, 520.0, 0.02, 15.0))
    return ps.PriorSummary("quick", "tiny", 256, 1.0, None, points, (), None)


def check_rd(fig, s):
    sizes = sorted({p.codebook_size for p in s.points})
    axes = [ax for ax in fig.axes]
    assert len(axes) == len(sizes)
    for ax, k in zip(axes, sizes, strict=True):
        assert_series(ax, {p.quantizer: ([r[2] for r in p.per_replicate],
                                         [r[1] for r in p.per_replicate])
                           for p in s.points if p.codebook_size == k})
        assert f"K = {k}" in ax.get_title()
        assert "distortion" in ax.get_xlabel() and "bits / image" in ax.get_ylabel()
        assert legend(ax) == sorted(p.quantizer for p in s.points if p.codebook_size == k)


def check_fd(fig, s):
    (ax,) = fig.axes
    quantizers = sorted({p.quantizer for p in s.points})
    assert [t.get_text() for t in ax.get_xticklabels()] == quantizers
    sizes = sorted({p.codebook_size for p in s.points})
    expected = {}
    for j, k in enumerate(sizes):
        shift = 0.12 * (j - (len(sizes) - 1) / 2)
        pts = sorted((p for p in s.points if p.codebook_size == k),
                     key=lambda p: quantizers.index(p.quantizer))
        x = [quantizers.index(p.quantizer) + shift for p in pts]
        expected[f"samples, K = {k}"] = (x, [p.frechet.value for p in pts])
        expected[f"reconstructions, K = {k}"] = (x, [p.recon_frechet.value for p in pts])
    assert_series(ax, expected)
    assert "Fréchet" in ax.get_ylabel()


def test_figures_show_the_summary(summary):
    from vqmatch.figures import prior as fig

    drawn = fig.draw(summary)
    assert set(drawn) == {"prior_rd", "prior_fd"}  # no results folder: no samples
    check_rd(drawn["prior_rd"], summary)
    check_fd(drawn["prior_fd"], summary)
    # a wrong plot fails: the quantizers' seeds swapped, the Fréchet distances moved
    names = {"vanilla": "wasserstein", "wasserstein": "vanilla"}
    swapped = tuple(replace(p, quantizer=names[p.quantizer]) for p in summary.points)
    with pytest.raises(AssertionError):
        check_rd(drawn["prior_rd"], replace(summary, points=swapped))
    moved = tuple(replace(p, frechet=_est(p.frechet.value + 1)) for p in summary.points)
    with pytest.raises(AssertionError):
        check_fd(drawn["prior_fd"], replace(summary, points=moved))
    shuffled = tuple(replace(p, per_replicate=p.per_replicate[::-1][:2]) for p in summary.points)
    with pytest.raises(AssertionError):
        check_rd(drawn["prior_rd"], replace(summary, points=shuffled))


def test_the_samples_figure_shows_the_saved_samples(summary, tmp_path):
    from vqmatch.figures import prior as fig

    rng = np.random.default_rng(0)
    saved = {}
    points = []
    for p in summary.points:
        if p.codebook_size == 4096:
            images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
            name = f"scratch/{p.quantizer}/samples.npz"
            (tmp_path / name).parent.mkdir(parents=True)
            np.savez_compressed(tmp_path / name, samples=images)
            saved[p.quantizer] = images
            p = replace(p, samples_file=name)
        points.append(p)
    s = replace(summary, points=tuple(points))
    drawn = fig.draw(s, tmp_path)
    f = drawn["prior_samples"]
    assert "K = 4096" in f._suptitle.get_text()
    rows = [f.axes[i * 3:(i + 1) * 3] for i in range(2)]
    for row, q in zip(rows, sorted(saved), strict=True):
        assert row[0].get_ylabel() == q
        for ax, image in zip(row, saved[q], strict=True):
            np.testing.assert_array_equal(ax.images[0].get_array(), image)
    # a wrong plot fails: the other quantizer's samples are not these
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(rows[0][0].images[0].get_array(), saved["wasserstein"][0])


def test_make_writes_the_figures(summary, tmp_path):
    from vqmatch.figures import prior as fig

    paths = fig.make(summary, tmp_path)
    assert {p.name for p in paths} == {"prior_rd.png", "prior_rd.pdf", "prior_fd.png",
                                       "prior_fd.pdf"}
    assert all(p.stat().st_size > 0 for p in paths)
