"""The pricing mechanism: each day's schedules are the one-shot demand-response equilibrium (Mohsenian-Rad
et al. 2010) of a game rebuilt with the public constructor, and its prices the marginal cost of supply."""

import jax
import numpy as np
import pytest

from analysis import simulate
from games import DATACENTER, PROSUMER, RENEWABLE, demand_response_game
from mechanisms import marginal_cost_price
from solvers import solve_vi

from ...games.market._tiny import DAYS, honest, invariant_violations, tiny_market


def day_game(scenario, day):
    role = np.asarray(scenario.role)
    T = scenario.num_slots
    profile = np.asarray(scenario.profiles)[:, day % scenario.num_profile_days]
    base = np.asarray(scenario.load)[:, None] * profile[np.asarray(scenario.load_profile)]
    share = np.asarray(scenario.flexible_share)[:, None]
    generation = np.where(np.isin(role, [RENEWABLE, PROSUMER])[:, None],
                          np.asarray(scenario.capacity)[:, None] * profile[np.asarray(scenario.generation_profile)], 0.0)
    demand = base + np.where(role == DATACENTER, np.asarray(scenario.compute_offered)
                             * float(scenario.params.compute_energy) / T, 0.0)[:, None]
    jobs = scenario.jobs
    for j in range(jobs.num_jobs):
        power, energy = float(jobs.max_power[j]), float(jobs.energy[j])
        for t in range(T):
            slot = day * T + t
            if int(jobs.start[j]) <= slot < int(jobs.deadline[j]):
                demand[int(jobs.owner[j]), t] += min(power, max(0.0, energy - power * (slot - int(jobs.start[j]))))
    fixed = np.where((role == DATACENTER)[:, None], demand, 0.0)  # inference, compute, jobs that cannot pause
    prosumer = (role == PROSUMER)[:, None]
    lower = np.where(prosumer, (1 - share) * base, fixed)
    upper = np.where(prosumer, (1 - share) * base + 2 * share * base.mean(1, keepdims=True), fixed)
    energy = np.where(role == PROSUMER, base.sum(1), fixed.sum(1))
    params = scenario.params
    return demand_response_game(lower, upper, energy, a=np.asarray(params.supply_quadratic),
                                b=np.asarray(params.supply_linear), renewables=generation.sum(0), billing="daily")


@pytest.mark.slow
def test_without_misbehaviour_or_line_limits_every_day_is_the_demand_response_equilibrium():
    scenario = honest(tiny_market(4, mechanism="pricing"))
    result = simulate(scenario, days=DAYS, seeds=1, key=jax.random.key(3), progress=False)
    assert not invariant_violations(result.diagnostics)
    assert float(result.unserved_energy.max()) == 0.0
    assert float(result.diagnostics["equilibrium_residual"].max()) <= 1e-8
    for day in range(DAYS):
        game = day_game(scenario, day)
        eq = solve_vi(game, method="best_response", tol=1e-10)
        total = np.asarray(game.total_load(eq.strategies))
        np.testing.assert_allclose(result.diagnostics["load_by_slot"][0, day], total, rtol=1e-6)
        price = marginal_cost_price(total, a=game.a, b=game.b, renewables=game.renewables)
        np.testing.assert_allclose(result.prices[0, day], price, rtol=1e-6)
