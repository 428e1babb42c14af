"""SimBench grids and profiles (the optional data extra): run only where the simbench package is installed."""

import math
import warnings

import numpy as np
import pytest

simbench = pytest.importorskip("simbench")
pandapower = pytest.importorskip("pandapower")

from analysis import simulate  # noqa: E402
from games import simbench_grid, simbench_market, simbench_profiles  # noqa: E402
from games.market import PROFILE_NAMES  # noqa: E402

CODE = "1-LV-rural1--0-sw"


@pytest.mark.slow  # loading SimBench data and pandapower's power flow take half a minute
def test_grid_flows_equal_pandapowers_dc_power_flow():
    """The Grid's PTDF flows equal pandapower's DC power flow (rundcpp) for SimBench's first-hour injections."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = simbench.get_simbench_net(CODE)
        pandapower.rundcpp(net)
    grid = simbench_grid(CODE)
    index = {bus: k for k, bus in enumerate(grid.buses)}
    injection = np.zeros(grid.num_buses)
    for frame, sign in ((net.sgen, 1.0), (net.load, -1.0)):
        for bus, p in zip(frame["bus"], frame["p_mw"] * frame["scaling"]):
            injection[index[int(bus)]] += sign * 1000.0 * p  # kW, the grid's units
    injection[grid.slack] -= injection.sum()  # the external grid balances
    flows = np.asarray(grid.flows(injection))
    lines = {(int(u), int(v)): k for k, (u, v) in enumerate(grid.lines)}
    checked = 0
    for i, line in net.line.iterrows():
        k = lines[(int(line["from_bus"]), int(line["to_bus"]))]
        np.testing.assert_allclose(flows[k], 1000.0 * net.res_line.at[i, "p_from_mw"], rtol=1e-6, atol=1e-6)
        capacity = 1000.0 * math.sqrt(3) * net.bus.at[int(line["from_bus"]), "vn_kv"] * line["max_i_ka"]
        np.testing.assert_allclose(float(grid.capacity[k]), capacity, rtol=1e-12)
        checked += 1
    assert checked == len(net.line) and grid.buses[grid.slack] == int(net.ext_grid["bus"].iloc[0])


@pytest.mark.slow
def test_profiles_are_a_year_of_relative_shapes():
    profiles = simbench_profiles(CODE, slots=24)
    assert profiles.shape == (len(PROFILE_NAMES), 366, 24)
    household, flat, solar, wind = profiles
    np.testing.assert_allclose(household.mean(), 1.0, rtol=1e-12)
    assert (flat == 1).all() and 0 <= solar.min() and solar.max() <= 1 and 0 <= wind.min() and wind.max() <= 1
    assert solar[:, :4].max() == 0.0 and solar[:, 10:14].mean() > 0.1  # no sun at night, some at noon
    with pytest.raises(ValueError, match="slots must divide the 96 quarter hours"):
        simbench_profiles(CODE, slots=7)
    with pytest.raises(ValueError, match="not a SimBench code"):
        simbench_grid("no-such-grid")


@pytest.mark.slow
def test_a_market_on_a_simbench_grid_keeps_its_invariants():
    """simbench_market: the SimBench grid with its year of profiles; two simulated days keep every invariant."""
    import jax

    from ._tiny import invariant_violations

    scenario = simbench_market(CODE, 12, jax.random.key(1), slots=6)
    assert scenario.grid.num_buses == simbench_grid(CODE).num_buses and scenario.num_profile_days == 366
    np.testing.assert_allclose(np.asarray(scenario.profiles), simbench_profiles(CODE, slots=6), rtol=1e-12)
    result = simulate(scenario, days=2, seeds=1, key=jax.random.key(2), progress=False)
    assert not invariant_violations(result.diagnostics)
