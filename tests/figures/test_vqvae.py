"""The vqvae figures show the summary: U, E and Y-PSNR against K per quantizer with the control
points, the training curves at the largest K, the latent-space picture of every quantizer, and the
gradient gap of every held-out image."""

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
    curves = tuple(vs.VQVAECurve(q, 1024, 8, "builtin", None, None, None, "paper", (100, 200, 300),
                                 u, e, (20.0, 21.0, 22.0), (0.03, 0.02, 0.01))
                   for q, u, e in (("vanilla", (0.05, 0.08, 0.1), (0.2, 0.1, 0.05)),
                                   ("wasserstein", (0.6, 0.9, 0.99), (0.1, 0.04, 0.02))))
    return replace(base, points=small + base.points, gap_scatter=scatter, curves=curves)


def check_k(fig, s) -> None:
    for ax, metric in zip(fig.axes, ("utilization", "error", "psnr_y"), strict=True):
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
        assert ax.get_yscale() == ("log" if metric == "error" else "linear")
    assert legend(fig.axes[0]) == sorted({p.quantizer for p in s.points})


def check_curves(fig, s) -> None:
    for ax, metric in zip(fig.axes, ("utilization", "error"), strict=True):
        assert_series(ax, {c.quantizer: (c.step, getattr(c, metric)) for c in s.curves})
        assert ax.get_xlabel() == "training step"
    assert fig.axes[1].get_yscale() == "log"
    assert f"K = {s.largest_codebook_size}" in fig._suptitle.get_text()


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
    # one d, one gamma, no results folder (no reconstructions, no latent picture)
    assert set(drawn) == {"vqvae_k", "vqvae_curves", "vqvae_gap"}
    check_k(drawn["vqvae_k"], summary)
    check_curves(drawn["vqvae_curves"], summary)
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
    a, b = summary.curves
    with pytest.raises(AssertionError):
        check_curves(drawn["vqvae_curves"], replace(summary, curves=(replace(a, error=b.error), b)))
    a, b = summary.gap_scatter
    with pytest.raises(AssertionError):
        check_gap(drawn["vqvae_gap"],
                  replace(summary, gap_scatter=(replace(a, gap=a.gap[::-1]), b)))
    assert {p.name for p in fig.make(summary, tmp_path)} == {
        f"{name}.{ext}" for name in ("vqvae_k", "vqvae_curves", "vqvae_gap") for ext in ("png", "pdf")}


def test_latent_figure_shows_the_saved_points(summary, tmp_path):
    """One panel per quantizer with a latent file: grey features, codes in use coloured by usage,
    unused codes as crosses, the file's W2 and the used fraction in the title."""
    from vqmatch.figures import vqvae as fig

    rng = np.random.default_rng(0)
    files = {}
    for q in ("vanilla", "wasserstein"):
        counts = np.array([0, 3, 0, 10, 1]) if q == "vanilla" else np.array([2, 3, 4, 10, 1])
        files[q] = dict(features=rng.normal(size=(50, 2)), codes=rng.normal(size=(5, 2)),
                        counts=counts, w2=np.float64(0.25 if q == "vanilla" else 0.05))
        np.savez(tmp_path / f"{q}.npz", **files[q])
    points = tuple(replace(p, latent_file=f"{p.quantizer}.npz")
                   if p.codebook_size == 1024 and p.setting == "paper" else p
                   for p in summary.points)
    drawn = fig.draw(replace(summary, points=points), tmp_path)
    axes = [ax for ax in drawn["vqvae_latent"].axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 2
    for ax, q in zip(axes, ("vanilla", "wasserstein"), strict=True):
        f = files[q]
        used = f["counts"] > 0
        feats, in_use, unused = ax.collections
        np.testing.assert_allclose(feats.get_offsets(), f["features"])
        np.testing.assert_allclose(in_use.get_offsets(), f["codes"][used])
        np.testing.assert_allclose(in_use.get_array(), np.log10(f["counts"][used]))
        assert len(unused.get_offsets()) == (~used).sum()
        assert ax.get_title() == f"{q}: W2 = {float(f['w2']):.3g}, U = {used.mean():.3f}"
    # a missing file: no panel
    (tmp_path / "vanilla.npz").unlink()
    drawn = fig.draw(replace(summary, points=points), tmp_path)
    assert len([ax for ax in drawn["vqvae_latent"].axes if ax.get_label() != "<colorbar>"]) == 1


def test_no_points_no_figures(summary):
    from vqmatch.figures import vqvae as fig

    assert fig.draw(replace(summary, points=())) == {}
