"""Auction figures of the energy-for-AI paper: learned auctions, the learned P2P double auction, properties.

- ``learned_auctions`` (figure 6): RochetNet and RegretNet trained with :func:`solvers.train_auction`,
  their revenue and regret beside the optima and the published numbers (Duetting et al. 2019).
- ``p2p_double_auction`` (figure 7): :class:`mechanisms.LearnedDoubleAuction` against McAfee and SBBA.
- ``mechanism_properties`` (figure 10): the empirical property table (IC regret, IR, budget surplus,
  efficiency or revenue) of every auction rule, as a table image and JSON.

Training runs and measurements are cached per size in the process, so figures 6, 7 and 10 of one
``python -m papers`` share them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from typing import Callable

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from analysis import auction_ir_violation, auction_regret, auction_revenue
from mechanisms import (ClearingRule, LearnedDoubleAuction, RegretNet, RochetNet, efficient_trades, k_double_auction,
                        mcafee_double_auction, sbba_double_auction, vcg_double_auction)
from solvers import train_auction

from .. import register
from ._style import PALETTE, save, styled

UNIT = (0.0, 1.0)


def uniform_values(bidders: int, items: int):
    """``sample_values(key, n)``: ``(n, bidders, items)`` values i.i.d. uniform on [0, 1]."""

    def sample_values(key, n):
        return jax.random.uniform(key, (n, bidders, items))

    sample_values.__qualname__ = f"uniform_{bidders}x{items}"
    return sample_values


def market_values(buyers: int, sellers: int):
    """``sample_values(key, n)``: buyers' values then sellers' costs, i.i.d. uniform on [0, 1], ``(n, B + S, 1)``."""

    def sample_values(key, n):
        k_values, k_costs = jax.random.split(key)
        return jnp.concatenate([jax.random.uniform(k_values, (n, buyers)), jax.random.uniform(k_costs, (n, sellers))],
                               axis=-1)[..., None]

    sample_values.__qualname__ = f"market_{buyers}+{sellers}"
    return sample_values


# ---------------------------------------------------------------------------------------------------
# Figure 6


@dataclasses.dataclass(frozen=True)
class Setting:
    """One learned-auction setting: the rule, its value distribution, the known optimum and the paper's."""

    name: str
    quick_rule: object
    full_rule: object
    sample_values: Callable
    optimum: float | None  # revenue of the optimal mechanism, where known
    optimum_source: str
    published: float | None  # the learned network's revenue in Duetting et al. (2019)
    quick: bool  # trained in quick mode too


def settings():
    """The issue's targets: RochetNet on two items (Manelli and Vincent 2006; Pavlov 2011), RegretNet
    on one item (Myerson 1981) and on 2 x 2 (the paper's 0.878)."""
    return (
        Setting("RochetNet, 1 additive bidder, 2 items", RochetNet(2, menu_size=64), RochetNet(2),
                uniform_values(1, 2), 0.5491,
                "Manelli-Vincent 2006", 0.550, True),
        Setting("RochetNet, 1 unit-demand bidder, 2 items", RochetNet(2, menu_size=64, valuation="unit_demand"),
                RochetNet(2, valuation="unit_demand"), uniform_values(1, 2), 2 / (3 * math.sqrt(3)), "Pavlov 2011",
                0.384, True),
        Setting("RegretNet, 2 bidders, 1 item", RegretNet(2, 1, hidden=(16, 16)), RegretNet(2, 1),
                uniform_values(2, 1), 5 / 12, "Myerson 1981", None, True),
        Setting("RegretNet, 3 bidders, 1 item", RegretNet(3, 1, hidden=(16, 16)), RegretNet(3, 1),
                uniform_values(3, 1), 0.53125, "Myerson 1981", None, False),
        Setting("RegretNet, 2 additive bidders, 2 items", RegretNet(2, 2, hidden=(32, 32)), RegretNet(2, 2),
                uniform_values(2, 2), None, "unknown (VVCA 0.860, AMA 0.862)", 0.878, False),
    )


def _checkpoint_dir(out_dir: str, quick: bool) -> str | None:
    """Where the full-size trainings keep their checkpoints (``out_dir/.checkpoints``): a run killed
    part way resumes there, and a finished training is not redone. Quick runs keep none."""
    return None if quick else os.path.join(out_dir, ".checkpoints")


def _checkpoint(checkpoint_dir: str | None, name: str) -> str | None:
    if checkpoint_dir is None:
        return None
    os.makedirs(checkpoint_dir, exist_ok=True)
    return os.path.join(checkpoint_dir, re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + ".ckpt")


def _train(rule, sample_values, quick: bool, key: int = 0, checkpoint: str | None = None):
    """``train_auction`` with its defaults (full, checkpointed to ``checkpoint`` if given), or a tiny run
    (quick: 300 steps of 256 menus / 64 profiles, 5 misreport steps)."""
    if not quick:
        return train_auction(rule, sample_values, key=jax.random.key(key), support=UNIT, progress=True,
                             checkpoint=checkpoint)
    if isinstance(rule, RochetNet):
        return train_auction(rule, sample_values, key=jax.random.key(key), steps=300, batch_size=256,
                             learning_rate=1e-2, support=UNIT, progress=True)
    return train_auction(rule, sample_values, key=jax.random.key(key), steps=300, batch_size=64, misreport_steps=5,
                         learning_rate=3e-3, support=UNIT, progress=True)


def _measure(rule, params, sample_values, quick: bool, *, regret_profiles: int | None = None):
    """Revenue on fresh profiles (mean and standard error), regret by the test attack
    (:func:`analysis.auction_regret`: grid plus restarts of gradient ascent, stronger than training's),
    and the largest IR violation."""
    profiles = 20_000 if quick else 200_000
    values = sample_values(jax.random.key(10_000), profiles)
    revenue = np.asarray(jax.jit(rule)(params, values)[1].sum(-1))
    regret_profiles = regret_profiles or (100 if quick else 1000)
    attack = dict(restarts=0, steps=0) if quick else {}  # quick: the dense grid alone
    regret = np.asarray(auction_regret(rule, params, values[:regret_profiles], support=UNIT, **attack))
    return dict(revenue=float(revenue.mean()), revenue_se=float(revenue.std() / math.sqrt(revenue.size)),
                regret=float(regret.mean()), regret_max=float(regret.max()),
                ir_violation=float(np.max(auction_ir_violation(rule, params, values[:regret_profiles]))))


@functools.lru_cache(maxsize=2)
def learned_auction_results(quick: bool, checkpoint_dir: str | None = None):
    """Train and measure every setting (quick: the three small ones, tiny networks); full trainings
    checkpoint into ``checkpoint_dir`` and resume from it."""
    rows = []
    for setting in settings():
        row = dict(name=setting.name, optimum=setting.optimum, optimum_source=setting.optimum_source,
                   published=setting.published, trained=bool(setting.quick or not quick))
        if row["trained"]:
            rule = setting.quick_rule if quick else setting.full_rule
            params, history = _train(rule, setting.sample_values, quick,
                                     checkpoint=_checkpoint(checkpoint_dir, setting.name))
            row.update(_measure(rule, params, setting.sample_values, quick), status=history.status.name,
                       steps=int(history.steps[-1]) if len(history.steps) else 0)
        rows.append(row)
    return rows


@register("learned_auctions")
@styled
def learned_auctions(out_dir: str, *, quick: bool = False) -> list[str]:
    """Learned auctions' revenue and regret beside the optima and the published numbers.

    RochetNet (a menu of lotteries: exactly truthful for one bidder) and RegretNet (allocation and
    payment networks trained by an augmented Lagrangian on regret) trained with
    :func:`solvers.train_auction`; revenue on fresh profiles (values uniform on [0, 1]), regret by
    :func:`analysis.auction_regret`'s attack (stronger than the training one). Left: revenue against
    the optimal mechanism's (Manelli and Vincent 2006: 0.5491; Pavlov 2011: 2 / (3 sqrt 3) = 0.3849;
    Myerson 1981: 5/12 and 0.53125) and the learned networks' published revenues; right: mean regret
    per bidder (0 by construction for RochetNet).

    Reproduces Duetting, Feng, Narasimhan, Parkes and Ravindranath (2019), "Optimal auctions through
    deep learning" (ICML), Tables 1-2: RochetNet 0.550 (2 additive items) and 0.384 (2 unit-demand
    items), RegretNet near Myerson's optimum on one item and 0.878 on 2 x 2. ``quick``: the three
    small settings with tiny networks (64-option menus, 16 x 16 hidden units, 300 steps), so the
    revenue is below the published; otherwise all five with :func:`solvers.train_auction`'s defaults
    (tens of minutes on 2 cores). The quick regret is the dense grid's alone (no gradient restarts).
    Writes PNG, PDF and JSON.
    """
    rows = learned_auction_results(quick, _checkpoint_dir(out_dir, quick))
    stats = dict(quick=quick, rows=rows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw=dict(width_ratios=(3, 2)))
    y = np.arange(len(rows))
    ours = [r.get("revenue", np.nan) for r in rows]
    left.barh(y + 0.27, ours, 0.27, color=PALETTE[0], xerr=[2 * r.get("revenue_se", 0.0) for r in rows],
              label="ours (quick: tiny networks)" if quick else "ours (train_auction defaults)")
    left.barh(y, [np.nan if r["published"] is None else r["published"] for r in rows], 0.27, color=PALETTE[3],
              label="published learned network (Duetting et al. 2019)")
    left.barh(y - 0.27, [np.nan if r["optimum"] is None else r["optimum"] for r in rows], 0.27, color=PALETTE[2],
              label="optimal mechanism (closed form)")
    for k, r in enumerate(rows):
        if not r["trained"]:
            left.annotate("not trained in quick mode", (0.02, k + 0.27), va="center", fontsize=7, color="0.3")
        elif r["optimum"]:
            left.annotate(f"{r['revenue']:.3f} ({100 * r['revenue'] / r['optimum']:.1f}% of optimum)",
                          (r["revenue"], k + 0.27), xytext=(3, 0), textcoords="offset points", va="center",
                          fontsize=7)
        else:
            left.annotate(f"{r['revenue']:.3f}", (r["revenue"], k + 0.27), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=7)
    left.set_yticks(y, [r["name"] for r in rows])
    left.invert_yaxis()
    left.set_xlabel("expected revenue")
    left.set_title("(a) revenue")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
    regrets = [max(r.get("regret", np.nan), 1e-8) if r["trained"] else np.nan for r in rows]
    right.barh(y, regrets, 0.5, color=PALETTE[1])
    for k, r in enumerate(rows):
        if r["trained"]:
            text = "0 (exactly truthful)" if r["regret"] == 0 else f"{r['regret']:.1e} (max {r['regret_max']:.1e})"
            right.annotate(text, (max(r["regret"], 1e-8), k), xytext=(3, 0), textcoords="offset points",
                           va="center", fontsize=7)
    right.axvline(1e-3, color="0.4", ls="--", lw=0.8)
    right.annotate("target 1e-3", (1e-3, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                   textcoords="offset points", va="top", fontsize=7, color="0.4")  # at the top, clear of the labels
    right.set_xscale("log")
    right.set_xlim(1e-8, 1)
    right.set_yticks(y, [""] * len(rows))
    right.invert_yaxis()
    right.set_xlabel("mean regret per bidder (test attack; 1e-8 shown for 0)")
    right.set_title("(b) regret")
    fig.tight_layout()
    return save(fig, stats, out_dir, "learned_auctions")


# ---------------------------------------------------------------------------------------------------
# Figures 7 and 10: double auctions


def double_auction_rules(traders: int, learned_params):
    """The double auctions measured side by side, in the learned-rule protocol."""
    return {
        "learned (LearnedDoubleAuction)": (LearnedDoubleAuction(traders, traders), learned_params),
        "McAfee": (ClearingRule(mcafee_double_auction, traders, traders), {}),
        "SBBA": (ClearingRule(functools.partial(sbba_double_auction, key=jax.random.key(1)), traders, traders), {}),
        "k-double (k = 1/2)": (ClearingRule(functools.partial(k_double_auction, k=0.5), traders, traders), {}),
        "VCG": (ClearingRule(vcg_double_auction, traders, traders), {}),
    }


@functools.lru_cache(maxsize=4)
def double_auction_results(traders: int, quick: bool, checkpoint_dir: str | None = None):
    """Train the learned double auction on ``traders + traders`` uniform markets (checkpointed into
    ``checkpoint_dir``) and measure it with McAfee, SBBA, the k-double auction and VCG on the same fresh
    markets."""
    sample_values = market_values(traders, traders)
    rule = LearnedDoubleAuction(traders, traders)
    size = dict(steps=300, batch_size=256) if quick else {}  # full: the training defaults
    params, history = train_auction(rule, sample_values, key=jax.random.key(0), support=UNIT, progress=True,
                                    checkpoint=_checkpoint(checkpoint_dir, f"double auction {traders} + {traders}"),
                                    **size)
    markets, regret_markets = (4000, 50) if quick else (20_000, 300)
    attack = dict(restarts=0, steps=0) if quick else dict(restarts=4, steps=100)  # quick: the dense grid alone
    values = sample_values(jax.random.key(20_000), markets)
    _, optimum = efficient_trades(values[:, :traders, 0], values[:, traders:, 0])
    optimum = np.asarray(optimum)
    rows = {}
    for name, (r, p) in double_auction_rules(traders, params).items():
        allocation, payments = jax.jit(r)(p, values)
        gains = np.asarray(r.objective(values, allocation, payments))
        surplus = np.asarray(payments.sum(axis=-1))
        regret = np.asarray(auction_regret(r, p, values[:regret_markets], support=UNIT, **attack))
        rows[name] = dict(welfare_share=float(gains.mean() / optimum.mean()),
                          welfare_share_se=float(gains.std() / math.sqrt(gains.size) / optimum.mean()),
                          surplus=float(surplus.mean()), surplus_min=float(surplus.min()),
                          regret=float(regret.mean()), regret_max=float(regret.max()),
                          ir_violation=float(np.max(auction_ir_violation(r, p, values[:regret_markets]))))
    rows["learned (LearnedDoubleAuction)"].update(status=history.status.name,
                                                  steps=int(history.steps[-1]) if len(history.steps) else 0)
    return dict(traders=traders, markets=markets, regret_markets=regret_markets, rows=rows)


def _double_auction_sizes(quick: bool):
    return (5,) if quick else (5, 10)


@register("p2p_double_auction")
@styled
def p2p_double_auction(out_dir: str, *, quick: bool = False) -> list[str]:
    """The learned peer-to-peer double auction against McAfee and SBBA: welfare share, surplus, regret.

    :class:`mechanisms.LearnedDoubleAuction` (McAfee's trade reduction around a learned reference
    price: truthful, individually rational and never in deficit by construction) trained with
    :func:`solvers.train_auction` to maximize the gains from trade on markets of ``n`` buyers and
    ``n`` sellers with values and costs uniform on [0, 1]; measured on fresh markets beside McAfee's
    double auction (1992) and SBBA (Segal-Halevi, Hassidim and Aumann 2016, strongly budget balanced).
    Panels: the share of the first-best gains from trade realized (± 2 s.e.), the operator's mean
    budget surplus, and the mean regret per trader found by :func:`analysis.auction_regret`.

    Reproduces the ordering the theory predicts (McAfee keeps more welfare than SBBA, which gives the
    reduced trade's surplus away by lottery; both are truthful) and the issue's target that the learned
    reference price beats both without deficit; no published number for the learned rule.
    ``quick``: 5 + 5 traders, 300 training steps of 256 markets, 4,000 markets, regret on 50 of them by the
    dense grid alone; otherwise 5 + 5 and 10 + 10 with the
    training defaults and 20,000 markets. Writes PNG, PDF and JSON.
    """
    results = [double_auction_results(n, quick, _checkpoint_dir(out_dir, quick)) for n in _double_auction_sizes(quick)]
    shown = ("learned (LearnedDoubleAuction)", "McAfee", "SBBA")
    stats = dict(quick=quick, markets={f"{r['traders']}+{r['traders']}": r for r in results})
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    width = 0.8 / len(results)
    x = np.arange(len(shown))
    for k, result in enumerate(results):
        rows = result["rows"]
        offset = (k - (len(results) - 1) / 2) * width
        hatch = None if k == 0 else "//"
        label = f"{result['traders']} + {result['traders']} traders"
        axes[0].bar(x + offset, [rows[n]["welfare_share"] for n in shown], width, hatch=hatch,
                    yerr=[2 * rows[n]["welfare_share_se"] for n in shown], color=PALETTE[:3], label=label)
        axes[1].bar(x + offset, [rows[n]["surplus"] for n in shown], width, hatch=hatch, color=PALETTE[:3],
                    label=label)
        axes[2].bar(x + offset, [max(rows[n]["regret"], 1e-8) for n in shown], width, hatch=hatch,
                    color=PALETTE[:3], label=label)
    names = ["learned", "McAfee", "SBBA"]
    low = min(r["rows"][n]["welfare_share"] for r in results for n in shown)
    axes[0].set_ylim(max(0.0, low - 0.05), 1.0)
    axes[0].set_ylabel("share of first-best gains from trade")
    axes[0].set_title("(a) welfare")
    axes[1].set_ylabel("operator's mean budget surplus")
    axes[1].set_title("(b) budget surplus (never negative)")
    axes[2].set_yscale("log")
    axes[2].set_ylim(1e-9, 1)
    axes[2].set_ylabel("mean regret per trader (1e-8 shown for 0)")
    axes[2].set_title("(c) incentive compatibility")
    for ax in axes:
        ax.set_xticks(x, names)
    if len(results) > 1:
        axes[0].legend(loc="lower left")
    fig.tight_layout()
    return save(fig, stats, out_dir, "p2p_double_auction")


PROPERTIES = {  # what theory says: (truthful, individually rational, budget)
    "learned (LearnedDoubleAuction)": ("yes", "yes", "weakly balanced"),
    "McAfee": ("yes", "yes", "weakly balanced"),
    "SBBA": ("yes", "yes", "strongly balanced"),
    "k-double (k = 1/2)": ("no", "yes", "strongly balanced"),
    "VCG": ("yes", "yes", "deficit"),
    "RochetNet": ("yes (one bidder)", "yes", "revenue"),
    "RegretNet": ("approximately", "yes", "revenue"),
}


@register("mechanism_properties")
@styled
def mechanism_properties(out_dir: str, *, quick: bool = False) -> list[str]:
    """The empirical property table of every auction rule: IC regret, IR, budget surplus, efficiency.

    Double auctions (the learned one, McAfee 1992, SBBA: Segal-Halevi et al. 2016, the k-double
    auction: Chatterjee and Samuelson 1983, VCG: Vickrey 1961) on the same fresh uniform markets of
    ``p2p_double_auction``, and the learned revenue-maximizing auctions of ``learned_auctions``
    (RochetNet, RegretNet; Duetting et al. 2019). Columns: the mean and largest regret of a unilateral
    misreport found by :func:`analysis.auction_regret`, the largest IR violation
    (:func:`analysis.auction_ir_violation`), the mean and smallest budget surplus (double auctions) or
    the revenue (single-sided auctions), and the share of first-best gains from trade; beside them, what
    theory says. Drawn as a table image.

    Reproduces the textbook property profile (Myerson and Satterthwaite 1983: no double auction is
    truthful, IR, budget balanced and efficient at once): VCG is truthful and efficient but runs a
    deficit; the k-double auction balances the budget and is efficient here but not truthful; McAfee and
    SBBA are truthful and balanced but give up welfare. ``quick``: the quick runs of figures 6 and 7;
    otherwise their full runs. Writes PNG, PDF and JSON.
    """
    table = []
    checkpoints = _checkpoint_dir(out_dir, quick)
    for result in (double_auction_results(n, quick, checkpoints) for n in _double_auction_sizes(quick)):
        for name, row in result["rows"].items():
            truthful, ir, budget = PROPERTIES[name]
            table.append(dict(mechanism=name, market=f"{result['traders']} + {result['traders']} uniform",
                              regret=row["regret"], regret_max=row["regret_max"], ir_violation=row["ir_violation"],
                              surplus=row["surplus"], surplus_min=row["surplus_min"],
                              efficiency=row["welfare_share"], revenue=None, theory_truthful=truthful,
                              theory_ir=ir, theory_budget=budget))
    for row in learned_auction_results(quick, checkpoints):
        if not row["trained"]:
            continue
        family = row["name"].split(",")[0]
        truthful, ir, budget = PROPERTIES[family]
        table.append(dict(mechanism=family, market=row["name"].split(", ", 1)[1], regret=row["regret"],
                          regret_max=row["regret_max"], ir_violation=row["ir_violation"], surplus=None,
                          surplus_min=None, efficiency=None, revenue=row["revenue"], theory_truthful=truthful,
                          theory_ir=ir, theory_budget=budget))
    stats = dict(quick=quick, rows=table)
    header = ["mechanism", "market", "IC regret\nmean / max", "IR\nviolation", "budget surplus\nmean / min",
              "efficiency", "revenue", "theory:\ntruthful / IR / budget"]
    cells = []
    for r in table:
        cells.append([r["mechanism"].replace(" (LearnedDoubleAuction)", ""), r["market"],
                      f"{r['regret']:.1e} / {r['regret_max']:.1e}", f"{r['ir_violation']:.0e}",
                      "-" if r["surplus"] is None else f"{r['surplus']:+.4f} / {r['surplus_min']:+.1e}",
                      "-" if r["efficiency"] is None else f"{r['efficiency']:.3f}",
                      "-" if r["revenue"] is None else f"{r['revenue']:.4f}",
                      f"{r['theory_truthful']} / {r['theory_ir']} / {r['theory_budget']}"])
    fig, ax = plt.subplots(figsize=(13, 0.34 * (len(cells) + 2) + 0.6))
    ax.set_axis_off()
    drawn = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7.5)
    drawn.scale(1.0, 1.6)
    for (row, col), cell in drawn.get_celld().items():
        if row == 0:
            cell.set_facecolor("#DCEAF5")
            cell.set_height(cell.get_height() * 1.5)
        elif col == 2 and table[row - 1]["regret_max"] > 1e-3:
            cell.set_facecolor("#F6D5C0")  # a rule that can be gamed
        elif col == 4 and table[row - 1]["surplus_min"] is not None and table[row - 1]["surplus_min"] < -1e-9:
            cell.set_facecolor("#F6D5C0")  # a deficit
    drawn.auto_set_column_width(list(range(len(header))))
    ax.set_title("Empirical properties of the auction rules (shaded: largest regret above 1e-3, or a deficit)")
    fig.tight_layout()
    return save(fig, stats, out_dir, "mechanism_properties")
