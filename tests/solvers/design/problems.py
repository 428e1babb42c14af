"""Small design problems shared by the design tests (module-level functions, so that every test that uses
one reuses its compiled program), and the entry point of the child process of the resume test."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from games import ieee14, network_cournot_game
from solvers import design, solve_vi

# Four identical producers, p = 100 - Q, unit cost 10, no line limits: s* = (a - c) / G = 22.5.
COURNOT_A, COURNOT_B, COURNOT_C, COURNOT_G = 100.0, 1.0, 10.0, 4
COURNOT = network_cournot_game(ieee14(), [0, 1, 2, 5], cost_linear=COURNOT_C, demand_intercept=COURNOT_A,
                               demand_slope=COURNOT_B)
SOLVE = functools.partial(solve_vi, method="extragradient", tol=1e-12)  # tiny games: a short compile
FIRST_BEST = 0.5 * (COURNOT_A - COURNOT_C) ** 2 / COURNOT_B  # at Q = (a - c) / b
UNSUBSIDIZED = None  # filled below


def subsidized(s):
    return dataclasses.replace(COURNOT, cost_linear=COURNOT.cost_linear - s)


def welfare(q):
    Q = jnp.sum(q)
    return (COURNOT_A - COURNOT_C) * Q - 0.5 * COURNOT_B * Q**2


UNSUBSIDIZED = float(welfare(SOLVE(COURNOT).strategies))


def deadweight_loss(s, game, eq):
    """The share of the Cournot deadweight loss left (0: efficient)."""
    return (FIRST_BEST - welfare(eq.strategies)) / (FIRST_BEST - UNSUBSIDIZED)


def spending_over(budget):
    def constraint(s, game, eq):
        return (jnp.sum(s * eq.strategies) - budget) / abs(budget)

    return constraint


BUDGET = 500.0
SPENDING = spending_over(BUDGET)


def uniform_subsidy(budget=None):
    """Closed form (see papers.mechanism_design.studies.uniform_efficient_subsidy)."""
    G, m = COURNOT_G, COURNOT_A - COURNOT_C
    s = m / G
    if budget is not None and s * G * (m + s) / (COURNOT_B * (G + 1)) > budget:
        s = 0.5 * (-m + np.sqrt(m**2 + 4.0 * COURNOT_B * (G + 1) * budget / G))
    return s


def resumable_run(checkpoint, *, steps=400):
    """The run of the resume test: a budget-constrained uniform subsidy, checkpointed every 5 steps.

    Learning rate 1.0: at 3.0 Adam's steps (about the learning rate, whatever the gradient) bounced the
    iterate across the budget for hundreds of steps, and whether the last phase ended on the binding
    constraint depended on the 13th digit of the inner solves."""
    return design(subsidized, jnp.zeros(()), deadweight_loss, solve=SOLVE, constraints=(SPENDING,),
                  optimizer=optax.adam(optax.cosine_decay_schedule(1.0, steps, 1e-4)), steps=steps,
                  checkpoint=checkpoint, checkpoint_every=5, progress=False)


CHILD = ("import sys, jax; jax.config.update('jax_enable_x64', True); "  # before this module's constants are made
         "from tests.solvers.design.problems import child_main; child_main(*sys.argv[1:])")


def child_main(checkpoint, out):
    """The child process of the resume test (``python -c CHILD CHECKPOINT OUT``)."""
    result = resumable_run(checkpoint)
    np.savez(out, params=np.asarray(result.params), objective=np.asarray(result.history["objective"]),
             multipliers=result.multipliers[0])
