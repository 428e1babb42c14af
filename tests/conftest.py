"""Test configuration: float64 everywhere, strict dtype promotion, and hypothesis profiles.

Strict promotion (as optimistix's tests do) turns any implicit mix of dtypes (an int32 array added to a
float64 one, float32 with float64) into an error, so a silent downcast or upcast in library code fails a
test instead of costing precision or speed. Python scalars stay weakly typed.

Profiles: ``ci`` (default; few examples, keeps the suite under 10 minutes on 2
cores) and ``thorough`` (many examples, slow tests included), chosen by the
``NASHGRID_PROFILE`` environment variable.
"""

import os

PROFILE = os.environ.get("NASHGRID_PROFILE", "ci")
if PROFILE == "ci" and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    # Most of the ci suite's time is XLA compiling hundreds of small programs once each; LLVM's
    # optimization passes are most of that and buy nothing for a program run a few times. Level 0 keeps
    # the semantics (no fast math either way) and cuts the suite's time by about a quarter; the thorough
    # profile compiles as users do. Set before JAX starts its backend (at the first computation).
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

import jax  # noqa: E402
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
# One persistent compilation cache for every pytest-xdist worker of a run: the workers compile many of the
# same programs (the solvers on IEEE 14/30, the demand-response shapes), and the second compiles none of
# them. Semantics are unchanged (a cache hit is the same executable); NASHGRID_JAX_CACHE="" switches it off.
_CACHE = os.environ.get("NASHGRID_JAX_CACHE",
                        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".pytest_cache",
                                     "jax"))
if _CACHE:
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    # The same cache for the Python processes the tests start (killed-and-resumed runs, the console entry
    # point): JAX reads these variables as its defaults, so a child compiles only what no process compiled
    # before it (the resumed child of a kill test reuses the killed child's programs).
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"

settings.register_profile(
    "ci", max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config, items):
    if PROFILE == "thorough":
        return
    skip = pytest.mark.skip(reason="slow: runs with NASHGRID_PROFILE=thorough")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
