"""Federated learning contributions: participants choose effort, a reward pool is split by a rule.

``N`` participants (data owners, data centers) choose efforts ``e_i in [0, max_effort_i]`` (data,
compute) at cost ``kappa_i e_i^2 / 2``. The jointly trained model is worth ``V(E) = alpha log(1 + E)``
with ``E = sum_i e_i`` (concave: diminishing returns), and the whole value is paid out as a reward pool
split by a rule from :mod:`mechanisms` (proportional to effort by default). Participant ``i`` minimizes
``kappa_i e_i^2 / 2 - r_i(e_i, E)``. The game is aggregative: a pseudo-gradient is O(N).

Other reward rules (for mechanism design, :func:`solvers.design`): ``reward_rule(reward_params, efforts,
pool) -> rewards`` with ``pool`` the model's value, or a fixed ``reward_budget`` when one is given; the
pseudo-gradient then takes each participant's own derivative of its reward by automatic
differentiation, O(N) rule evaluations (fine for the tens of participants such rules, e.g. Shapley
shares, are meant for).

With the proportional rule, the first-order condition of an interior equilibrium is
``V'(E) e_i / E + V(E) (E - e_i) / E^2 = kappa_i e_i``; with identical participants it has one
symmetric solution, a scalar equation any root finder solves (the tests use scipy's brentq).

References: J. Kang, Z. Xiong, D. Niyato, S. Xie and J. Zhang (2019), "Incentive mechanism for reliable
federated learning: a joint optimization approach to combining reputation and contract theory", IEEE
Internet of Things Journal 6(6); Y. Zhan, P. Li, Z. Qu, D. Zeng and S. Guo (2020), "A learning-based
incentive mechanism for federated learning", IEEE Internet of Things Journal 7(7).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import proportional_user_reward, pytree_dataclass, static_field

from .._protocol import BoxStrategySets, ContinuousGame
from .._validation import finite_array

__all__ = ["FederatedContributionGame", "federated_contribution_game"]


@pytree_dataclass
class FederatedContributionGame(ContinuousGame, BoxStrategySets):
    """Effort game with a shared reward pool (an immutable pytree); proportional shares unless a
    ``reward_rule`` (static) with its ``reward_params`` (a pytree) is given; the pool is the model's value
    unless a ``reward_budget`` is."""

    effort_cost: jax.Array  # kappa (N,)
    max_effort: jax.Array  # (N,)
    value_scale: jax.Array  # alpha
    reward_params: Any = None
    reward_budget: Any = None  # a fixed pool (None: the model's value)
    reward_rule: Callable | None = static_field(default=None)

    @property
    def num_participants(self) -> int:
        return int(self.effort_cost.shape[-1])

    def model_value(self, total):
        return self.value_scale * jnp.log1p(total)

    def reward_pool(self, total):
        """What is paid out: the fixed ``reward_budget``, or the model's value ``V(E)``."""
        return self.model_value(total) if self.reward_budget is None else self.reward_budget

    def rewards(self, e):
        """Each participant's reward ``(N,)`` under the game's rule."""
        total = jnp.sum(e)
        if self.reward_rule is None:
            return proportional_user_reward(e, total, self.reward_pool(total))
        return self.reward_rule(self.reward_params, e, self.reward_pool(total))

    def _cost(self, own, total, kappa):
        return 0.5 * kappa * own**2 - proportional_user_reward(own, total, self.reward_pool(total))

    def costs(self, e):
        if self.reward_rule is not None:
            return 0.5 * self.effort_cost * e**2 - self.rewards(e)
        return self._cost(e, jnp.sum(e), self.effort_cost)

    def pseudo_gradient(self, e):
        if self.reward_rule is not None:  # own derivative of each reward, one rule evaluation per participant
            own = lambda i, x: self.rewards(e.at[i].set(x))[i]
            marginal = jax.vmap(lambda i: jax.grad(own, argnums=1)(i, e[i]))(jnp.arange(e.shape[-1]))
            return self.effort_cost * e - marginal
        total = jnp.sum(e)
        own, aggregate = jax.vmap(jax.grad(self._cost, argnums=(0, 1)), in_axes=(0, None, 0))(e, total,
                                                                                            self.effort_cost)
        return own + aggregate

    def lipschitz_bound(self):
        """A step-size scale: the effort costs' curvature plus the reward's, which is at most about
        ``alpha`` per participant."""
        scale = self.value_scale if self.reward_budget is None else jnp.maximum(self.value_scale, self.reward_budget)
        return jnp.max(self.effort_cost) + 4.0 * scale * self.num_participants

    def project(self, e):
        return jnp.clip(e, 0.0, self.max_effort)

    def initial_point(self):
        return 0.5 * self.max_effort

    def lower_bounds(self):
        return jnp.zeros_like(self.max_effort)

    def upper_bounds(self):
        return self.max_effort


def federated_contribution_game(effort_cost, max_effort, *, value_scale, reward_rule=None, reward_params=None,
                                reward_budget=None) -> FederatedContributionGame:
    """Build and validate a :class:`FederatedContributionGame` (``effort_cost > 0``, ``max_effort > 0``,
    ``value_scale > 0``; ``reward_budget``, if given, ``> 0``; ``reward_rule``, if given, a callable
    ``(reward_params, efforts, pool) -> rewards``)."""
    if reward_rule is not None and not callable(reward_rule):
        raise ValueError("reward_rule must be callable (params, efforts, pool) -> rewards; got "
                         f"{type(reward_rule).__name__}")
    if reward_budget is not None:
        reward_budget = jnp.asarray(float(finite_array(reward_budget, "reward_budget", (), positive=True)))
    kappa = finite_array(effort_cost, "effort_cost", positive=True)
    if kappa.ndim != 1 or kappa.size < 1:
        raise ValueError(f"effort_cost must be a nonempty (N,) array; got shape {kappa.shape}")
    cap = finite_array(max_effort, "max_effort", kappa.shape, positive=True)
    alpha = finite_array(value_scale, "value_scale", (), positive=True)
    return FederatedContributionGame(jnp.asarray(kappa), jnp.asarray(cap), jnp.asarray(float(alpha)),
                                     reward_params=reward_params, reward_budget=reward_budget,
                                     reward_rule=reward_rule)
