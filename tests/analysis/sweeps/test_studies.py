"""Built-in studies against closed forms and scipy: demand response (Mohsenian-Rad et al. 2010,
Theorem 1 and the marginal-cost condition), networked Cournot (the unconstrained closed form,
congestion on IEEE 30), double auctions (McAfee truthful, the k-double auction not)."""

import numpy as np
import pytest
import scipy.optimize

from analysis import (
    STUDIES,
    cournot_scenario,
    demand_response_scenario,
    demand_response_study,
    grid,
    mechanism_study,
    network_cournot_study,
    sweep,
)


def scipy_optimum(game) -> tuple[float, np.ndarray]:
    """min_x sum_t C_t(sum_n x_nt - r_t) over the users' boxes and daily energies (SLSQP): cost, net load."""
    lower, upper, energy = (np.asarray(v) for v in (game.lower, game.upper, game.energy))
    a, b, r = (np.asarray(v) for v in (game.a, game.b, game.renewables))
    shape = lower.shape

    def cost(z):
        net = z.reshape(shape).sum(0) - r
        return np.sum(a * net**2 + b * net)

    def grad(z):
        net = z.reshape(shape).sum(0) - r
        return np.broadcast_to(2 * a * net + b, shape).ravel()

    constraints = {"type": "eq", "fun": lambda z: z.reshape(shape).sum(1) - energy,
                   "jac": lambda z: np.kron(np.eye(shape[0]), np.ones(shape[1]))}
    start = (lower + (energy - lower.sum(1))[:, None] * (upper - lower) / (upper - lower).sum(1, keepdims=True)).ravel()
    result = scipy.optimize.minimize(cost, start, jac=grad, bounds=list(zip(lower.ravel(), upper.ravel())),
                                     constraints=[constraints], method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
    assert result.success, result.message
    return float(result.fun), result.x.reshape(shape).sum(0) - r


def test_daily_billing_equilibrium_is_scipys_social_optimum():
    # Row by row (one small compiled solver): the vectorized path of this same function runs in the
    # demand-response notebook, and sweep's vectorization is checked against a row loop in test_sweep.
    shares = [0.0, 0.8]
    table = sweep(demand_response_study, grid(users=[4], slots=[8], renewable_share=shares, billing=["daily"], seed=[3]),
                  vectorize=False, progress=False)
    assert table["converged"].all() and (table["residual"] < 1e-8).all()
    for share, row in zip(shares, table.itertuples()):
        # Theorem 1 of Mohsenian-Rad et al. (2010): best-response dynamics under daily billing reach the
        # minimum of the total cost, here computed independently; the optimal net load is unique (a_t > 0).
        cost, net = scipy_optimum(demand_response_scenario(4, share, seed=3, slots=8))
        np.testing.assert_allclose([row.cost, row.optimal_cost], cost, rtol=1e-9)
        np.testing.assert_allclose(row.peak_to_average, net.max() / net.mean(), rtol=1e-6)
        assert row.price_of_anarchy == 1.0 and row.par_no_response > row.peak_to_average  # responding flattens


@pytest.mark.slow
def test_hourly_billing_costs_more_than_the_optimum_and_more_so_with_renewables():
    table = sweep(demand_response_study, grid(users=[4], slots=[8], renewable_share=[0.0, 1.0], billing=["hourly"]),
                  progress=False)
    assert table["converged"].all()
    poa = table["price_of_anarchy"].to_numpy()
    assert (poa > 1.0 + 1e-6).all() and poa[1] > poa[0]


def test_cournot_closed_form_without_limits_and_congestion_prices_with_the_published_ratings():
    table = sweep(network_cournot_study, grid(producers=[6], line_rating=[np.inf, 1.0]), progress=False)
    assert table["converged"].all()
    free, rated = table.iloc[0], table.iloc[1]
    # Unconstrained Cournot with costs c_g q + d q^2 / 2: Q = (G a - sum c) / (b (G + 1) + d).
    G, a, b, d, c = 6, 100.0, 20.0, 2.0, np.linspace(10.0, 30.0, 6)
    Q = (G * a - c.sum()) / (b * (G + 1) + d)
    q = (a - b * Q - c) / (b + d)
    assert (q > 0).all()
    np.testing.assert_allclose(free["total_output"], Q, rtol=1e-9)
    np.testing.assert_allclose(free["welfare"], a * Q - b * Q**2 / 2 - np.sum(c * q + d * q**2 / 2), rtol=1e-9)
    assert free["lmp_spread"] < 1e-7 and free["congested_lines"] == 0
    assert rated["congested_lines"] == 2 and rated["lmp_spread"] > 1.0  # two IEEE 30 lines bind (README)
    assert rated["welfare"] < free["welfare"] and rated["total_output"] < free["total_output"]


def test_mcafee_is_truthful_and_budget_safe():
    table = sweep(mechanism_study, grid(traders=[5], mechanism=["mcafee"], seed=[0, 1, 2]), progress=False)
    assert (table["ic_regret"] == 0).all() and (table["budget_surplus"] >= 0).all()  # McAfee (1992)
    assert (table["ir_violation"] == 0).all() and (table["efficiency"] <= 1 + 1e-12).all()
    assert (table["efficiency"] < 1).any()  # trade reduction gives up the least valuable efficient trade


@pytest.mark.slow
def test_the_k_double_auction_is_not_truthful_and_vcg_runs_a_deficit():
    table = sweep(mechanism_study, grid(traders=[5], mechanism=["k_double", "vcg"], seed=[0, 1]), progress=False)
    k_double, vcg = table[table["mechanism"] == "k_double"], table[table["mechanism"] == "vcg"]
    assert (k_double["ic_regret"] > 1e-3).any()  # Chatterjee and Samuelson (1983): shading pays
    np.testing.assert_allclose(table["efficiency"], 1.0, rtol=1e-12)  # both trade every efficient pair
    assert (vcg["ic_regret"] == 0).all() and (vcg["budget_surplus"] < 0).any()  # truthful, but a deficit


def test_studies_check_their_parameters_before_running():
    with pytest.raises(ValueError, match=r"needs the parameters \['users', 'renewable_share', 'billing'\]; missing \['billing'\]"):
        sweep(demand_response_study, grid(users=[2], renewable_share=[0.1]))
    with pytest.raises(ValueError, match=r"'renewable_share' must be in \[0, 1\]; got \[1.5\]"):
        sweep(demand_response_study, grid(users=[2], renewable_share=[1.5], billing=["daily"]))
    with pytest.raises(ValueError, match="'billing' must be one of"):
        sweep(demand_response_study, grid(users=[2], renewable_share=[0.1], billing=["weekly"]))
    with pytest.raises(ValueError, match=r"'producers' must hold integers \[1, 30\]"):
        sweep(network_cournot_study, grid(producers=[31], line_rating=[1.0]))
    with pytest.raises(ValueError, match="'line_rating' must be positive"):
        sweep(network_cournot_study, grid(producers=[3], line_rating=[0.0]))
    with pytest.raises(ValueError, match="'mechanism' must be one of"):
        sweep(mechanism_study, grid(traders=[3], mechanism=["english"]))
    with pytest.raises(ValueError, match="renewable_share must lie in"):
        demand_response_scenario(3, 2.0)
    with pytest.raises(ValueError, match="producers must be an integer"):
        cournot_scenario(0)
    assert set(STUDIES) == {"demand_response", "network_cournot", "mechanisms", "market"}
