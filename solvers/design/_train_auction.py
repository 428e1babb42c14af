"""Training learned auctions: revenue (or gains from trade) under an augmented Lagrangian on regret.

For a rule with parameters ``w`` (:mod:`mechanisms.learned`), valuation profiles ``v ~ F`` and each
bidder's regret ``rgt_i(w)`` (the expected gain of its best unilateral misreport), training solves

    max_w  E_v[objective(w; v)]   subject to   rgt_i(w) = 0   for every bidder i

by the augmented Lagrangian method of Duetting et al. (2019, Sec. 4.2): minibatch steps of an optax
optimizer on

    L(w; lambda, rho) = -objective + sum_i lambda_i rgt_i + (rho / 2) sum_i rgt_i^2,

with the regret of each minibatch estimated at misreports found by an inner projected gradient ascent
(``misreport_steps`` Adam steps from the best of ``misreport_starts`` random reports); every
``multiplier_every`` steps the multipliers move ``lambda_i <- lambda_i + rho rgt_i`` and every
``penalty_every`` steps the penalty grows ``rho <- rho + penalty_increment``. A rule that is
truthful by construction (``rule.exactly_truthful``, e.g. RochetNet) is trained on its objective
alone, through its differentiable relaxation ``rule.relaxed``.

Runs are deterministic given ``key``: step ``t`` draws its minibatch and starting misreports from
``fold_in(key, t)``, so a run resumed from a checkpoint continues exactly as the uninterrupted run.

Reference: P. Duetting, Z. Feng, H. Narasimhan, D. C. Parkes and S. S. Ravindranath (2019),
"Optimal auctions through deep learning", ICML, Alg. 1; the augmented Lagrangian method:
J. Nocedal and S. Wright (2006), *Numerical Optimization*, ch. 17.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mechanisms.learned import LearnedAuction
from solvers._core._checkpoint import Checkpointer, fingerprint
from solvers._core._result import Status

from ._misreport import ascend_misreports, misreport_utilities, utilities

__all__ = ["train_auction", "AuctionTrainingHistory", "TRAINING_DEFAULTS"]

#: Defaults for every rule; a rule's ``training_defaults()`` overrides them.
TRAINING_DEFAULTS = {
    "steps": 20_000,
    "batch_size": 128,
    "learning_rate": 1e-3,
    "learning_rate_decay": 1.0,
    "misreport_steps": 25,
    "misreport_learning_rate": 0.1,
    "misreport_starts": 1,
    "penalty": 1.0,
    "penalty_increment": 1.0,
    "penalty_every": 1000,
    "multiplier_init": 5.0,
    "multiplier_every": 100,
    "log_every": 100,
}


@dataclasses.dataclass(frozen=True)
class AuctionTrainingHistory:
    """What :func:`train_auction` recorded, one row per ``log_every`` steps.

    Attributes:
      steps: ``(rows,)`` steps completed at each row.
      objective: mean training objective (revenue, or gains from trade) over the row's steps.
      regret: mean over the row's steps of each bidder's estimated regret (the training attack),
        averaged over bidders (0 for exactly truthful rules).
      multipliers: ``(rows, bidders)`` Lagrange multipliers at each row.
      penalty: ``(rows,)`` the quadratic penalty ``rho``.
      seconds: ``(rows,)`` cumulative training wall-clock time (across resumes).
      status: a :class:`~solvers.Status`: ``CONVERGED`` (all steps run, the last row's training regret
        <= ``regret_tolerance``), ``MAX_STEPS`` (all steps run, regret still above it: more steps or a
        larger penalty) or ``NONFINITE`` (stopped at a NaN; the last finite parameters are returned).
    """

    steps: np.ndarray
    objective: np.ndarray
    regret: np.ndarray
    multipliers: np.ndarray
    penalty: np.ndarray
    seconds: np.ndarray
    status: Status

    @property
    def converged(self) -> bool:
        """All steps run and the last training regret within tolerance."""
        return self.status == Status.CONVERGED


def _check_positive_int(name, value, allow_zero=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        kind = "nonnegative" if allow_zero else "positive"
        raise ValueError(f"train_auction: {name} must be a {kind} integer; got {value!r}")


def _check_nonnegative(name, value):
    try:
        ok = float(value) >= 0 and np.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"train_auction: {name} must be a finite nonnegative number; got {value!r}")


def _support(sample_values, key, support, shape, dtype):
    """``(lower, upper)`` arrays of shape ``(n, m)``: given, or the range of 16,384 draws."""
    if support is None:
        draws = np.asarray(sample_values(key, 16_384), dtype=np.float64)
        lower, upper = draws.min(axis=0), draws.max(axis=0)
    else:
        try:
            lower, upper = support
        except (TypeError, ValueError):
            raise ValueError("train_auction: support must be a pair (lower, upper)") from None
        lower = np.broadcast_to(np.asarray(lower, np.float64), shape)
        upper = np.broadcast_to(np.asarray(upper, np.float64), shape)
    if not (np.isfinite(lower).all() and np.isfinite(upper).all() and (upper > lower).all()):
        raise ValueError(f"train_auction: support must be finite with upper > lower; got {lower.tolist()} "
                         f"and {upper.tolist()}")
    return jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)


def _as_typed_key(key):
    """A typed PRNG key from a typed key or a raw ``uint32[2]`` key (``ValueError`` otherwise)."""
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"train_auction: key must be a single key; got shape {key.shape}")
        return key
    try:
        return jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    except Exception:
        raise ValueError(f"train_auction: key must be a jax.random key; got {key!r}") from None


def _describe(function):
    """A name for ``function`` that is the same in every process (no memory address)."""
    try:
        return function.__qualname__  # not the module: a script run as __main__ resumes under its import name
    except AttributeError:
        return type(function).__qualname__


def regret_loss_terms(rule_fn, params, values, misreports):
    """``(batch, n)`` gains ``max(0, u_i(misreport) - u_i(truth))`` (differentiable in ``params``)."""
    return jnp.maximum(misreport_utilities(rule_fn, params, values, misreports)
                       - utilities(rule_fn, params, values), 0.0)


def train_auction(rule, sample_values, *, key, steps=None, batch_size=None, optimizer=None, learning_rate=None,
                  learning_rate_decay=None, misreport_steps=None, misreport_learning_rate=None, misreport_starts=None,
                  penalty=None, penalty_increment=None, penalty_every=None, multiplier_init=None, multiplier_every=None,
                  support=None, params=None, dtype=jnp.float32, regret_tolerance=1e-3, log_every=None,
                  checkpoint=None, checkpoint_every=None, progress=True):
    """Train a learned rule to maximize its objective subject to zero regret (augmented Lagrangian).

    Args:
      rule: a :class:`mechanisms.LearnedAuction` (``init``, ``__call__``, ``relaxed``, ``objective``,
        ``exactly_truthful``, ``training_defaults``), e.g. ``RegretNet(2, 2)``.
      sample_values: ``sample_values(key, n) -> (n, bidders, items)`` valuation profiles; jittable
        (``jax.random``), called once per step inside the compiled loop.
      key: a ``jax.random`` key; the whole run is a function of it.
      steps: optimizer steps (default: the rule's, which reaches the published optima; see the
        README's table). Part of the run's identity (the learning rate decays over it).
      batch_size: profiles per step.
      optimizer: an ``optax.GradientTransformation`` (default: Adam at ``learning_rate``, decayed along
        a cosine to ``learning_rate * learning_rate_decay`` at the last step; ``1.0``: constant).
      misreport_steps, misreport_learning_rate, misreport_starts: the inner attack: Adam steps (step
        size a fraction of the support's width) from the best of that many uniform random reports.
      penalty, penalty_increment, penalty_every: ``rho`` and its schedule.
      multiplier_init, multiplier_every: initial ``lambda_i`` and the update period.
      support: ``(lower, upper)`` of the report space (broadcast to ``(bidders, items)``); default:
        the range of 16,384 draws of ``sample_values``.
      params: starting parameters (default ``rule.init(key)``).
      dtype: training precision (float32 by default: 2-3x faster on a CPU; results are returned in it).
      regret_tolerance: the last row's mean training regret above it gives status ``"regret_above_tolerance"``.
      log_every: steps per history row (and per compiled chunk).
      checkpoint: a file path; the run saves there every ``checkpoint_every`` steps (a multiple of
        ``log_every``; default every row) and resumes from it when started again with the same arguments.
      progress: show a tqdm bar with the objective and regret.

    Returns:
      ``(params, history)``: the trained parameters and an :class:`AuctionTrainingHistory`.

    Example:
      >>> import jax
      >>> from mechanisms import RochetNet
      >>> rule = RochetNet(2, menu_size=32)
      >>> draw = lambda key, n: jax.random.uniform(key, (n, 1, 2))
      >>> params, history = train_auction(rule, draw, key=jax.random.key(0), steps=200, progress=False)
      >>> history.converged
      True

    Reference: Duetting, Feng, Narasimhan, Parkes and Ravindranath (2019), Alg. 1.
    """
    if not isinstance(rule, LearnedAuction):
        raise ValueError("train_auction: rule must follow the LearnedAuction protocol (init, __call__, relaxed, "
                         f"objective, num_bidders, num_items, exactly_truthful, training_defaults); got {rule!r}")
    settings = dict(TRAINING_DEFAULTS)
    settings.update(rule.training_defaults())
    given = {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
             "learning_rate_decay": learning_rate_decay,
             "misreport_steps": misreport_steps, "misreport_learning_rate": misreport_learning_rate,
             "misreport_starts": misreport_starts, "penalty": penalty, "penalty_increment": penalty_increment,
             "penalty_every": penalty_every, "multiplier_init": multiplier_init,
             "multiplier_every": multiplier_every, "log_every": log_every}
    settings.update({k: v for k, v in given.items() if v is not None})
    for name in ("steps", "batch_size", "misreport_starts", "penalty_every", "multiplier_every", "log_every"):
        _check_positive_int(name, settings[name])
    _check_positive_int("misreport_steps", settings["misreport_steps"], allow_zero=True)
    for name in ("learning_rate", "learning_rate_decay", "misreport_learning_rate", "penalty", "penalty_increment",
                 "multiplier_init"):
        _check_nonnegative(name, settings[name])
    _check_nonnegative("regret_tolerance", regret_tolerance)
    every = settings["log_every"] if checkpoint_every is None else checkpoint_every
    _check_positive_int("checkpoint_every", every)
    if every % settings["log_every"]:
        raise ValueError(f"train_auction: checkpoint_every ({every}) must be a multiple of log_every "
                         f"({settings['log_every']})")
    if not callable(sample_values):
        raise ValueError("train_auction: sample_values must be a function (key, n) -> values")
    key = _as_typed_key(key)
    key, key_init, key_support, key_probe = jax.random.split(key, 4)  # key: the steps' stream

    n, m = rule.num_bidders, rule.num_items
    probe = jnp.asarray(sample_values(key_probe, 2))
    if probe.shape != (2, n, m):
        raise ValueError(f"train_auction: sample_values(key, 2) must have shape (2, {n}, {m}) "
                         f"(profiles, bidders, items); got {probe.shape}")
    lower, upper = _support(sample_values, key_support, support, (n, m), dtype)
    if params is None:
        params = rule.init(key_init)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), params)
    truthful = bool(rule.exactly_truthful)
    tx, program = _chunk_program(rule, sample_values, optimizer if optimizer is not None
                                 else ("adam", float(settings["learning_rate"]), float(settings["learning_rate_decay"]),
                                       0 if settings["learning_rate_decay"] == 1 else int(settings["steps"])),
                                 truthful, jnp.dtype(dtype),
                                 settings["batch_size"], settings["misreport_starts"], settings["misreport_steps"])
    schedule = {name: jnp.asarray(settings[name], dtype) for name in
                ("penalty", "penalty_increment", "misreport_learning_rate")}
    schedule.update({name: jnp.asarray(settings[name]) for name in ("penalty_every", "multiplier_every")})

    config = {"rule": repr(rule), "sample_values": _describe(sample_values),
              "key": fingerprint(key), "params": fingerprint(params), "dtype": jnp.dtype(dtype).name,
              "optimizer": "adam" if optimizer is None else repr(optimizer),
              "support": [np.asarray(lower).tolist(), np.asarray(upper).tolist()],
              **settings}
    ckpt = Checkpointer(checkpoint, config=config, every=every)
    state = {"params": params, "opt_state": tx.init(params),
             "multipliers": jnp.full((n,), settings["multiplier_init"], dtype)}
    rows = {"steps": [], "objective": [], "regret": [], "multipliers": [], "penalty": [], "seconds": []}
    start, elapsed = 0, 0.0
    restored = ckpt.restore()
    if restored is not None:
        start, saved = restored
        state, rows, elapsed = saved["state"], saved["rows"], saved["seconds"]
    total = settings["steps"]
    chunk = settings["log_every"]
    status = Status.CONVERGED
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(start, total), desc=f"train {type(rule).__name__}", unit="step")
    try:
        step = start
        while step < total:
            length = min(chunk, total - step)
            tic = time.perf_counter()
            new_state, (objective, regret) = program(state, key, jnp.asarray(step), lower, upper, schedule,
                                                     length=length)
            objective, regret = np.asarray(objective), np.asarray(regret)
            finite = np.isfinite(objective).all() and np.isfinite(regret).all() and all(
                bool(jnp.isfinite(x).all()) for x in jax.tree_util.tree_leaves(new_state["params"]))
            if not finite:
                status = Status.NONFINITE
                break
            state = new_state
            elapsed += time.perf_counter() - tic
            step += length
            rho = settings["penalty"] + settings["penalty_increment"] * ((step - 1) // settings["penalty_every"])
            rows["steps"].append(step)
            rows["objective"].append(float(objective.mean()))
            rows["regret"].append(float(regret.mean()))
            rows["multipliers"].append(np.asarray(state["multipliers"]).tolist())
            rows["penalty"].append(0.0 if truthful else float(rho))
            rows["seconds"].append(elapsed)
            ckpt.save(step, {"state": state, "rows": rows, "seconds": elapsed}, force=step == total)
            if bar is not None:
                bar.update(length)
                bar.set_postfix(objective=f"{rows['objective'][-1]:.4f}", regret=f"{rows['regret'][-1]:.2e}")
    finally:
        if bar is not None:
            bar.close()
    if status == Status.CONVERGED and rows["regret"] and rows["regret"][-1] > regret_tolerance:
        status = Status.MAX_STEPS
    history = AuctionTrainingHistory(
        steps=np.asarray(rows["steps"], int), objective=np.asarray(rows["objective"]),
        regret=np.asarray(rows["regret"]), multipliers=np.asarray(rows["multipliers"]).reshape(-1, n),
        penalty=np.asarray(rows["penalty"]), seconds=np.asarray(rows["seconds"]), status=status)
    return state["params"], history


@functools.lru_cache(maxsize=16)
def _chunk_program(rule, sample_values, optimizer, truthful, dtype, batch, starts, misreport_steps):
    """A jitted ``(state, key, first_step, lower, upper, schedule, length) -> (state, (objectives, regrets))``.

    Cached on what shapes the program (the rule, the sampler, the optimizer, sizes), so runs that differ
    only in the penalty schedule, the misreport step or the support reuse one compilation.
    """
    if isinstance(optimizer, optax.GradientTransformation):
        tx = optimizer
    else:
        _, rate, decay, steps = optimizer
        tx = optax.adam(rate if decay == 1.0 else optax.cosine_decay_schedule(rate, steps, alpha=decay))
    relaxed = rule.relaxed
    n, m = rule.num_bidders, rule.num_items

    def one_step(key, lower, upper, schedule, state, step):
        params = state["params"]
        k_values, k_reports = jax.random.split(jax.random.fold_in(key, step))
        values = jnp.asarray(sample_values(k_values, batch), dtype)
        if truthful:
            def loss(p):
                objective = jnp.mean(rule.objective(values, *relaxed(p, values)))
                return -objective, (objective, jnp.zeros((n,), dtype))
        else:
            rho = schedule["penalty"] + schedule["penalty_increment"] * (step // schedule["penalty_every"]).astype(dtype)
            candidates = lower + (upper - lower) * jax.random.uniform(k_reports, (starts, batch, n, m), dtype)
            if starts > 1:
                scores = jax.vmap(lambda r: misreport_utilities(relaxed, params, values, r))(candidates)
                pick = jnp.argmax(scores, axis=0)  # (batch, n)
                begin = jnp.take_along_axis(candidates, pick[None, ..., None], axis=0)[0]
            else:
                begin = candidates[0]
            misreports, _ = ascend_misreports(relaxed, params, values, begin, steps=misreport_steps,
                                              learning_rate=schedule["misreport_learning_rate"], lower=lower,
                                              upper=upper)
            misreports = jax.lax.stop_gradient(misreports)

            def loss(p):
                objective = jnp.mean(rule.objective(values, *relaxed(p, values)))
                regret = jnp.mean(regret_loss_terms(relaxed, p, values, misreports), axis=0)  # (n,)
                lagrangian = (-objective + jnp.sum(state["multipliers"] * regret)
                              + 0.5 * rho * jnp.sum(regret ** 2))
                return lagrangian, (objective, regret)

        grads, (objective, regret) = jax.grad(loss, has_aux=True)(params)
        with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int counts and float decays
            updates, opt_state = tx.update(grads, state["opt_state"], params)
        params = optax.apply_updates(params, updates)
        multipliers = state["multipliers"]
        if not truthful:
            due = (step + 1) % schedule["multiplier_every"] == 0
            multipliers = jnp.where(due, multipliers + rho * regret, multipliers)
        return {"params": params, "opt_state": opt_state, "multipliers": multipliers}, (objective, jnp.mean(regret))

    @functools.partial(jax.jit, static_argnames=("length",))
    def chunk(state, key, first, lower, upper, schedule, *, length):
        return jax.lax.scan(lambda state, step: one_step(key, lower, upper, schedule, state, step), state,
                            first + jnp.arange(length))

    return tx, chunk
