"""Market scenarios: the built-in default, and clear errors for bad input (before anything is traced)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import simulate
from games import DATACENTER, DISPATCHABLE, PROSUMER, RENEWABLE, check_market_scenario, default_market, market_scenario
from games.market import PROFILE_NAMES, default_parameters

from ._tiny import AGENTS, SLOTS, tiny_market


def test_default_market_has_every_role_and_is_a_pure_function_of_its_key():
    scenario = tiny_market(3)
    roles = np.asarray(scenario.role)
    assert {RENEWABLE, DISPATCHABLE, PROSUMER, DATACENTER} <= set(roles.tolist())
    assert scenario.num_agents == AGENTS and scenario.num_slots == SLOTS and scenario.profile_names == PROFILE_NAMES
    assert np.array_equal(scenario.datacenters, np.flatnonzero(roles == DATACENTER))
    assert int(scenario.bus[0]) == scenario.grid.slack  # the grid supply point
    weak = [jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_flatten_with_path(scenario)[0]
            if getattr(leaf, "weak_type", False)]
    assert not weak, f"weakly typed fields compile another program once replaced: {weak}"
    again = tiny_market(3)
    for a, b in zip(jax.tree_util.tree_leaves(scenario), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)
    assert not np.asarray(tiny_market(3, malicious_share=0.0).malicious).any()
    assert np.asarray(tiny_market(3, malicious_share=1.0).malicious)[1:].all()  # all but the grid supply point
    jobs = scenario.jobs
    assert (np.asarray(jobs.deadline) > np.asarray(jobs.start)).all()
    assert (np.asarray(jobs.energy) <= np.asarray(jobs.max_power) * np.asarray(jobs.deadline - jobs.start)).all()


def bad(scenario, **fields):
    return dataclasses.replace(scenario, **fields)


def test_bad_scenarios_are_refused_with_the_field_named():
    scenario = tiny_market()
    capacity = np.asarray(scenario.capacity).copy()
    capacity[4] = -1.0
    with pytest.raises(ValueError, match=r"capacity must be nonnegative; agent 4"):
        check_market_scenario(bad(scenario, capacity=jnp.asarray(capacity)))
    jobs = dataclasses.replace(scenario.jobs, deadline=scenario.jobs.start.at[0].add(-1))
    with pytest.raises(ValueError, match=r"job 0: deadline \(slot -?\d+\) must come after its earliest start"):
        check_market_scenario(bad(scenario, jobs=jobs))
    with pytest.raises(ValueError, match="load must have one entry per agent"):
        check_market_scenario(bad(scenario, load=scenario.load[:-1]))
    with pytest.raises(ValueError, match="profiles must be finite and nonnegative"):
        check_market_scenario(bad(scenario, profiles=-scenario.profiles))
    with pytest.raises(ValueError, match=r"supply_quadratic and supply_linear must have one value per slot \(6,\)"):
        check_market_scenario(bad(scenario, params=default_parameters(24)))
    with pytest.raises(ValueError, match="bus must hold bus indices"):
        check_market_scenario(bad(scenario, bus=scenario.bus.at[3].set(99)))
    with pytest.raises(ValueError, match="battery_initial exceeds battery_capacity"):
        check_market_scenario(bad(scenario, battery_initial=scenario.battery_capacity + 1.0))
    with pytest.raises(ValueError, match="mechanism must be one of"):
        tiny_market(mechanism="barter")
    with pytest.raises(ValueError, match=r"params.withhold must lie in \[0, 1\]"):
        tiny_market(withhold=1.5)
    with pytest.raises(ValueError, match="unknown market parameters"):
        tiny_market(witthold=0.5)
    with pytest.raises(ValueError, match=r"profiles must have shape \(4, days, 6\).*got \(4, 3, 24\)"):
        tiny_market(profiles=np.ones((4, 3, 24)))  # a day of 24 slots in a market of 6
    # simulate checks before tracing
    with pytest.raises(ValueError, match="capacity must be nonnegative"):
        simulate(bad(scenario, capacity=jnp.asarray(capacity)), days=2, key=jax.random.key(0), progress=False)


def test_market_scenario_builder_checks_profiles_jobs_and_lengths():
    from games import Jobs, ieee14

    grid = ieee14()
    year = np.ones((2, 365 * 24))
    args = dict(role=[1, 0, 2, 3], bus=[0, 3, 5, 8], malicious=False, capacity=[10.0, 5.0, 2.0, 0.0],
                marginal_cost=[0.1, 0.0, 0.0, 0.0], emission_rate=[0.5, 0, 0, 0], forecast_error=0.1,
                generation_profile=1, load=[0.0, 0.0, 1.0, 3.0], load_profile=0, bid_price=0.2, ask_price=0.1,
                stake=1.0, grid=grid, params=default_parameters(24))
    scenario = market_scenario(profiles=year, slots_per_day=24, **args)
    assert scenario.num_profile_days == 365 and scenario.num_slots == 24
    with pytest.raises(ValueError, match="profiles have length 8759, not a whole number of days of 24 slots"):
        market_scenario(profiles=year[:, :-1], slots_per_day=24, **args)
    with pytest.raises(ValueError, match=r"capacity must be nonnegative; agent 1 \(renewable\)"):
        market_scenario(profiles=year, slots_per_day=24, **{**args, "capacity": [10.0, -5.0, 2.0, 0.0]})
    with pytest.raises(ValueError, match="capacity must have one entry per agent"):
        market_scenario(profiles=year, slots_per_day=24, **{**args, "capacity": [10.0, 5.0]})
    late = Jobs(owner=jnp.array([3], jnp.int32), energy=jnp.array([5.0]), start=jnp.array([30], jnp.int32),
                deadline=jnp.array([10], jnp.int32), max_power=jnp.array([1.0]), pausable=jnp.array([True]))
    with pytest.raises(ValueError, match=r"job 0: deadline \(slot 10\) must come after its earliest start \(slot 30\)"):
        market_scenario(profiles=year, slots_per_day=24, jobs=late, **args)
    too_big = dataclasses.replace(late, deadline=jnp.array([34], jnp.int32))
    with pytest.raises(ValueError, match="job 0 cannot finish: it needs 5.0 but can draw at most 4.0"):
        market_scenario(profiles=year, slots_per_day=24, jobs=too_big, **args)
    wrong_owner = dataclasses.replace(late, owner=jnp.array([2], jnp.int32), deadline=jnp.array([40], jnp.int32))
    with pytest.raises(ValueError, match="owner must be a data-center agent"):
        market_scenario(profiles=year, slots_per_day=24, jobs=wrong_owner, **args)
    with pytest.raises(ValueError, match="at least one dispatchable agent"):
        market_scenario(profiles=year, slots_per_day=24, **{**args, "role": [0, 0, 2, 3]})
