"""Summaries of training runs: paired t tests by replicate, final values."""

import math

import pytest

from vqmatch.simulations.engines import training_summary as ts


def test_paired_difference_pairs_by_replicate():
    rows = [{"quantizer": q, "source": "s", "shift": 0.0, "separation": 0.0, "d": 2,
             "replicate": r, "step": 5,
             "error": base + r + (0.1 * r if q == "a" else 0.0)}
            for q, base in (("a", 2.0), ("b", 1.0)) for r in range(4)]
    rows += [dict(r, step=0, error=99.0) for r in rows]  # earlier steps are ignored
    final = ts.final_rows(rows)  # earlier steps are ignored
    diff = ts.paired_difference(final, "error", {"quantizer": "a"}, {"quantizer": "b"})
    assert diff.value == pytest.approx(1.15)
    assert diff.n == 4 and diff.df == 3 and diff.t > 5 and diff.p < 0.01
    assert diff.a == pytest.approx(3.65) and diff.b == pytest.approx(2.5)
    assert ts.paired_difference(final[:1], "error", {"quantizer": "a"}, {"quantizer": "b"}) is None


def test_final_table_takes_the_last_step_and_intervals():
    rows = [{"quantizer": "a", "source": "s", "shift": 1.0, "separation": 0.0, "d": 2,
             "codebook_size": 4, "replicate": r, "step": step, "error": step + r,
             "utilization": 1.0, "perplexity": 2.0, "w2": 0.1}
            for r in range(3) for step in (0, 10)]
    (entry,) = ts.final_table(rows)
    assert entry.step == 10 and entry.n == 3 and entry.error.value == pytest.approx(11.0)
    assert entry.error.low < 11.0 < entry.error.high and entry.error.df == 2
    assert entry.codebook_size == 4 and entry.shift == 1.0
    assert ts.final_entry([entry], "a", "s", shift=1.0) is entry
    assert ts.final_entry([entry], "a", "s") is None  # another shift
    assert ts.present([entry], ("b", "a")) == ["a"]
    (one,) = ts.final_table([r for r in rows if r["replicate"] == 0])
    assert one.error.value == one.error.low == one.error.high == 10 and one.error.se == math.inf
