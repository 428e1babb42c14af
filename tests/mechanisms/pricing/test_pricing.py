import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mechanisms import (
    MonotonePrice,
    daily_proportional_bills,
    dc_opf_lmp,
    flat_rate_bills,
    hourly_proportional_bills,
    monotone_price,
    quadratic_cost,
    real_time_bills,
    time_of_use_bills,
)

N, T = 5, 24


def random_loads(seed):
    rng = np.random.default_rng(seed)
    return rng.random((N, T)) * (rng.random((N, T)) < 0.8)


@given(st.integers(0, 2**32 - 1))
def test_proportional_billing_is_budget_balanced(seed):
    loads = random_loads(seed)
    rng = np.random.default_rng(seed + 1)
    a, b = rng.random(T), rng.random(T)
    total_cost = float(jnp.sum(quadratic_cost(loads.sum(0), a, b)))
    for rule in (daily_proportional_bills, hourly_proportional_bills):
        bills = rule(loads, a=a, b=b)
        assert float(jnp.sum(bills)) == pytest.approx(total_cost, rel=1e-12, abs=1e-12)
        assert np.all(np.asarray(bills) >= 0)


def test_daily_equals_hourly_when_shares_are_constant():
    profile = np.random.default_rng(0).random(T)
    shares = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
    loads = shares[:, None] * profile[None, :]
    a, b = np.linspace(0.1, 1.0, T), np.full(T, 0.5)
    np.testing.assert_allclose(daily_proportional_bills(loads, a=a, b=b), hourly_proportional_bills(loads, a=a, b=b),
                               rtol=1e-12)


def test_simple_tariffs_closed_form():
    loads = np.array([[1.0, 2.0], [3.0, 0.0]])
    np.testing.assert_allclose(flat_rate_bills(loads, 2.0), [6.0, 6.0])
    np.testing.assert_allclose(time_of_use_bills(loads, [1.0, 5.0]), [11.0, 3.0])
    # p_t = 1 + 0.5 L_t with L = (4, 2): prices (3, 2).
    np.testing.assert_allclose(real_time_bills(loads, alpha=1.0, beta=0.5), [7.0, 9.0])


@given(st.integers(0, 2**32 - 1))
def test_monotone_price_is_nondecreasing_for_any_parameters(seed):
    rng = np.random.default_rng(seed)
    params = MonotonePrice(jnp.asarray(rng.normal()), jnp.asarray(rng.normal(size=4) * 10),
                           knots=(0.0, 1.0, 2.0, 3.0))
    grid = jnp.linspace(-1.0, 5.0, 200)
    assert np.all(np.diff(np.asarray(monotone_price(params, grid))) >= -1e-12)
    # Differentiable in its parameters (for mechanism learning).
    g = jax.grad(lambda p: monotone_price(p, 2.5))(params)
    assert np.all(np.isfinite(np.asarray(g.slopes)))


def test_search_finds_that_raw_slopes_break_monotonicity():
    def raw_price(slopes, load):  # the same rule without softplus: slopes may be negative
        knots = jnp.array([0.0, 1.0, 2.0, 3.0])
        return jnp.sum(slopes * jnp.maximum(load[..., None] - knots, 0.0), axis=-1)

    grid = jnp.linspace(-1.0, 5.0, 200)
    decreasing = lambda seed: bool(
        np.any(np.diff(np.asarray(raw_price(jnp.asarray(np.random.default_rng(seed).normal(size=4)), grid))) < -1e-9)
    )
    seed = find(st.integers(0, 2**32 - 1), decreasing,
                settings=settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck)))
    assert decreasing(seed)


def ptdf_numpy(num_buses, lines, reactance, slack):
    """Independent DC power-flow PTDF: diag(b) K^T (K diag(b) K^T)^-1 with the slack removed."""
    K = np.zeros((num_buses, len(lines)))
    for l, (i, j) in enumerate(lines):
        K[i, l], K[j, l] = 1.0, -1.0
    b = 1.0 / np.asarray(reactance)
    keep = [k for k in range(num_buses) if k != slack]
    Bbus = (K * b) @ K.T
    H = np.zeros((len(lines), num_buses))
    H[:, keep] = (b[:, None] * K.T[:, keep]) @ np.linalg.inv(Bbus[np.ix_(keep, keep)])
    return H


THREE_BUS = ptdf_numpy(3, [(0, 1), (0, 2), (1, 2)], [1.0, 1.0, 1.0], slack=2)


def test_three_bus_ptdf_textbook_flows():
    np.testing.assert_allclose(THREE_BUS @ np.array([1.0, 0.0, -1.0]), [1 / 3, 2 / 3, 1 / 3], atol=1e-12)


def opf(demand, line_capacity):
    return dc_opf_lmp(demand, generator_bus=np.array([0, 1]), generator_cost=np.array([10.0, 30.0]),
                      generator_capacity=np.array([200.0, 200.0]), ptdf=THREE_BUS, line_capacity=line_capacity)


def test_lmps_equal_without_congestion():
    result = opf(np.array([0.0, 0.0, 150.0]), np.full(3, 1e3))
    np.testing.assert_allclose(result.lmp, 10.0, atol=1e-9)
    assert not result.congested.any()


def test_lmps_with_congestion_equal_finite_differences_and_rent_is_nonnegative():
    demand = np.array([0.0, 0.0, 150.0])
    limits = np.array([1e3, 60.0, 1e3])
    result = opf(demand, limits)
    assert result.congested.any()
    assert np.ptp(result.lmp) > 1.0  # prices separate
    h = 1e-3
    for bus in range(3):
        up, down = demand.copy(), demand.copy()
        up[bus] += h
        down[bus] -= h if demand[bus] >= h else 0.0
        width = h if demand[bus] < h else 2 * h
        fd = (opf(up, limits).cost - opf(down, limits).cost) / width
        assert result.lmp[bus] == pytest.approx(fd, rel=1e-6, abs=1e-6)
    injections_at_lmp = result.lmp[[0, 1]] @ result.generation
    rent = result.lmp @ demand - injections_at_lmp
    assert rent >= -1e-9


def test_dc_opf_bad_input():
    with pytest.raises(ValueError, match="infeasible"):
        opf(np.array([0.0, 0.0, 500.0]), np.full(3, 1e3))
    with pytest.raises(ValueError, match="nonnegative"):
        opf(np.array([0.0, 0.0, 10.0]), np.array([-1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="infeasible DC-OPF"):
        opf(np.array([0.0, 0.0, 150.0]), np.array([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="nonnegative"):
        daily_proportional_bills(-np.ones((2, 3)), a=1.0, b=0.0)
    with pytest.raises(ValueError, match="slot"):
        time_of_use_bills(np.ones((2, 3)), [1.0, 2.0])
