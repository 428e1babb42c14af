"""Value and optimal strategies of a two-player zero-sum game by linear programming.

With the row player's payoffs mapped onto ``A' in [1, 2]`` (a positive affine
map, so optimal strategies are unchanged and the value maps back), the column
player's problem is the linear program

    maximize  1^T w   subject to  A' w <= 1,  w >= 0,

whose optimum is ``1 / v'`` with ``y = v' w``; the row player's optimal
strategy is ``x = v' u`` for the optimal dual ``u``, read off the reduced costs
of the slack columns. The program is solved by a dense tableau simplex
(Dantzig's entering rule, lexicographic ratio test: no cycling), written in JAX
so it is jittable and vmappable over a batch of games.

Reference: J. von Neumann (1928), "Zur Theorie der Gesellschaftsspiele";
G. B. Dantzig (1951), "A proof of the equivalence of the programming problem
and the game problem", in *Activity Analysis of Production and Allocation*;
Dantzig, Orden and Wolfe (1955) for the lexicographic rule.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from games import NormalFormGame, regrets
from mechanisms import pytree_dataclass

from .._core._batching import over_batch
from .._core._validation import check_game, check_positive_int, check_tol, payoff_scale
from .._core._pivoting import lex_min_ratio, pivot, tolerances, unit_range_plus_one
from .._core._result import Equilibrium, final_status, maybe_throw

__all__ = ["zero_sum_lp", "MinimaxSolution"]


@pytree_dataclass(kw_only=True)
class MinimaxSolution(Equilibrium):
    """Value and optimal (maximin / minimax) strategies of a zero-sum game.

    Attributes:
      value: the row player's equilibrium payoff.
      strategies: ``(x, y)``, optimal mixed strategies of the row and column players.
      residual: NashConv of ``(x, y)`` (0 at the optimum; also ``nash_conv``).
      iterations: simplex pivots.
      status: a :class:`~solvers.Status` code.
    """

    value: jax.Array


def zero_sum_lp(
    game: NormalFormGame,
    *,
    max_steps: int = 1000,
    tol: float | None = None,
    throw: bool = False,
) -> MinimaxSolution:
    """Solve a two-player zero-sum game (``payoffs[1] == -payoffs[0]``) by linear programming.

    Args:
      game: a two-player zero-sum :class:`~games.NormalFormGame`, possibly batched.
        Only ``payoffs[0]`` is used; a game that is not zero-sum is refused.
      max_steps: the most simplex pivots (static).
      tol: NashConv tolerance relative to the payoff range for ``CONVERGED``.
      throw: raise (outside jit) if a game did not converge.

    Example:
      >>> import jax.numpy as jnp
      >>> from games import zero_sum
      >>> rps = zero_sum(jnp.array([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]]))
      >>> round(float(zero_sum_lp(rps).value), 12)
      0.0

    Reference: von Neumann (1928); Dantzig (1951).
    """
    check_game(game, num_players=2)
    payoffs = game.payoffs
    if not isinstance(payoffs, jax.core.Tracer):
        P = np.asarray(payoffs)
        gap = np.max(np.abs(P[..., 0, :, :] + P[..., 1, :, :]))
        if gap > 1e-9 * max(1.0, float(np.max(np.abs(P)))):
            raise ValueError(f"zero_sum_lp needs a zero-sum game (payoffs[1] == -payoffs[0]); the sum reaches {gap:g}")
    max_steps = check_positive_int(max_steps, "max_steps")
    tol = check_tol(tol, payoffs.dtype)
    result = _zero_sum_lp(payoffs, tol, max_steps=max_steps, batch_ndim=len(game.batch_shape))
    return maybe_throw(result, throw, "zero_sum_lp")


@functools.partial(jax.jit, static_argnames=("max_steps", "batch_ndim"))
def _zero_sum_lp(payoffs, tol, *, max_steps, batch_ndim):
    single = functools.partial(_zero_sum_lp_single, max_steps=max_steps)
    return over_batch(lambda p: single(p, tol), batch_ndim)(payoffs)


def _zero_sum_lp_single(payoffs, tol, *, max_steps):
    A = payoffs[0]
    dtype = A.dtype
    m, n = A.shape
    A1, lo, spread = unit_range_plus_one(A)
    rhs = n + m
    constraints = jnp.concatenate([A1, jnp.eye(m, dtype=dtype), jnp.ones((m, 1), dtype)], axis=1)
    objective = jnp.concatenate([-jnp.ones((1, n), dtype), jnp.zeros((1, m + 1), dtype)], axis=1)
    T = jnp.concatenate([constraints, objective], axis=0)
    basis = jnp.arange(n, n + m)
    pivot_tol, _ = tolerances(dtype)

    def cond(state):
        T, _, steps, optimal, failed = state
        return ~optimal & ~failed & (steps < max_steps)

    def body(state):
        T, basis, steps, _, _ = state
        reduced = T[m, :rhs]
        entering = jnp.argmin(reduced)
        optimal = reduced[entering] >= -pivot_tol
        row, found = lex_min_ratio(T[:m], entering, rhs=rhs, lex_start=n, lex_size=m)
        move = ~optimal & found
        T = pivot(T, row, entering, move)
        basis = jnp.where(move, basis.at[row].set(entering), basis)
        return T, basis, steps + move.astype(steps.dtype), optimal, ~optimal & ~found

    state = (T, basis, jnp.asarray(0), jnp.asarray(False), jnp.asarray(False))
    T, basis, steps, optimal, failed = jax.lax.while_loop(cond, body, state)
    # A last check: the loop may stop on max_steps exactly when the tableau became optimal.
    optimal = optimal | (jnp.min(T[m, :rhs]) >= -pivot_tol)

    w = jnp.zeros(n, dtype).at[jnp.where(basis < n, basis, n)].set(T[:m, rhs], mode="drop")
    u = T[m, n:rhs]
    total = T[m, rhs]  # = sum(w) = 1 / v'
    y = w / jnp.sum(w)
    x = u / jnp.sum(u)
    value = (1.0 / total - 1.0) * spread + lo
    strategies = (x, y)
    nash_conv = jnp.sum(regrets(NormalFormGame(payoffs, num_players=2), strategies))
    status = final_status(nash_conv, optimal, tol * payoff_scale(payoffs, 2), degenerate=failed)
    return MinimaxSolution(value=value, strategies=strategies, residual=nash_conv, iterations=steps,
                           status=status)
