"""Equilibrium solvers. Every solver is a function: the game positional, configuration keyword-only.

Finite games: ``lemke_howson``, ``support_enumeration``, ``zero_sum_lp`` (two
players); ``regret_matching``, ``hedge``, ``fictitious_play``,
``replicator_dynamics``, ``logit_qre``, ``qre_homotopy`` (any number of players).
Continuous games: ``solve_vi`` (projected gradient, extragradient, optimistic
gradient, best-response sweeps, semismooth Newton) on the natural-map residual;
``solve_gne`` for shared constraints (primal-dual extragradient or semismooth
Newton; multipliers = congestion prices); both differentiable by implicit
differentiation.

The continuous-game protocol: ``pseudo_gradient(x)`` (or ``vi_operator(x)``),
``project(x)``, ``initial_point()``, ``lipschitz_bound()``; optionally
``best_response_sweep(x)``, ``unique_equilibrium`` (False: NaN gradients),
``shared_constraints() -> (A, upper)`` or their matrix-free form
(``constraint_values``, ``constraint_adjoint``, ``constraint_upper``,
``constraint_norm_bound``), and the strategy sets as polyhedra for the
complementarity Newton method of ``solve_gne``: ``lower_bounds()``, optionally
``upper_bounds()`` and equalities ``equality_values(x)``, ``equality_adjoint(lam)``,
``equality_target()``.

Learned auctions: ``train_auction`` (RochetNet, RegretNet, the learned double
auction of ``mechanisms``) by an augmented Lagrangian on regret.

Each returns a result pytree carrying the profile, its NashConv, iterations and
a :class:`Status`; all are jittable and vmappable over a batch of games.
"""

from .design import AuctionTrainingHistory, train_auction
from ._dynamics import fictitious_play, hedge, regret_matching, replicator_dynamics
from ._gne import GNE_METHODS, GeneralizedEquilibrium, solve_gne
from ._lemke_howson import lemke_howson
from ._qre import QuantalResponseEquilibrium, logit_qre, qre_homotopy
from ._result import Equilibrium, EquilibriumSet, NonConvergenceError, Status
from ._support_enumeration import support_enumeration
from ._variational import VI_METHODS, VariationalEquilibrium, natural_map_residual, solve_vi
from ._zero_sum import MinimaxSolution, zero_sum_lp

__all__ = [
    "Equilibrium",
    "EquilibriumSet",
    "MinimaxSolution",
    "QuantalResponseEquilibrium",
    "NonConvergenceError",
    "Status",
    "lemke_howson",
    "support_enumeration",
    "zero_sum_lp",
    "regret_matching",
    "hedge",
    "fictitious_play",
    "replicator_dynamics",
    "logit_qre",
    "qre_homotopy",
    "solve_vi",
    "VariationalEquilibrium",
    "VI_METHODS",
    "GNE_METHODS",
    "natural_map_residual",
    "solve_gne",
    "GeneralizedEquilibrium",
    "train_auction",
    "AuctionTrainingHistory",
]
