"""Equilibrium solvers. Every solver is a function: the game positional, configuration keyword-only.

- ``finite``: ``lemke_howson``, ``support_enumeration``, ``zero_sum_lp`` (two players);
  ``regret_matching``, ``hedge``, ``fictitious_play``, ``replicator_dynamics``, ``logit_qre``,
  ``qre_homotopy`` (any number of players).
- ``continuous``: ``solve_vi`` (projected gradient, extragradient, optimistic gradient, best-response
  sweeps, semismooth Newton) on the natural-map residual; ``solve_gne`` for shared constraints
  (primal-dual extragradient or semismooth Newton; multipliers = congestion prices). They read a game
  through the protocols of :mod:`games` (``ContinuousGame`` and its companions), never its class.
- ``design``: ``design`` learns a rule's parameters by gradient steps through the players' equilibrium
  (implicit derivatives, augmented Lagrangian constraints, scenarios, checkpoints); ``stackelberg`` is a
  leader's commitment against its followers' equilibrium.

Every solver returns a :class:`Solution`: the answer with its certified ``residual``, ``iterations``,
a :class:`Status` and ``stats``; all are jittable and vmappable over a batch of games. Derivatives
through continuous equilibria follow the ``adjoint`` argument: :class:`ImplicitAdjoint` (default) or
:class:`UnrolledAdjoint`.
"""

from . import continuous, finite
from . import design as _design_package
from ._core._adjoint import ImplicitAdjoint, UnrolledAdjoint
from ._core._result import Equilibrium, EquilibriumSet, NonConvergenceError, Solution, Status
from .continuous import *  # noqa: F403
from .design import *  # noqa: F403
from .finite import *  # noqa: F403

__all__ = ["Solution", "Equilibrium", "EquilibriumSet", "Status", "NonConvergenceError", "ImplicitAdjoint",
           "UnrolledAdjoint", *finite.__all__, *continuous.__all__, *_design_package.__all__]
