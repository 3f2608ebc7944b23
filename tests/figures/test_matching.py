"""The matching figures show the summary of every part present: Theorem 1 against K, the Figure 3
disks, the App. F sweeps, the App. G scale factors and the expected utilization."""

from dataclasses import replace

import numpy as np
import pytest

from tests.figures.plotted import assert_series, series
from tests.simulations.studies.test_matching import TINY
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.studies import matching

CRITERIA = ("error_mse", "utilization", "perplexity")


@pytest.fixture(scope="module")
def summary():
    return run_study(matching.STUDY, TINY, seed=5, out_dir=None, progress=False).summary


def check_theorem1(fig, s) -> None:
    ax_sup, ax_lim, ax_u = fig.axes
    for ax, key in ((ax_sup, "sup_high"), (ax_lim, "utilization_limit"),
                    (ax_u, "utilization")):
        expected = {c.case: ([p.codebook_size for p in c.per_k],
                             [getattr(p, key).value for p in c.per_k]) for c in s.cases}
        assert_series(ax, expected, only=ax is not ax_sup)  # ax_sup also has the K guide
        assert ax.get_xscale() == "log"
    assert ax_sup.get_yscale() == "log" and "~ sqrt(log K / K)" in series(ax_sup)


def check_fig3(fig, s) -> None:
    labels = [lab for lab in "abcdefgh" if s.panel(lab) is not None]
    scatter = {sc.label: sc for sc in s.scatter}
    for ax, lab in zip(fig.axes, labels, strict=False):
        c = s.panel(lab)
        assert ax.get_title().startswith(f"({lab}) ours: E_rms {c.error_rms.value:.3f}, "
                                         f"E {c.error_mse.value:.3f}")
        features, codes = ax.collections
        np.testing.assert_allclose(features.get_offsets(), scatter[lab].features)
        np.testing.assert_allclose(codes.get_offsets(), scatter[lab].codes)


def check_appf(drawn, s) -> None:
    xkeys = {"K": "codebook_size", "d": "d", "N": "n_features"}
    for family in sorted({p.family for p in s.points}):
        for kind in ("shift", "scale"):
            fig = drawn[f"matching_appf_{family}_{kind}"]
            axes = np.asarray(fig.axes).reshape(3, 3)
            for j, (axis, pts) in enumerate(s.sweeps.items()):
                sel = sorted((p for p in s.points if p.family == family and p.kind == kind
                              and (p.codebook_size, p.d, p.n_features) in pts),
                             key=lambda p: getattr(p, xkeys[axis]))
                for i, c in enumerate(CRITERIA):
                    expected = {f"{v.value:g}": ([getattr(p, xkeys[axis]) for p in sel],
                                                 [getattr(next(e for e in p.values
                                                               if e.value == v.value), c).value
                                                  for p in sel])
                                for v in sel[0].values}
                    assert_series(axes[i, j], expected)
                    assert axes[i, j].get_xlabel() == axis
                    assert axes[i, j].get_yscale() == ("linear" if c == "utilization" else "log")


def check_appg(fig, s) -> None:
    for ax, key in zip(fig.axes, ("error_mse", "utilization", "perplexity_over_k"), strict=True):
        expected = {}
        for f in s.families:
            sc = [p.scale_factor for p in f.per_scale]
            expected[f"{f.family} (K={f.codebook_size}, N={f.n_features})"] = (
                sc, [getattr(p, key).value for p in f.per_scale])
            pkey, div = ("perplexity", 8192) if key == "perplexity_over_k" else (key, 1)
            expected[f"{f.family}: paper (K=8192, N=1e5)"] = (
                sc, [p.paper[pkey] / div if p.paper else np.nan for p in f.per_scale])
        assert_series(ax, expected)
        assert ax.get_xscale() == "log"


def check_utilization(fig, s) -> None:
    ax_closed, ax_z = fig.axes
    closed = [t for t in s.tests if t.closed_form is not None]
    assert_series(ax_closed, {"simulated": ([t.closed_form for t in closed],
                                            [t.utilization.value for t in closed])})
    cases = sorted({t.case for t in s.tests})
    assert_series(ax_z, {case: ([i] * sum(t.case == case for t in s.tests),
                                [t.z_conditional for t in s.tests if t.case == case])
                         for i, case in enumerate(cases)})


def test_figures_show_the_summary(summary, tmp_path):
    from vqmatch.figures import matching as fig

    drawn = fig.draw(summary)
    assert set(drawn) == {"matching_theorem1", "matching_fig3", "matching_appf_gaussian_shift",
                            "matching_appf_gaussian_scale", "matching_appf_uniform_shift",
                            "matching_appf_uniform_scale", "matching_appg",
                            "matching_utilization"}
    check_theorem1(drawn["matching_theorem1"], summary.theorem1)
    check_fig3(drawn["matching_fig3"], summary.fig3)
    check_appf(drawn, summary.appf)
    check_appg(drawn["matching_appg"], summary.appg)
    check_utilization(drawn["matching_utilization"], summary.utilization)
    # a wrong plot fails, part by part
    t1 = summary.theorem1
    cases = tuple(replace(c, case={"matched": "shifted", "shifted": "matched"}.get(c.case, c.case))
                  for c in t1.cases)
    with pytest.raises(AssertionError):
        check_theorem1(drawn["matching_theorem1"], replace(t1, cases=cases))
    f3 = summary.fig3
    scatter = tuple(replace(sc, codes=sc.features[: len(sc.codes)]) for sc in f3.scatter)
    with pytest.raises(AssertionError):
        check_fig3(drawn["matching_fig3"], replace(f3, scatter=scatter))
    af = summary.appf
    kinds = tuple(replace(p, kind="scale" if p.kind == "shift" else "shift") for p in af.points)
    with pytest.raises(AssertionError):
        check_appf(drawn, replace(af, points=kinds))
    ag = summary.appg
    families = tuple(replace(f, per_scale=f.per_scale[::-1]) for f in ag.families)
    with pytest.raises(AssertionError):
        check_appg(drawn["matching_appg"], replace(ag, families=families))
    ut = summary.utilization
    tests = tuple(replace(t, closed_form=t.closed_form and 1 - t.closed_form) for t in ut.tests)
    with pytest.raises(AssertionError):
        check_utilization(drawn["matching_utilization"], replace(ut, tests=tests))
    paths = fig.make(summary, tmp_path)
    assert len(paths) == 2 * len(drawn)


def test_only_the_parts_present_are_drawn(summary):
    from vqmatch.figures import matching as fig

    part = replace(summary, parts_present=("theorem1", "appg"), fig3=None, appf=None,
                   utilization=None)
    assert set(fig.draw(part)) == {"matching_theorem1", "matching_appg"}
