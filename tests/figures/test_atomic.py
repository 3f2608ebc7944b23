"""The atomic figures show the summary: the four panels per source (with the authors' values), the
training curves at the largest shift and the density targets' effects."""

from dataclasses import replace

import numpy as np
import pytest

from tests.figures.plotted import assert_series, legend
from tests.simulations.studies.test_atomic import _paper_like, _synthetic

PANELS = (("error", "log"), ("utilization", "linear"), ("perplexity", "log"), ("w2", "log"))


@pytest.fixture(scope="module")
def summary():
    return _synthetic(_paper_like(None), density={"wasserstein": lambda d: 1.0,
                                                  "density_wasserstein": lambda d: 0.95,
                                                  "density_finite_k": lambda d: 0.97}).summary


def check_panels(fig, s) -> None:
    quantizers = sorted({e.quantizer for e in s.final})
    sources = [src for src in ("gaussian", "uniform") if any(e.source == src for e in s.final)]
    assert len(fig.axes) == 4 * len(sources)
    for row, source in enumerate(sources):
        for col, (metric, scale) in enumerate(PANELS):
            ax = fig.axes[4 * row + col]
            mine = [e for e in s.final if e.source == source]
            assert_series(ax, {q: ([e.shift for e in mine if e.quantizer == q],
                                   [getattr(e, metric).value for e in mine if e.quantizer == q])
                               for q in quantizers})
            assert ax.get_yscale() == scale and ax.get_xlabel().startswith("shift")
            crosses = {(tuple(ln.get_xdata()), tuple(ln.get_ydata())) for ln in ax.lines
                       if ln.get_marker() == "x"}
            authors = {(tuple(a.shift for a in s.authors_comparison
                              if a.quantizer == q and a.source == source),
                        tuple(getattr(a, f"authors_{metric}") for a in s.authors_comparison
                              if a.quantizer == q and a.source == source))
                       for q in quantizers} if metric in ("error", "utilization") else set()
            assert crosses == {c for c in authors if c[0]}
    assert legend(fig.axes[3]) == quantizers


def check_curves(fig, s) -> None:
    ax_u, ax_e = fig.axes
    top = max(c.shift for c in s.curves)
    for ax, metric in ((ax_u, "utilization"), (ax_e, "error")):
        assert_series(ax, {c.quantizer: (c.step, getattr(c, metric)) for c in s.curves
                           if c.shift == top})
    assert ax_e.get_yscale() == "log" and ax_u.get_xlabel() == "training step"


def check_density(fig, s) -> None:
    (ax,) = fig.axes
    assert_series(ax, {t: ([r.d for r in s.density if r.target == t],
                           [100 * r.relative.value for r in s.density if r.target == t])
                       for t in {r.target for r in s.density}})
    assert "E(adjusted) / E(exact) - 1" in ax.get_ylabel()


def test_figures_show_the_summary(summary, tmp_path):
    from vqmatch.figures import atomic as fig

    drawn = fig.draw(summary)
    assert set(drawn) == {"atomic", "atomic_curves", "atomic_density"}
    check_panels(drawn["atomic"], summary)
    check_curves(drawn["atomic_curves"], summary)
    check_density(drawn["atomic_density"], summary)
    # a wrong plot fails: utilization of one quantizer off, curves of two quantizers swapped,
    # a density target's effect with the wrong sign
    off = tuple(replace(e, utilization=replace(e.utilization, value=e.utilization.value + 0.1))
                if e.quantizer == "ema" else e for e in summary.final)
    with pytest.raises(AssertionError):
        check_panels(drawn["atomic"], replace(summary, final=off))
    names = {"vanilla": "wasserstein", "wasserstein": "vanilla"}
    swapped = tuple(replace(c, quantizer=names.get(c.quantizer, c.quantizer))
                    for c in summary.curves)
    with pytest.raises(AssertionError):
        check_curves(drawn["atomic_curves"], replace(summary, curves=swapped))
    flipped = tuple(replace(r, relative=r.relative.divided_by(-1.0)) for r in summary.density)
    with pytest.raises(AssertionError):
        check_density(drawn["atomic_density"], replace(summary, density=flipped))
    assert np.isfinite([r.relative.value for r in summary.density]).all()
    paths = fig.make(summary, tmp_path)
    assert {p.name for p in paths} >= {"atomic.png", "atomic.pdf", "atomic_curves.png",
                                       "atomic_density.png"}


def test_no_density_figure_without_density_runs(summary):
    from vqmatch.figures import atomic as fig

    assert set(fig.draw(replace(summary, density=()))) == {"atomic", "atomic_curves"}
