"""Demand-side figures of the energy-for-AI paper: load shaping, data-center shifting, billing, prices.

- ``demand_response_par`` (figure 1): the equilibrium load under daily proportional billing against no
  response, with peak-to-average ratios (the ``demand_response_load`` scenario of
  :mod:`papers.demand_response`, called, not copied).
- ``datacenter_shifting`` (figure 2): where data centers run their LLM-training jobs under a flat price,
  the best time-of-use and linear real-time prices and the learned monotone price, against the solar output.
- ``billing_price_of_anarchy`` (figure 4): price of anarchy of daily against hourly proportional billing
  as the number of users grows (the scenario of :func:`analysis.demand_response_study`).
- ``learned_price_rule`` (figure 5): the learned monotone price against flat, time-of-use and real-time
  prices (study 1 of :mod:`papers.mechanism_design.studies`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

from analysis import demand_response_scenario
from games import Consumers
from solvers import Status, solve_vi

from .. import register
from ..demand_response import peak_to_average
from ..demand_response import scenario as households_and_datacenters
from ..mechanism_design import studies
from ._style import PALETTE, save, styled


# ---------------------------------------------------------------------------------------------------
# Figure 1


@register("demand_response_par")
@styled
def demand_response_par(out_dir: str, *, quick: bool = False) -> list[str]:
    """Demand-response equilibrium load against no response, with peak-to-average ratios.

    Households with evening appliance windows and three data centers (inflexible inference plus an
    LLM-training job due by hour 22) on 24 hourly slots with a day-time supply cost ``C_t(L) = a_t L^2 +
    b L`` (the scenario of the ``demand_response_load`` figure, :func:`papers.demand_response.scenario`).
    No response: every user runs its inflexible load and spreads the rest of its daily energy over its
    window in proportion to its room (the definition of :func:`analysis.demand_response_study`). The
    equilibrium under daily proportional billing (best-response sweeps to a natural-map residual of
    1e-9) is the social optimum, so it lowers the peak-to-average ratio (PAR) and the supply cost.

    Reproduces the qualitative result of Mohsenian-Rad et al. (2010), "Autonomous demand-side management
    based on game-theoretic energy consumption scheduling" (IEEE Trans. Smart Grid), Theorem 1 and their
    Fig. 5 (PAR falls under daily billing), here with data centers among the users.
    ``quick``: 60 households; otherwise 200. Writes PNG, PDF and JSON.
    """
    households = 60 if quick else 200
    game = households_and_datacenters(num_households=households)
    eq = solve_vi(game, method="best_response", tol=1e-9, adjoint=None)
    if int(eq.status) != Status.CONVERGED:
        raise RuntimeError(f"the equilibrium did not converge (residual {float(eq.residual):.2e})")
    lower, upper, energy = np.asarray(game.lower), np.asarray(game.upper), np.asarray(game.energy)
    room = upper - lower  # no response: the inflexible load plus the rest spread over the room
    no_response = lower + (energy - lower.sum(1))[:, None] * room / room.sum(1, keepdims=True)
    equilibrium = np.asarray(eq.strategies)
    datacenters = slice(households, game.num_users)
    T = game.num_slots
    stats = dict(households=households, datacenters=game.num_users - households, slots=T,
                 par_no_response=peak_to_average(no_response.sum(0)),
                 par_equilibrium=peak_to_average(equilibrium.sum(0)),
                 cost_no_response=float(game.social_cost(jnp.asarray(no_response))),
                 cost_equilibrium=float(game.social_cost(eq.strategies)), residual=float(eq.residual),
                 load_no_response=no_response.sum(0).tolist(), load_equilibrium=equilibrium.sum(0).tolist(),
                 datacenter_load_no_response=no_response[datacenters].sum(0).tolist(),
                 datacenter_load_equilibrium=equilibrium[datacenters].sum(0).tolist())
    fig, ax = plt.subplots(figsize=(9, 3.8))
    edges = np.arange(T + 1)
    ax.stairs(no_response.sum(0), edges, color=PALETTE[1], lw=1.5, baseline=None,
              label=f"no response, all users (PAR {stats['par_no_response']:.2f})")
    ax.stairs(equilibrium.sum(0), edges, color=PALETTE[0], lw=1.8, baseline=None,
              label=f"daily-billing equilibrium, all users (PAR {stats['par_equilibrium']:.2f})")
    ax.stairs(no_response[datacenters].sum(0), edges, color=PALETTE[1], lw=1.0, baseline=None, ls="--",
              label="no response, data centers")
    ax.stairs(equilibrium[datacenters].sum(0), edges, color=PALETTE[0], lw=1.0, baseline=None, ls="--",
              label="equilibrium, data centers")
    ax.axvspan(8, 22, color="0.92", zorder=0, label="dear hours (a_t higher)")
    ax.set_xlabel("hour")
    ax.set_ylabel("load")
    ax.set_xlim(0, T)
    ax.set_title(f"{households} households + {stats['datacenters']} data centers: supply cost "
                 f"{stats['cost_no_response']:.0f} -> {stats['cost_equilibrium']:.0f}")
    ax.set_ylim(0, None)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save(fig, stats, out_dir, "demand_response_par")


# ---------------------------------------------------------------------------------------------------
# Figures 2 and 5: study 1 of the mechanism-design studies, computed once per size


def _pricing_sizes(quick: bool):
    """(households, data centers, slots, design steps): the ``mechanism_design`` figure's study 1."""
    return (10, 2, 8, 60) if quick else (60, 2, 24, 200)


def pricing_study(quick: bool):
    """Study 1 (:func:`papers.mechanism_design.studies.pricing_study`, cached: the ``mechanism_design``
    figure and figures 2 and 5 draw the same runs): the users' equilibria under the flat price, the best
    time-of-use and linear real-time prices (grid search) and the learned monotone price, all budget
    balanced."""
    households, datacenters, hours, steps = _pricing_sizes(quick)
    game, _, pricing, baselines, learned = studies.pricing_study(households, datacenters, hours, steps)
    rules = {"flat": (studies.flat_to(game, studies.time_of_use_rule, baselines["flat"]["params"]),
                      baselines["flat"]["equilibrium"].strategies),
             "time of use": (studies.flat_to(game, studies.time_of_use_rule, baselines["time_of_use"]["params"]),
                             baselines["time_of_use"]["equilibrium"].strategies),
             "linear real time": (studies.flat_to(game, studies.linear_real_time_rule,
                                                  baselines["linear_real_time"]["params"]),
                                  baselines["linear_real_time"]["equilibrium"].strategies),
             "learned monotone": (pricing.game_fn(learned.params), learned.equilibrium.strategies)}
    return dict(game=game, rules=rules, households=households, datacenters=datacenters, hours=hours, steps=steps,
                status=learned.status.name)


def _rule_summary(game, x, households):
    x = jnp.asarray(x)
    net = np.asarray(game.net_load(x))
    renewables = np.asarray(game.renewables)
    dc = np.asarray(x)[households:].sum(0)
    sunny = renewables > 0.25 * renewables.max()
    return dict(peak_to_average=peak_to_average(net),
                supply_cost=float(game.supply_cost(x)),
                nonrenewable_share=float(jnp.sum(jnp.maximum(game.net_load(x), 0.0)) / jnp.sum(game.energy)),
                relative_imbalance=float(studies.relative_imbalance(game, x)),
                datacenter_share_in_solar_hours=float(dc[sunny].sum() / dc.sum()),
                prices=np.asarray(game.prices(x)).tolist(), net_load=net.tolist(), datacenter_load=dc.tolist())


@register("datacenter_shifting")
@styled
def datacenter_shifting(out_dir: str, *, quick: bool = False) -> list[str]:
    """Data centers' LLM-training load moving into the solar hours under dynamic prices.

    Households and data centers (inference baseline plus a training job runnable from hour 0 to hour 20
    that the operators would rather run in the evening) face a budget-balanced price: flat, the best
    time-of-use price, the best real-time price ``p_t = alpha + beta (L_t - r_t)`` linear in the net load
    (spot pricing: Schweppe et al. 1988), or the monotone price learned to minimize the peak-to-average
    ratio (study 1 of :mod:`papers.mechanism_design.studies`). Each user's schedule is the Nash equilibrium
    of the priced game (semismooth Newton); solar covers a quarter of the day's energy. Left: the data
    centers' load per hour and the solar output; right: the prices.

    Reproduces no published number: it shows the mechanism the demand-response literature predicts
    (Mohsenian-Rad et al. 2010; data centers as flexible loads: Liu et al. 2014, "Pricing data center
    demand response", SIGMETRICS): a price that falls with renewable output moves deferrable training
    into the renewable hours. ``quick``: 10 households, 2 data centers, 8 three-hour slots, 60 design
    steps; otherwise 60, 2, 24 hourly slots, 200 steps. Writes PNG, PDF and JSON.
    """
    study = pricing_study(quick)
    game, households, hours = study["game"], study["households"], study["hours"]
    shown = ("flat", "time of use", "linear real time", "learned monotone")
    stats = dict(households=households, datacenters=study["datacenters"], slots=hours,
                 renewables=np.asarray(game.renewables).tolist(), design_status=study["status"],
                 rules={name: _rule_summary(g, x, households) for name, (g, x) in study["rules"].items()
                        if name in shown})
    hour = np.arange(hours + 1) * 24.0 / hours
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.fill_between(hour[:-1], np.asarray(game.renewables), step="post", color=PALETTE[6], alpha=0.5,
                      label="solar output")
    for colour, name in zip((PALETTE[1], PALETTE[3], PALETTE[0], PALETTE[2]), shown):
        row = stats["rules"][name]
        left.stairs(row["datacenter_load"], hour, color=colour, lw=1.6, baseline=None,
                    label=f"{name}: {100 * row['datacenter_share_in_solar_hours']:.0f}% in solar hours")
        right.stairs(row["prices"], hour, color=colour, lw=1.6, baseline=None, label=name)
    left.set_xlabel("hour")
    left.set_ylabel("data centers' load (energy per slot)")
    left.set_title("(a) training jobs follow the sun under dynamic prices")
    left.legend(loc="upper left")
    right.set_xlabel("hour")
    right.set_ylabel("price at equilibrium")
    right.set_title("(b) budget-balanced prices")
    right.legend()
    fig.tight_layout()
    return save(fig, stats, out_dir, "datacenter_shifting")


@register("learned_price_rule")
@styled
def learned_price_rule(out_dir: str, *, quick: bool = False) -> list[str]:
    """The learned monotone price against flat, time-of-use and real-time prices (issue 12's design).

    Study 1 of :mod:`papers.mechanism_design.studies`: the price is a monotone function of the net load
    and the hour (:class:`mechanisms.MonotonePrice`), learned with :func:`solvers.design` by implicit
    differentiation through the users' equilibrium to minimize the peak-to-average ratio of the net
    load subject to budget balance; the baselines are tuned by grid search on the same game (flat;
    time of use: a peak premium over any window of 2 to 8 slots; linear real time ``alpha + beta L``).
    Left: the net load under each rule; right: peak-to-average
    ratio and supply cost relative to the flat price's.

    Reproduces the design of Li, Chen and Low (2011), "Optimal demand response based on utility
    maximization in power networks", and the learned-mechanism approach of bilevel design (Dempe 2002)
    with implicit gradients (Blondel et al. 2022); no published number. ``quick``: 10 households,
    2 data centers, 8 slots, 60 design steps; otherwise 60, 2, 24, 200. Writes PNG, PDF and JSON.
    """
    study = pricing_study(quick)
    game, households, hours = study["game"], study["households"], study["hours"]
    summary = {name: _rule_summary(g, x, households) for name, (g, x) in study["rules"].items()}
    stats = dict(households=households, datacenters=study["datacenters"], slots=hours, design_steps=study["steps"],
                 design_status=study["status"], rules=summary)
    hour = np.arange(hours + 1) * 24.0 / hours
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw=dict(width_ratios=(3, 2)))
    for colour, (name, row) in zip(PALETTE, summary.items()):
        lw = 2.2 if name == "learned monotone" else 1.2
        left.stairs(row["net_load"], hour, color=colour, lw=lw, baseline=None,
                   label=f"{name} (PAR {row['peak_to_average']:.3f})")
    left.set_xlabel("hour")
    left.set_ylabel("net load (after solar)")
    left.set_title("(a) net load at the users' equilibrium")
    left.legend()
    names = list(summary)
    y = np.arange(len(names))
    right.barh(y + 0.2, [summary[n]["peak_to_average"] for n in names], 0.4, color=PALETTE[0],
               label="peak-to-average ratio")
    flat_cost = summary["flat"]["supply_cost"]
    right.barh(y - 0.2, [summary[n]["supply_cost"] / flat_cost for n in names], 0.4, color=PALETTE[3],
               label="supply cost / flat price's")
    right.set_yticks(y, names)
    low = min(min(summary[n]["peak_to_average"], summary[n]["supply_cost"] / flat_cost) for n in names)
    right.set_xlim(0.95 * low, None)
    right.set_title("(b) all budget balanced (|imbalance| < 1e-6)" if max(
        abs(summary[n]["relative_imbalance"]) for n in names) < 1e-6 else "(b) rules")
    right.legend(loc="center right")
    fig.tight_layout()
    return save(fig, stats, out_dir, "learned_price_rule")


# ---------------------------------------------------------------------------------------------------
# Figure 4


@register("billing_price_of_anarchy")
@styled
def billing_price_of_anarchy(out_dir: str, *, quick: bool = False) -> list[str]:
    """Price of anarchy of daily and hourly proportional billing as the number of users grows.

    The households of :func:`analysis.demand_response_scenario` (evening-peaked limits, a quarter of them
    inflexible, slot costs ``a_t L^2 + 0.1 L`` with ``a_t`` per household, solar covering 0% or 30% of the
    inflexible load at noon), the first ``n`` of them for each ``n`` (the scenario's own draws: its ``n``-user
    day is the first ``n`` rows of the largest), padded with idle users so that every size is one row of
    one vmapped solve. The optimum is the equilibrium of daily proportional billing (a potential game
    whose potential is the supply cost: Mohsenian-Rad et al. 2010, Theorem 1; best-response sweeps); the
    hourly-billing equilibrium (each slot's cost split by load in that slot) by extragradient
    (Korpelevich 1976). Left: the price of anarchy, ``cost(equilibrium) / cost(optimum)`` (Koutsoupias
    and Papadimitriou 1999); right: the peak-to-average ratio of the net load, with no response.

    Reproduces Theorem 1 of Mohsenian-Rad et al. (2010) (daily billing reaches the optimum: PoA = 1) and
    shows the efficiency loss of hourly billing, small on this scenario (below 0.4%): without solar it
    falls towards 1 as users grow (each user's share of a slot's cost, its market power, shrinks); with
    solar it rises slightly (measured, not a theorem). These are the numbers of
    :func:`analysis.demand_response_study` (same scenario, same solvers), computed in one compiled
    program per billing rule. ``quick``: 2 to 16 users; otherwise 2 to 128. Writes PNG, PDF and JSON.
    """
    users = [2, 4, 8, 16] if quick else [2, 4, 8, 16, 32, 64, 128]
    shares = [0.0, 0.3]
    rows = [dict(users=n, renewable_share=share) for share in shares for n in users]
    outcomes = {}
    for billing, method in tqdm((("daily", "best_response"), ("hourly", "extragradient")), desc="billing rules"):
        games = _nested_scenarios(users, shares, billing)
        eqs = jax.vmap(lambda g: solve_vi(g, method=method, adjoint=None))(games)
        if not bool(jnp.all(eqs.status == Status.CONVERGED)):
            raise RuntimeError(f"{billing} billing: an equilibrium did not converge")
        net = jax.vmap(lambda g, x: g.total_load(x) - g.renewables)(games, eqs.strategies)
        outcomes[billing] = dict(cost=np.asarray(jax.vmap(lambda g, x: g.social_cost(x))(games, eqs.strategies)),
                                 par=np.asarray(net.max(-1) / net.mean(-1)), residual=np.asarray(eqs.residual))
        c = games.consumers  # no response: the flexible energy spread over the room
        room = c.upper - c.lower
        spread = c.lower + (c.energy - c.lower.sum(-1))[..., None] * room / jnp.maximum(
            room.sum(-1, keepdims=True), 1e-300)
        net = jax.vmap(lambda g, x: g.total_load(x) - g.renewables)(games, spread)
        outcomes["no response"] = dict(par=np.asarray(net.max(-1) / net.mean(-1)))
    optimum = outcomes["daily"]["cost"]
    for k, row in enumerate(rows):
        row.update(optimal_cost=float(optimum[k]), par_no_response=float(outcomes["no response"]["par"][k]))
        for billing in ("daily", "hourly"):
            row[f"price_of_anarchy_{billing}"] = float(outcomes[billing]["cost"][k] / optimum[k])
            row[f"peak_to_average_{billing}"] = float(outcomes[billing]["par"][k])
            row[f"residual_{billing}"] = float(outcomes[billing]["residual"][k])
    stats = dict(users=users, renewable_shares=shares, rows=rows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for share, ls, marker in zip(shares, ("-", "--"), ("o", "s")):
        sel = [r for r in rows if r["renewable_share"] == share]
        for billing, colour in (("daily", PALETTE[0]), ("hourly", PALETTE[1])):
            label = f"{billing} billing, solar {share:.0%}"
            left.plot(users, [r[f"price_of_anarchy_{billing}"] for r in sel], ls=ls, marker=marker, color=colour,
                      label=label)
            right.plot(users, [r[f"peak_to_average_{billing}"] for r in sel], ls=ls, marker=marker, color=colour,
                       label=label)
        right.plot(users, [r["par_no_response"] for r in sel], ls=ls, marker=marker, color=PALETTE[7], alpha=0.6,
                   label=f"no response, solar {share:.0%}")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("users")
        ax.legend()
    left.set_ylabel("price of anarchy (cost / optimal cost)")
    left.set_title("(a) price of anarchy of billing rules")
    right.set_ylabel("peak-to-average ratio of net load")
    right.set_title("(b) peak-to-average ratio")
    fig.tight_layout()
    return save(fig, stats, out_dir, "billing_price_of_anarchy")


def _nested_scenarios(users, shares, billing):
    """A stack of :func:`analysis.demand_response_scenario` days, one per (share, n): the first ``n``
    households of the largest scenario, the others idle (no room, no energy); per-household slot costs
    ``a_t = a_t(N) N / n`` and solar scaled to the ``n`` households' inflexible load, as the scenario
    builds them for ``n`` users."""
    largest = max(users)
    games = []
    for share in shares:
        base = demand_response_scenario(largest, share, billing=billing)
        hours = jnp.arange(base.num_slots, dtype=base.a.dtype) * (24.0 / base.num_slots)
        solar = jnp.maximum(0.0, jnp.sin(jnp.pi * (hours - 6.0) / 12.0))
        c = base.consumers
        for n in users:
            active = jnp.arange(largest) < n
            lower = jnp.where(active[:, None], c.lower, 0.0)
            upper = jnp.where(active[:, None], c.upper, 0.0)
            energy = jnp.where(active, c.energy, 0.0)
            games.append(dataclasses.replace(base, consumers=Consumers(lower, upper, energy), a=base.a * largest / n,
                                             renewables=share * lower.sum(0) * solar / jnp.max(solar)))
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *games)
