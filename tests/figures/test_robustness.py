"""The robustness figure shows the summary: E and U of every quantizer against the separation, and
the Student-t bars."""

from dataclasses import replace

import pytest

from tests.figures.plotted import assert_series, bars, legend
from tests.simulations.studies.test_robustness import PAPER_LIKE


def check(fig, summary) -> None:
    """Everything the figure should show of ``summary``."""
    final = summary.final
    quantizers = sorted({e.quantizer for e in final})
    ax_e, ax_u, ax_t = fig.axes
    for ax, metric in ((ax_e, "error"), (ax_u, "utilization")):
        assert_series(ax, {q: ([e.separation for e in final if e.quantizer == q
                                and e.source == "bimodal"],
                               [getattr(e, metric).value for e in final if e.quantizer == q
                                and e.source == "bimodal"]) for q in quantizers})
        assert ax.get_xlabel() == "separation z" and ax.get_yscale() == "linear"
    assert legend(ax_e) == quantizers
    heavy = {e.quantizer: e for e in final if e.source == "student_t"}
    names = [q for q in quantizers if q in heavy]
    assert bars(ax_t) == pytest.approx([heavy[q].error.value for q in names])
    assert [t.get_text() for t in ax_t.get_xticklabels()] == names
    assert [t.get_text() for t in ax_t.texts] == [f"U={heavy[q].utilization.value:.2f}"
                                                  for q in names]


def test_figure_shows_the_summary(tmp_path):
    from vqmatch.figures import robustness as fig

    drawn = fig.draw(PAPER_LIKE.summary)
    assert set(drawn) == {"robustness"}
    check(drawn["robustness"], PAPER_LIKE.summary)
    # a wrong plot fails: the E of two quantizers swapped, or a missing Student-t bar
    final = PAPER_LIKE.summary.final
    w = {e.separation: e.error for e in final if e.quantizer == "wasserstein"}
    m = {e.separation: e.error for e in final if e.quantizer == "mmd"}
    swapped = tuple(replace(e, error=m[e.separation]) if e.quantizer == "wasserstein"
                    and e.source == "bimodal" else replace(e, error=w[e.separation])
                    if e.quantizer == "mmd" and e.source == "bimodal" else e for e in final)
    with pytest.raises(AssertionError):
        check(drawn["robustness"], replace(PAPER_LIKE.summary, final=swapped))
    fewer = tuple(e for e in final if not (e.source == "student_t" and e.quantizer == "mmd"))
    with pytest.raises(AssertionError):
        check(drawn["robustness"], replace(PAPER_LIKE.summary, final=fewer))
    paths = fig.make(PAPER_LIKE.summary, tmp_path)
    assert {p.name for p in paths} == {"robustness.png", "robustness.pdf"}
