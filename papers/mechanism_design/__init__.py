"""Figure: the four mechanism-design studies of :mod:`papers.mechanism_design.studies`.

(a) Study 1: the net load of households and data centers under the flat price, the best grid-searched
baseline and the learned monotone real-time price (peak-to-average ratio minimized, budget balanced).
(b) Study 2: per-unit subsidies on IEEE 30 without line limits (design against the closed form
``s_g = b q_g*``) and with the published ratings (design reaching the welfare QP's optimum).
(c) Study 3: model value per unit of reward budget under proportional, Shapley and learned rewards.
(d) Study 4: the peak-to-average ratio on held-out days of solar output under the rule designed for the
mean day and the rule designed on sampled days (``scenarios``).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from .. import register, save_figure
from . import studies as S


@register("mechanism_design")
def figure(out_dir: str, *, quick: bool = False) -> list[str]:
    households, hours, days, steps = (10, 8, 4, 60) if quick else (60, 24, 64, 200)
    stats = {}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    # (a) study 1
    game, params0, pricing, baselines, learned = S.pricing_study(households, 2, hours, steps)  # shared, cached
    x = learned.equilibrium.strategies
    stats["study1"] = dict(
        baselines={k: v["objective"] for k, v in baselines.items()},
        learned=float(S.demand_response_metric(pricing.game_fn(learned.params), x, "peak_to_average")),
        relative_imbalance=float(S.relative_imbalance(pricing.game_fn(learned.params), x)),
        status=learned.status.name)
    best = min((k for k in baselines if k != "flat"), key=lambda k: baselines[k]["objective"])
    ax = axes[0, 0]
    t = np.arange(hours)
    shown = (("flat", baselines["flat"]["equilibrium"]), (best.replace("_", " "), baselines[best]["equilibrium"]))
    for name, eq in shown:
        net = np.asarray(game.net_load(eq.strategies))
        ax.step(t, net, where="mid", label=f"{name} (PAR {net.max() / net.mean():.3f})")
    net = np.asarray(game.net_load(x))
    ax.step(t, net, where="mid", lw=2, label=f"learned monotone price (PAR {net.max() / net.mean():.3f})")
    ax.set_xlabel("hour")
    ax.set_ylabel("net load")
    ax.set_title("(a) dynamic pricing, budget balanced")
    ax.legend(fontsize=7)

    # (b) study 2
    free, rated = S.cournot_instance(rated=False), S.cournot_instance(rated=True)
    design_free, _ = S.design_subsidies(free, rated=False, steps=300, progress=True)
    design_rated, (first_best, _) = S.design_subsidies(rated, rated=True, steps=300, progress=True)
    closed, q_star = S.efficient_subsidies(free)
    welfare = float(S.social_welfare(rated, design_rated.equilibrium.strategies))
    stats["study2"] = dict(closed_form=closed.tolist(), designed_free=np.asarray(design_free.params).tolist(),
                           designed_rated=np.asarray(design_rated.params).tolist(), welfare_rated=welfare,
                           welfare_qp=first_best)
    ax = axes[0, 1]
    g = np.arange(free.num_producers)
    active = q_star > 0
    ax.bar(g - 0.27, np.where(active, closed, np.nan), 0.27, label="closed form b q* (no limits)")
    ax.bar(g, np.asarray(design_free.params), 0.27, label="design, no limits")
    ax.bar(g + 0.27, np.asarray(design_rated.params), 0.27, label="design, published ratings")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("producer (cost 10 to 30)")
    ax.set_ylabel("per-unit subsidy (negative: tax)")
    ax.set_title(f"(b) IEEE 30 subsidies; rated welfare {welfare:.4f} (QP {first_best:.4f})")
    ax.legend(fontsize=7)

    # (c) study 3
    instance = S.federated_instance(6)
    rules = S.compare_reward_rules(instance)
    rewards = S.design_rewards(instance, steps=150, progress=True)
    values = [rules["proportional"]["value_per_budget"], rules["shapley"]["value_per_budget"], -rewards.objective]
    stats["study3"] = dict(proportional=values[0], shapley=values[1], learned=values[2],
                           learned_weights=np.asarray(rewards.params).tolist())
    ax = axes[1, 0]
    ax.bar(["proportional", "Shapley", "learned"], values, color=["C0", "C1", "C2"])
    ax.set_ylim(min(values) * 0.98, max(values) * 1.01)
    ax.set_ylabel("model value per unit of reward budget")
    ax.set_title("(c) federated contributions")

    # (d) study 4
    train = S.renewable_scenarios(game, days, seed=1)
    test = S.renewable_scenarios(game, days, seed=2)
    robust = pricing.run(params0, steps=steps, scenarios=train, progress=True)
    mean_day = S.DynamicPricing(dataclasses.replace(game, renewables=jnp.mean(train, 0)), "peak_to_average")
    nominal = mean_day.run(params0, steps=steps, progress=True)
    robust_par, robust_balance = S.evaluate_price_rule(game, robust.params, test, "peak_to_average")
    nominal_par, nominal_balance = S.evaluate_price_rule(game, nominal.params, test, "peak_to_average")
    stats["study4"] = dict(days=days, robust_mean_par=float(robust_par.mean()),
                           mean_day_mean_par=float(nominal_par.mean()),
                           robust_mean_imbalance=float(robust_balance.mean()),
                           mean_day_mean_imbalance=float(nominal_balance.mean()))
    ax = axes[1, 1]
    ax.hist([nominal_par, robust_par], bins=12, label=[f"designed for the mean day (mean {nominal_par.mean():.3f})",
                                                      f"designed on {days} days (mean {robust_par.mean():.3f})"])
    ax.set_xlabel("peak-to-average ratio on held-out days")
    ax.set_ylabel("days")
    ax.set_title("(d) design under uncertainty")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, stats, out_dir, "mechanism_design")
