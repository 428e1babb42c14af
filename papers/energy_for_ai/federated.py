"""Figure 11 of the energy-for-AI paper: federated-learning reward rules, value per unit of reward."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import register
from ..mechanism_design import studies
from ._style import PALETTE, save, styled


@register("federated_rewards")
@styled
def federated_rewards(out_dir: str, *, quick: bool = False) -> list[str]:
    """Federated-learning reward rules: the model value each unit of reward buys, by reward budget.

    Study 3 of :mod:`papers.mechanism_design.studies`: six participants (data centers with compute
    costs ``kappa`` from 0.5 to 4 per unit of effort, effort caps 50) contribute effort to a shared model
    worth ``V(E) = 10 log(1 + E)``; a reward pool ``B`` is split by a rule, and each participant's effort
    is its Nash-equilibrium effort (:func:`games.federated_contribution_game`, extragradient). Rules:
    proportional to effort (a Tullock 1980 lottery contest), Shapley values of ``v(S) = V(sum_{i in S}
    e_i)`` (Shapley 1953), and a weighted proportional rule whose weights are learned by
    :func:`solvers.design` (implicit gradients through the equilibrium) to maximize ``V(E*) / B``.
    Left: value per unit of reward against the budget, relative to the proportional rule's; right: the
    participants' equilibrium efforts at ``B = 5``.

    Reproduces the design of reward rules for federated learning as contests (Zhan et al. 2021, "A survey
    of incentive mechanism design for federated learning"; handicapped contests: Franke et al. 2013, whose
    optimal handicaps favour the weaker contestants); no published number. ``quick``: the learned rule at
    ``B = 5`` only (60 design steps); otherwise at every budget (150 steps). Writes PNG, PDF and JSON.
    """
    budgets = [1.0, 2.5, 5.0, 10.0, 20.0]
    learned_budgets, steps = ([5.0], 60) if quick else (budgets, 150)
    rows = []
    efforts = {}
    for budget in budgets:
        instance = studies.federated_instance(6, budget=budget)
        rules = studies.compare_reward_rules(instance)
        row = dict(budget=budget, proportional=rules["proportional"]["value_per_budget"],
                   shapley=rules["shapley"]["value_per_budget"], learned=None)
        if budget in learned_budgets:
            design = studies.design_rewards(instance, steps=steps, progress=True)
            row.update(learned=float(-design.objective), learned_status=design.status.name,
                       learned_weights=np.asarray(design.params).tolist())
            if budget == 5.0:
                efforts["learned"] = np.asarray(design.equilibrium.strategies)
        if budget == 5.0:
            efforts["proportional"] = rules["proportional"]["efforts"]
            efforts["Shapley"] = rules["shapley"]["efforts"]
        rows.append(row)
    kappa = studies.federated_instance(6)["effort_cost"]
    stats = dict(participants=6, effort_costs=kappa.tolist(), design_steps=steps, rows=rows,
                 efforts_at_budget_5={k: v.tolist() for k, v in efforts.items()})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.axhline(1.0, color=PALETTE[0], lw=1.2, label="proportional")
    left.plot(budgets, [r["shapley"] / r["proportional"] for r in rows], "s-", color=PALETTE[1], label="Shapley")
    learned = [(r["budget"], r["learned"] / r["proportional"]) for r in rows if r["learned"] is not None]
    left.plot(*zip(*learned), "D-" if len(learned) > 1 else "D", color=PALETTE[2], ms=7, label="learned weights")
    for r in rows:
        left.annotate(f"{r['proportional']:.2f}", (r["budget"], 1.0), textcoords="offset points", xytext=(0, 4),
                      ha="center", fontsize=6, color=PALETTE[0])
    left.set_xscale("log")
    left.set_xlabel("reward budget B")
    left.set_ylabel("V(E*) / B relative to the proportional rule")
    left.set_title("(a) model value per unit of reward (proportional's value annotated)")
    left.legend()
    x = np.arange(kappa.size)
    for k, (name, colour) in enumerate((("proportional", PALETTE[0]), ("Shapley", PALETTE[1]),
                                        ("learned", PALETTE[2]))):
        right.bar(x + (k - 1) * 0.27, efforts[name], 0.27, color=colour, label=name)
    right.set_xticks(x, [f"{c:.1f}" for c in kappa])
    right.set_xlabel("participant's effort cost kappa")
    right.set_ylabel("equilibrium effort")
    right.set_title("(b) efforts at B = 5")
    right.legend()
    fig.tight_layout()
    return save(fig, stats, out_dir, "federated_rewards")
