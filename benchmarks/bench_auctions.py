"""Learned auctions: revenue, regret (by the test attack) and training time beside the published numbers.

Settings and reference numbers:

- RochetNet, one bidder, values uniform on [0, 1]: two additive items (Manelli and Vincent 2006:
  items at 2/3, bundle at (4 - sqrt 2)/3, revenue 0.5491), two unit-demand items (Pavlov 2011: one
  price 1/sqrt 3, revenue 2 / (3 sqrt 3) = 0.3849), ten additive items (the best bundle price,
  3.4483, computed here from the Irwin-Hall distribution; item-wise Myerson 2.5).
- RegretNet: one item and two or three bidders (Myerson 1981: second price with reserve 1/2,
  revenue 5/12 and 0.53125), two additive bidders and two items (Duetting et al. 2019 report 0.878
  at regret < 0.001, against 0.860 for VVCA and 0.862 for AMA), 2 x 3 and 3 x 10 (item-wise Myerson
  1.25 and 5.3125; the paper reports 5.541 for 3 x 10).
- The learned double auction against McAfee (1992), SBBA (Segal-Halevi et al. 2016) and the
  k-double auction (k = 1/2) on 5 + 5 and 10 + 10 traders, uniform and correlated values.

Every rule is trained with ``train_auction``'s defaults (``steps=None``); revenue is measured on fresh
profiles, regret by ``analysis.auction_regret`` (dense grid for at most two items plus restarts of
gradient ascent), never by the training attack. Training is timed from the call to the return,
compilation included.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from analysis import auction_ir_violation, auction_regret
from mechanisms import (
    ClearingRule,
    DoubleAuctionNet,
    LearnedDoubleAuction,
    RegretNet,
    RochetNet,
    efficient_trades,
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
)
from solvers import train_auction

UNIT = (0.0, 1.0)


def uniform_sampler(bidders, items):
    """``sample_values(key, n)``: values i.i.d. uniform on [0, 1]."""

    def sample_values(key, n):
        return jax.random.uniform(key, (n, bidders, items))

    sample_values.__qualname__ = f"uniform_{bidders}x{items}"
    return sample_values


def market_sampler(buyers, sellers, correlated):
    """Buyers' values and sellers' costs uniform on [0, 1]; correlated: each side shares a market shock.

    Correlated markets: ``v_i = (z_b + u_i) / 2`` and ``c_j = (z_s + w_j) / 2`` with ``z_b, z_s, u, w``
    independent uniforms: a day's demand (or supply) is high or low for everyone on its side.
    """

    def sample_values(key, n):
        k_u, k_w, k_b, k_s = jax.random.split(key, 4)
        values = jax.random.uniform(k_u, (n, buyers))
        costs = jax.random.uniform(k_w, (n, sellers))
        if correlated:
            values = (values + jax.random.uniform(k_b, (n, 1))) / 2
            costs = (costs + jax.random.uniform(k_s, (n, 1))) / 2
        return jnp.concatenate([values, costs], axis=-1)[..., None]

    sample_values.__qualname__ = f"market_{buyers}+{sellers}_{'correlated' if correlated else 'uniform'}"
    return sample_values


def bundle_price_revenue(items):
    """The best single price for the grand bundle of ``items`` uniform [0, 1] values (Irwin-Hall tail)."""
    from scipy import optimize

    def tail(x):
        return 1 - sum((-1) ** k * math.comb(items, k) * (x - k) ** items for k in range(int(math.floor(x)) + 1)) \
            / math.factorial(items)

    result = optimize.minimize_scalar(lambda p: -p * tail(p), bounds=(0.0, float(items)), method="bounded")
    return result.x, -result.fun


def manelli_vincent_revenue(values):
    """Revenue of the optimal menu for two additive uniform items, per profile (the closed-form mechanism)."""
    bundle = (4 - math.sqrt(2)) / 3
    menu = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 2 / 3], [0.0, 1.0, 2 / 3], [1.0, 1.0, bundle]], values.dtype)
    utilities = values[:, 0] @ menu[:, :2].T - menu[:, 2]
    return menu[jnp.argmax(utilities, axis=-1), 2]


def unit_demand_revenue(values):
    """Revenue of the optimal single price ``1/sqrt 3`` for a unit-demand bidder, per profile (Pavlov 2011)."""
    price = 1 / math.sqrt(3)
    return jnp.where(values[:, 0].max(axis=-1) >= price, price, 0.0)


def bundle_revenue(values, price):
    return jnp.where(values[:, 0].sum(axis=-1) >= price, price, 0.0)


@dataclasses.dataclass(frozen=True)
class AuctionSetting:
    name: str
    rule: object
    sample_values: Callable
    reference: str  # what the closed form or the paper says
    target: str  # the target, in words
    test_profiles: int = 200_000
    regret_profiles: int = 1000
    closed_form: Callable | None = None  # per-profile revenue of the known optimum, for a paired comparison


def rochetnet_settings():
    price10, revenue10 = bundle_price_revenue(10)
    return [
        AuctionSetting("1 additive bidder, 2 items", RochetNet(2), uniform_sampler(1, 2),
                       "optimum 0.5491 (Manelli-Vincent 2006); paper's RochetNet 0.550", "within 1% of 0.549",
                       test_profiles=2_000_000, regret_profiles=200, closed_form=manelli_vincent_revenue),
        AuctionSetting("1 unit-demand bidder, 2 items", RochetNet(2, valuation="unit_demand"), uniform_sampler(1, 2),
                       "optimum 0.3849 (Pavlov 2011); paper's RochetNet 0.384", "within 1% of 0.3849",
                       test_profiles=2_000_000, regret_profiles=200, closed_form=unit_demand_revenue),
        AuctionSetting("1 additive bidder, 10 items", RochetNet(10), uniform_sampler(1, 10),
                       f"best bundle price {price10:.4f}: {revenue10:.4f}; item-wise Myerson 2.5",
                       f"above {revenue10:.4f}", test_profiles=2_000_000, regret_profiles=100,
                       closed_form=functools.partial(bundle_revenue, price=price10)),
    ]


def regretnet_settings():
    return [
        AuctionSetting("2 bidders, 1 item", RegretNet(2, 1), uniform_sampler(2, 1),
                       "Myerson optimum 5/12 = 0.4167", "within 1% of 0.4167, regret <= 1e-3"),
        AuctionSetting("3 bidders, 1 item", RegretNet(3, 1), uniform_sampler(3, 1),
                       "Myerson optimum 0.53125", "within 1% of 0.53125, regret <= 1e-3"),
        AuctionSetting("2 additive bidders, 2 items", RegretNet(2, 2), uniform_sampler(2, 2),
                       "paper's RegretNet 0.878 (regret < 0.001); VVCA 0.860, AMA 0.862",
                       ">= 0.86, regret <= 1e-3"),
        AuctionSetting("2 additive bidders, 3 items", RegretNet(2, 3), uniform_sampler(2, 3),
                       "item-wise Myerson 1.25", "reported", regret_profiles=500),
        AuctionSetting("3 additive bidders, 10 items", RegretNet(3, 10), uniform_sampler(3, 10),
                       "paper's RegretNet 5.541; item-wise Myerson 5.3125", "reported", regret_profiles=300),
    ]


def train_and_measure(setting, *, steps=None, key=0, progress=False, regret_kwargs=None):
    """Train ``setting.rule`` with the defaults (or ``steps``) and measure it on fresh profiles.

    Returns a dict: ``revenue``, ``revenue_se``, ``regret`` (mean over profiles and bidders, test
    attack), ``regret_max``, ``training_regret`` (the training attack's last estimate), ``ir``,
    ``seconds`` (wall) and ``cpu_seconds`` (this process's CPU time: on a shared machine the honest
    measure of work), ``steps``, ``status``, and for a known optimum ``paired_gap`` (ours minus the
    optimum's revenue on the same profiles) with its standard error. The trained float32 network is
    evaluated on float64 profiles (jax_enable_x64 as in ``python -m benchmarks``).
    """
    rule = setting.rule
    start, cpu = time.perf_counter(), time.process_time()
    params, history = train_auction(rule, setting.sample_values, key=jax.random.key(key), steps=steps,
                                    support=UNIT, progress=progress)
    jax.block_until_ready(params)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    values = setting.sample_values(jax.random.key(10_000 + key), setting.test_profiles)
    payments = _revenues(rule, params, values)
    out = {"revenue": float(payments.mean()), "revenue_se": float(payments.std() / math.sqrt(payments.shape[0])),
           "seconds": seconds, "cpu_seconds": cpu_seconds,
           "steps": int(history.steps[-1]) if len(history.steps) else 0,
           "status": history.status, "training_regret": float(history.regret[-1]) if len(history.regret) else math.nan}
    if setting.closed_form is not None:
        gap = payments - setting.closed_form(values)
        out["paired_gap"] = float(gap.mean())
        out["paired_gap_se"] = float(gap.std() / math.sqrt(gap.shape[0]))
    test = values[: setting.regret_profiles]
    regret = auction_regret(rule, params, test, support=UNIT, **(regret_kwargs or {}))
    out["regret"] = float(regret.mean())
    out["regret_max"] = float(regret.max())
    out["ir"] = float(auction_ir_violation(rule, params, test).max())
    return out


def _revenues(rule, params, values, chunk=50_000):
    """Revenue per profile, in chunks (a 1,000-option menu on 2,000,000 profiles would need 16 GB at once)."""
    deployed = jax.jit(rule)
    return jnp.concatenate([deployed(params, values[i:i + chunk])[1].sum(axis=-1)
                            for i in range(0, values.shape[0], chunk)])


def double_auction_settings():
    settings = []
    for traders in (5, 10):
        for correlated in (False, True):
            settings.append((traders, correlated))
    return settings


def measure_double_auctions(traders, correlated, *, steps=None, key=0, markets=20_000, regret_markets=300,
                            progress=False, network=False):
    """Train the learned double auction and measure it beside McAfee, SBBA and the k-double auction.

    Returns ``(rows, (wall seconds, CPU seconds))``: per rule, the share of first-best gains from
    trade (ratio of means) and its difference from McAfee's on the same markets (paired, with standard
    errors), mean and max regret per trader (test attack), mean and min budget surplus, and max IR
    violation. ``network=True`` also trains the regret-constrained :class:`DoubleAuctionNet` (slow).
    """
    sample_values = market_sampler(traders, traders, correlated)
    rule = LearnedDoubleAuction(traders, traders)
    start, cpu = time.perf_counter(), time.process_time()
    params, history = train_auction(rule, sample_values, key=jax.random.key(key), steps=steps, support=UNIT,
                                    progress=progress)
    jax.block_until_ready(params)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    values = sample_values(jax.random.key(20_000 + key), markets)
    _, optimum = efficient_trades(values[:, :traders, 0], values[:, traders:, 0])
    rules = {
        "learned": (rule, params),
        "McAfee": (ClearingRule(mcafee_double_auction, traders, traders), {}),
        "SBBA": (ClearingRule(functools.partial(sbba_double_auction, key=jax.random.key(1)), traders, traders), {}),
        "k-double (k = 1/2)": (ClearingRule(functools.partial(k_double_auction, k=0.5), traders, traders), {}),
    }
    if network:
        net = DoubleAuctionNet(traders, traders)
        tic, cpu = time.perf_counter(), time.process_time()
        net_params, net_history = train_auction(net, sample_values, key=jax.random.key(key), support=UNIT,
                                                progress=progress)
        jax.block_until_ready(net_params)
        rules["network (regret-trained)"] = (net, net_params)
        net_seconds = (time.perf_counter() - tic, time.process_time() - cpu)
    rows = {}
    mcafee_gains = None
    for name, (r, p) in rules.items():
        allocation, payments = jax.jit(r)(p, values)
        gains = r.objective(values, allocation, payments)
        if name == "McAfee":
            mcafee_gains = gains
        surplus = payments.sum(axis=-1)
        regret = auction_regret(r, p, values[:regret_markets], support=UNIT, restarts=4, steps=100)
        rows[name] = {"welfare_share": float(gains.mean() / optimum.mean()), "gains": gains,
                      "welfare_share_se": float(gains.std() / math.sqrt(gains.shape[0]) / optimum.mean()),
                      "regret": float(regret.mean()), "regret_max": float(regret.max()),
                      "surplus": float(surplus.mean()), "surplus_min": float(surplus.min()),
                      "ir": float(auction_ir_violation(r, p, values[:regret_markets]).max())}
    for row in rows.values():  # paired with McAfee on the same markets
        difference = row.pop("gains") - mcafee_gains
        row["vs_mcafee"] = float(difference.mean() / optimum.mean())
        row["vs_mcafee_se"] = float(difference.std() / math.sqrt(difference.shape[0]) / optimum.mean())
    rows["learned"]["training_regret"] = float(history.regret[-1]) if len(history.regret) else math.nan
    rows["learned"]["status"] = history.status
    rows["learned"]["seconds"] = seconds
    if network:
        rows["network (regret-trained)"]["status"] = net_history.status
        rows["network (regret-trained)"]["seconds"] = net_seconds
    return rows, seconds


def _steps(rule, quick):
    return max(rule.training_defaults()["steps"] // 20, 100) if quick else None


def rochetnet_section(quick):
    rows = []
    for setting in rochetnet_settings():
        r = train_and_measure(setting, steps=_steps(setting.rule, quick))
        rows.append(f"| {setting.name} | {r['revenue']:.4f} ± {r['revenue_se']:.4f} | "
                    f"{r['paired_gap']:+.4f} ± {r['paired_gap_se']:.4f} | {r['regret']:.1e} | {r['steps']:,} | "
                    f"{r['seconds']:.0f} s ({r['cpu_seconds']:.0f} CPU s) | {setting.reference} | {setting.target} |")
    return [
        "## Learned auctions: RochetNet (one bidder, values uniform on [0, 1])" + (" (quick)" if quick else ""),
        "",
        "Revenue of the deployed (argmax) menu on fresh profiles (± one standard error); the gap is ours minus "
        "the known optimum's revenue on the same profiles (paired); regret by the test attack (0 by construction).",
        "",
        "| setting | revenue | gap to optimum (paired) | regret | steps | training time | reference | target |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def regretnet_row(setting, quick=False):
    """One table row: train ``setting`` with the defaults and measure it."""
    r = train_and_measure(setting, steps=_steps(setting.rule, quick))
    return (f"| {setting.name} | {r['revenue']:.4f} ± {r['revenue_se']:.4f} | {r['regret']:.1e} "
            f"(max {r['regret_max']:.1e}) | {r['training_regret']:.1e} | {r['ir']:.0e} | {r['steps']:,} | "
            f"{r['seconds']:.0f} s ({r['cpu_seconds']:.0f} CPU s) | {r['status']} | {setting.reference} | "
            f"{setting.target} |")


def regretnet_section(quick, rows=None):
    rows = rows if rows is not None else [regretnet_row(setting, quick) for setting in regretnet_settings()]
    return [
        "## Learned auctions: RegretNet (additive bidders, values uniform on [0, 1])" + (" (quick)" if quick else ""),
        "",
        "Regret is the mean over profiles and bidders of the best misreport gain found by the test attack "
        "(`analysis.auction_regret`: a 257-point or 33 x 33 grid for one or two items, plus 8 restarts of 200 "
        "Adam steps); the training attack's own last estimate is shown beside it.",
        "",
        "| setting | revenue | regret (test attack) | regret (training attack) | IR violation | steps | "
        "training time | status | reference | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def double_auction_section(quick):
    lines = [
        "## Learned double auction for peer-to-peer energy" + (" (quick)" if quick else ""),
        "",
        "Share of the first-best gains from trade (ratio of means over 20,000 markets) and its difference from "
        "McAfee's on the same markets (paired, ± one standard error), mean and largest regret per trader (test "
        "attack on 300 markets), the operator's mean and smallest budget surplus, and the largest IR violation. "
        "Correlated: each side shares a market-wide shock. `learned` is `LearnedDoubleAuction` (trade reduction "
        "with a learned reference price: truthful by construction); `network` is the generic `DoubleAuctionNet` "
        "trained against regret (5 + 5 uniform only: it is slow).",
        "",
        "| market | rule | welfare share | minus McAfee's (paired) | regret (mean / max) | surplus (mean / min) | "
        "IR violation | training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for traders, correlated in double_auction_settings():
        rule = LearnedDoubleAuction(traders, traders)
        rows, _ = measure_double_auctions(traders, correlated, steps=_steps(rule, quick),
                                          network=traders == 5 and not correlated)
        market = f"{traders} + {traders}, {'correlated' if correlated else 'uniform'}"
        for name, r in rows.items():
            training = f"{r['seconds'][0]:.0f} s ({r['seconds'][1]:.0f} CPU s), {r['status']}" if "status" in r else ""
            lines.append(f"| {market} | {name} | {r['welfare_share']:.4f} ± {r['welfare_share_se']:.4f} | "
                         f"{r['vs_mcafee']:+.4f} ± {r['vs_mcafee_se']:.4f} | {r['regret']:.1e} / {r['regret_max']:.1e} | "
                         f"{r['surplus']:.4f} / {r['surplus_min']:.1e} | {r['ir']:.0e} | {training} |")
    return lines


def run(quick=False):
    return [rochetnet_section(quick), regretnet_section(quick), double_auction_section(quick)]
