"""The w2 figure shows the summary: per dimension the mean |error| of every estimator against n
(log-log), the wall times and the surrogate's gap against the separation."""

from dataclasses import replace

import numpy as np
import pytest

from tests.figures.plotted import assert_series, lines_labelled, series
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.studies import w2
from vqmatch.simulations.studies.w2.config import W2Config

LABELS = {"closed_form_emp": "closed form (sample moments)", "exact_ot": "exact OT (POT emd2)",
          "sliced": "sqrt(d) x sliced (L directions)", "max_sliced": "max-sliced"}


@pytest.fixture(scope="module")
def summary():
    cfg = W2Config(dims=(1, 2), sizes=(30, 60, 120), ot_max_n=120, replicates=2,
                   pairs=("gauss_shift", "gauss_same"), n_projections=10,
                   sliced_truth_directions=500, gap_separations=(0.5, 1.5), misrank_dims=(1,),
                   misrank_n=50, misrank_replicates=2, translation_n=20, translation_replicates=2)
    return run_study(w2.STUDY, cfg, seed=0, out_dir=None, progress=False).summary


def _errors(s, pair, est, d):
    rows = sorted((e for e in s.errors if (e.pair, e.estimator, e.d) == (pair, est, d)),
                  key=lambda e: e.n)
    return [e.n for e in rows], [e.abs_error.value for e in rows]


def check(fig, s) -> None:
    dims = sorted({e.d for e in s.errors})
    *error_axes, ax_time, ax_gap = fig.axes
    assert len(error_axes) == len(dims)
    for ax, d in zip(error_axes, dims, strict=True):
        expected = {LABELS[est]: _errors(s, "gauss_shift", est, d) for est in LABELS
                    if _errors(s, "gauss_shift", est, d)[0]}
        expected["exact OT, one law twice"] = _errors(s, "gauss_same", "exact_ot", d)
        n, m = _errors(s, "gauss_shift", "closed_form_emp", d)
        expected["n^(-1/2)"] = (n, m[0] * (np.asarray(n) / n[0]) ** -0.5)
        assert_series(ax, expected)
        assert ax.get_title() == f"d = {d}" and ax.get_xscale() == ax.get_yscale() == "log"
    timing = lines_labelled(ax_time, "_")
    assert set(timing) == {f"_{t.estimator} d={t.d}" for t in s.timing}
    for t in s.timing:
        np.testing.assert_allclose(timing[f"_{t.estimator} d={t.d}"][1], t.seconds)
    gap = {}
    for shift in sorted({g.shift for g in s.gap}):
        g = sorted((x for x in s.gap if x.shift == shift), key=lambda x: x.separation)
        z = [x.separation for x in g]
        gap[f"true W2 / sqrt(d), shift {shift:g}"] = (z, [x.truth_w2_per_sqrt_d for x in g])
        gap[f"Gaussian closed form, shift {shift:g}"] = (z, [x.closed_form_per_sqrt_d for x in g])
    assert_series(ax_gap, gap)
    assert "separation z" in ax_gap.get_xlabel()


def test_figure_shows_the_summary(summary, tmp_path):
    from vqmatch.figures import w2 as fig

    drawn = fig.draw(summary)
    assert set(drawn) == {"w2_comparison"}
    check(drawn["w2_comparison"], summary)
    assert len(series(drawn["w2_comparison"].axes[0])) == 6
    # a wrong plot fails: exact OT's errors in place of the closed form's, or the gap curves of
    # the true W2 and the closed form swapped
    swapped = tuple(replace(e, estimator={"exact_ot": "closed_form_emp",
                                          "closed_form_emp": "exact_ot"}.get(e.estimator,
                                                                             e.estimator))
                    for e in summary.errors)
    with pytest.raises(AssertionError):
        check(drawn["w2_comparison"], replace(summary, errors=swapped))
    gap = tuple(replace(g, truth_w2_per_sqrt_d=g.closed_form_per_sqrt_d,
                        closed_form_per_sqrt_d=g.truth_w2_per_sqrt_d) for g in summary.gap)
    with pytest.raises(AssertionError):
        check(drawn["w2_comparison"], replace(summary, gap=gap))
    paths = fig.make(summary, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
