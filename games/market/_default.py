"""The built-in synthetic market: :func:`default_market` (needs only the core dependencies).

Agents (in this order): dispatchable plants (about 3%, the first being the grid supply point at the
slack bus), renewable farms (about 8%, solar and wind alternately), data centers (about 2%) and
households with rooftop PV and batteries (the rest). Units: energy per slot (kWh in hourly slots) and
money per kWh.

- Households: base load ``U(0.4, 1.2)`` per slot following a residential profile with a morning bump
  and an evening peak, 25% higher in winter; 60% have PV of ``U(2, 6)``, half of those a battery of
  ``U(5, 13.5)`` (power ``capacity / 2.5``, 92% charging efficiency); ``U(0.1, 0.3)`` of their load is
  flexible under the pricing mechanism; forecast error 25%.
- Farms: solar (error 20%) or wind (error 30%), sizes in proportion to ``U(0.5, 1.5)``, together 1.2
  times the estimated peak load.
- Data centers: inference ``U(10, 40)`` per slot (flat), ``jobs_per_datacenter`` training jobs a year,
  each with a window of 3 to 10 days, full power ``U(0.5, 1.5)`` times the inference load, needing
  ``U(0.3, 0.7)`` of the window's full-power energy, 70% of them able to checkpoint and pause;
  ``U(5, 20)`` units of compute offered a day at 0.7 kWh a unit.
- Plants: together 1.1 times the estimated peak load; the grid supply point has 40% of it at 0.20 per
  kWh and 0.45 kg CO2 per kWh, the others costs ``U(0.06, 0.16)`` with emissions falling from coal-like
  to gas-like as costs rise (``0.95 - 3.5 (c - 0.06)``).
- Tariffs: retail 0.30, feed-in 0.06, scarcity price 3.0 (value of lost load). Reservation prices are
  drawn between the feed-in and retail tariffs (sellers' in the lower half for farms). The pricing
  mechanism's supply cost has the marginal cost of the plants' merit order, linearized:
  ``C'(L) = c_min + (c_max - c_min) L / capacity``.
- Weather, one year (365 days, repeated): solar with the season's day length and height and a random
  clear-sky index per day ``U(0.3, 1)``; wind with a persistent (AR(1)) daily level, windier at night and
  in winter.
- Grid: IEEE 30 (Alsac and Stott 1974) with its published ratings scaled from its 283.4 MW of load to
  the scenario's estimated peak, times ``line_rating``; plants at its generator buses (the grid supply
  point at the slack), data centers at the fifth of the buses with the most line capacity (strong
  substations), the others at uniformly drawn buses.
- Malicious: each agent but the grid supply point independently with probability ``malicious_share``.

Every draw comes from ``key`` with ``jax.random``: the scenario is a pure function of its arguments
(``malicious_share``, ``line_rating``, ``enforcement`` and the key may be traced, as in a sweep).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..grid import Grid, ieee30
from ._pieces import default_rules
from ._scenario import (DATACENTER, DISPATCHABLE, MECHANISMS, PROSUMER, RENEWABLE, Jobs, MarketParameters,
                        MarketScenario, check_market_scenario)

__all__ = ["default_market", "default_parameters", "synthetic_profiles", "PROFILE_NAMES"]

PROFILE_NAMES = ("household", "flat", "solar", "wind")
HOUSEHOLD, FLAT, SOLAR, WIND = range(4)
IEEE30_LOAD_MW = 283.4  # the IEEE 30-bus system's total load (Alsac and Stott 1974)


def default_parameters(slots: int, *, dtype=None, enforcement=True, **overrides) -> MarketParameters:
    """The built-in market parameters (see :class:`~games.market.MarketParameters`); any field may be
    overridden by keyword."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    values = dict(retail_price=0.30, feed_in_price=0.06, scarcity_price=3.0, forecast_correlation=0.5, withhold=0.5,
                  over_report=0.3, ask_shading=0.5, compute_over_report=1.0, delivery_tolerance=0.1,
                  audit_probability=0.1, penalty_rate=0.5, slash_fraction=0.25, minimum_stake=0.5,
                  access_threshold=0.35, forgetting=0.98, reputation_penalty=0.5, tier_thresholds=[0.4, 0.6],
                  tier_multipliers=[0.8, 0.9, 1.0], credit_rate=1.0, credit_block=20.0, compute_energy=0.7,
                  supply_quadratic=1e-5, supply_linear=0.06)
    unknown = sorted(set(overrides) - set(values) - {"enforcement"})
    if unknown:
        raise ValueError(f"unknown market parameters {unknown}; known: {sorted(values) + ['enforcement']}")
    values.update(overrides)
    fields = {}
    for name, value in values.items():
        array = jnp.asarray(value, dtype)
        if name in ("supply_quadratic", "supply_linear"):
            array = jnp.broadcast_to(array, (slots,)) if array.ndim == 0 else array
        fields[name] = array
    return MarketParameters(enforcement=jnp.asarray(enforcement, bool), **fields)


def synthetic_profiles(key, *, days: int = 365, slots: int = 24, dtype=None) -> jax.Array:
    """``(4, days, slots)`` profiles: household (mean 1), flat (1), solar and wind (fractions of capacity).

    See the module docstring. Jittable (``key`` may be traced).
    """
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    return _synthetic_profiles(key, days=days, slots=slots, dtype=dtype)


@functools.partial(jax.jit, static_argnames=("days", "slots", "dtype"))
def _synthetic_profiles(key, *, days, slots, dtype):
    hours = (jnp.arange(slots, dtype=dtype) + 0.5) * (24.0 / slots)
    day = jnp.arange(days, dtype=dtype)[:, None]
    season = jnp.cos(2.0 * jnp.pi * (day - 15.0) / 365.0)  # 1 in mid-January
    household = (0.6 + 0.5 * jnp.exp(-(((hours - 19.0) / 2.5) ** 2)) + 0.3 * jnp.exp(-(((hours - 8.0) / 2.0) ** 2)))
    household = household[None, :] * (1.0 + 0.125 * season)
    household = household / jnp.mean(household)
    key_clear, key_wind = jax.random.split(key)
    summer = jnp.sin(2.0 * jnp.pi * (day - 80.0) / 365.0)  # 1 at the June solstice
    length = 12.0 + 4.0 * summer
    sunrise = 12.0 - length / 2.0
    clear = jax.random.uniform(key_clear, (days, 1), dtype, 0.3, 1.0)
    solar = jnp.maximum(0.0, jnp.sin(jnp.pi * (hours[None, :] - sunrise) / length)) * (0.7 + 0.3 * summer) * clear
    solar = jnp.where((hours[None, :] > sunrise) & (hours[None, :] < sunrise + length), solar, 0.0)

    def persist(level, shock):
        level = 0.8 * level + shock
        return level, level

    _, level = jax.lax.scan(persist, jnp.zeros((), dtype), 0.2 * jax.random.normal(key_wind, (days,), dtype))
    wind = jnp.clip(0.35 + level[:, None], 0.0, 1.0) * (1.0 + 0.2 * season) * (
        1.0 + 0.15 * jnp.cos(2.0 * jnp.pi * (hours[None, :] - 3.0) / 24.0))
    wind = jnp.clip(wind, 0.0, 1.0)
    flat = jnp.ones((days, slots), dtype)
    return jnp.stack([household, flat, solar, wind])


def _counts(num_agents: int):
    dispatchable = max(2, round(0.03 * num_agents))
    renewable = max(1, round(0.08 * num_agents))
    datacenter = max(1, round(0.02 * num_agents))
    prosumer = num_agents - dispatchable - renewable - datacenter
    return dispatchable, renewable, datacenter, prosumer


def default_market(num_agents: int = 200, key=None, *, mechanism: str = "auction", slots: int = 24, days: int = 365,
                   malicious_share=0.1, enforcement=True, line_rating=1.5, grid: Grid | None = None,
                   profiles=None, jobs_per_datacenter: int = 12, **parameters) -> MarketScenario:
    """The built-in synthetic market scenario (see the module docstring).

    Args:
      num_agents: ``N >= 5``.
      key: a ``jax.random`` key (default ``jax.random.key(0)``).
      mechanism: ``"auction"`` (a daily multi-unit double auction among peers) or ``"pricing"`` (daily
        proportional billing and the demand-response equilibrium).
      slots: slots per day (24: hourly).
      days: the span over which training jobs arrive (the weather is one year, repeated).
      malicious_share: probability that an agent (other than the grid supply point) is malicious.
      enforcement: fines, slashing, access and price tiers on (reputations are kept either way).
      line_rating: multiplies the line ratings (``inf``: no limits).
      grid: a grid of your own (its capacities in the scenario's energy units); default IEEE 30, scaled.
      profiles: ``(4, D, slots)`` profiles of your own in the order of :data:`PROFILE_NAMES` (household with
        mean 1, flat, solar and wind as fractions of capacity); default: :func:`synthetic_profiles`.
      jobs_per_datacenter: training jobs per data center over ``days``.
      **parameters: overrides of :func:`default_parameters` (e.g. ``withhold=0.8``).

    Example:
      >>> scenario = default_market(num_agents=50, key=jax.random.key(1))
      >>> scenario.num_agents, scenario.num_slots, int(scenario.malicious.sum()) > 0
      (50, 24, True)

    Reference: the agent types of :mod:`games.market`; IEEE 30 from Alsac and Stott (1974).
    """
    for name, value in (("num_agents", num_agents), ("slots", slots), ("days", days)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if num_agents < 5:
        raise ValueError(f"num_agents must be at least 5 (plants, a farm, a data center, a household); got {num_agents}")
    if isinstance(jobs_per_datacenter, bool) or not isinstance(jobs_per_datacenter, (int, np.integer)) \
            or jobs_per_datacenter < 0:
        raise ValueError(f"jobs_per_datacenter must be a nonnegative integer; got {jobs_per_datacenter!r}")
    if not isinstance(malicious_share, jax.core.Tracer) and not 0.0 <= float(malicious_share) <= 1.0:
        raise ValueError(f"malicious_share must lie in [0, 1]; got {malicious_share!r}")
    if not isinstance(line_rating, jax.core.Tracer) and not float(line_rating) > 0:
        raise ValueError(f"line_rating must be positive (inf: no limits); got {line_rating!r}")
    key = jax.random.key(0) if key is None else key
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}; got {mechanism!r}")
    dtype = jnp.result_type(float)
    params = default_parameters(slots, dtype=dtype, enforcement=enforcement, **parameters)
    if profiles is not None:
        profiles = np.asarray(profiles, dtype=float)
        if profiles.ndim != 3 or profiles.shape[0] != len(PROFILE_NAMES) or profiles.shape[2] != slots \
                or profiles.shape[1] < 1:
            raise ValueError(f"profiles must have shape ({len(PROFILE_NAMES)}, days, {slots}) ({', '.join(PROFILE_NAMES)});"
                             f" got {profiles.shape}")
        profiles = jnp.asarray(profiles, dtype)
    # the grid and where its strong buses are: concrete, before the draws
    if grid is None:
        with jax.ensure_compile_time_eval():  # concrete even when default_market is traced (a sweep)
            base = _ieee30()
        producers = base.buses_with_role("producer")
    else:
        if not isinstance(grid, Grid):
            raise ValueError(f"grid must be a games.Grid; got {type(grid).__name__}")
        base = grid
        producers = grid.buses_with_role("producer")
        if producers.size == 0:
            producers = np.array([grid.slack])
    producers = tuple(int(b) for b in np.concatenate([[base.slack], [b for b in producers if b != base.slack]]))
    rating = np.asarray(base.capacity)  # the unscaled ratings (concrete)
    strength = np.abs(np.asarray(base.incidence)) @ np.where(np.isfinite(rating), rating, 1e12)
    strong = tuple(int(b) for b in np.argsort(-strength, kind="stable")[: max(1, base.num_buses // 5)])
    scenario = _draw(key, jnp.asarray(malicious_share, dtype), jnp.asarray(line_rating, dtype), params, base, profiles,
                     num_agents=num_agents, slots=slots, days=days, jobs_per_datacenter=jobs_per_datacenter,
                     mechanism=mechanism, producers=producers, strong=strong, scale_ratings=grid is None,
                     fit_supply_cost=not {"supply_quadratic", "supply_linear"} & set(parameters))
    return check_market_scenario(scenario)


@functools.lru_cache(maxsize=1)
def _ieee30():
    return ieee30()


@functools.partial(jax.jit, static_argnames=("num_agents", "slots", "days", "jobs_per_datacenter", "mechanism",
                                             "producers", "strong", "scale_ratings", "fit_supply_cost"))
def _draw(key, malicious_share, line_rating, params, base, profiles, *, num_agents, slots, days, jobs_per_datacenter, mechanism,
          producers, strong, scale_ratings, fit_supply_cost):
    """Every random draw of :func:`default_market` in one compiled program."""
    dtype = malicious_share.dtype
    T = slots
    n_disp, n_ren, n_dc, n_pro = _counts(num_agents)
    role = np.concatenate([np.full(n_disp, DISPATCHABLE), np.full(n_ren, RENEWABLE), np.full(n_dc, DATACENTER),
                           np.full(n_pro, PROSUMER)]).astype(np.int32)
    N = num_agents
    keys = iter(jax.random.split(key, 24))
    uniform = lambda shape, low, high: jax.random.uniform(next(keys), shape, dtype, low, high)
    retail, feed_in = params.retail_price, params.feed_in_price

    is_pro, is_ren, is_dc, is_disp = (role == PROSUMER), (role == RENEWABLE), (role == DATACENTER), (role == DISPATCHABLE)
    solar_farm = is_ren & (np.cumsum(is_ren) % 2 == 1)
    has_pv = is_pro & (np.arange(N) % 5 < 3)  # 60% of households, deterministic
    has_battery = has_pv & (np.arange(N) % 2 == 0)
    pv = uniform((N,), 2.0, 6.0)
    farm_size = jnp.where(is_ren, uniform((N,), 0.5, 1.5), 0.0)
    household_load = uniform((N,), 0.4, 1.2)
    inference = uniform((N,), 10.0, 40.0)
    battery = uniform((N,), 5.0, 13.5)
    load = jnp.where(is_pro, household_load, jnp.where(is_dc, inference, 0.0))
    battery_capacity = jnp.where(has_battery, battery, 0.0)

    # training jobs
    J = n_dc * jobs_per_datacenter
    owner = np.repeat(np.flatnonzero(is_dc), jobs_per_datacenter).astype(np.int32)
    window_days = jax.random.randint(next(keys), (J,), 3, 11, dtype=jnp.int32)
    window_days = jnp.minimum(window_days, days)
    start_day = jnp.floor(uniform((J,), 0.0, 1.0) * (days - window_days + 1).astype(dtype)).astype(jnp.int32)
    start_slot = jax.random.randint(next(keys), (J,), 0, T, dtype=jnp.int32)
    start = start_day * T + start_slot
    deadline = start + window_days * T
    max_power = uniform((J,), 0.5, 1.5) * inference[owner]
    energy = uniform((J,), 0.3, 0.7) * max_power * (deadline - start).astype(dtype)
    pausable = uniform((J,), 0.0, 1.0) < 0.7
    jobs = Jobs(owner=jnp.asarray(owner), energy=energy, start=start, deadline=deadline, max_power=max_power,
                pausable=pausable)

    # plants sized to the estimated peak
    compute = jnp.where(is_dc, uniform((N,), 5.0, 20.0), 0.0)
    training_power = jax.ops.segment_sum(max_power, jnp.asarray(owner), num_segments=N) / max(jobs_per_datacenter, 1)
    peak = (jnp.sum(jnp.where(is_pro, 1.6 * household_load, 0.0))
            + jnp.sum(jnp.where(is_dc, inference + compute * params.compute_energy / T + 0.6 * training_power, 0.0)))
    plant_cost = jnp.where(jnp.arange(N) == 0, 0.20, uniform((N,), 0.06, 0.16))
    plant_share = jnp.where(jnp.arange(N) == 0, 0.4, 0.6 / max(n_disp - 1, 1))
    farm = 1.2 * peak * farm_size / jnp.sum(farm_size)  # the farms together: 1.2 times the peak
    capacity = jnp.where(is_disp, 1.1 * peak * plant_share, jnp.where(is_ren, farm, jnp.where(has_pv, pv, 0.0)))
    marginal_cost = jnp.where(is_disp, plant_cost, 0.0)
    emission_rate = jnp.where(is_disp, jnp.where(jnp.arange(N) == 0, 0.45, 0.95 - 3.5 * (plant_cost - 0.06)), 0.0)
    forecast_error = jnp.where(is_pro & has_pv, 0.25, jnp.where(solar_farm, 0.2, jnp.where(is_ren, 0.3, 0.0)))
    generation_profile = np.where(solar_farm | is_pro, SOLAR, WIND).astype(np.int32)
    load_profile = np.where(is_pro, HOUSEHOLD, FLAT).astype(np.int32)
    middle = 0.5 * (retail + feed_in)
    bid_price = jnp.where(is_dc, uniform((N,), 0.0, 1.0) * (retail - middle) + middle,
                          uniform((N,), 0.0, 1.0) * (retail - feed_in) + feed_in)
    ask_price = jnp.where(is_ren, uniform((N,), 0.0, 1.0) * (middle - feed_in) + feed_in,
                          uniform((N,), 0.0, 1.0) * (retail - feed_in) + feed_in)
    typical = jnp.where(is_disp | is_ren, 0.3 * capacity, load + compute * params.compute_energy / T)
    stake = 5.0 * retail * typical * T
    malicious = (uniform((N,), 0.0, 1.0) < malicious_share) & (jnp.arange(N) != 0)

    # the grid
    scale = 100.0 * peak / IEEE30_LOAD_MW if scale_ratings else 1.0
    grid = dataclasses.replace(base, capacity=base.capacity * scale * line_rating)
    producers = np.asarray(producers, dtype=np.int32)
    plant_bus = jnp.asarray(producers[np.arange(N) % producers.size])
    # data centers at the buses with the most line capacity (strong substations), plants at generator buses
    strong = np.asarray(strong, dtype=np.int32)
    center_bus = jnp.asarray(strong[np.cumsum(is_dc) % strong.size])
    bus = jax.random.randint(next(keys), (N,), 0, grid.num_buses, dtype=jnp.int32)
    bus = jnp.where(is_disp, plant_bus, jnp.where(is_dc, center_bus, bus))
    bus = jnp.where(jnp.arange(N) == 0, jnp.int32(grid.slack), bus)
    stack_cost = jnp.where(is_disp, plant_cost, jnp.nan)
    low, high = jnp.nanmin(stack_cost), jnp.nanmax(stack_cost)
    total = jnp.sum(jnp.where(is_disp, capacity, 0.0))
    if fit_supply_cost:
        params = dataclasses.replace(params, supply_quadratic=jnp.full(T, 0.5 * (high - low) / total, dtype),
                                     supply_linear=jnp.full(T, low, dtype))

    scenario = MarketScenario(
        role=jnp.asarray(role), bus=bus, malicious=malicious, capacity=capacity, marginal_cost=marginal_cost,
        emission_rate=emission_rate, forecast_error=forecast_error, generation_profile=jnp.asarray(generation_profile),
        load=load, load_profile=jnp.asarray(load_profile), flexible_share=jnp.where(is_pro, uniform((N,), 0.1, 0.3), 0.0),
        bid_price=bid_price, ask_price=ask_price, battery_capacity=battery_capacity,
        battery_power=battery_capacity / 2.5, battery_efficiency=jnp.where(has_battery, 0.92, 1.0),
        battery_initial=0.5 * battery_capacity, stake=stake, compute_offered=compute,
        credit_valuation=jnp.where(is_dc, uniform((N,), 0.7, 1.0), 1.0),
        datacenters=jnp.asarray(np.flatnonzero(is_dc), jnp.int32),
        plants=jnp.asarray(np.flatnonzero(is_disp), jnp.int32), jobs=jobs,
        profiles=synthetic_profiles(next(keys), days=365, slots=T, dtype=dtype) if profiles is None else profiles,
        grid=grid, params=params,
        mechanism=mechanism, rules=default_rules(mechanism), profile_names=PROFILE_NAMES)
    # every field strongly typed, as a field a user replaces would be (a weak type compiles another program)
    return jax.tree_util.tree_map(lambda x: x.astype(x.dtype), scenario)

