"""Figures drawn by a test (``draw`` keeps them open for inspection) are closed after it."""

import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
