"""The vqvae figures show the summary: U and Y-PSNR against K per quantizer with the control points,
and the gradient gap of every held-out image."""

from dataclasses import replace

import numpy as np
import pytest

from tests.figures.plotted import assert_series, legend, lines_labelled
from tests.simulations.studies.test_vqvae import _point, _result
from vqmatch.simulations.studies.vqvae import summary as vs


@pytest.fixture(scope="module")
def summary():
    base = _result(0.99, 0.1, 0.97, 0.3).summary
    small = (_point("wasserstein", 0.97, 23.0, k=64), _point("vanilla", 0.6, 22.5, k=64))
    scatter = (vs.GapScatter("vanilla", (0.1, 0.2, 0.4), (0.01, 0.03, 0.05)),
               vs.GapScatter("wasserstein", (0.05, 0.1), (0.004, 0.008)))
    return replace(base, points=small + base.points, gap_scatter=scatter)


def check_k(fig, s) -> None:
    for ax, metric in zip(fig.axes, ("utilization", "psnr_y"), strict=True):
        paper = [p for p in s.points if p.setting == "paper"]
        expected = {}
        for q in sorted({p.quantizer for p in paper}):
            pts = sorted((p for p in paper if p.quantizer == q), key=lambda p: p.codebook_size)
            expected[q] = ([p.codebook_size for p in pts], [getattr(p, metric).value for p in pts])
        assert_series(ax, expected)
        control = lines_labelled(ax, "_control")
        assert {k: (list(x), list(y)) for k, (x, y) in control.items()} == {
            f"_control {p.quantizer}": ([p.codebook_size], [getattr(p, metric).value])
            for p in s.points if p.setting == "control"}
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "codebook size K"
    assert legend(fig.axes[0]) == sorted({p.quantizer for p in s.points})


def check_gap(fig, s) -> None:
    (ax,) = fig.axes
    assert [c.get_label() for c in ax.collections] == [e.quantizer for e in s.gap_scatter]
    for c, e in zip(ax.collections, s.gap_scatter, strict=True):
        np.testing.assert_allclose(c.get_offsets(), np.column_stack([e.distance, e.gap]))
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert f"bound violated on {s.gap.violations} of {s.gap.images}" in ax.get_title()


def test_figures_show_the_summary(summary, tmp_path):
    from vqmatch.figures import vqvae as fig

    drawn = fig.draw(summary)
    assert set(drawn) == {"vqvae_k", "vqvae_gap"}  # one d, one gamma, no reconstructions
    check_k(drawn["vqvae_k"], summary)
    check_gap(drawn["vqvae_gap"], summary)
    # a wrong plot fails: the quantizers' utilizations swapped, a control point moved, the gap
    # of two quantizers swapped
    names = {"vanilla": "wasserstein", "wasserstein": "vanilla"}
    swapped = tuple(replace(p, quantizer=names[p.quantizer]) if p.setting == "paper" else p
                    for p in summary.points)
    with pytest.raises(AssertionError):
        check_k(drawn["vqvae_k"], replace(summary, points=swapped))
    moved = tuple(replace(p, codebook_size=64) if p.setting == "control" else p
                  for p in summary.points)
    with pytest.raises(AssertionError):
        check_k(drawn["vqvae_k"], replace(summary, points=moved))
    a, b = summary.gap_scatter
    with pytest.raises(AssertionError):
        check_gap(drawn["vqvae_gap"],
                  replace(summary, gap_scatter=(replace(a, gap=a.gap[::-1]), b)))
    assert {p.name for p in fig.make(summary, tmp_path)} == {
        "vqvae_k.png", "vqvae_k.pdf", "vqvae_gap.png", "vqvae_gap.pdf"}


def test_no_points_no_figures(summary):
    from vqmatch.figures import vqvae as fig

    assert fig.draw(replace(summary, points=())) == {}
