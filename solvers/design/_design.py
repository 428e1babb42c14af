"""Mechanism design through equilibria: learn a rule's parameters by differentiating the players' equilibrium.

A designer chooses parameters ``theta`` (a pricing rule, subsidies, a reward rule); the players answer
with the equilibrium ``x*(theta)`` of the game ``game_fn(theta)``; the designer pays
``f(theta, x*(theta))``. :func:`design` solves the bilevel program

    minimize_theta  f(theta, game(theta), x*(theta))
    subject to      g(theta, game(theta), x*(theta)) <= 0,   h(theta, game(theta), x*(theta)) = 0,
                    x*(theta) an equilibrium of game(theta)  (the lower level, solved by ``solve``),

with first-order steps (any optax optimizer) on the gradient ``d f / d theta``, which flows through the
equilibrium by implicit differentiation (:func:`~solvers.solve_vi` and :func:`~solvers.solve_gne` attach
a custom VJP from the implicit function theorem; the solver's iterations are never unrolled).

Constraints enter through the augmented Lagrangian (method of multipliers; Hestenes 1969, Powell 1969),
in Rockafellar's (1973) form for inequalities:

    L(theta; lam, nu, rho) = f + (1 / (2 rho)) sum_i [max(0, lam_i + rho g_i)^2 - lam_i^2]
                               + sum_j nu_j h_j + (rho / 2) sum_j h_j^2.

The optimizer runs phases of ``phase_steps`` steps on ``L`` with the multipliers fixed; between phases
``lam <- max(0, lam + rho g)``, ``nu <- nu + rho h``, and ``rho <- min(growth rho, max_penalty)`` when
the violation did not fall below a quarter of the previous phase's (Bertsekas 1982, ch. 2; Nocedal and
Wright 2006, Alg. 17.4). The first-order conditions of ``L`` at the multipliers' fixed point are the KKT
conditions of the design problem.

A first-order optimizer's steps do not shrink to zero, so its last iterate hovers near the
constraints rather than on them. After the last step a final polish takes up to ``restoration_steps``
projected Gauss-Newton steps (the minimum-norm correction, Armijo-safeguarded, each with a converged
equilibrium; recorded in ``history``) onto the violated constraints, the equalities and the
inequalities predicted active by a positive multiplier (complementary slackness): a feasibility
restoration as in SQP and interior-point methods (Fletcher and Leyffer 2002) and a multiplier-based
identification of the active set (Facchinei, Fischer and Kanzow 1998). The polished point is kept
when it is feasible and, if the last iterate was feasible already, no worse.

Under uncertainty (``scenarios``: a pytree whose leaves share a leading axis, e.g. 64 days of
renewable output), the game is ``game_fn(theta, scenario)``, all scenarios are solved in one vmapped
call, and the objective is the mean over scenarios (sample-average approximation; Shapiro, Dentcheva
and Ruszczynski 2009); constraints are averaged too (``scenario_constraints="mean"``) or imposed in
every scenario (``"each"``).

Safeguards. Every candidate step's equilibrium is checked: a step whose inner solve does not report
``CONVERGED`` (in any scenario), or whose Lagrangian or gradient is not finite, is rejected (the
parameters and the optimizer state stay as they were), recorded in ``history`` with
``accepted=False``, and the next step is tried at half the length (the optimizer's update is scaled by
``step_scale``, which doubles back towards 1 after each accepted step); ``max_rejections`` rejections
in a row stop the run with status ``DEGENERATE``. Before the first step ``design`` checks its
inputs, that ``game_fn``, ``objective`` and the constraints can be traced by JAX, that the equilibrium
at ``params0`` converges with finite gradients, and, when ``params0`` violates the constraints, that
the violation can be reduced (a projected Gauss-Newton probe on the violation; a stationary point
with a positive violation, e.g. a subsidy budget below zero when subsidies are bounded below by zero,
is reported as infeasible). All of these raise ``ValueError`` before the loop.

References: M. R. Hestenes (1969), "Multiplier and gradient methods", JOTA 4(5); M. J. D. Powell
(1969), "A method for nonlinear constraints in minimization problems", in *Optimization* (Fletcher,
ed.); R. T. Rockafellar (1973), "A dual approach to solving nonlinear programming problems by
unconstrained optimization", Math. Programming 5; D. P. Bertsekas (1982), *Constrained Optimization
and Lagrange Multiplier Methods*; R. Fletcher and S. Leyffer (2002), "Nonlinear programming without a
penalty function", Math. Programming 91; F. Facchinei, A. Fischer and C. Kanzow (1998), "On the accurate
identification of active constraints", SIAM J. Optimization 9(1); J. Nocedal and S. J. Wright (2006),
*Numerical Optimization*, 2nd ed.; M. Blondel et al. (2022), "Efficient and modular implicit differentiation", NeurIPS (implicit
gradients); S. Dempe (2002), *Foundations of Bilevel Programming* (the bilevel program).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from solvers._core._checkpoint import Checkpointer, fingerprint

from .._core._result import Status
from ..continuous._variational import solve_vi

__all__ = ["design", "DesignResult"]

_TRACE_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                 jax.errors.TracerArrayConversionError, jax.errors.TracerIntegerConversionError,
                 jax.errors.UnexpectedTracerError)
_HISTORY_FIELDS = ("objective", "violation", "lagrangian", "residual", "equilibrium_status", "accepted",
                   "step_scale", "penalty", "restoration")


@dataclasses.dataclass(frozen=True)
class DesignResult:
    """What :func:`design` (and :func:`~solvers.stackelberg`) return.

    Attributes:
      params: the final parameters (same pytree as ``params0``).
      equilibrium: the solver's result at ``params`` (with a leading scenario axis under ``scenarios``).
      objective: the objective at ``params`` (the mean over scenarios); for :func:`~solvers.stackelberg`
        the leader's payoff.
      violation: the largest constraint violation at ``params``, ``max(max_i g_i^+, max_j |h_j|)``
        (0 without constraints).
      status: a :class:`~solvers.Status`: ``CONVERGED`` when the run ended at a first-order point: the
        equilibrium converged, ``violation <= constraint_tol`` and ``stationarity <= stationarity_tol``
        (a local optimum of a nonconvex design problem, not necessarily the global one);
        ``MAX_STEPS`` when the steps ran out before (infeasible, or not yet stationary: more steps, a
        better-scaled objective or another learning rate); ``DEGENERATE`` when ``max_rejections``
        consecutive steps failed (the inner solver does not converge near ``params``).
      history: per step (one row per attempted step), numpy arrays: ``objective``, ``violation``,
        ``lagrangian`` (at the candidate parameters), ``residual`` (the equilibrium's largest residual),
        ``equilibrium_status`` (the worst status over scenarios), ``accepted``, ``step_scale``,
        ``penalty``, ``restoration`` (the rows of the final polish). ``pandas.DataFrame(result.history)``
        makes it a table.
      multipliers: ``(lam, nu)``, the multipliers of the inequality and equality constraints (numpy): at
        feasible final parameters the least-squares KKT estimates (Nocedal and Wright 2006, eq. 18.21;
        ``lam_i = -d objective* / d b_i`` for a constraint ``g_i <= b_i``), otherwise the method of
        multipliers' last estimates.
      penalty: the final penalty ``rho``.
      gradient: the gradient of the augmented Lagrangian at ``params`` (final multipliers and penalty;
        with ``steps=0`` and no constraints, the objective's gradient at ``params0``), a pytree like
        ``params``.
      stationarity: the first-order (KKT) residual at ``params``, relative to the objective's gradient at
        ``params0``: ``|grad f + J^T (lam, nu) - mu_bounds|`` with least-squares multipliers (``inf`` when
        the final parameters are infeasible).
    """

    params: Any
    equilibrium: Any
    objective: float
    violation: float
    status: Status
    history: dict
    multipliers: tuple
    penalty: float
    gradient: Any
    stationarity: float

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED


# ----------------------------------------------------------------------------------------------------
# validation


def _check_callable(fn, name):
    if not callable(fn):
        raise ValueError(f"{name} must be callable; got {type(fn).__name__}")


def _check_functions(fns, name):
    if callable(fns):
        fns = (fns,)
    try:
        fns = tuple(fns)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of functions (params, game, equilibrium) -> array") from None
    for k, fn in enumerate(fns):
        _check_callable(fn, f"{name}[{k}]")
    return fns


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def _check_positive(value, name, minimum=0.0, strict=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(v) or (v <= minimum if strict else v < minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}; got {value!r}")
    return v


def _as_float_tree(tree, name):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    if not leaves:
        raise ValueError(f"{name} must be a pytree with at least one array")
    out = []
    for k, leaf in enumerate(leaves):
        if isinstance(leaf, jax.core.Tracer):
            raise ValueError(f"{name} must be concrete (design runs outside jit); leaf {k} is traced")
        arr = jnp.asarray(leaf)
        if not jnp.issubdtype(arr.dtype, jnp.inexact):
            arr = arr.astype(jnp.result_type(float))
        if jnp.issubdtype(arr.dtype, jnp.complexfloating):
            raise ValueError(f"{name} must be real; leaf {k} is {arr.dtype}")
        if not bool(jnp.all(jnp.isfinite(arr))):
            raise ValueError(f"{name} must be finite; leaf {k} (shape {arr.shape}) has NaN or infinity")
        out.append(arr)
    return jax.tree_util.tree_unflatten(treedef, out)


def _check_scenarios(scenarios):
    leaves = jax.tree_util.tree_leaves(scenarios)
    if not leaves:
        raise ValueError("scenarios must be a pytree of arrays with a leading scenario axis")
    sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else None for leaf in leaves}
    if None in sizes or len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"every leaf of scenarios needs the same leading (scenario) axis of length >= 1; got "
                         f"shapes {[np.shape(leaf) for leaf in leaves]}")
    for k, leaf in enumerate(leaves):
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.number) and not np.isfinite(arr).all():
            raise ValueError(f"scenarios must be finite; leaf {k} has NaN or infinity")
    return jax.tree_util.tree_map(jnp.asarray, scenarios), sizes.pop()


def _check_bounds(bounds, params0):
    if bounds is None:
        return None
    try:
        lower, upper = bounds
    except (TypeError, ValueError):
        raise ValueError("bounds must be a pair (lower, upper) of pytrees like params0 (or scalars)") from None
    structure = jax.tree_util.tree_structure(params0)

    def broadcast(b, name):
        if jax.tree_util.tree_structure(b) == structure:
            leaves = jax.tree_util.tree_leaves(b)
        elif np.ndim(b) == 0 and not isinstance(b, (tuple, list, dict)):
            leaves = [b] * structure.num_leaves
        else:
            raise ValueError(f"bounds {name} must be a scalar or a pytree with the structure of params0")
        out = []
        for leaf, p in zip(leaves, jax.tree_util.tree_leaves(params0)):
            arr = np.asarray(leaf, dtype=float)
            try:
                arr = np.broadcast_to(arr, p.shape)
            except ValueError:
                raise ValueError(f"bounds {name}: shape {arr.shape} does not broadcast to {p.shape}") from None
            if np.isnan(arr).any():
                raise ValueError(f"bounds {name} must not be NaN")
            out.append(jnp.asarray(arr, p.dtype))
        return jax.tree_util.tree_unflatten(structure, out)

    lower, upper = broadcast(lower, "lower"), broadcast(upper, "upper")
    for lo, hi, p in zip(*(jax.tree_util.tree_leaves(t) for t in (lower, upper, params0))):
        if bool(jnp.any(lo > hi)):
            raise ValueError("bounds: lower exceeds upper somewhere")
        if bool(jnp.any((p < lo) | (p > hi))):
            raise ValueError("params0 lies outside bounds")
    return lower, upper


def _stack(values, name):
    parts = []
    for k, v in enumerate(values):
        v = jnp.asarray(v)
        if not jnp.issubdtype(v.dtype, jnp.floating):
            raise ValueError(f"{name}[{k}] must return a real floating array; got dtype {v.dtype}")
        parts.append(v.ravel())
    return jnp.concatenate(parts) if parts else jnp.zeros((0,))


# ----------------------------------------------------------------------------------------------------
# the evaluation: equilibrium, objective, constraints, augmented Lagrangian and its gradient


@dataclasses.dataclass(frozen=True)
class _Spec:
    """The user's functions of one design problem: hashable (by identity), so that ``jit`` compiles a
    problem once and a second ``design`` call with the same functions reuses the compiled program."""

    game_fn: Callable
    objective: Callable
    constraints: tuple
    equalities: tuple
    solve: Callable
    scenario_constraints: str
    has_scenarios: bool

    def one(self, params, scenario=None):
        game = self.game_fn(params) if scenario is None else self.game_fn(params, scenario)
        eq = self.solve(game)
        f = jnp.asarray(self.objective(params, game, eq))
        g = _stack([c(params, game, eq) for c in self.constraints], "constraints")
        h = _stack([e(params, game, eq) for e in self.equalities], "equalities")
        return f, g, h, eq

    def forward(self, params, scenarios):
        if not self.has_scenarios:
            f, g, h, eq = self.one(params)
            return f, g, h, eq, jnp.max(eq.residual), jnp.max(eq.status)
        f, g, h, eq = jax.vmap(lambda s: self.one(params, s))(scenarios)
        if self.scenario_constraints == "mean":
            g, h = jnp.mean(g, axis=0), jnp.mean(h, axis=0)
        else:
            g, h = g.ravel(), h.ravel()
        return jnp.mean(f), g, h, eq, jnp.max(eq.residual), jnp.max(eq.status)


@functools.partial(jax.jit, static_argnames=("spec",))
def _evaluate(params, scenarios, lam, nu, rho, weight, active, *, spec):
    """Equilibrium, objective, constraints, the augmented Lagrangian ``weight f + AL`` and its gradient.

    Inequalities flagged ``active`` are treated as equalities (``lam g + rho g^2 / 2``: the final polish
    onto predicted-active constraints); the others enter in Rockafellar's form."""

    def lagrangian(p):
        f, g, h, eq, residual, status = spec.forward(p, scenarios)
        inequality = (jnp.maximum(0.0, lam + rho * g) ** 2 - lam**2) / (2.0 * rho)
        augmented = jnp.sum(jnp.where(active, lam * g + 0.5 * rho * g**2, inequality))
        augmented = augmented + jnp.sum(nu * h) + 0.5 * rho * jnp.sum(h**2)
        return weight * f + augmented, (f, g, h, eq, residual, status)

    (value, (f, g, h, eq, residual, status)), grad = jax.value_and_grad(lagrangian, has_aux=True)(params)
    finite = jnp.isfinite(value) & jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(grad)]))
    return dict(lagrangian=value, objective=f, g=g, h=h, equilibrium=eq, residual=residual, status=status,
                grad=grad, finite=finite)


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _propose(grad, opt_state, params, scale, bounds, *, optimizer):
    """The optimizer's update, scaled by ``scale``, applied and clipped to ``bounds``."""
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int counts and float decays
        updates, new_state = optimizer.update(grad, opt_state, params)
    updates = jax.tree_util.tree_map(lambda u: scale * u, updates)
    candidate = optax.apply_updates(params, updates)
    if bounds is not None:
        candidate = jax.tree_util.tree_map(jnp.clip, candidate, *bounds)
    return candidate, new_state


class _Problem:
    """One design problem: its spec, scenarios and bounds."""

    def __init__(self, game_fn, objective, constraints, equalities, solve, scenarios, scenario_constraints, bounds):
        self.spec = _Spec(game_fn, objective, constraints, equalities, solve, scenario_constraints,
                          scenarios is not None)
        self.game_fn, self.scenarios, self.bounds = game_fn, scenarios, bounds

    def forward(self, params):
        return self.spec.forward(params, self.scenarios)

    def evaluate(self, params, lam, nu, rho, weight, active=None):
        active = jnp.zeros(lam.shape, bool) if active is None else active
        return _evaluate(params, self.scenarios, lam, nu, rho, weight, active, spec=self.spec)

    def project(self, params):
        if self.bounds is None:
            return params
        lower, upper = self.bounds
        return jax.tree_util.tree_map(jnp.clip, params, lower, upper)


def _violation(ev, active=None) -> float:
    """``max(max_i g_i^+, max_j |h_j|)``, with ``|g_i|`` for the inequalities flagged ``active``."""
    g, h = np.asarray(ev["g"]), np.asarray(ev["h"])
    g = np.maximum(g, 0.0) if active is None else np.where(np.asarray(active), np.abs(g), np.maximum(g, 0.0))
    parts = [g.max(initial=0.0), np.abs(h).max(initial=0.0)]
    return float(max(parts)) if np.all(np.isfinite(parts)) else float("inf")


def _accepted(ev) -> bool:
    return int(ev["status"]) == Status.CONVERGED and bool(ev["finite"])


def _tree_norm(tree) -> float:
    return float(jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree))))


def _first_checks(problem, params0):
    """Traceability, shapes and the evaluation at ``params0`` (ValueError on any problem)."""
    scenario0 = None if problem.scenarios is None else jax.tree_util.tree_map(lambda s: s[0], problem.scenarios)
    call = (lambda p: problem.game_fn(p)) if scenario0 is None else (lambda p: problem.game_fn(p, scenario0))
    try:  # eagerly: the game's own validation of concrete parameters runs here
        call(params0)
    except ValueError as error:
        error.add_note("(raised by game_fn at params0, before the design loop)")
        raise
    try:
        jax.eval_shape(call, params0)
    except _TRACE_ERRORS as error:
        raise ValueError("game_fn must be traceable by JAX (design differentiates through it): it converts a "
                         "traced parameter to a Python or numpy value or branches on it. Build the game with "
                         "jnp operations, e.g. dataclasses.replace(base_game, field=params). JAX said: "
                         + str(error).splitlines()[0]) from None
    try:
        shapes = jax.eval_shape(problem.forward, params0)
    except _TRACE_ERRORS as error:
        raise ValueError("objective, constraints, equalities and solve must be traceable by JAX (no float(), "
                         "np.asarray() or Python branches on traced values). JAX said: "
                         + str(error).splitlines()[0]) from None
    f_shape = shapes[0]
    if f_shape.shape != () or not jnp.issubdtype(f_shape.dtype, jnp.floating):
        raise ValueError(f"objective must return a real scalar; got shape {f_shape.shape} and dtype {f_shape.dtype}")
    eq = shapes[3]
    if not (hasattr(eq, "status") and hasattr(eq, "residual")):
        raise ValueError("solve must return a result with status and residual (e.g. solvers.solve_vi, solve_gne)")
    return shapes[1].shape[0], shapes[2].shape[0]


def _gauss_newton_feasibility(problem, params, ev, zeros, rho, target, max_iterations, active=None):
    """Projected Gauss-Newton steps on the violation ``V = (|g+|^2 + |h|^2) / 2`` (``g_i^2`` for the
    inequalities flagged ``active``) from ``params`` (whose evaluation with zero multipliers, objective
    weight 0 and the same ``active`` is ``ev``, so that its Lagrangian is ``rho V``):
    ``theta <- P(theta - t grad V)`` with ``t = 2 V / |grad V|^2`` (the Gauss-Newton step for one residual,
    the minimum-norm step onto the linearized constraint) halved until the Armijo condition holds and
    the equilibrium converges. Returns ``(params, ev, trials, stuck)``: ``trials`` lists every evaluation
    with whether it was accepted; ``stuck`` says the violation stopped at a stationary point above
    ``target`` (no step along the projected gradient decreases it)."""
    lam, nu = zeros
    evaluate = lambda p: problem.evaluate(p, lam, nu, rho, 0.0, active)
    trials = []
    for _ in range(max_iterations):
        if _violation(ev, active) <= target:
            return params, ev, trials, False
        V = float(ev["lagrangian"]) / float(rho)
        gradient = jax.tree_util.tree_map(lambda d: d / rho, ev["grad"])
        norm2 = _tree_norm(gradient) ** 2
        step = 2.0 * V / norm2 if norm2 > 0 else 0.0
        moved = False
        for _ in range(40):
            candidate = problem.project(jax.tree_util.tree_map(lambda p, d: p - step * d, params, gradient))
            displacement = jax.tree_util.tree_map(jnp.subtract, params, candidate)
            if _tree_norm(displacement) == 0.0:
                break  # no step at all (zero gradient), or the bounds undo it: stationary
            trial = evaluate(candidate)
            decrease = sum(float(jnp.vdot(d, s)) for d, s in zip(jax.tree_util.tree_leaves(gradient),
                                                                    jax.tree_util.tree_leaves(displacement)))
            ok = _accepted(trial) and float(trial["lagrangian"]) / float(rho) <= V - 1e-4 * decrease
            trials.append((trial, ok))
            if ok:
                params, ev, moved = candidate, trial, True
                break
            step *= 0.5
        if not moved:
            return params, ev, trials, True
    return params, ev, trials, False


def _infeasible_message(ev, tol, bounded):
    g, h = np.asarray(ev["g"]), np.asarray(ev["h"])
    if g.size and g.max(initial=-np.inf) >= np.abs(h).max(initial=0.0):
        worst = f"inequality {int(np.argmax(g))} at {g.max():.6g}"
    else:
        worst = f"equality {int(np.argmax(np.abs(h)))} at {h[np.argmax(np.abs(h))]:.6g}"
    return (f"the constraints cannot be met: the constraint violation stops decreasing at {_violation(ev):.6g} "
            f"(> constraint_tol = {tol:g}; worst: {worst}), a stationary point of the violation"
            f"{' on the bounds' if bounded else ''}. The constraint set is infeasible (e.g. a budget below "
            "what the parameters' domain allows), or params0 sits at a stationary point of the violation: "
            "check the constraints, or start elsewhere")


# ----------------------------------------------------------------------------------------------------
# the design loop


def design(game_fn: Callable, params0, objective: Callable, *, solve: Callable = solve_vi,
           optimizer: optax.GradientTransformation = optax.adam(1e-2), steps: int = 500, constraints=(),
           equalities=(), scenarios=None, scenario_constraints: str = "mean", bounds=None, checkpoint=None,
           checkpoint_every: int = 10, progress: bool = True, phase_steps: int = 50, penalty: float = 10.0,
           penalty_growth: float = 10.0, max_penalty: float = 1e4, constraint_tol: float = 1e-6,
           max_rejections: int = 30, restoration_steps: int = 10,
           stationarity_tol: float = 1e-3) -> DesignResult:
    """Learn a mechanism's parameters by gradient steps through the players' equilibrium.

    Minimizes ``objective(params, game, equilibrium)`` over ``params``, where ``game = game_fn(params)``
    and ``equilibrium = solve(game)``, subject to ``constraints <= 0`` and ``equalities == 0`` (functions
    of the same arguments returning arrays) by an augmented Lagrangian (Hestenes 1969; Powell 1969;
    Rockafellar 1973's form for inequalities): see the module docstring for the method, the step
    rejection and the checks made before the first step.

    Args:
      game_fn: ``params -> game`` (or ``(params, scenario) -> game`` with ``scenarios``), traceable: e.g.
        ``lambda p: dataclasses.replace(base, cost_linear=base.cost_linear - p)``. It is also called
        once eagerly on ``params0``, so a game constructor's validation of concrete parameters runs
        before the loop.
      params0: the initial parameters, any pytree of real arrays.
      objective: ``(params, game, equilibrium) -> scalar``, minimized.
      solve: ``game -> equilibrium`` with implicit derivatives and a ``status``, e.g. :func:`~solvers.solve_vi`
        (default), ``functools.partial(solve_vi, method="semismooth_newton")`` or :func:`~solvers.solve_gne`.
      optimizer: an optax gradient transformation (default Adam, learning rate 1e-2). A learning-rate
        schedule that decays to a small value gives the most accurate final parameters.
      steps: design steps (each one candidate update, accepted or rejected).
      constraints: functions ``(params, game, equilibrium) -> array`` that must be ``<= 0``.
      equalities: functions ``(params, game, equilibrium) -> array`` that must be ``0`` (e.g. budget balance).
        Scale constraints to order one (relative imbalance rather than dollars): ``constraint_tol`` is absolute.
      scenarios: optional pytree of arrays with a leading scenario axis; the game is then
        ``game_fn(params, scenario)``, every scenario is solved in one vmapped call, and the objective
        is the scenario mean.
      scenario_constraints: ``"mean"`` (constraints hold on average over scenarios) or ``"each"`` (in
        every scenario).
      bounds: optional ``(lower, upper)``, scalars or pytrees like ``params0``; candidate parameters are
        clipped to them (a projected step).
      checkpoint: a file path: the run's state (parameters, optimizer state, multipliers, history) is
        saved atomically every ``checkpoint_every`` steps and at the end; called again with the same
        arguments, ``design`` resumes from it and ends with the same parameters as an uninterrupted run.
        A checkpoint of a different run (other settings, ``params0``, scenarios, or an objective or game
        that evaluates differently at ``params0``) raises ``ValueError`` naming the difference.
      checkpoint_every: steps between checkpoints.
      progress: show a tqdm progress bar with the objective, the violation and the rejected steps.
      phase_steps: optimizer steps between multiplier updates (with constraints).
      penalty, penalty_growth, max_penalty: the initial penalty ``rho``, its growth factor when the
        violation falls too slowly, and its cap.
      constraint_tol: the violation that counts as feasible (for ``status``, and for the probe).
      max_rejections: consecutive rejected steps after which the run stops (``DEGENERATE``).
      restoration_steps: the most Gauss-Newton steps of the final polish (0: none).
      stationarity_tol: the relative KKT residual that counts as stationary (for ``status``).

    Returns:
      A :class:`DesignResult`.

    Raises:
      ValueError, before the loop: malformed arguments; a ``game_fn`` (or objective, constraint) that
      JAX cannot trace; a game constructor's own error at ``params0`` (e.g. price parameters that make
      prices fall with load); an equilibrium at ``params0`` that does not converge or whose gradient is
      not finite (a non-unique equilibrium); constraints that cannot be met (the violation is stationary
      at a positive value); a checkpoint of a different run.

    Example (a uniform per-unit subsidy that makes Cournot competition efficient, ``s* = (a - c) / G``):
      >>> import dataclasses, jax.numpy as jnp, optax
      >>> from games import ieee14, network_cournot_game
      >>> from solvers import design
      >>> game = network_cournot_game(ieee14(), [0, 1, 2], cost_linear=10.0, demand_intercept=100.0,
      ...                             demand_slope=1.0)
      >>> def welfare(s, g, eq):   # gross consumer value minus production cost; subsidies are transfers
      ...     Q = jnp.sum(eq.strategies)
      ...     return -(100.0 * Q - 0.5 * Q**2 - 10.0 * Q)
      >>> result = design(lambda s: dataclasses.replace(game, cost_linear=game.cost_linear - s), jnp.array(0.0),
      ...                 welfare, optimizer=optax.sgd(1.0), steps=40, progress=False)
      >>> round(float(result.params), 4)   # (100 - 10) / 3
      30.0

    Reference: Hestenes (1969); Powell (1969); Rockafellar (1973); Blondel et al. (2022).
    """
    _check_callable(game_fn, "game_fn")
    _check_callable(objective, "objective")
    _check_callable(solve, "solve")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise ValueError(f"optimizer must be an optax GradientTransformation; got {type(optimizer).__name__}")
    constraints = _check_functions(constraints, "constraints")
    equalities = _check_functions(equalities, "equalities")
    steps = _check_int(steps, "steps", 0)
    checkpoint_every = _check_int(checkpoint_every, "checkpoint_every", 1)
    phase_steps = _check_int(phase_steps, "phase_steps", 1)
    max_rejections = _check_int(max_rejections, "max_rejections", 1)
    restoration_steps = _check_int(restoration_steps, "restoration_steps", 0)
    rho0 = _check_positive(penalty, "penalty")
    growth = _check_positive(penalty_growth, "penalty_growth", 1.0, strict=False)
    max_penalty = _check_positive(max_penalty, "max_penalty", rho0, strict=False)
    constraint_tol = _check_positive(constraint_tol, "constraint_tol")
    stationarity_tol = _check_positive(stationarity_tol, "stationarity_tol")
    if scenario_constraints not in ("mean", "each"):
        raise ValueError(f"scenario_constraints must be 'mean' or 'each'; got {scenario_constraints!r}")
    params0 = _as_float_tree(params0, "params0")
    if scenarios is not None:
        scenarios, _ = _check_scenarios(scenarios)
    bounds = _check_bounds(bounds, params0)

    problem = _Problem(game_fn, objective, constraints, equalities, solve, scenarios, scenario_constraints, bounds)
    m, p = _first_checks(problem, params0)
    dtype = jax.tree_util.tree_leaves(params0)[0].dtype
    zeros = (jnp.zeros(m, dtype), jnp.zeros(p, dtype))
    ev0 = problem.evaluate(params0, *zeros, jnp.asarray(rho0, dtype), jnp.asarray(1.0, dtype))
    if int(ev0["status"]) != Status.CONVERGED:
        raise ValueError(f"the equilibrium at params0 did not converge (status {Status(int(ev0['status'])).name}, "
                         f"residual {float(ev0['residual']):.3g}): give solve a larger budget or another method, "
                         "or start from other parameters")
    if not bool(ev0["finite"]):
        raise ValueError("the objective or its gradient at params0 is not finite; a NaN gradient usually means "
                         "the equilibrium is not unique (e.g. daily proportional billing), where no derivative "
                         "exists: design needs games with unique equilibria (hourly billing, a price-rule game)")
    if m + p and _violation(ev0) > constraint_tol:  # can the violation be reduced at all? (20 probe steps)
        probe0 = problem.evaluate(params0, *zeros, jnp.asarray(rho0, dtype), jnp.asarray(0.0, dtype))
        _, last, _, stuck = _gauss_newton_feasibility(problem, params0, probe0, zeros, jnp.asarray(rho0, dtype),
                                                      constraint_tol, 20)
        if stuck:
            raise ValueError(_infeasible_message(last, constraint_tol, bounds is not None))

    propose = functools.partial(_propose, bounds=bounds, optimizer=optimizer)
    opt_state0 = optimizer.init(params0)
    first_update, _ = propose(ev0["grad"], opt_state0, params0, jnp.asarray(1.0, dtype))
    config = dict(steps=steps, phase_steps=phase_steps, penalty=rho0, penalty_growth=growth,
                  max_penalty=max_penalty, constraint_tol=constraint_tol, max_rejections=max_rejections,
                  restoration_steps=restoration_steps,
                  scenario_constraints=scenario_constraints, params0=fingerprint(params0),
                  scenarios=None if scenarios is None else fingerprint(scenarios),
                  bounds=None if bounds is None else fingerprint(bounds), constraints=m, equalities=p,
                  evaluation_at_params0=fingerprint((ev0["lagrangian"], ev0["objective"], ev0["g"], ev0["h"])),
                  first_step=fingerprint(first_update))
    ckpt = Checkpointer(checkpoint, config=config, every=checkpoint_every)
    restored = ckpt.restore()
    if restored is None:
        state = dict(params=params0, opt_state=opt_state0, lam=zeros[0], nu=zeros[1], rho=rho0, scale=1.0,
                     rejections=0, previous_violation=math.inf, stalled=False,
                     history={k: [] for k in _HISTORY_FIELDS})
        start, current = 0, ev0
    else:
        start, state = restored
        current = None

    def evaluate(params):
        return problem.evaluate(params, state["lam"], state["nu"], jnp.asarray(state["rho"], dtype),
                                jnp.asarray(1.0, dtype))

    if current is None:
        current = evaluate(state["params"])
    bar = _progress_bar(progress, steps, start)
    try:
        step = start
        while step < steps and not state["stalled"]:
            candidate, new_opt_state = propose(current["grad"], state["opt_state"], state["params"],
                                               jnp.asarray(state["scale"], dtype))
            trial = evaluate(candidate)
            accepted = _accepted(trial)
            _record(state["history"], trial, accepted, state)
            if accepted:
                state.update(params=candidate, opt_state=new_opt_state, scale=min(1.0, 2.0 * state["scale"]),
                             rejections=0)
                current = trial
            else:
                state.update(scale=0.5 * state["scale"], rejections=state["rejections"] + 1)
                state["stalled"] = state["rejections"] >= max_rejections
            step += 1
            if m + p and step % phase_steps == 0 and step < steps:
                _update_multipliers(state, current, growth, max_penalty, constraint_tol)
                current = evaluate(state["params"])
            ckpt.save(step, state, force=step == steps or state["stalled"])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(objective=f"{float(current['objective']):.6g}", violation=f"{_violation(current):.2e}",
                                rejected=int(np.sum(~np.asarray(state["history"]["accepted"], bool))), refresh=False)
    finally:
        if bar is not None:
            bar.close()

    params = state["params"]
    multipliers = (np.asarray(state["lam"]), np.asarray(state["nu"]))
    if m + p and restoration_steps and steps and not state["stalled"]:  # steps=0: an evaluation of params0
        params, current = _polish(problem, params, current, state, zeros, dtype, constraint_tol, restoration_steps,
                                  evaluate)
    violation = _violation(current)
    stationarity = math.inf
    if not state["stalled"] and violation <= constraint_tol:
        lam, nu, residual = _kkt(problem, params, current, zeros, dtype, constraint_tol)
        if m + p:
            multipliers = (lam, nu)
        scale = np.linalg.norm(_plain_gradient(problem, params0, zeros, dtype))
        stationarity = residual / scale if scale > 0 else residual
    if state["stalled"]:
        status = Status.DEGENERATE
    elif int(current["status"]) == Status.CONVERGED and violation <= constraint_tol and \
            stationarity <= stationarity_tol:
        status = Status.CONVERGED
    else:
        status = Status.MAX_STEPS
    kinds = dict(accepted=bool, restoration=bool, equilibrium_status=np.int32)
    history = {k: np.asarray(v, dtype=kinds.get(k, float)) for k, v in state["history"].items()}
    return DesignResult(params=params, equilibrium=current["equilibrium"],
                        objective=float(current["objective"]), violation=violation, status=status, history=history,
                        multipliers=multipliers, penalty=float(state["rho"]),
                        gradient=current["grad"], stationarity=float(stationarity))


def _polish(problem, params, current, state, zeros, dtype, tol, max_iterations, evaluate):
    """The final feasibility restoration and active-set polish (see the module docstring).

    A first-order optimizer's iterates hover around the constraints: the last one may violate them by
    more than ``tol``, or sit strictly inside an inequality that binds at the optimum. Gauss-Newton steps
    (:func:`_gauss_newton_feasibility`) drive the violated constraints, the equalities, and the
    inequalities whose multiplier is positive (predicted active by complementary slackness) to zero.
    The polished point replaces the last iterate when it is feasible and, if the last iterate was
    feasible already, when its objective is no worse. Its evaluations are added to ``history``."""
    lam = np.asarray(state["lam"])
    g = np.asarray(current["g"])
    active = jnp.asarray((lam > 0) & (g < 0))  # violated ones count through g+ anyway
    feasible = _violation(current) <= tol
    if feasible and not bool(jnp.any(active)):
        return params, current
    rho = jnp.asarray(state["rho"], dtype)
    start = problem.evaluate(params, *zeros, rho, jnp.asarray(0.0, dtype), active)
    polished, _, trials, _ = _gauss_newton_feasibility(problem, params, start, zeros, rho, 0.1 * tol, max_iterations,
                                                       active)
    for trial, ok in trials:
        _record(state["history"], trial, ok, state, restoration=True)
    if not any(ok for _, ok in trials):
        return params, current
    candidate = evaluate(polished)
    better = float(candidate["objective"]) <= float(current["objective"]) + 1e-12 * abs(float(current["objective"]))
    if _violation(candidate) <= tol and (not feasible or better):
        return polished, candidate
    return params, current


def _plain_gradient(problem, params, zeros, dtype, lam=None, nu=None, weight=1.0, active=None):
    """The flattened gradient of ``weight f + lam . g + nu . h`` (no penalty term) at ``params``."""
    lam0, nu0 = zeros
    tiny = jnp.asarray(jnp.finfo(dtype).tiny ** 0.5, dtype)
    ev = problem.evaluate(params, lam0 if lam is None else lam, nu0 if nu is None else nu, tiny,
                          jnp.asarray(weight, dtype), active)
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(ev["grad"])])


def _kkt(problem, params, current, zeros, dtype, tol):
    """Least-squares KKT multipliers and the stationarity residual at the final parameters.

    ``min |grad f + sum_i lam_i grad g_i + sum_j nu_j grad h_j - mu_lo + mu_up|`` over ``lam >= 0`` for the
    inequalities within ``tol`` of binding (the others get 0), free ``nu``, and ``mu >= 0`` for the
    parameters at their bounds (Nocedal and Wright 2006, eq. 18.21); one gradient evaluation per
    constraint involved. Returns ``(lam, nu, residual)``: the residual norm is 0 exactly at a KKT point."""
    lam0, nu0 = zeros
    grad_f = _plain_gradient(problem, params, zeros, dtype)
    g = np.asarray(current["g"])
    near = np.flatnonzero(g >= -tol)
    columns, lower = [], []
    for i in near:  # lam = e_i, weight 0: the gradient of g_i
        e = jnp.zeros_like(lam0).at[i].set(1.0)
        columns.append(_plain_gradient(problem, params, zeros, dtype, lam=e, weight=0.0, active=e > 0))
        lower.append(0.0)
    for j in range(nu0.shape[0]):
        e = jnp.zeros_like(nu0).at[j].set(1.0)
        columns.append(_plain_gradient(problem, params, zeros, dtype, nu=e, weight=0.0))
        lower.append(-np.inf)
    if problem.bounds is not None:
        flat = lambda tree: np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])
        x, lo, hi = flat(params), flat(problem.bounds[0]), flat(problem.bounds[1])
        for k in np.flatnonzero(x <= lo):
            columns.append(-np.eye(x.size)[k])
            lower.append(0.0)
        for k in np.flatnonzero(x >= hi):
            columns.append(np.eye(x.size)[k])
            lower.append(0.0)
    lam, nu = np.zeros(lam0.shape), np.zeros(nu0.shape)
    if not columns:
        return lam, nu, float(np.linalg.norm(grad_f))
    A = np.stack(columns, axis=1)
    solution = scipy.optimize.lsq_linear(A, -grad_f, bounds=(np.asarray(lower), np.inf)).x
    lam[near], nu = solution[:near.size], solution[near.size:near.size + nu0.shape[0]]
    return lam, nu, float(np.linalg.norm(grad_f + A @ solution))


def _update_multipliers(state, ev, growth, max_penalty, tol):
    """Method-of-multipliers update between phases: the first-order multiplier step, and penalty growth
    when the violation is above ``tol`` and fell by less than a factor of four since the last phase."""
    rho = state["rho"]
    g, h = ev["g"], ev["h"]
    state["lam"] = jnp.maximum(0.0, state["lam"] + rho * g)
    state["nu"] = state["nu"] + rho * h
    violation = _violation(ev)
    if violation > tol and violation > 0.25 * state["previous_violation"]:
        state["rho"] = min(rho * growth, max_penalty)
    state["previous_violation"] = violation


def _record(history, ev, accepted, state, restoration=False):
    history["objective"].append(float(ev["objective"]))
    history["violation"].append(_violation(ev))
    history["lagrangian"].append(float(ev["lagrangian"]))
    history["residual"].append(float(ev["residual"]))
    history["equilibrium_status"].append(int(ev["status"]))
    history["accepted"].append(bool(accepted))
    history["step_scale"].append(float(state["scale"]))
    history["penalty"].append(float(state["rho"]))
    history["restoration"].append(bool(restoration))


def _progress_bar(progress, steps, start):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=start, desc="design", unit="step")
