"""First-order steps for variational inequalities, written once for every solver.

A step acts on a pytree ``w`` (one strategy array, or strategies and multipliers) with an operator
``F``, a projection ``P`` and a step size per leaf (a pytree like ``w``, or a scalar for one leaf).

- projected gradient: ``w <- P(w - g F(w))`` (converges for cocoercive ``F``);
- extragradient: ``y = P(w - g F(w))``, ``w <- P(w - g F(y))`` (Korpelevich 1976; monotone ``F``);
- optimistic gradient: ``w <- P(w - g (2 F(w_k) - F(w_{k-1})))`` (Popov 1980).

References: G. M. Korpelevich (1976), "The extragradient method for finding saddle points and other
problems", Ekonomika i Matematicheskie Metody 12; L. D. Popov (1980), "A modification of the
Arrow-Hurwicz method for search of saddle points", Mathematical Notes 28(5); F. Facchinei and J.-S. Pang
(2003), ch. 12.
"""

from __future__ import annotations

import jax

__all__ = ["projected_step", "extragradient_step"]


def _descend(w, direction, step):
    return jax.tree_util.tree_map(lambda a, d, g: a - g * d, w, direction, step)


def projected_step(operator, project, w, step, direction=None):
    """``P(w - g d)`` with ``d = F(w)`` unless a ``direction`` is given."""
    return project(_descend(w, operator(w) if direction is None else direction, step))


def extragradient_step(operator, project, w, step):
    """One extragradient step: a projected step to ``y``, then from ``w`` along ``F(y)``."""
    y = projected_step(operator, project, w, step)
    return projected_step(operator, project, w, step, direction=operator(y))
