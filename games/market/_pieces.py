"""One day of the repeated market, built from replaceable pieces: ``step(state, inputs, key)``.

A day has ``T`` slots. With ``N`` agents (see :mod:`games.market._scenario`), the day runs these
pieces of :class:`~games.market.MarketRules`, in order:

1. ``weather(scenario, day, key) -> Weather``: each agent's forecast and realized renewable generation
   and base load. Realized = forecast ``x (1 + sigma_i e_it)`` clipped to ``[0, capacity]``, with
   errors ``e_it = rho h_i + sqrt(1 - rho^2) z_it`` correlated within the day (``h_i``, ``z_it``
   standard normal).
2. ``schedule(scenario, state, day, weather) -> Schedule``: the consumption plan. Data centers run
   their inference load, the compute they offer, and their training jobs: a job that cannot pause runs
   at full power from its start until done; a pausable one plans ``max(need, remaining / days left)``
   for today (``need``: what must run today to still meet the deadline). Under the auction the pausable
   energy goes into the slots with the lowest expected price (yesterday's prices): a price taker's best
   response. Under pricing every user's plan is the demand-response equilibrium of the day
   (:func:`demand_response_day`, solved by ``rules.solve_equilibrium``).
3. ``offers(scenario, state, day, weather, schedule, access) -> Offers``: the day-ahead reports. With
   a battery run on the forecasts (self-consumption), each agent's forecast surplus and deficit over
   the day are offered and bid in one multi-unit double auction (daily energy); honest agents report
   their reservation prices (truthful in price is dominant in the auction of Huang et al. 2002);
   malicious ones over-report supply and shade their asks.
4. ``clear(scenario, offers, key) -> MultiUnitClearing``: the auction (:func:`mechanisms.huang_double_auction`;
   under pricing nobody trades peer to peer).
5. ``dispatch(scenario, state, network, weather, schedule, access) -> Dispatch``: the realized slots.
   Own generation serves own load, batteries charge from surplus and discharge into deficit
   (self-consumption), malicious sellers withhold ``withhold`` of their exports, agents without access
   cannot export. The grid takes the exports; a surplus is curtailed pro rata; a deficit is met by the
   dispatchable agents in merit order of their offered costs; a dispatched malicious plant delivers
   only ``1 - withhold`` of what it was dispatched, and honest spare capacity is re-dispatched in merit
   order; what is still missing is shed pro rata (unserved energy). The real-time price is the offered
   cost of the marginal plant (0 when renewables are curtailed, ``scarcity_price`` when load is shed).
   Line limits: the net injections ``p_b`` of the buses give flows ``PTDF p``; when a line would be
   overloaded every bus's net injection is scaled by ``alpha = min(1, min_l F_l / |f_l|)`` (trades
   crossing the network are curtailed pro rata, local trades inside a bus are kept): exporters at
   exporting buses deliver less (curtailment, less dispatch) and importers at importing buses are
   served less (unserved energy). Flows are linear in the injections, so the scaled flows ``alpha f``
   respect every limit, and the injections still sum to zero. No LMPs: the congestion is curtailed,
   not priced.
6. ``enforce(scenario, state, weather, offers, clearing, dispatch, key) -> Enforcement``: a seller
   whose shortfall exceeds ``delivery_tolerance`` of what it sold plus three standard deviations of its
   forecast error (or a plant that delivered less than ``1 - delivery_tolerance`` of its dispatch) is
   detected; every agent that traded is audited with ``audit_probability``, which
   catches a malicious agent's misreports. Detected agents are fined ``penalty_rate x retail_price``
   per unit of the day's volume, slashed (:func:`mechanisms.slash`) and get negative evidence; the
   others that traded get positive evidence. Reputation: beta reputation with forgetting
   (:func:`mechanisms.beta_update`, :func:`mechanisms.beta_score`) and :func:`mechanisms.penalize` on
   the day of a detection. With ``enforcement`` off, reputations are kept but nothing is fined or
   slashed and access and prices ignore them.
7. ``trade_credits(scenario, state, dispatch, schedule, enforcement, access) -> Credits``: data centers earn
   ``credit_rate`` credits per unit of compute they claim to offer (a detected over-report loses the
   day's credits), trade blocks of ``credit_block`` credits in a McAfee double auction (those with a
   surplus over today's training energy sell, those short buy, at their valuations of a credit), and
   spend credits on their training energy (one credit pays one unit at the retail price).
8. ``settle(scenario, state, weather, schedule, offers, clearing, dispatch, enforcement, credits, tier)
   -> Settlement``: the money. Auction: peers pay and receive the auction's prices, a
   seller's receipts scaled by its reputation's price tier (:func:`mechanisms.price_tier`); energy
   beyond a contract is sold to the operator at ``feed_in_price``, missing energy bought from it at
   ``retail_price`` (a seller's shortfall against what it made available; energy the operator curtailed
   is neither paid nor charged); plants are paid the real-time price. Pricing: users pay the daily
   proportional bills of the operator's supply cost (:func:`mechanisms.daily_proportional_user_bill`,
   Mohsenian-Rad et al. 2010) and every unit of renewable energy used and of dispatch is paid the
   real-time price. Fines, slashed stakes, credit trades and redemptions are added. The operator's
   surplus is computed from its own flows.

Access for the next day: an agent may trade if its reputation is at least ``access_threshold`` and its
stake at least ``minimum_stake`` of its initial stake (with enforcement on).

Invariants, returned every day in the :class:`DayRecord`: energy balance
``generation + discharge = served load + charge + curtailment`` (generation: renewable energy available
plus dispatched; curtailment: renewable energy withheld, refused, in excess or congested, each counted
where it happens), money balance ``payments + penalties = receipts + operator surplus`` (all money
agents pay for energy and credits, plus fines and slashed stakes, equals all money they receive plus
the operator's surplus, computed from the operator's side), batteries within ``[0, capacity]``,
nonnegative credits and stakes, and the largest line loading after congestion control (at most 1).

References: P. Huang, A. Scheller-Wolf and K. Sycara (2002), Computational Intelligence 18(4) (the
multi-unit double auction); R. P. McAfee (1992), JET 56 (the credit auction); A.-H. Mohsenian-Rad et
al. (2010), IEEE Trans. Smart Grid 1(3) (billing and the demand-response game); A. Josang and R. Ismail
(2002) (beta reputation); V. Buterin and V. Griffith (2017) (slashing); F. C. Schweppe et al. (1988),
*Spot Pricing of Electricity* (DC power flow, merit-order prices); T. Tushar et al. (2020),
"Peer-to-peer trading in electricity networks: an overview", IEEE Trans. Smart Grid 11(4) (peer
trading beside a retailer's tariffs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import (BetaEvidence, MultiUnitClearing, beta_score, beta_update, daily_proportional_user_bill,
                        huang_sorted_clearing,
                        marginal_cost_price, mcafee_double_auction, penalize, price_tier,
                        pytree_dataclass, quadratic_cost, slash)

from ..energy import Consumers, DemandResponseGame, storage_units
from ._scenario import (DATACENTER, DISPATCHABLE, MECHANISMS, PROSUMER, RENEWABLE, MarketRules, MarketScenario)

__all__ = [
    "MarketState",
    "MarketInputs",
    "Network",
    "Weather",
    "Schedule",
    "Offers",
    "Dispatch",
    "Enforcement",
    "Credits",
    "Settlement",
    "DayRecord",
    "initial_market_state",
    "market_network",
    "market_access",
    "step",
    "default_rules",
    "synthetic_weather",
    "price_taking_schedule",
    "equilibrium_schedule",
    "demand_response_day",
    "truthful_offers",
    "auction_clearing",
    "no_clearing",
    "merit_order_dispatch",
    "reputation_enforcement",
    "credit_market",
    "market_settlement",
    "battery_self_consumption",
]


# ----------------------------------------------------------------------------------------------
# Types


@pytree_dataclass
class MarketState:
    """What carries from one day to the next (an immutable pytree; one per Monte Carlo seed).

    ``day`` (int), ``battery`` ``(N,)`` state of charge, ``evidence`` (beta reputation counts),
    ``reputation`` ``(N,)`` the published score, ``stakes`` ``(N,)``, ``credits`` ``(N,)`` (data
    centers' energy credits; 0 for others), ``job_remaining`` ``(J,)`` energy the training jobs still
    need, ``expected_prices`` ``(T,)`` (yesterday's prices: the forecast of price takers).
    """

    day: jax.Array
    battery: jax.Array
    evidence: BetaEvidence
    reputation: jax.Array
    stakes: jax.Array
    credits: jax.Array
    job_remaining: jax.Array
    expected_prices: jax.Array


@pytree_dataclass
class Network:
    """Quantities derived once per run: ``ptdf`` ``(lines, buses)``, ``line_capacity``, ``at_bus``
    ``(N, buses)`` (one-hot: each agent's bus), ``merit_order`` ``(K,)`` (positions in
    ``scenario.plants`` by offered cost) and ``offered_cost`` ``(N,)``."""

    ptdf: jax.Array
    line_capacity: jax.Array
    at_bus: jax.Array
    merit_order: jax.Array
    offered_cost: jax.Array


@pytree_dataclass
class MarketInputs:
    """The inputs of one day: the scenario, the day index and the derived :class:`Network`."""

    scenario: MarketScenario
    day: jax.Array
    network: Network


@pytree_dataclass
class Weather:
    """``forecast`` and ``generation`` (realized) renewable energy and ``base_load``, each ``(N, T)``."""

    forecast: jax.Array
    generation: jax.Array
    base_load: jax.Array


@pytree_dataclass
class Schedule:
    """``demand`` ``(N, T)``: each agent's planned consumption; ``training`` ``(J, T)``: each job's energy;
    ``equilibrium_residual``: the natural-map residual of the pricing equilibrium (0 under the auction)."""

    demand: jax.Array
    training: jax.Array
    equilibrium_residual: jax.Array


@pytree_dataclass
class Offers:
    """The day-ahead book: ``bid`` / ``ask`` unit prices, ``buy_quantity`` / ``sell_quantity`` daily energy
    and the masks of who is on each side, all ``(N,)``."""

    bid: jax.Array
    ask: jax.Array
    buy_quantity: jax.Array
    sell_quantity: jax.Array
    buyer_mask: jax.Array
    seller_mask: jax.Array


@pytree_dataclass
class Dispatch:
    """The realized day, per agent and slot ``(N, T)`` unless noted.

    ``generation`` (renewable energy available), ``self_consumed``, ``charge``, ``discharge``,
    ``withheld`` (malicious), ``refused`` (no access), ``excess`` (surplus curtailed), ``congested``
    (curtailed by line limits), ``exports`` (delivered to the grid), ``import_need``, ``imports``
    (served); per plant ``(K, T)`` in the order of ``scenario.plants``: ``committed`` (dispatch),
    ``dispatched`` (output after failures, re-dispatch and congestion); ``battery`` ``(N,)`` at the end
    of the day, ``prices`` ``(T,)``
    real-time, ``alpha`` ``(T,)`` the congestion factor, ``max_line_loading`` (after congestion control).
    """

    generation: jax.Array
    self_consumed: jax.Array
    charge: jax.Array
    discharge: jax.Array
    withheld: jax.Array
    refused: jax.Array
    excess: jax.Array
    congested: jax.Array
    exports: jax.Array
    import_need: jax.Array
    imports: jax.Array
    committed: jax.Array
    dispatched: jax.Array
    battery: jax.Array
    prices: jax.Array
    alpha: jax.Array
    max_line_loading: jax.Array

    @property
    def curtailment(self):
        """Renewable energy not used, ``(N, T)``: withheld + refused + excess + congested."""
        return self.withheld + self.refused + self.excess + self.congested

    @property
    def unserved(self):
        return self.import_need - self.imports


@pytree_dataclass
class Enforcement:
    """``detected`` ``(N,)`` bool, ``fines``, ``slashed`` (stake taken), ``stakes``, ``evidence``,
    ``reputation`` (after the day), ``shortfall`` (undelivered energy), ``traded`` (bool)."""

    detected: jax.Array
    fines: jax.Array
    slashed: jax.Array
    stakes: jax.Array
    evidence: BetaEvidence
    reputation: jax.Array
    shortfall: jax.Array
    traded: jax.Array


@pytree_dataclass
class Credits:
    """Credits of the day, per agent ``(N,)``: ``earned`` (kept after audits), ``bought`` / ``sold`` (in
    the credit auction), ``spent``, ``balance`` (end of day); money: ``payments``, ``receipts`` of the
    credit auction and its ``surplus``."""

    earned: jax.Array
    bought: jax.Array
    sold: jax.Array
    spent: jax.Array
    balance: jax.Array
    payments: jax.Array
    receipts: jax.Array
    surplus: jax.Array


@pytree_dataclass
class Settlement:
    """Money of the day: ``payments``, ``receipts``, ``penalties`` (fines + slashed stake) per agent
    ``(N,)``, and ``operator_surplus`` computed from the operator's own flows."""

    payments: jax.Array
    receipts: jax.Array
    penalties: jax.Array
    operator_surplus: jax.Array


@pytree_dataclass
class DayRecord:
    """What a simulation keeps of each day (see :class:`analysis.SimulationResult`)."""

    prices: jax.Array
    auction_prices: jax.Array
    schedules: jax.Array
    trades: jax.Array
    reputation: jax.Array
    stakes: jax.Array
    credits: jax.Array
    welfare: jax.Array
    renewable_share: jax.Array
    emissions: jax.Array
    unserved_energy: jax.Array
    diagnostics: dict


# ----------------------------------------------------------------------------------------------
# Set-up


def initial_market_state(scenario: MarketScenario) -> MarketState:
    """Day 0: batteries at their initial charge, no reputation evidence (score 1/2), initial stakes, no
    credits, every job's full energy still needed, expected prices the retail price."""
    dtype = scenario.capacity.dtype
    N, T = scenario.num_agents, scenario.num_slots
    evidence = BetaEvidence.fresh((N,), dtype)
    return MarketState(day=jnp.zeros((), jnp.int32), battery=jnp.asarray(scenario.battery_initial),
                       evidence=evidence, reputation=beta_score(evidence), stakes=jnp.asarray(scenario.stake),
                       credits=jnp.zeros(N, dtype), job_remaining=jnp.asarray(scenario.jobs.energy),
                       expected_prices=jnp.full(T, scenario.params.retail_price, dtype))


def market_network(scenario: MarketScenario) -> Network:
    """The :class:`Network` of a scenario: PTDF from the grid, and the merit order of the plants by their
    offered costs (a malicious plant shades its cost by ``ask_shading``). Jittable."""
    params = scenario.params
    offered_cost = jnp.where(scenario.malicious, (1.0 - params.ask_shading) * scenario.marginal_cost,
                             scenario.marginal_cost)
    at_bus = jax.nn.one_hot(scenario.bus, scenario.grid.num_buses, dtype=offered_cost.dtype)
    return Network(ptdf=scenario.grid.ptdf, line_capacity=scenario.grid.capacity, at_bus=at_bus,
                   merit_order=jnp.argsort(offered_cost[scenario.plants], stable=True).astype(jnp.int32),
                   offered_cost=offered_cost)


def market_access(scenario: MarketScenario, state: MarketState):
    """``(access, tier)``: who may trade today and the multiplier of each seller's receipts."""
    params = scenario.params
    enforced = params.enforcement
    allowed = (state.reputation >= params.access_threshold) & (state.stakes >= params.minimum_stake * scenario.stake)
    access = jnp.logical_not(enforced) | allowed
    tier = jnp.where(enforced, price_tier(state.reputation, params.tier_thresholds, params.tier_multipliers), 1.0)
    return access, tier


# ----------------------------------------------------------------------------------------------
# 1. Weather


def synthetic_weather(scenario: MarketScenario, day, key) -> Weather:
    """Forecast and realized renewable generation and the base load of day ``day`` (see the module docstring)."""
    params = scenario.params
    N, T, D = scenario.num_agents, scenario.num_slots, scenario.num_profile_days
    dtype = scenario.capacity.dtype
    profile = jax.lax.dynamic_index_in_dim(scenario.profiles, day % D, axis=1, keepdims=False)  # (P, T)
    generates = (scenario.role == RENEWABLE) | (scenario.role == PROSUMER)
    forecast = jnp.where(generates[:, None], scenario.capacity[:, None] * profile[scenario.generation_profile], 0.0)
    key_day, key_slot = jax.random.split(key)
    rho = params.forecast_correlation
    # forecast errors drawn in single precision (their precision is immaterial; half the random bits)
    normal = lambda k, shape: jax.random.normal(k, shape, jnp.float32).astype(dtype)
    error = rho * normal(key_day, (N, 1)) + jnp.sqrt(1.0 - rho**2) * normal(key_slot, (N, T))
    generation = jnp.clip(forecast * (1.0 + scenario.forecast_error[:, None] * error), 0.0, scenario.capacity[:, None])
    consumes = (scenario.role == PROSUMER) | (scenario.role == DATACENTER)
    base_load = jnp.where(consumes[:, None], scenario.load[:, None] * profile[scenario.load_profile], 0.0)
    return Weather(forecast=forecast, generation=generation, base_load=base_load)


# ----------------------------------------------------------------------------------------------
# 2. Schedules


def _job_plan(scenario: MarketScenario, state: MarketState, day):
    """Today's windows and obligations of every job: ``(in_window, must_run, need, target)``.

    ``must_run`` ``(J, T)``: the energy of jobs that cannot pause (full power from their start);
    ``need`` ``(J,)``: energy a pausable job must draw today to still meet its deadline; ``target``
    ``(J,)``: what it plans today, ``min(room, max(need, remaining / days left))``.
    """
    jobs, T = scenario.jobs, scenario.num_slots
    dtype = jobs.energy.dtype
    slots = day * T + jnp.arange(T, dtype=jnp.int32)
    in_window = (slots[None, :] >= jobs.start[:, None]) & (slots[None, :] < jobs.deadline[:, None])
    count = jnp.sum(in_window, axis=-1)
    remaining = state.job_remaining
    later = jnp.maximum(jobs.deadline - jnp.maximum((day + 1) * T, jobs.start), 0)
    need = jnp.maximum(remaining - jobs.max_power * later.astype(dtype), 0.0)
    room = jobs.max_power * count.astype(dtype)
    days_left = jnp.maximum((jobs.deadline - day * T + T - 1) // T, 1)
    target = jnp.minimum(jnp.minimum(room, remaining), jnp.maximum(need, remaining / days_left.astype(dtype)))
    target = jnp.where(count > 0, target, 0.0)
    inside = in_window.astype(dtype)
    before = jnp.cumsum(inside, axis=-1) - inside  # window slots before each slot today
    must_run = jnp.where(in_window & jnp.logical_not(jobs.pausable)[:, None],
                         jnp.clip(remaining[:, None] - jobs.max_power[:, None] * before, 0.0, jobs.max_power[:, None]),
                         0.0)
    return in_window, must_run, need, jnp.where(jobs.pausable, target, 0.0)


def _per_agent(scenario: MarketScenario, job_values):
    """Sum ``(J, ...)`` job values into their owners, ``(N, ...)``."""
    return jax.ops.segment_sum(job_values, scenario.jobs.owner, num_segments=scenario.num_agents)


def _compute_load(scenario: MarketScenario):
    """``(N,)`` energy per slot a data center spends on the compute it offers to the network."""
    return scenario.compute_offered * scenario.params.compute_energy / scenario.num_slots


def price_taking_schedule(scenario: MarketScenario, state: MarketState, day, weather: Weather) -> Schedule:
    """Data centers respond to yesterday's prices: each pausable job fills its planned energy into its
    cheapest open slots at full power (a price taker's best response to linear prices); jobs that cannot
    pause run from their start. Households consume their base load."""
    jobs, T = scenario.jobs, scenario.num_slots
    in_window, must_run, _, target = _job_plan(scenario, state, day)
    # each open slot's rank among the job's open slots by expected price (ties: the earlier slot first),
    # counted from the (T, T) comparisons of the day's prices: the stable sort's ranks without a sort per job
    price = state.expected_prices
    slot = jnp.arange(T)
    before = (price[:, None] < price[None, :]) | ((price[:, None] == price[None, :]) & (slot[:, None] < slot[None, :]))
    rank = jnp.sum(in_window[:, :, None] & before[None, :, :], axis=1)  # (J, T)
    fill = jnp.clip(target[:, None] - jobs.max_power[:, None] * rank.astype(target.dtype), 0.0, jobs.max_power[:, None])
    flexible = jnp.where(in_window, fill, 0.0)  # the cheapest open slots at full power, until the target is met
    training = jnp.where(jobs.pausable[:, None], flexible, must_run)
    is_datacenter = scenario.role == DATACENTER
    demand = weather.base_load + _per_agent(scenario, training) + jnp.where(is_datacenter, _compute_load(scenario),
                                                                            0.0)[:, None]
    return Schedule(demand=demand, training=training, equilibrium_residual=jnp.zeros((), demand.dtype))


def demand_response_day(scenario: MarketScenario, state: MarketState, day, weather: Weather):
    """The day's demand-response game (Mohsenian-Rad et al. 2010) and the pieces to read it back.

    Users are all ``N`` agents (producers with empty schedules). A prosumer keeps ``1 - flexible_share``
    of its base load where it is and may move the rest within the day, up to twice its flexible mean
    per slot. A data center's schedule lies between its inflexible load (inference, compute, jobs that
    cannot pause, and each pausable job's ``need`` spread over its open slots) and that plus the full
    power of its open pausable jobs, and its daily energy adds the rest of its jobs' targets. Slot cost
    ``C_t(L) = a_t L^2 + b_t L`` of the net load after the forecast renewables; daily proportional
    billing, whose equilibria are the minima of the day's total cost (Theorem 1 there).

    Returns ``(game, lower, (in_window, must_run, need, target))``.
    """
    params, T = scenario.params, scenario.num_slots
    in_window, must_run, need, target = _job_plan(scenario, state, day)
    jobs = scenario.jobs
    dtype = weather.base_load.dtype
    share = scenario.flexible_share[:, None]
    base = weather.base_load
    is_prosumer = (scenario.role == PROSUMER)[:, None]
    is_datacenter = (scenario.role == DATACENTER)[:, None]
    count = jnp.maximum(jnp.sum(in_window, axis=-1), 1).astype(dtype)
    needed = jnp.where(in_window & jobs.pausable[:, None], (need / count)[:, None], 0.0)
    open_power = jnp.where(in_window & jobs.pausable[:, None], jobs.max_power[:, None], 0.0)
    fixed_dc = base + _compute_load(scenario)[:, None] + _per_agent(scenario, must_run + needed)
    lower = jnp.where(is_prosumer, (1.0 - share) * base, jnp.where(is_datacenter, fixed_dc, 0.0))
    upper = jnp.where(is_prosumer, (1.0 - share) * base + 2.0 * share * jnp.mean(base, axis=-1, keepdims=True),
                      jnp.where(is_datacenter, fixed_dc + _per_agent(scenario, open_power), 0.0))
    energy = jnp.where(is_prosumer[:, 0], jnp.sum(base, axis=-1),
                       jnp.where(is_datacenter[:, 0], jnp.sum(fixed_dc, axis=-1)
                                 + _per_agent(scenario, jnp.maximum(target - need, 0.0)), 0.0))
    energy = jnp.minimum(energy, jnp.sum(upper, axis=-1))  # rounding: never more than the room
    game = DemandResponseGame(Consumers(lower, upper, energy), storage_units(np.zeros(0), T), params.supply_quadratic,
                              params.supply_linear, jnp.sum(weather.forecast, axis=0), "daily")
    return game, lower, (in_window, must_run, need, target)


def equilibrium_schedule(scenario: MarketScenario, state: MarketState, day, weather: Weather) -> Schedule:
    """Everyone's plan is the day's demand-response equilibrium under daily proportional billing
    (:func:`demand_response_day`), solved by ``scenario.rules.solve_equilibrium``; a data center's
    flexible energy in a slot is shared among its open pausable jobs in proportion to their power."""
    solve = scenario.rules.solve_equilibrium
    if solve is None:
        raise ValueError("the pricing mechanism needs rules.solve_equilibrium (game -> (schedules, residual)); "
                         "analysis.simulate supplies best-response sweeps")
    game, lower, (in_window, must_run, need, _) = demand_response_day(scenario, state, day, weather)
    schedules, residual = solve(game)
    jobs = scenario.jobs
    dtype = schedules.dtype
    count = jnp.maximum(jnp.sum(in_window, axis=-1), 1).astype(dtype)
    open_power = jnp.where(in_window & jobs.pausable[:, None], jobs.max_power[:, None], 0.0)
    room = _per_agent(scenario, open_power)  # (N, T)
    flexible = jnp.maximum(schedules - lower, 0.0)
    share = open_power / jnp.where(room > 0, room, 1.0)[jobs.owner]
    training = must_run + jnp.where(in_window & jobs.pausable[:, None], (need / count)[:, None], 0.0) \
        + flexible[jobs.owner] * share
    is_user = (scenario.role == PROSUMER) | (scenario.role == DATACENTER)
    demand = jnp.where(is_user[:, None], schedules, 0.0)
    return Schedule(demand=demand, training=training, equilibrium_residual=jnp.asarray(residual, dtype))


# ----------------------------------------------------------------------------------------------
# 3. Offers


def battery_self_consumption(generation, demand, charge, *, capacity, power, efficiency):
    """Self-consumption with a battery, slot by slot (a ``lax.scan`` over the ``T`` slots of ``(N, T)`` arrays).

    In each slot own generation serves own demand first; a surplus charges the battery
    (``c = min(surplus, power, (capacity - e) / efficiency)``, storing ``efficiency c``), a deficit
    discharges it (``d = min(deficit, power, e)``). Returns ``(charge at the end, self_consumed,
    charged, discharged)``; the state of charge stays in ``[0, capacity]``.

    Reference: the self-consumption rule of residential batteries, e.g. J. Weniger, T. Tjaden and V.
    Quaschning (2014), "Sizing of residential PV battery systems", Energy Procedia 46.
    """

    used = jnp.minimum(generation, demand)
    can_charge = jnp.minimum(generation - used, power[:, None])
    can_discharge = jnp.minimum(demand - used, power[:, None])
    room = capacity / efficiency

    def slot(e, inputs):  # only the state of charge runs slot by slot
        up, down = inputs
        return e + efficiency * jnp.minimum(up, room - e / efficiency) - jnp.minimum(down, e), e

    end, before = jax.lax.scan(slot, charge, (can_charge.T, can_discharge.T))
    before = before.T  # the state of charge at the start of each slot, (N, T)
    per_agent = lambda x: jnp.expand_dims(x, -1) if jnp.ndim(x) else x
    charged = jnp.minimum(can_charge, per_agent(room) - before / per_agent(efficiency))
    return end, used, charged, jnp.minimum(can_discharge, before)


def _battery(scenario, generation, demand, charge):
    return battery_self_consumption(generation, demand, charge, capacity=scenario.battery_capacity,
                                    power=scenario.battery_power, efficiency=scenario.battery_efficiency)


def truthful_offers(scenario: MarketScenario, state: MarketState, day, weather: Weather, schedule: Schedule,
                    access) -> Offers:
    """Daily offers from the forecasts: renewables and prosumers offer their forecast surplus over the day at
    their ``ask_price``, prosumers and data centers bid for their forecast deficit at their ``bid_price``
    (truthful). Malicious sellers offer ``1 + over_report`` times their surplus and shade their asks by
    ``ask_shading``. Agents without access are masked out."""
    params = scenario.params
    _, used, charged, discharged = _battery(scenario, weather.forecast, schedule.demand, state.battery)
    surplus = jnp.sum(weather.forecast - used - charged, axis=-1)
    deficit = jnp.sum(schedule.demand - used - discharged, axis=-1)
    sells = (scenario.role == RENEWABLE) | (scenario.role == PROSUMER)
    buys = (scenario.role == PROSUMER) | (scenario.role == DATACENTER)
    cheat = scenario.malicious & sells
    sell_quantity = jnp.where(sells, jnp.where(cheat, 1.0 + params.over_report, 1.0) * surplus, 0.0)
    buy_quantity = jnp.where(buys, deficit, 0.0)
    ask = jnp.where(cheat, (1.0 - params.ask_shading) * scenario.ask_price, scenario.ask_price)
    return Offers(bid=scenario.bid_price, ask=ask, buy_quantity=buy_quantity, sell_quantity=sell_quantity,
                  buyer_mask=buys & access & (buy_quantity > 0), seller_mask=sells & access & (sell_quantity > 0))


# ----------------------------------------------------------------------------------------------
# 4. Clearing


def _ranked_book(prices, quantities, mask, descending: bool):
    """The side of a book as :func:`mechanisms.huang_double_auction` sorts it, without a sort per market.

    ``order``, the stable ranking of ``prices`` alone (descending for bids), is the same for every mask
    and quantity; the traders present (in ``mask`` with a positive quantity) are moved to the front in
    that order (positions from the cumulative count of those present, exact in integers), and the
    others fill the end with price ``-inf`` (bids) or ``+inf`` (asks) and quantity 0. Returns
    ``(sorted prices, sorted quantities, place)``: ``place[i]`` is trader ``i``'s position in the
    sorted side (``n`` when absent).
    """
    n = prices.shape[-1]
    order = jnp.argsort(-prices if descending else prices, stable=True)
    present = (mask & (quantities > 0))[order]
    place_ranked = jnp.where(present, jnp.cumsum(present.astype(jnp.int32)) - 1, n)
    pad = jnp.asarray(-jnp.inf if descending else jnp.inf, prices.dtype)
    sorted_prices = jnp.full(n, pad).at[place_ranked].set(prices[order], mode="drop", unique_indices=True)
    sorted_quantities = jnp.zeros(n, quantities.dtype).at[place_ranked].set(quantities[order], mode="drop",
                                                                             unique_indices=True)
    rank = jnp.zeros_like(order).at[order].set(jnp.arange(n, dtype=order.dtype), unique_indices=True)
    place = place_ranked[rank]
    return sorted_prices, sorted_quantities, place


def auction_clearing(scenario: MarketScenario, offers: Offers, key) -> MultiUnitClearing:
    """The day's multi-unit double auction of Huang et al. (2002): the clearing of
    :func:`mechanisms.huang_double_auction` on the day's book, with its sort replaced by a ranking of
    the reported prices alone.

    The ranking of buyers by bid (descending) and sellers by ask (ascending), ties in index order, does
    not depend on who is present today or on the quantities; the traders present are then moved to the
    front in that order (:func:`_ranked_book`), which is exactly the sorted book of
    ``huang_double_auction``, and the clearing runs on it unchanged. Under ``jax.vmap`` over seeds the
    prices are the scenario's, so the ranking is one sort for every seed instead of two sorts per seed
    and day. A test checks the outcome against ``huang_double_auction``.

    Reference: P. Huang, A. Scheller-Wolf and K. Sycara (2002), Computational Intelligence 18(4).
    """
    b, qb, b_place = _ranked_book(offers.bid, offers.buy_quantity, offers.buyer_mask, descending=True)
    s, qs, s_place = _ranked_book(offers.ask, offers.sell_quantity, offers.seller_mask, descending=False)
    bought_sorted, sold_sorted, buyer_price, seller_price = huang_sorted_clearing(b, s, qb, qs)
    bought = jnp.where(b_place < b.shape[0], bought_sorted[jnp.minimum(b_place, b.shape[0] - 1)], 0.0)
    sold = jnp.where(s_place < s.shape[0], sold_sorted[jnp.minimum(s_place, s.shape[0] - 1)], 0.0)
    payments, receipts = buyer_price * bought, seller_price * sold
    return MultiUnitClearing(bought, sold, buyer_price, seller_price, payments, receipts,
                             jnp.sum(payments) - jnp.sum(receipts))


def no_clearing(scenario: MarketScenario, offers: Offers, key) -> MultiUnitClearing:
    """No peer-to-peer market (the pricing mechanism): nobody trades."""
    zeros = jnp.zeros_like(offers.bid)
    zero = jnp.zeros((), offers.bid.dtype)
    return MultiUnitClearing(zeros, zeros, zero, zero, zeros, zeros, zero)


# ----------------------------------------------------------------------------------------------
# 5. Dispatch


def _merit_fill(amount, capacity):
    """Fill ``amount`` ``(T,)`` from ``capacity`` ``(K, T)`` ranked in merit order; returns ``(K, T)``."""
    before = jnp.cumsum(capacity, axis=0) - capacity
    return jnp.clip(amount[None, :] - before, 0.0, capacity)


def merit_order_dispatch(scenario: MarketScenario, state: MarketState, network: Network, weather: Weather,
                         schedule: Schedule, access) -> Dispatch:
    """The realized slots: self-consumption, exports and imports, merit-order dispatch with failures and
    re-dispatch, load shedding, and pro-rata curtailment of the net bus injections under line limits
    (see the module docstring)."""
    params = scenario.params
    role, malicious = scenario.role, scenario.malicious
    battery, used, charged, discharged = _battery(scenario, weather.generation, schedule.demand, state.battery)
    surplus = weather.generation - used - charged
    import_need = schedule.demand - used - discharged
    sells = (role == RENEWABLE) | (role == PROSUMER)
    withheld = jnp.where((malicious & sells)[:, None], params.withhold * surplus, 0.0)
    offered = surplus - withheld
    refused = jnp.where(access[:, None], 0.0, offered)
    available = offered - refused
    supply, demand = jnp.sum(available, axis=0), jnp.sum(import_need, axis=0)
    keep = jnp.where(supply > demand, demand / jnp.where(supply > 0, supply, 1.0), 1.0)
    exports = available * keep[None, :]
    excess = available - exports
    residual = jnp.maximum(demand - supply, 0.0)
    # merit-order dispatch on offered capacities, failures of malicious plants, re-dispatch of honest spare
    # (computed on the K plants ranked by offered cost, then written back to the agents' rows)
    ranked = scenario.plants[network.merit_order]
    plant_access = access[ranked]
    plant_malicious = malicious[ranked]
    capacity = jnp.broadcast_to(scenario.capacity[ranked][:, None], (ranked.shape[0], surplus.shape[-1]))
    offered_capacity = jnp.where(plant_access[:, None],
                                 jnp.where(plant_malicious, 1.0 + params.over_report, 1.0)[:, None] * capacity, 0.0)
    committed = _merit_fill(residual, offered_capacity)
    delivered = jnp.where(plant_malicious[:, None], (1.0 - params.withhold) * jnp.minimum(committed, capacity),
                          committed)
    spare = jnp.where((plant_access & jnp.logical_not(plant_malicious))[:, None], capacity - delivered, 0.0)
    redispatch = _merit_fill(jnp.sum(committed - delivered, axis=0), spare)
    dispatched = delivered + redispatch
    shortage = jnp.maximum(residual - jnp.sum(dispatched, axis=0), 0.0)
    served_share = jnp.where(demand > 0, 1.0 - shortage / jnp.where(demand > 0, demand, 1.0), 1.0)
    imports = import_need * served_share[None, :]
    marginal = jnp.max(jnp.where(dispatched > 0, network.offered_cost[ranked][:, None], 0.0), axis=0, initial=0.0)
    scarce = shortage > 1e-9 * jnp.maximum(demand, 1.0)
    prices = jnp.where(scarce, params.scarcity_price, jnp.where(residual > 0, marginal, 0.0))
    unrank = lambda x: jnp.zeros_like(x).at[network.merit_order].set(x)  # back to the order of scenario.plants
    committed, dispatched = unrank(committed), unrank(dispatched)
    # line limits: scale each bus's net injection by alpha so that no line is overloaded
    at_bus = network.at_bus  # (N, B)
    plant_bus = at_bus[scenario.plants]  # (K, B)
    out = at_bus.T @ exports + plant_bus.T @ dispatched  # (B, T)
    into = at_bus.T @ imports
    net = out - into
    flows = network.ptdf @ net  # (L, T)
    limit = network.line_capacity[:, None]
    headroom = jnp.where(jnp.abs(flows) > 0, limit / jnp.where(jnp.abs(flows) > 0, jnp.abs(flows), 1.0), jnp.inf)
    alpha = jnp.minimum(1.0, jnp.min(headroom, axis=0, initial=jnp.inf))
    out_factor = jnp.where(net > 0, (into + alpha * net) / jnp.where(out > 0, out, 1.0), 1.0)
    into_factor = jnp.where(net < 0, (out - alpha * net) / jnp.where(into > 0, into, 1.0), 1.0)
    bus = jnp.argmax(at_bus, axis=-1)  # each agent's bus: its factor is a gather, not a one-hot product
    delivered_exports = exports * out_factor[bus]
    congested = exports - delivered_exports
    dispatched = dispatched * out_factor[bus[scenario.plants]]
    imports = imports * into_factor[bus]
    final = at_bus.T @ (delivered_exports - imports) + plant_bus.T @ dispatched
    loading = jnp.abs(network.ptdf @ final) / jnp.where(limit > 0, limit, 1.0)
    loading = jnp.where(jnp.isinf(limit), 0.0, jnp.where(limit > 0, loading, jnp.where(loading > 0, jnp.inf, 0.0)))
    return Dispatch(generation=weather.generation, self_consumed=used, charge=charged, discharge=discharged,
                    withheld=withheld, refused=refused, excess=excess, congested=congested, exports=delivered_exports,
                    import_need=import_need, imports=imports, committed=committed, dispatched=dispatched,
                    battery=battery, prices=prices, alpha=alpha, max_line_loading=jnp.max(loading))


# ----------------------------------------------------------------------------------------------
# 6. Enforcement


def reputation_enforcement(scenario: MarketScenario, state: MarketState, weather: Weather, offers: Offers,
                           clearing: MultiUnitClearing, dispatch: Dispatch, key) -> Enforcement:
    """Detection (delivery shortfalls and audits), fines, slashing and the reputation update (see the
    module docstring).

    A seller's shortfall is detected when it exceeds ``delivery_tolerance`` of what it sold plus three
    standard deviations of its day's forecast error, ``3 sigma sqrt(rho^2 (sum_t f_t)^2 + (1 - rho^2)
    sum_t f_t^2)`` (honest forecast errors alone trip it about once in 700 days).
    """
    params = scenario.params
    role, malicious = scenario.role, scenario.malicious
    # what a seller committed to deliver: its trades in the auction, its reported surplus under pricing
    if scenario.mechanism == "auction":
        sold = clearing.seller_quantities
    else:
        sold = jnp.where(offers.seller_mask, offers.sell_quantity, 0.0)
    delivered = jnp.sum(dispatch.generation - dispatch.self_consumed - dispatch.charge - dispatch.withheld, axis=-1)
    seller_shortfall = jnp.maximum(sold - delivered, 0.0)
    committed = _to_agents(scenario, jnp.sum(dispatch.committed, axis=-1))
    plant_shortfall = _plant_shortfall(scenario, dispatch)
    shortfall = seller_shortfall + plant_shortfall
    volume = sold + committed + jnp.where(role == DATACENTER, scenario.compute_offered * params.credit_rate, 0.0)
    traded = volume > 0
    rho, forecast = params.forecast_correlation, weather.forecast
    noise = scenario.forecast_error * jnp.sqrt(rho**2 * jnp.sum(forecast, axis=-1) ** 2
                                               + (1.0 - rho**2) * jnp.sum(forecast**2, axis=-1))
    late = ((seller_shortfall > params.delivery_tolerance * sold + 3.0 * noise)
            | (plant_shortfall > params.delivery_tolerance * committed))
    audited = jax.random.uniform(key, malicious.shape, sold.dtype) < params.audit_probability
    detected = traded & (late | (audited & malicious))
    enforced = params.enforcement
    punished = detected & enforced
    fines = jnp.where(punished, params.penalty_rate * params.retail_price * volume, 0.0)
    stakes = slash(state.stakes, punished, fraction=params.slash_fraction)
    positive = jnp.where(traded & jnp.logical_not(detected), 1.0, 0.0)
    negative = jnp.where(detected, 1.0, 0.0)
    evidence = beta_update(state.evidence, positive, negative, forgetting=params.forgetting)
    reputation = penalize(beta_score(evidence), detected, penalty=params.reputation_penalty)
    return Enforcement(detected=detected, fines=fines, slashed=state.stakes - stakes, stakes=stakes, evidence=evidence,
                       reputation=reputation, shortfall=shortfall, traded=traded)


def _to_agents(scenario: MarketScenario, per_plant):
    """``(K,)`` values of the plants as an ``(N,)`` array (0 for the other agents)."""
    return jnp.zeros(scenario.num_agents, per_plant.dtype).at[scenario.plants].set(per_plant)


def _plant_shortfall(scenario: MarketScenario, dispatch: Dispatch):
    """Energy a dispatched plant failed to deliver, ``(N,)``: ``withhold`` of its committed output for
    malicious plants."""
    params = scenario.params
    committed = dispatch.committed
    capacity = scenario.capacity[scenario.plants][:, None]
    delivered = jnp.where(scenario.malicious[scenario.plants][:, None],
                          (1.0 - params.withhold) * jnp.minimum(committed, capacity), committed)
    return _to_agents(scenario, jnp.sum(committed - delivered, axis=-1))


# ----------------------------------------------------------------------------------------------
# 7. Credits


def credit_market(scenario: MarketScenario, state: MarketState, dispatch: Dispatch, schedule: Schedule,
                  enforcement: Enforcement, access) -> Credits:
    """Earn credits for compute offered, trade blocks in a McAfee double auction, spend them on training
    energy (see the module docstring). Credits never go negative: a seller keeps at least one block's
    worth of its need, a buyer spends at most what it holds."""
    params = scenario.params
    centers = scenario.datacenters
    is_datacenter = scenario.role == DATACENTER
    claimed = jnp.where(is_datacenter, scenario.compute_offered
                        * jnp.where(scenario.malicious, 1.0 + params.compute_over_report, 1.0), 0.0)
    revoked = enforcement.detected & params.enforcement
    earned = jnp.where(revoked, 0.0, params.credit_rate * claimed)
    holding = state.credits + earned
    need = _per_agent(scenario, jnp.sum(schedule.training, axis=-1))
    block = params.credit_block
    value = params.retail_price * block * scenario.credit_valuation
    can_trade = access & is_datacenter
    sellers = can_trade & (holding - block >= need)
    buyers = can_trade & (holding < need)
    book = mcafee_double_auction(value[centers], value[centers], buyer_mask=buyers[centers],
                                 seller_mask=sellers[centers])
    bought = jnp.zeros_like(holding).at[centers].set(jnp.where(book.buyer_trades, block, 0.0))
    sold = jnp.zeros_like(holding).at[centers].set(jnp.where(book.seller_trades, block, 0.0))
    payments = jnp.zeros_like(holding).at[centers].set(book.buyer_payments)
    receipts = jnp.zeros_like(holding).at[centers].set(book.seller_receipts)
    holding = holding + bought - sold
    served = jnp.where(dispatch.import_need > 0, dispatch.imports / jnp.where(dispatch.import_need > 0,
                                                                              dispatch.import_need, 1.0), 1.0)
    training_served = _per_agent(scenario, jnp.sum(schedule.training * served[scenario.jobs.owner], axis=-1))
    spent = jnp.minimum(holding, training_served)
    return Credits(earned=earned, bought=bought, sold=sold, spent=spent, balance=holding - spent, payments=payments,
                   receipts=receipts, surplus=book.surplus)


# ----------------------------------------------------------------------------------------------
# 8. Settlement


def market_settlement(scenario: MarketScenario, state: MarketState, weather: Weather, schedule: Schedule,
                      offers: Offers, clearing: MultiUnitClearing, dispatch: Dispatch, enforcement: Enforcement,
                      credits: Credits, tier) -> Settlement:
    """The day's money per agent, and the operator's surplus from its own flows (see the module docstring)."""
    params = scenario.params
    retail, feed_in = params.retail_price, params.feed_in_price
    prices = dispatch.prices
    plants = _to_agents(scenario, jnp.sum(dispatch.dispatched * prices[None, :], axis=-1))
    if scenario.mechanism == "auction":
        sold, bought = clearing.seller_quantities, clearing.buyer_quantities
        available = jnp.sum(dispatch.exports + dispatch.excess + dispatch.congested, axis=-1)
        exported = jnp.sum(dispatch.exports, axis=-1)
        imported = jnp.sum(dispatch.imports, axis=-1)
        short = jnp.maximum(sold - available, 0.0)
        extra_exports = jnp.maximum(exported - sold, 0.0)
        extra_imports = jnp.maximum(imported - bought, 0.0)
        unused = jnp.maximum(bought - imported, 0.0)
        p2p = clearing.seller_receipts * tier
        payments = clearing.buyer_payments + retail * (short + extra_imports)
        receipts = p2p + feed_in * (extra_exports + unused) + plants
        operator = (clearing.surplus + jnp.sum(clearing.seller_receipts - p2p)
                    + retail * (jnp.sum(short) + jnp.sum(extra_imports))
                    - feed_in * (jnp.sum(extra_exports) + jnp.sum(unused))
                    - jnp.sum(prices * jnp.sum(dispatch.dispatched, axis=0)))
    else:
        served = schedule.demand - dispatch.import_need + dispatch.imports
        total = jnp.sum(served, axis=0)
        renewables = jnp.sum(weather.forecast, axis=0)
        bills = daily_proportional_user_bill(served, total[None, :], a=params.supply_quadratic,
                                             b=params.supply_linear, renewables=renewables)
        used = dispatch.self_consumed + dispatch.charge + dispatch.exports
        payments = jnp.maximum(bills, 0.0)
        receipts = jnp.maximum(-bills, 0.0) + jnp.sum(used * prices[None, :], axis=-1) + plants
        cost = jnp.where(jnp.sum(total) > 0, jnp.sum(quadratic_cost(total - renewables, params.supply_quadratic,
                                                                     params.supply_linear)), 0.0)
        operator = cost - jnp.sum(prices * (jnp.sum(used, axis=0) + jnp.sum(dispatch.dispatched, axis=0)))
    payments = payments + credits.payments
    receipts = receipts + credits.receipts + retail * credits.spent
    penalties = enforcement.fines + enforcement.slashed
    operator = (operator + credits.surplus - retail * jnp.sum(credits.spent) + jnp.sum(enforcement.fines)
                + (jnp.sum(state.stakes) - jnp.sum(enforcement.stakes)))
    return Settlement(payments=payments, receipts=receipts, penalties=penalties, operator_surplus=operator)


# ----------------------------------------------------------------------------------------------
# The day


def default_rules(mechanism: str = "auction") -> MarketRules:
    """The built-in pieces for ``mechanism`` (``"auction"`` or ``"pricing"``; see the module docstring)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}; got {mechanism!r}")
    auction = mechanism == "auction"
    return MarketRules(weather=synthetic_weather, schedule=price_taking_schedule if auction else equilibrium_schedule,
                       offers=truthful_offers, clear=auction_clearing if auction else no_clearing,
                       dispatch=merit_order_dispatch, settle=market_settlement, enforce=reputation_enforcement,
                       trade_credits=credit_market)


def _relative(residual, scale):
    return jnp.abs(residual) / jnp.maximum(scale, 1.0)


def step(state: MarketState, inputs: MarketInputs, key) -> tuple[MarketState, DayRecord]:
    """One day of the market: ``(state, inputs, key) -> (next state, the day's record)``.

    ``inputs`` holds the scenario, the day and the derived network (:class:`MarketInputs`); ``key`` the
    day's randomness (forecast errors, audits). Runs the pieces of ``inputs.scenario.rules`` in order (see
    the module docstring) and checks the day's invariants. Pure and jittable: ``jax.lax.scan`` it over
    days and ``jax.vmap`` it over seeds (:func:`analysis.simulate` does both).
    """
    scenario, day, network = inputs.scenario, inputs.day, inputs.network
    rules, params = scenario.rules, scenario.params
    key_weather, key_clear, key_audit = jax.random.split(key, 3)
    access, tier = market_access(scenario, state)
    weather = rules.weather(scenario, day, key_weather)
    schedule = rules.schedule(scenario, state, day, weather)
    offers = rules.offers(scenario, state, day, weather, schedule, access)
    clearing = rules.clear(scenario, offers, key_clear)
    dispatch = rules.dispatch(scenario, state, network, weather, schedule, access)
    enforcement = rules.enforce(scenario, state, weather, offers, clearing, dispatch, key_audit)
    credits = rules.trade_credits(scenario, state, dispatch, schedule, enforcement, access)
    settlement = rules.settle(scenario, state, weather, schedule, offers, clearing, dispatch, enforcement, credits,
                              tier)

    # jobs progress by the training energy actually served
    own = dispatch.self_consumed + dispatch.discharge
    # energy served to an agent in a slot as a share of its demand there (training shares it pro rata)
    demand = schedule.demand
    share = jnp.where(demand > 0, (own + dispatch.imports) / jnp.where(demand > 0, demand, 1.0), 1.0)
    done = jnp.sum(schedule.training * jnp.clip(share, 0.0, 1.0)[scenario.jobs.owner], axis=-1)
    remaining = jnp.maximum(state.job_remaining - done, 0.0)
    T = scenario.num_slots
    expired = scenario.jobs.deadline <= (day + 1) * T
    late_energy = jnp.sum(jnp.where(expired, remaining, 0.0))
    remaining = jnp.where(expired, 0.0, remaining)

    # the day's totals and invariants
    generation = jnp.sum(dispatch.generation) + jnp.sum(dispatch.dispatched)
    curtailment = jnp.sum(dispatch.curtailment)
    served = jnp.sum(demand - dispatch.unserved)
    charge, discharge = jnp.sum(dispatch.charge), jnp.sum(dispatch.discharge)
    energy_residual = _relative(generation + discharge - served - charge - curtailment, generation + discharge)
    paid = jnp.sum(settlement.payments) + jnp.sum(settlement.penalties)
    received = jnp.sum(settlement.receipts) + settlement.operator_surplus
    money_residual = _relative(paid - received, jnp.sum(settlement.payments) + jnp.sum(settlement.receipts))
    dispatched = jnp.sum(dispatch.dispatched)
    unserved = jnp.sum(dispatch.unserved)
    plants_cost = jnp.sum(dispatch.dispatched * scenario.marginal_cost[scenario.plants][:, None])
    renewable_used = jnp.sum(dispatch.self_consumed + dispatch.charge + dispatch.exports, axis=0)
    training = _per_agent(scenario, schedule.training)[scenario.datacenters]
    clearing_prices = jnp.stack([clearing.buyer_price, clearing.seller_price])
    new_state = MarketState(day=day + 1, battery=dispatch.battery, evidence=enforcement.evidence,
                            reputation=enforcement.reputation, stakes=enforcement.stakes, credits=credits.balance,
                            job_remaining=remaining,
                            expected_prices=dispatch.prices if scenario.mechanism == "auction" else _rule_prices(
                                scenario, schedule, weather))
    diagnostics = {
        "energy_residual": energy_residual,
        "money_residual": money_residual,
        "min_battery": jnp.min(jnp.minimum(dispatch.battery, scenario.battery_capacity - dispatch.battery),
                               initial=jnp.inf),
        "min_credits": jnp.min(credits.balance),
        "min_stakes": jnp.min(enforcement.stakes),
        "max_line_loading": dispatch.max_line_loading,
        "operator_surplus": settlement.operator_surplus,
        "generation": generation,
        "curtailment": curtailment,
        "served": served,
        "dispatched": dispatched,
        "detected": jnp.sum(enforcement.detected.astype(jnp.int32)),
        "detected_malicious": jnp.sum((enforcement.detected & scenario.malicious).astype(jnp.int32)),
        "p2p_volume": jnp.sum(clearing.seller_quantities),
        "credit_trades": jnp.sum(jnp.where(credits.bought > 0, 1, 0)),
        "late_training": late_energy,
        "equilibrium_residual": schedule.equilibrium_residual,
        "renewable_by_slot": renewable_used,
        "load_by_slot": jnp.sum(demand - dispatch.unserved, axis=0),
        "dispatch_by_slot": jnp.sum(dispatch.dispatched, axis=0),
        "congestion_by_slot": dispatch.alpha,
        "payments": settlement.payments,
        "receipts": settlement.receipts,
        "penalties": settlement.penalties,
    }
    record = DayRecord(
        prices=new_state.expected_prices, auction_prices=clearing_prices, schedules=training,
        trades=clearing.seller_quantities - clearing.buyer_quantities, reputation=enforcement.reputation,
        stakes=enforcement.stakes, credits=credits.balance[scenario.datacenters],
        welfare=-(plants_cost + params.scarcity_price * unserved),
        renewable_share=jnp.where(served > 0, 1.0 - dispatched / jnp.where(served > 0, served, 1.0), 1.0),
        emissions=jnp.sum(dispatch.dispatched * scenario.emission_rate[scenario.plants][:, None]),
        unserved_energy=unserved,
        diagnostics=diagnostics)
    return new_state, record


def _rule_prices(scenario: MarketScenario, schedule: Schedule, weather: Weather):
    """The billing rule's price signal: the marginal cost of supply ``C_t'(L_t - r_t)`` at the day's plan."""
    params = scenario.params
    return marginal_cost_price(jnp.sum(schedule.demand, axis=0), a=params.supply_quadratic, b=params.supply_linear,
                               renewables=jnp.sum(weather.forecast, axis=0))
