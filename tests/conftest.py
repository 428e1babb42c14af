"""Test configuration: float64 everywhere and hypothesis profiles.

Profiles: ``ci`` (default; few examples, keeps the suite under 10 minutes on 2
cores) and ``thorough`` (many examples, slow tests included), chosen by the
``NASHGRID_PROFILE`` environment variable.
"""

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = os.environ.get("NASHGRID_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config, items):
    if PROFILE == "thorough":
        return
    skip = pytest.mark.skip(reason="slow: runs with NASHGRID_PROFILE=thorough")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
