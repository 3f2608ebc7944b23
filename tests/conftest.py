"""Shared test configuration: hypothesis profiles and the array-library fixture."""

import os

import pytest
from hypothesis import HealthCheck, settings

# CI runs on 2 slow cores: bounded examples, generous deadlines.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["numpy", "torch"])
def xp_name(request):
    """Name of the array library a test runs under ('numpy' or 'torch')."""
    if request.param == "torch":
        import torch  # noqa: F401  (a required dependency: a broken install fails, never skips)
    return request.param
