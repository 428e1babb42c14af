"""Stackelberg games: a leader commits to a strategy, the followers answer with their equilibrium.

The leader chooses ``y`` (a price, a quantity, a tariff) and the followers play the equilibrium
``x*(y)`` of ``game_fn(y)``; the leader maximizes its payoff ``u(y, game, x*(y))`` knowing how they
answer. This is :func:`~solvers.design` with the leader's payoff as a (negated) objective: the
gradient ``du/dy = d_y u + d_x u dx*/dy`` flows through the followers' equilibrium by implicit
differentiation. Like every first-order method it finds a stationary point of the leader's problem,
the global optimum when ``u(y, x*(y))`` is concave in ``y`` (e.g. the Cournot leader below).

References: H. von Stackelberg (1934), *Marktform und Gleichgewicht*; H. D. Sherali, A. L. Soyster and
F. H. Murphy (1983), "Stackelberg-Nash-Cournot equilibria: characterizations and computations",
Operations Research 31(2).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import optax

from ..continuous._variational import solve_vi
from ._design import DesignResult, design

__all__ = ["stackelberg"]


def stackelberg(leader_payoff: Callable, game_fn: Callable, leader_strategy0, *, solve: Callable = solve_vi,
                optimizer: optax.GradientTransformation = optax.adam(1e-2), steps: int = 500,
                **design_options) -> DesignResult:
    """The leader's best commitment against the followers' equilibrium, by gradient ascent through it.

    Args:
      leader_payoff: ``(leader_strategy, game, equilibrium) -> scalar``, maximized.
      game_fn: ``leader_strategy -> game`` of the followers, traceable.
      leader_strategy0: the starting commitment (a pytree of real arrays).
      solve, optimizer, steps: as in :func:`~solvers.design`.
      **design_options: any other keyword of :func:`~solvers.design`: ``bounds`` on the leader's
        strategy, ``constraints``, ``scenarios`` (a leader facing uncertain followers), ``checkpoint``,
        ``progress``...

    Returns:
      A :class:`~solvers.DesignResult` whose ``params`` is the leader's strategy and whose ``objective``
      (and ``history["objective"]``) is the leader's payoff, with its sign: maximized.

    Example (a Stackelberg leader facing two Cournot followers, ``p = 100 - Q``, unit cost 10: the
    leader commits to ``(a - c) / (2 b) = 45``):
      >>> import dataclasses, jax.numpy as jnp, optax
      >>> from games import ieee14, network_cournot_game
      >>> followers = network_cournot_game(ieee14(), [1, 2], cost_linear=10.0, demand_intercept=100.0,
      ...                                  demand_slope=1.0)
      >>> game_fn = lambda q: dataclasses.replace(followers, demand_intercept=100.0 - q)
      >>> payoff = lambda q, game, eq: (game.price(eq.strategies) - 10.0) * q
      >>> result = stackelberg(payoff, game_fn, jnp.array(10.0), optimizer=optax.sgd(1.0), steps=40,
      ...                      progress=False)
      >>> round(float(result.params), 4)
      45.0

    Reference: von Stackelberg (1934); Sherali, Soyster and Murphy (1983).
    """
    if not callable(leader_payoff):
        raise ValueError(f"leader_payoff must be callable; got {type(leader_payoff).__name__}")
    result = design(game_fn, leader_strategy0, lambda y, game, eq: -leader_payoff(y, game, eq), solve=solve,
                    optimizer=optimizer, steps=steps, **design_options)
    history = dict(result.history, objective=-np.asarray(result.history["objective"]))
    return dataclasses.replace(result, objective=-result.objective, history=history)
