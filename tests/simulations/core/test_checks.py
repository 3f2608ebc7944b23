"""The one integer check and the one convergence warning of the package."""

import argparse

import numpy as np
import pytest

from vqmatch.simulations.core.checks import ConvergenceWarning, check_int, int_arg, positive_int


@pytest.mark.parametrize(("value", "minimum", "says"), [
    (0, 1, "a positive integer"), (-1, 0, "a non-negative integer"), (3, 4, "an integer >= 4"),
    (True, 0, "a non-negative integer"), (1.0, 1, "a positive integer"), ("2", 1, "a positive integer")])
def test_check_int_refuses_and_names_the_parameter(value, minimum, says):
    with pytest.raises(ValueError, match=f"k must be {says}, got k="):
        check_int(value, "k", minimum)


def test_check_int_accepts_numpy_integers():
    assert check_int(np.int64(5), "k") == 5 and type(check_int(np.int32(5), "k")) is int


def test_int_arg_is_an_argparse_type():
    assert positive_int("3") == 3 and int_arg(0)("0") == 0
    for bad in ("0", "x", "-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive integer"):
            positive_int(bad)


def test_one_convergence_warning():
    from vqmatch.simulations.engines import kmeans, lloyd_max

    assert kmeans.ConvergenceWarning is lloyd_max.ConvergenceWarning is ConvergenceWarning
    assert issubclass(ConvergenceWarning, RuntimeWarning)
