"""The density figure shows the summary: the exponents against d with the candidate curves, the
Lloyd-Max levels as a density, and the random codebooks' E(s^2) curves."""

import json
from dataclasses import replace

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from tests.figures.plotted import assert_series, series
from tests.simulations.studies.test_density import TINY
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.studies import density
from vqmatch.simulations.studies.density.summary import DensitySummary

JITTER = {"gaussian": -0.09, "laplace": -0.03, "student_t": 0.03, "bimodal": 0.09}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("density")
    return out, run_study(density.STUDY, TINY, seed=11, out_dir=out, progress=False)


def check(fig, s) -> None:
    ax_a, ax_b, ax_c = fig.axes
    # (a) the three candidate curves and one point per (part, d, source) at its largest K
    curves = series(ax_a)
    d = curves["classical d/(d+2)"][0]
    np.testing.assert_allclose(curves["classical d/(d+2)"][1], d / (d + 2))
    np.testing.assert_allclose(curves["paper (d+2)/d"][1], (d + 2) / d)
    largest = {}
    for e in s.estimates:
        key = (e.part, e.d, e.source)
        if key not in largest or e.codebook_size > largest[key].codebook_size:
            largest[key] = e
    points = sorted((float(c.lines[0].get_xdata()[0]), float(c.lines[0].get_ydata()[0]))
                    for c in ax_a.containers if isinstance(c, ErrorbarContainer))
    expected = sorted((e.d + JITTER[e.source], e.exponent.value) for e in largest.values())
    np.testing.assert_allclose(np.array(points), np.array(expected), rtol=1e-12)
    # (b) the unit Gaussian's Lloyd-Max levels of the largest K as a normalised histogram
    k = max(s.gaussian_levels)
    heights = np.array([p.get_height() for p in ax_b.patches])
    widths = np.array([p.get_width() for p in ax_b.patches])
    assert (heights * widths).sum() == pytest.approx(1.0)
    left = min(p.get_x() for p in ax_b.patches)
    assert left == pytest.approx(min(s.gaussian_levels[k]))
    assert f"Lloyd-Max levels, K={k}" in ax_b.get_legend_handles_labels()[1]
    # (c) E(s^2) / E(1) per d, log-log
    assert_series(ax_c, {f"d={r.d}": (r.curve_scale2,
                                      np.asarray(r.curve_distortion) / r.distortion_matched)
                         for r in s.random_codebook})
    assert ax_c.get_xscale() == ax_c.get_yscale() == "log"


def test_figure_from_the_results_folder(run):
    from vqmatch.figures import density as fig
    from vqmatch.figures import make_figures

    out, res = run
    stored = json.loads((out / "results" / "density" / "summary.json").read_text())
    assert DensitySummary.from_json(stored["summary"]) == res.summary
    made = make_figures(out, studies=["density"])
    assert [p.suffix for p in made["density"]] == [".png", ".pdf"]
    figure = fig.draw(res.summary)["optimal_density"]
    check(figure, res.summary)
    # a wrong plot fails: another K's levels, or the curves of two dimensions swapped
    small = replace(res.summary, gaussian_levels={k: v for k, v in res.summary.gaussian_levels.items()
                                                  if k < max(res.summary.gaussian_levels)})
    with pytest.raises(AssertionError):
        check(figure, small)
    r0, r1 = res.summary.random_codebook
    swapped = (replace(r0, curve_distortion=r1.curve_distortion),
               replace(r1, curve_distortion=r0.curve_distortion))
    with pytest.raises(AssertionError):
        check(figure, replace(res.summary, random_codebook=swapped))
