"""Demand response under a price rule of net load and hour: users pay ``p_t(L_t - r_t)`` per unit.

``N`` users, ``T`` slots (hours). User ``n`` chooses a schedule ``x_n in R^T`` with
``lower_n <= x_n <= upper_n`` and ``sum_t x_nt = energy_n`` (windows and deadlines as in
:func:`games.demand_response_game`; data centers from :func:`games.datacenter_user`) and minimizes

    J_n(x) = sum_t p_t(L_t - r_t) x_nt + (w_n / 2) ||x_n - xbar_n||^2,

where ``L_t = sum_m x_mt`` is the load, ``r_t`` the renewable output, ``p = price_rule(price_params,
L - r)`` a price rule from :mod:`mechanisms` (by default :func:`mechanisms.monotone_price`, a
learnable convex price of net load per hour), and the second term the discomfort of moving away from a
preferred schedule ``xbar_n`` (weight ``w_n >= 0``; it makes flat and time-of-use prices, which do not
depend on load, pin down a unique response). Users are atomic: each anticipates its own effect on the
price, so its pseudo-gradient is

    F_nt(x) = p_t + p_t' x_nt + w_n (x_nt - xbar_nt),

an aggregative O(N T) computation (``p_t'`` from one forward-mode derivative, the rule being separable
across hours).

Monotonicity (why the equilibrium is unique and the solvers converge): in slot ``t`` the Jacobian of
``F`` is ``p' (I + 1 1^T) + p'' u 1^T + diag(w)`` with ``u = x_{.t}``; for any ``v``, with
``s = 1^T v``, ``v^T J v >= p' |v|^2 + p' s^2 - p'' |u| |v| |s| >= p' |v|^2 (1 - (p'' |u| / (2 p'))^2)``.
So ``F`` is monotone whenever ``p'' |u| <= 2 p'``, strictly when also ``p' > 0`` or every ``w_n > 0``
(the equilibrium is then unique: Rosen 1965, diagonal strict convexity). Since ``|u| <= U_t =
||upper_{.t}||_2``, a convex price rule with ``p'' <= p' / tau`` satisfies it for every parameter value
when ``tau >= U_t / 2``: :func:`mechanisms.monotone_price` with ``smoothing = tau`` is such a rule
(``p'' <= p' / tau`` holds for any parameters), so a designer may move its parameters anywhere and the
game stays monotone. :func:`priced_demand_response_game` checks the conditions on a grid of loads.

The operator buys the net load at the supply cost ``C_t(L_t - r_t) = a_t (L_t - r_t)^2 + b_t (L_t -
r_t)`` and collects ``sum_t p_t L_t``; budget balance (:meth:`PricedDemandResponseGame.operator_surplus`
= 0) is the designer's constraint in :func:`solvers.design`. A uniform shift of every hour's price
changes each bill by ``shift * energy_n``, a constant: the equilibrium does not move, only the
operator's revenue does, which is how a rule family with a free base level balances the budget.

References: A.-H. Mohsenian-Rad, V. W. S. Wong, J. Jatskevich, R. Schober and A. Leon-Garcia (2010),
"Autonomous demand-side management based on game-theoretic energy consumption scheduling for the future
smart grid", IEEE Transactions on Smart Grid 1(3) (the game); A. Orda, R. Rom and N. Shimkin (1993),
"Competitive routing in multiuser communication networks", IEEE/ACM Transactions on Networking 1(5)
(atomic users splitting a demand over parallel resources priced by their load); J. B. Rosen (1965),
"Existence and uniqueness of equilibrium points for concave n-person games", Econometrica 33(3);
P. Samadi, A.-H. Mohsenian-Rad, R. Schober, V. W. S. Wong and J. Jatskevich (2010), "Optimal
real-time pricing algorithm based on utility maximization for smart grid", IEEE SmartGridComm
(real-time prices of load with an inconvenience cost).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechanisms import monotone_price, pytree_dataclass, quadratic_cost, static_field

from .._protocol import BoxStrategySets, ContinuousGame, DeclaresUniqueness, StrategyEqualities
from .._validation import finite_array
from ._consumers import consumers
from ._water_filling import capped_simplex

__all__ = ["PricedDemandResponseGame", "priced_demand_response_game"]

_CHECK_POINTS = 257  # loads per hour on which the price rule is checked (eagerly)
_BOUND_POINTS = 33  # loads per hour on which the Lipschitz bound samples the rule's derivatives


def _is_concrete(tree) -> bool:
    """No leaf of ``tree`` is traced, and no ``jit`` trace is active (where even constants' operations are
    staged): the eager checks can run."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(tree)):
        return False
    return not isinstance(jnp.add(0.0, 0.0), jax.core.Tracer)


@pytree_dataclass
class PricedDemandResponseGame(ContinuousGame, BoxStrategySets, StrategyEqualities, DeclaresUniqueness):
    """Users scheduling their energy under a price rule of net load and hour (an immutable pytree).

    Attributes (array leaves, differentiable): ``lower``, ``upper``, ``preferred`` ``(N, T)``;
    ``energy``, ``discomfort`` ``(N,)``; ``a``, ``b``, ``renewables`` ``(T,)``; ``price_params`` (any
    pytree: the rule's parameters, what a designer learns). ``price_rule`` (static): ``(params,
    net_load (..., T)) -> prices (..., T)``, nondecreasing in load, pricing each hour from that hour's
    load only. Build it with :func:`priced_demand_response_game` (which validates), and change the
    rule's parameters with :meth:`with_price_params` (which validates concrete parameters too).
    """

    lower: jax.Array
    upper: jax.Array
    energy: jax.Array
    preferred: jax.Array
    discomfort: jax.Array
    a: jax.Array
    b: jax.Array
    renewables: jax.Array
    price_params: Any
    price_rule: Callable = static_field(default=monotone_price)

    @property
    def num_users(self) -> int:
        return int(self.lower.shape[-2])

    @property
    def num_slots(self) -> int:
        return int(self.lower.shape[-1])

    def with_price_params(self, price_params) -> "PricedDemandResponseGame":
        """The same game under other rule parameters; concrete parameters are checked as in
        :func:`priced_demand_response_game` (traced ones, inside ``jit`` or :func:`solvers.design`, are not)."""
        game = dataclasses.replace(self, price_params=price_params)
        if _is_concrete(price_params):
            _check_price_rule(game)
        return game

    # ---- outcomes -------------------------------------------------------------------------------

    def total_load(self, x):
        """Gross load per slot, ``L_t = sum_n x_nt``."""
        return jnp.sum(x, axis=-2)

    def net_load(self, x):
        """``L_t - r_t``: the load the supply side serves."""
        return self.total_load(x) - self.renewables

    def prices(self, x):
        """``p_t(L_t - r_t)`` per slot."""
        return self.price_rule(self.price_params, self.net_load(x))

    def bills(self, x):
        """What each user pays, ``sum_t p_t x_nt`` ``(N,)``."""
        return jnp.sum(self.prices(x)[..., None, :] * x, axis=-1)

    def discomfort_costs(self, x):
        """``(w_n / 2) ||x_n - xbar_n||^2`` ``(N,)``."""
        return 0.5 * self.discomfort * jnp.sum((x - self.preferred) ** 2, axis=-1)

    def costs(self, x):
        """Each user's bill plus discomfort, ``(N,)`` (minimized)."""
        return self.bills(x) + self.discomfort_costs(x)

    def revenue(self, x):
        """The operator's revenue ``sum_t p_t L_t``."""
        return jnp.sum(self.prices(x) * self.total_load(x), axis=-1)

    def supply_cost(self, x):
        """The operator's supply cost ``sum_t C_t(L_t - r_t)``, ``C_t(z) = a_t z^2 + b_t z``."""
        return jnp.sum(quadratic_cost(self.net_load(x), self.a, self.b), axis=-1)

    def operator_surplus(self, x):
        """Revenue minus supply cost: 0 under a budget-balanced rule."""
        return self.revenue(x) - self.supply_cost(x)

    def peak_to_average(self, x):
        """Peak-to-average ratio of the net load, ``max_t (L_t - r_t) / mean_t (L_t - r_t)``."""
        net = self.net_load(x)
        return jnp.max(net, axis=-1) / jnp.mean(net, axis=-1)

    def nonrenewable_energy(self, x):
        """Energy not covered by renewables, ``sum_t max(L_t - r_t, 0)``."""
        return jnp.sum(jnp.maximum(self.net_load(x), 0.0), axis=-1)

    # ---- the continuous-game protocol -----------------------------------------------------------

    def _price_and_slope(self, x):
        net = self.net_load(x)
        return jax.jvp(lambda z: self.price_rule(self.price_params, z), (net,), (jnp.ones_like(net),))

    def pseudo_gradient(self, x):
        """``F_nt = p_t + p_t' x_nt + w_n (x_nt - xbar_nt)``, ``(N, T)``, O(N T)."""
        price, slope = self._price_and_slope(x)
        return price + slope * x + self.discomfort[:, None] * (x - self.preferred)

    def project(self, x):
        """Euclidean projection onto every user's box and daily energy (:func:`games.capped_simplex`)."""
        return capped_simplex(x, jnp.ones_like(x), self.lower, self.upper, self.energy)

    def initial_point(self):
        """The preferred schedules, projected onto the strategy sets."""
        return self.project(self.preferred)

    def lower_bounds(self):
        """The box of the strategy sets (with :meth:`equality_values`, the sets :meth:`project` projects onto)."""
        return self.lower

    def upper_bounds(self):
        return self.upper

    def equality_values(self, x):
        """Each user's daily energy ``sum_t x_nt``."""
        return jnp.sum(x, axis=-1)

    def equality_adjoint(self, multipliers):
        return jnp.broadcast_to(multipliers[:, None], self.lower.shape).astype(self.a.dtype)

    def equality_target(self):
        return self.energy

    def _load_grid(self, points):
        lo = jnp.sum(self.lower, axis=-2) - self.renewables
        hi = jnp.sum(self.upper, axis=-2) - self.renewables
        return lo + jnp.linspace(0.0, 1.0, points)[:, None] * (hi - lo)  # (points, T)

    def lipschitz_bound(self):
        """A bound on the Lipschitz constant of :meth:`pseudo_gradient`: per slot
        ``max p' (N + 1) + max p'' ||upper_{.t}|| sqrt(N) + max w``, with the rule's derivatives sampled on
        a grid of feasible loads (times 1.25 for what the grid misses)."""
        grid = self._load_grid(_BOUND_POINTS)
        rule = lambda z: self.price_rule(self.price_params, z)
        slope_fn = lambda z: jax.jvp(rule, (z,), (jnp.ones_like(z),))[1]
        slope, curvature = jax.jvp(slope_fn, (grid,), (jnp.ones_like(grid),))
        u = jnp.sqrt(jnp.sum(self.upper**2, axis=-2))
        n = self.num_users
        per_slot = (jnp.max(jnp.abs(slope), axis=0) * (n + 1.0) + jnp.max(jnp.abs(curvature), axis=0) * u
                    * jnp.sqrt(n))
        return 1.25 * jnp.max(per_slot) + jnp.max(self.discomfort) + jnp.finfo(self.a.dtype).tiny

    @property
    def unique_equilibrium(self) -> bool:
        """Whether the equilibrium is unique (so implicit derivatives exist): every ``w_n > 0``, or the
        price strictly increasing in load (always for :func:`~mechanisms.monotone_price` with smoothing;
        checked on the grid of feasible loads for other rules with concrete parameters). Flat and
        time-of-use prices without discomfort leave users indifferent between schedules: not unique."""
        if _is_concrete(self.discomfort) and bool(np.all(np.asarray(self.discomfort) > 0)):
            return True
        if self.price_rule is monotone_price and getattr(self.price_params, "smoothing", 0.0) > 0:
            return True
        if _is_concrete((self.price_params, self.lower, self.upper, self.renewables)):
            grid = self._load_grid(_CHECK_POINTS)
            slope = jax.jvp(lambda z: self.price_rule(self.price_params, z), (grid,), (jnp.ones_like(grid),))[1]
            return bool(np.all(np.asarray(slope) > 0))
        return False


def _check_price_rule(game: PricedDemandResponseGame) -> None:
    """Eager checks of a concrete price rule on a grid of feasible net loads (ValueError naming
    ``price_params`` / ``price_rule``)."""
    rule = lambda z: game.price_rule(game.price_params, z)
    grid = game._load_grid(_CHECK_POINTS)
    try:
        prices, slope = jax.jvp(rule, (grid,), (jnp.ones_like(grid),))
    except Exception as error:  # a rule that cannot price a batch of loads
        raise ValueError(f"price_rule(price_params, net_load) failed on net loads of shape {grid.shape} "
                         f"(it must accept (..., T) loads and broadcast over leading axes): {error}") from error
    prices, slope, grid = np.asarray(prices), np.asarray(slope), np.asarray(grid)
    if prices.shape != grid.shape:
        raise ValueError(f"price_rule must return one price per hour, shape {grid.shape}; got {prices.shape}")
    if not (np.isfinite(prices).all() and np.isfinite(slope).all()):
        raise ValueError("price_params give non-finite prices on the feasible loads")
    mid = jnp.asarray(grid[_CHECK_POINTS // 2])
    jac = np.asarray(jax.jacfwd(rule)(mid))
    if np.abs(jac - np.diag(np.diag(jac))).max() > 1e-12 * max(1.0, np.abs(jac).max()):
        raise ValueError("price_rule must price each hour from that hour's load only (its Jacobian in the "
                         "net load is not diagonal)")
    scale = np.maximum(np.abs(prices).max(axis=0), 1.0)
    drops = np.concatenate([np.diff(prices, axis=0) < -1e-12 * scale, np.zeros((1, prices.shape[1]), bool)]) | (
        slope < -1e-12 * scale)
    if drops.any():
        k, t = np.argwhere(drops)[0]
        raise ValueError(f"price_params give prices that decrease with load in hour {t} (near net load "
                         f"{grid[k, t]:.6g}: price {prices[k, t]:.6g}, slope {slope[k, t]:.3g}); the rule must be "
                         "nondecreasing in load for the users' game to be monotone")
    # Curvature: p'' |u| <= 2 p' with |u| <= U_t, tested on secants of p' (this catches kinks, where
    # autodiff's p'' is 0 almost everywhere).
    u = np.sqrt(np.sum(np.asarray(game.upper) ** 2, axis=-2))
    dz = np.diff(grid, axis=0)
    rise = np.diff(slope, axis=0)
    allowed = 2.0 * np.maximum(slope[1:], slope[:-1]) * dz / np.where(u > 0, u, 1.0) * 1.05
    steep = (rise > allowed + 1e-12 * np.maximum(np.abs(slope).max(axis=0), 1e-300)) & (dz > 0)
    if steep.any():
        k, t = np.argwhere(steep)[0]
        hint = (f"; with monotone_price use smoothing >= max_t ||upper_t|| / 2 = {u.max() / 2:.6g}"
                if game.price_rule is monotone_price else "")
        raise ValueError(f"price_params: the price's slope grows too fast in hour {t} near net load {grid[k, t]:.6g} "
                         f"(p'' ||x_t|| <= 2 p' fails for ||x_t|| up to {u[t]:.6g}): the users' game need not be "
                         f"monotone, nor its equilibrium unique{hint}")


def priced_demand_response_game(lower, upper, energy, *, price_params, price_rule=monotone_price, a, b=0.0,
                                renewables=0.0, preferred=None, discomfort=0.0) -> PricedDemandResponseGame:
    """Build and validate a :class:`PricedDemandResponseGame`.

    Args:
      lower, upper: ``(N, T)`` per-slot bounds, ``0 <= lower <= upper``.
      energy: ``(N,)`` daily energy of each user (``sum lower <= energy <= sum upper``).
      price_params: the rule's parameters (a pytree), e.g. a :class:`mechanisms.MonotonePrice` with
        ``base (T,)``, ``slopes (T, K)`` for hour-dependent prices.
      price_rule: ``(params, net_load (..., T)) -> prices (..., T)``; default
        :func:`mechanisms.monotone_price`.
      a, b: supply cost coefficients ``C_t(z) = a_t z^2 + b_t z`` (scalars or ``(T,)``), ``a >= 0``.
      renewables: ``(T,)`` renewable output.
      preferred: ``(N, T)`` preferred schedules (default: the midpoint of the bounds), projected onto
        the strategy sets.
      discomfort: ``(N,)`` or scalar weights ``w_n >= 0``.

    Raises ``ValueError`` for wrong shapes, NaN, ``lower > upper``, impossible energies, and (for
    concrete ``price_params``) a rule that decreases in load, prices one hour from another's load, or
    curves faster than the monotonicity condition of the module docstring allows, all checked on 257
    net loads per hour spanning the feasible range.

    Example:
      >>> import numpy as np, jax.numpy as jnp
      >>> from mechanisms import MonotonePrice
      >>> rule = MonotonePrice(jnp.zeros(4), jnp.zeros((4, 2)), knots=(1.0, 2.0), smoothing=1.0)
      >>> game = priced_demand_response_game(np.zeros((2, 4)), np.ones((2, 4)), [2.0, 1.0], price_params=rule, a=0.5)
      >>> game.num_users, game.num_slots
      (2, 4)
    """
    lower, upper, energy = consumers(lower, upper, energy)
    N, T = upper.shape
    a = finite_array(a, "a", (T,), nonnegative=True)
    b = finite_array(b, "b", (T,))
    renewables = finite_array(renewables, "renewables", (T,))
    discomfort = finite_array(discomfort, "discomfort", (N,), nonnegative=True)
    if not callable(price_rule):
        raise ValueError(f"price_rule must be callable (params, net_load) -> prices; got {type(price_rule).__name__}")
    room = jnp.asarray(0.5 * (lower + upper))
    project = lambda x: capped_simplex(x, jnp.ones_like(x), jnp.asarray(lower), jnp.asarray(upper),
                                       jnp.asarray(energy))
    if preferred is None:
        preferred = project(room)
    else:
        preferred = project(jnp.asarray(finite_array(preferred, "preferred", (N, T))))
    game = PricedDemandResponseGame(jnp.asarray(lower), jnp.asarray(upper), jnp.asarray(energy),
                                    jnp.asarray(preferred), jnp.asarray(discomfort), jnp.asarray(a), jnp.asarray(b),
                                    jnp.asarray(renewables), price_params, price_rule)
    if _is_concrete(price_params):
        _check_price_rule(game)
    return game
