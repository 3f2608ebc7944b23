"""What a matplotlib axes shows, read back for the figure tests: labelled series (lines and error-bar
series), bar heights, legend entries, axis scales and labels."""

from __future__ import annotations

import numpy as np
from matplotlib.container import BarContainer, ErrorbarContainer


def series(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``label -> (x, y)`` of every labelled line and error-bar series of ``ax`` (labels starting
    with ``_`` are matplotlib's unlabelled artists)."""
    out = {}
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer) and c.lines[0] is not None:
            line = c.lines[0]
            out[c.get_label()] = (np.asarray(line.get_xdata(), float),
                                  np.asarray(line.get_ydata(), float))
    for line in ax.lines:
        label = line.get_label()
        if not label.startswith("_"):
            out[label] = (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
    return out


def lines_labelled(ax, prefix: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Lines whose (hidden, ``_``-prefixed) label starts with ``prefix``, by label."""
    return {line.get_label(): (np.asarray(line.get_xdata(), float),
                               np.asarray(line.get_ydata(), float))
            for line in ax.lines if line.get_label().startswith(prefix)}


def bars(ax) -> list[float]:
    """Heights of the bars of ``ax`` (every bar container, in order)."""
    return [float(p.get_height()) for c in ax.containers if isinstance(c, BarContainer)
            for p in c.patches]


def legend(ax) -> list[str]:
    """The entries of the legend drawn on ``ax`` (empty without one)."""
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


def assert_series(ax, expected: dict, *, only: bool = True) -> None:
    """The series of ``ax`` are ``expected`` (``label -> (x, y)``): the same labels (``only``: and
    no other) with the same points, NaN where expected NaN."""
    got = series(ax)
    if only:
        assert set(got) == set(expected), (sorted(got), sorted(expected))
    for label, (x, y) in expected.items():
        assert label in got, (label, sorted(got))
        gx, gy = got[label]
        np.testing.assert_allclose(gx, np.asarray(x, float), rtol=1e-12, err_msg=label)
        np.testing.assert_allclose(gy, np.asarray(y, float), rtol=1e-12, err_msg=label)
