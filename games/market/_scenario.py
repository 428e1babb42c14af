"""The repeated market's scenario: who the agents are, the grid, the exogenous profiles, the rules' parameters.

A :class:`MarketScenario` is an immutable pytree. Its array fields are leaves (traced, batched,
differentiated); the choice of mechanism, the replaceable pieces of the day (:class:`MarketRules`) and
the profile names are static. Agents are indexed ``0..N-1`` and have one of four roles:

- ``RENEWABLE``: a solar or wind farm of nameplate ``capacity`` (energy per slot) following a generation
  profile, with a relative forecast error ``forecast_error``;
- ``DISPATCHABLE``: a plant (or the grid supply point) of ``capacity`` per slot at ``marginal_cost``
  emitting ``emission_rate`` per unit of energy, dispatched in merit order in every slot;
- ``PROSUMER``: a household with a base ``load`` following a load profile, rooftop PV of ``capacity``
  and optionally a battery (``battery_capacity``, ``battery_power``, ``battery_efficiency``);
- ``DATACENTER``: an inflexible inference ``load`` plus LLM training jobs (:class:`Jobs`: energy,
  earliest start, deadline, maximum power, and whether the job can checkpoint and pause), offering
  ``compute_offered`` units of compute to the network each day for energy credits.

``malicious`` marks the agents that misbehave: they withhold part of the energy they sell
(non-delivery), offer more than they have (over-reported supply), ask less than their reservation
price (misreported bids), and data centers claim more compute than they offer (over-reported compute).

Times of jobs are absolute slot indices ``day * T + slot`` from the first simulated day. Profiles are
``(P, D, T)``: ``P`` named profiles (``profile_names``) over ``D`` days of ``T`` slots; simulated day
``d`` uses profile day ``d mod D``.

Reference: the agent types of the issue; data-center flexibility as deferrable, deadline-bound load
beside inflexible serving load follows A. Radovanovic et al. (2023), "Carbon-aware computing for
datacenters", IEEE Transactions on Power Systems 38(2).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import pytree_dataclass, static_field

from ..grid import Grid

__all__ = [
    "RENEWABLE",
    "DISPATCHABLE",
    "PROSUMER",
    "DATACENTER",
    "ROLE_NAMES",
    "MECHANISMS",
    "Jobs",
    "MarketParameters",
    "MarketRules",
    "MarketScenario",
    "market_scenario",
    "check_market_scenario",
]

RENEWABLE, DISPATCHABLE, PROSUMER, DATACENTER = 0, 1, 2, 3
ROLE_NAMES = ("renewable", "dispatchable", "prosumer", "datacenter")
#: ``"auction"``: a daily multi-unit double auction among peers; ``"pricing"``: a billing rule and the
#: demand-response equilibrium of the users.
MECHANISMS = ("auction", "pricing")


@pytree_dataclass
class Jobs:
    """LLM training jobs of the data centers, ``J`` of them (an immutable pytree).

    Attributes:
      owner: ``(J,)`` int, the data-center agent that runs the job.
      energy: ``(J,)`` energy the job needs.
      start: ``(J,)`` int, the earliest slot (absolute: ``day * T + slot``).
      deadline: ``(J,)`` int, the job must finish before this slot (exclusive).
      max_power: ``(J,)`` the most energy the job can draw in one slot.
      pausable: ``(J,)`` bool: the job checkpoints and can pause in any slot (otherwise it runs at
        ``max_power`` from its start until it is done).
    """

    owner: jax.Array
    energy: jax.Array
    start: jax.Array
    deadline: jax.Array
    max_power: jax.Array
    pausable: jax.Array

    @property
    def num_jobs(self) -> int:
        return int(self.energy.shape[-1])


@pytree_dataclass
class MarketParameters:
    """The market's rules as numbers (scalar leaves unless noted; all may be traced, e.g. by a sweep).

    Tariffs: ``retail_price`` (the operator sells unmatched demand), ``feed_in_price`` (it buys
    unmatched surplus), ``scarcity_price`` (the real-time price when load is shed; also the value of
    lost load in ``welfare``). Weather: ``forecast_correlation`` of the forecast errors within a day.
    Misbehaviour of malicious agents: ``withhold`` (fraction of its exports a seller does not deliver),
    ``over_report`` (extra supply offered), ``ask_shading`` (asks lowered by this fraction),
    ``compute_over_report`` (extra compute claimed). Enforcement: ``enforcement`` (bool: fines, slashing,
    access and price tiers on; reputations are kept either way), ``delivery_tolerance`` (a shortfall
    above this fraction of the energy sold is detected), ``audit_probability`` (each trading agent's
    reports are audited with it), ``penalty_rate`` (fine per unit of energy sold, in units of the retail
    price), ``slash_fraction``, ``minimum_stake`` (fraction of the initial stake below which an agent
    loses access), ``access_threshold`` (reputation below which an agent loses access),
    ``forgetting`` (of the beta reputation), ``reputation_penalty`` (:func:`mechanisms.penalize` on the
    day of a detection), ``tier_thresholds`` ``(K,)`` and ``tier_multipliers`` ``(K + 1,)``
    (:func:`mechanisms.price_tier`: multipliers of a seller's receipts). Credits: ``credit_rate``
    (credits per unit of compute offered), ``credit_block`` (credits per unit traded in the credit
    auction), ``compute_energy`` (energy per unit of compute, consumed by the data center that offers
    it). Pricing mechanism: ``supply_quadratic``, ``supply_linear`` ``(T,)``, the operator's supply cost
    ``C_t(L) = a_t L^2 + b_t L`` of the billing rule.
    """

    retail_price: jax.Array
    feed_in_price: jax.Array
    scarcity_price: jax.Array
    forecast_correlation: jax.Array
    withhold: jax.Array
    over_report: jax.Array
    ask_shading: jax.Array
    compute_over_report: jax.Array
    enforcement: jax.Array
    delivery_tolerance: jax.Array
    audit_probability: jax.Array
    penalty_rate: jax.Array
    slash_fraction: jax.Array
    minimum_stake: jax.Array
    access_threshold: jax.Array
    forgetting: jax.Array
    reputation_penalty: jax.Array
    tier_thresholds: jax.Array
    tier_multipliers: jax.Array
    credit_rate: jax.Array
    credit_block: jax.Array
    compute_energy: jax.Array
    supply_quadratic: jax.Array
    supply_linear: jax.Array


@dataclasses.dataclass(frozen=True)
class MarketRules:
    """The replaceable pieces of a market day (static: part of the compiled program).

    Each field is a function; :func:`~games.market.step` calls them in this order. Replace one with
    ``dataclasses.replace(scenario, rules=dataclasses.replace(scenario.rules, clear=my_clear))``; a
    replacement must keep the signature and return type of the piece it replaces (see
    :mod:`games.market._pieces`). ``solve_equilibrium`` (``game -> schedules``) is the equilibrium solver
    of the pricing mechanism; :mod:`games` cannot import :mod:`solvers`, so :func:`analysis.simulate`
    supplies best-response sweeps when it is ``None``.
    """

    weather: Callable
    schedule: Callable
    offers: Callable
    clear: Callable
    dispatch: Callable
    settle: Callable
    enforce: Callable
    trade_credits: Callable
    solve_equilibrium: Callable | None = None


@pytree_dataclass
class MarketScenario:
    """A repeated energy market (an immutable pytree); build it with :func:`market_scenario` or
    :func:`~games.default_market`, which validate.

    Agent arrays are ``(N,)``: ``role`` (int, :data:`ROLE_NAMES`), ``bus`` (int, a bus of ``grid``),
    ``malicious`` (bool), ``capacity``, ``marginal_cost``, ``emission_rate``, ``forecast_error``,
    ``generation_profile`` (int), ``load``, ``load_profile`` (int), ``flexible_share`` (the share of a
    prosumer's daily load it may move within the day under the pricing mechanism), ``bid_price`` and
    ``ask_price`` (reservation prices per unit of energy bought and sold peer to peer), the battery
    (``battery_capacity``, ``battery_power``, ``battery_efficiency`` in (0, 1] on charging,
    ``battery_initial``), ``stake`` (initial stake), ``compute_offered`` (compute units per day),
    ``credit_valuation`` (value of a credit, in units of the retail price). ``datacenters`` ``(C,)``
    indexes the data centers (the rows of the schedules and credits of a simulation), ``plants``
    ``(K,)`` the dispatchable agents. ``jobs`` are the
    training jobs, ``profiles`` ``(P, D, T)``, ``grid`` the network, ``params`` the rules' numbers.
    """

    role: jax.Array
    bus: jax.Array
    malicious: jax.Array
    capacity: jax.Array
    marginal_cost: jax.Array
    emission_rate: jax.Array
    forecast_error: jax.Array
    generation_profile: jax.Array
    load: jax.Array
    load_profile: jax.Array
    flexible_share: jax.Array
    bid_price: jax.Array
    ask_price: jax.Array
    battery_capacity: jax.Array
    battery_power: jax.Array
    battery_efficiency: jax.Array
    battery_initial: jax.Array
    stake: jax.Array
    compute_offered: jax.Array
    credit_valuation: jax.Array
    datacenters: jax.Array
    plants: jax.Array
    jobs: Jobs
    profiles: jax.Array
    grid: Grid
    params: MarketParameters
    mechanism: str = static_field(default="auction")
    rules: MarketRules | None = static_field(default=None)
    profile_names: tuple = static_field(default=())

    @property
    def num_agents(self) -> int:
        return int(self.role.shape[-1])

    @property
    def num_slots(self) -> int:
        return int(self.profiles.shape[-1])

    @property
    def num_profile_days(self) -> int:
        return int(self.profiles.shape[-2])

    @property
    def num_datacenters(self) -> int:
        return int(self.datacenters.shape[-1])

    def with_rules(self, **pieces) -> "MarketScenario":
        """A copy whose rules have the given pieces replaced (``scenario.with_rules(clear=my_clear)``)."""
        return dataclasses.replace(self, rules=dataclasses.replace(self.rules, **pieces))


_AGENT_FLOATS = ("capacity", "marginal_cost", "emission_rate", "forecast_error", "load", "flexible_share",
                 "bid_price", "ask_price", "battery_capacity", "battery_power", "battery_efficiency",
                 "battery_initial", "stake", "compute_offered", "credit_valuation")
_AGENT_INTS = ("role", "bus", "generation_profile", "load_profile")
_NONNEGATIVE = ("capacity", "marginal_cost", "emission_rate", "forecast_error", "load", "bid_price", "ask_price",
                "battery_capacity", "battery_power", "battery_initial", "stake", "compute_offered",
                "credit_valuation")
_UNIT_INTERVAL = ("forecast_correlation", "withhold", "ask_shading", "delivery_tolerance", "audit_probability",
                  "slash_fraction", "minimum_stake", "access_threshold", "reputation_penalty")


def _concrete(x) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def check_market_scenario(scenario: MarketScenario) -> MarketScenario:
    """Eager checks of a scenario (skipped for traced fields); returns it, or raises ``ValueError`` naming
    the field and the problem: shapes, roles, buses, negative capacities or prices, batteries, jobs
    (owner, a deadline that precedes the start, energy that cannot fit before the deadline), profiles,
    parameters."""
    if not isinstance(scenario, MarketScenario):
        raise ValueError(f"expected a MarketScenario; got {type(scenario).__name__}")
    if scenario.mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}; got {scenario.mechanism!r}")
    profiles = scenario.profiles
    if np.ndim(profiles) != 3 or min(np.shape(profiles)) < 1:
        raise ValueError(f"profiles must have shape (profiles, days, slots) with every size >= 1; got "
                         f"{np.shape(profiles)}")
    num_profiles, _, T = np.shape(profiles)
    if scenario.profile_names and len(scenario.profile_names) != num_profiles:
        raise ValueError(f"profile_names has {len(scenario.profile_names)} names for {num_profiles} profiles")
    N = np.shape(scenario.role)[-1] if np.ndim(scenario.role) == 1 else -1
    if N < 1:
        raise ValueError(f"role must be a nonempty (agents,) array; got shape {np.shape(scenario.role)}")
    for name in _AGENT_FLOATS + _AGENT_INTS + ("malicious",):
        shape = np.shape(getattr(scenario, name))
        if shape != (N,):
            raise ValueError(f"{name} must have one entry per agent, shape ({N},); got {shape}")
    if not isinstance(scenario.grid, Grid):
        raise ValueError(f"grid must be a games.Grid; got {type(scenario.grid).__name__}")
    if _concrete(profiles):
        values = np.asarray(profiles)
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError("profiles must be finite and nonnegative")
    agents = {name: getattr(scenario, name) for name in _AGENT_FLOATS + _AGENT_INTS + ("malicious",)}
    if _concrete(agents):
        role = np.asarray(scenario.role)
        if not np.isin(role, np.arange(len(ROLE_NAMES))).all():
            raise ValueError(f"role must hold codes 0..3 ({', '.join(ROLE_NAMES)}); got {sorted(set(role.tolist()))}")
        for name in _AGENT_FLOATS:
            value = np.asarray(agents[name], dtype=float)
            if not np.isfinite(value).all():
                raise ValueError(f"{name} must be finite (NaN or infinity at agent {int(np.flatnonzero(~np.isfinite(value))[0])})")
        for name in _NONNEGATIVE:
            value = np.asarray(agents[name], dtype=float)
            if (value < 0).any():
                k = int(np.flatnonzero(value < 0)[0])
                raise ValueError(f"{name} must be nonnegative; agent {k} ({ROLE_NAMES[role[k]]}) has {value[k]}")
        efficiency = np.asarray(scenario.battery_efficiency, dtype=float)
        if ((efficiency <= 0) | (efficiency > 1)).any():
            raise ValueError("battery_efficiency must lie in (0, 1]")
        if (np.asarray(scenario.battery_initial) > np.asarray(scenario.battery_capacity)).any():
            k = int(np.flatnonzero(np.asarray(scenario.battery_initial) > np.asarray(scenario.battery_capacity))[0])
            raise ValueError(f"battery_initial exceeds battery_capacity at agent {k}")
        share = np.asarray(scenario.flexible_share, dtype=float)
        if ((share < 0) | (share > 1)).any():
            raise ValueError("flexible_share must lie in [0, 1]")
        bus = np.asarray(scenario.bus)
        if (bus < 0).any() or (bus >= scenario.grid.num_buses).any():
            raise ValueError(f"bus must hold bus indices in [0, {scenario.grid.num_buses}); got "
                             f"{int(bus.min())}..{int(bus.max())}")
        for name in ("generation_profile", "load_profile"):
            index = np.asarray(agents[name])
            if (index < 0).any() or (index >= num_profiles).any():
                raise ValueError(f"{name} must index the {num_profiles} profiles; got {int(index.min())}..{int(index.max())}")
        datacenters = np.asarray(scenario.datacenters)
        if not np.array_equal(datacenters, np.flatnonzero(role == DATACENTER)):
            raise ValueError("datacenters must list the agents whose role is datacenter, in order")
        if not np.array_equal(np.asarray(scenario.plants), np.flatnonzero(role == DISPATCHABLE)):
            raise ValueError("plants must list the agents whose role is dispatchable, in order")
        if not (role == DISPATCHABLE).any():
            raise ValueError("a market needs at least one dispatchable agent (the supply of last resort)")
    jobs = scenario.jobs
    J = np.shape(jobs.energy)[-1] if np.ndim(jobs.energy) == 1 else -1
    for name in ("owner", "energy", "start", "deadline", "max_power", "pausable"):
        if np.shape(getattr(jobs, name)) != (max(J, 0),) or J < 0:
            raise ValueError(f"jobs.{name} must have shape (jobs,) like jobs.energy; got {np.shape(getattr(jobs, name))}")
    if _concrete(jobs) and J > 0:
        start, deadline = np.asarray(jobs.start), np.asarray(jobs.deadline)
        energy, power = np.asarray(jobs.energy, dtype=float), np.asarray(jobs.max_power, dtype=float)
        bad = np.flatnonzero(deadline <= start)
        if bad.size:
            j = int(bad[0])
            raise ValueError(f"job {j}: deadline (slot {int(deadline[j])}) must come after its earliest start "
                             f"(slot {int(start[j])})")
        if (start < 0).any():
            raise ValueError(f"jobs.start must be nonnegative slots; job {int(np.flatnonzero(start < 0)[0])} starts before slot 0")
        for name, value in (("energy", energy), ("max_power", power)):
            if not np.isfinite(value).all() or (value < 0).any():
                raise ValueError(f"jobs.{name} must be finite and nonnegative")
        short = np.flatnonzero(energy > power * (deadline - start) * (1 + 1e-12))
        if short.size:
            j = int(short[0])
            raise ValueError(f"job {j} cannot finish: it needs {energy[j]} but can draw at most "
                             f"{power[j] * (deadline[j] - start[j])} between its start and deadline")
        if _concrete(scenario.role):
            owner = np.asarray(jobs.owner)
            if (owner < 0).any() or (owner >= N).any() or (np.asarray(scenario.role)[owner] != DATACENTER).any():
                raise ValueError("every job's owner must be a data-center agent")
    params = scenario.params
    if np.shape(params.supply_quadratic) != (T,) or np.shape(params.supply_linear) != (T,):
        raise ValueError(f"params.supply_quadratic and supply_linear must have one value per slot ({T},); got "
                         f"{np.shape(params.supply_quadratic)} and {np.shape(params.supply_linear)}")
    thresholds, multipliers = np.shape(params.tier_thresholds), np.shape(params.tier_multipliers)
    if len(thresholds) != 1 or multipliers != (thresholds[0] + 1,):
        raise ValueError(f"params.tier_thresholds must be (K,) and tier_multipliers (K + 1,); got {thresholds} and "
                         f"{multipliers}")
    if _concrete(params):
        for field in dataclasses.fields(MarketParameters):
            value = np.asarray(getattr(params, field.name), dtype=float)
            if not np.isfinite(value).all():
                raise ValueError(f"params.{field.name} must be finite")
        for name in _UNIT_INTERVAL:
            value = float(getattr(params, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"params.{name} must lie in [0, 1]; got {value}")
        if not 0.0 < float(params.forgetting) <= 1.0:
            raise ValueError(f"params.forgetting must lie in (0, 1]; got {float(params.forgetting)}")
        for name in ("retail_price", "feed_in_price", "scarcity_price", "over_report", "compute_over_report",
                     "penalty_rate", "credit_rate", "credit_block", "compute_energy"):
            if float(getattr(params, name)) < 0:
                raise ValueError(f"params.{name} must be nonnegative; got {float(getattr(params, name))}")
        if float(params.credit_block) <= 0:
            raise ValueError("params.credit_block must be positive")
        if float(params.feed_in_price) > float(params.retail_price):
            raise ValueError("params.feed_in_price must not exceed params.retail_price")
        if (np.asarray(params.supply_quadratic) <= 0).any():
            raise ValueError("params.supply_quadratic must be positive (a strictly convex supply cost)")
        if (np.diff(np.asarray(params.tier_thresholds)) <= 0).any():
            raise ValueError("params.tier_thresholds must be strictly increasing")
    if scenario.rules is None:
        raise ValueError("scenario.rules is None: build scenarios with market_scenario or default_market")
    return scenario


def market_scenario(*, role, bus, malicious, capacity, marginal_cost, emission_rate, forecast_error,
                    generation_profile, load, load_profile, bid_price, ask_price, stake, grid: Grid, profiles,
                    params: MarketParameters, jobs: Jobs | None = None, flexible_share=0.0, battery_capacity=0.0,
                    battery_power=0.0, battery_efficiency=1.0, battery_initial=None, compute_offered=0.0,
                    credit_valuation=1.0, profile_names=(), slots_per_day: int | None = None,
                    mechanism: str = "auction", rules: MarketRules | None = None) -> MarketScenario:
    """Build and validate a :class:`MarketScenario` from per-agent arrays (scalars broadcast to every agent).

    ``profiles`` is ``(P, D, T)``, or ``(P, D * T)`` one-year series with ``slots_per_day = T`` (a
    length that is not a whole number of days is a ``ValueError``). ``rules`` defaults to the pieces of
    :func:`~games.market.default_rules` for ``mechanism``. Raises ``ValueError`` as
    :func:`check_market_scenario` does.
    """
    from ._pieces import default_rules

    role = np.asarray(role)
    if role.ndim != 1 or role.size < 1 or not np.issubdtype(role.dtype, np.integer):
        raise ValueError(f"role must be a nonempty 1-D integer array; got {role!r}")
    N = role.size
    dtype = jnp.result_type(float)
    profiles = np.asarray(profiles, dtype=float)
    if slots_per_day is not None:
        if isinstance(slots_per_day, bool) or not isinstance(slots_per_day, (int, np.integer)) or slots_per_day < 1:
            raise ValueError(f"slots_per_day must be a positive integer; got {slots_per_day!r}")
        if profiles.ndim != 2:
            raise ValueError(f"profiles with slots_per_day must be (profiles, length); got shape {profiles.shape}")
        if profiles.shape[1] % slots_per_day or profiles.shape[1] == 0:
            raise ValueError(f"profiles have length {profiles.shape[1]}, not a whole number of days of "
                             f"{slots_per_day} slots")
        profiles = profiles.reshape(profiles.shape[0], -1, slots_per_day)

    def agents(value, name, integer=False):
        array = np.asarray(value)
        try:
            array = np.broadcast_to(array, (N,))
        except ValueError:
            raise ValueError(f"{name} must have one entry per agent, shape ({N},); got {np.shape(value)}") from None
        return jnp.asarray(array, dtype=jnp.int32 if integer else (bool if name == "malicious" else dtype))

    capacity_ = agents(capacity, "capacity")
    battery_capacity_ = agents(battery_capacity, "battery_capacity")
    if jobs is None:
        jobs = Jobs(jnp.zeros(0, jnp.int32), jnp.zeros(0, dtype), jnp.zeros(0, jnp.int32), jnp.ones(0, jnp.int32),
                    jnp.zeros(0, dtype), jnp.zeros(0, bool))
    scenario = MarketScenario(
        role=jnp.asarray(role, jnp.int32), bus=agents(bus, "bus", True), malicious=agents(malicious, "malicious"),
        capacity=capacity_, marginal_cost=agents(marginal_cost, "marginal_cost"),
        emission_rate=agents(emission_rate, "emission_rate"), forecast_error=agents(forecast_error, "forecast_error"),
        generation_profile=agents(generation_profile, "generation_profile", True), load=agents(load, "load"),
        load_profile=agents(load_profile, "load_profile", True), flexible_share=agents(flexible_share, "flexible_share"),
        bid_price=agents(bid_price, "bid_price"), ask_price=agents(ask_price, "ask_price"),
        battery_capacity=battery_capacity_, battery_power=agents(battery_power, "battery_power"),
        battery_efficiency=agents(battery_efficiency, "battery_efficiency"),
        battery_initial=agents(0.5 * np.asarray(battery_capacity) if battery_initial is None else battery_initial,
                               "battery_initial"),
        stake=agents(stake, "stake"), compute_offered=agents(compute_offered, "compute_offered"),
        credit_valuation=agents(credit_valuation, "credit_valuation"),
        datacenters=jnp.asarray(np.flatnonzero(role == DATACENTER), jnp.int32),
        plants=jnp.asarray(np.flatnonzero(role == DISPATCHABLE), jnp.int32), jobs=jobs, profiles=jnp.asarray(profiles, dtype), grid=grid, params=params, mechanism=mechanism,
        rules=default_rules(mechanism) if rules is None else rules, profile_names=tuple(profile_names))
    return check_market_scenario(scenario)
