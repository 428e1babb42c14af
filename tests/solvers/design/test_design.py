"""solvers.design: closed forms, the augmented Lagrangian, step rejection, checkpoints after SIGKILL, bad input."""

import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from solvers import DesignResult, Status, design, solve_vi
from solvers.design import _design

from . import problems as P

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run(params0=0.0, *, steps=200, learning_rate=3.0, constraints=(), **options):
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, 1e-4))
    return design(P.subsidized, jnp.asarray(params0), P.deadweight_loss, solve=P.SOLVE, optimizer=optimizer,
                  steps=steps, constraints=constraints, progress=False, **options)


def test_uniform_subsidy_recovers_the_closed_form_with_and_without_a_budget():
    free = run()
    assert isinstance(free, DesignResult) and free.status == Status.CONVERGED
    assert float(free.params) == pytest.approx(P.uniform_subsidy(), rel=1e-4)  # (a - c) / G = 22.5
    assert free.objective == pytest.approx(0.0, abs=1e-8)  # the deadweight loss is gone
    budget = run(constraints=(P.SPENDING,))
    assert budget.status == Status.CONVERGED and budget.violation <= 1e-6
    assert float(budget.params) == pytest.approx(P.uniform_subsidy(P.BUDGET), rel=1e-4)  # the budget binds: 6.478
    assert budget.multipliers[0][0] > 0  # and its multiplier says so
    history = budget.history
    assert set(history) >= {"objective", "violation", "residual", "equilibrium_status", "accepted"}
    assert len(history["objective"]) >= 200 and history["accepted"].all()


def test_multiplier_is_the_sensitivity_of_the_optimum_to_the_budget():
    """KKT: lam = -d f* / d (g's bound); with g = (spend - B) / B, d f*/dB = -lam / B (independent check by
    finite differences of the closed-form optimum)."""
    result = run(constraints=(P.SPENDING,), steps=300)
    loss = lambda B: float(P.deadweight_loss(None, None, P.SOLVE(P.subsidized(P.uniform_subsidy(B)))))
    h = 1.0
    slope = (loss(P.BUDGET + h) - loss(P.BUDGET - h)) / (2 * h)
    assert -result.multipliers[0][0] / P.BUDGET == pytest.approx(slope, rel=1e-4)


def test_design_gradient_equals_finite_differences():
    s0 = jnp.asarray(3.0)
    gradient = design(P.subsidized, s0, P.deadweight_loss, solve=P.SOLVE, steps=0, progress=False).gradient
    f = lambda s: float(P.deadweight_loss(s, None, P.SOLVE(P.subsidized(s))))
    h = 1e-4
    assert float(gradient) == pytest.approx((f(3.0 + h) - f(3.0 - h)) / (2 * h), rel=1e-6)


def fails_beyond(limit):
    """A solver that reports MAX_STEPS once total output exceeds ``limit`` (a region where it 'fails')."""

    def solve(game):
        eq = P.SOLVE(game)
        failed = jnp.sum(eq.strategies) > limit
        return dataclasses.replace(eq, status=jnp.where(failed, Status.MAX_STEPS, eq.status).astype(eq.status.dtype))

    return solve


FAILS_BEYOND_80 = fails_beyond(80.0)  # Q(s) = 4 (90 + s) / 5 > 80 for s > 10


def test_steps_whose_equilibrium_fails_are_rejected_and_the_step_shrinks():
    result = design(P.subsidized, jnp.asarray(0.0), P.deadweight_loss, solve=FAILS_BEYOND_80,
                    optimizer=optax.sgd(5.0), steps=40, progress=False)
    h = result.history
    assert (~h["accepted"]).sum() >= 3  # it kept pushing into the failing region
    assert np.all(h["equilibrium_status"][h["accepted"]] == Status.CONVERGED)
    assert np.all(h["equilibrium_status"][~h["accepted"]] != Status.CONVERGED)
    rejected = np.flatnonzero(~h["accepted"])
    assert np.all(h["step_scale"][rejected[1:]] <= h["step_scale"][rejected[:-1]])  # shrinking while rejected
    assert 0.0 < float(result.params) <= 10.0 and np.isfinite(float(result.params))  # never past the failure
    assert int(result.equilibrium.status) == Status.CONVERGED


def test_a_solver_failing_everywhere_stops_the_run_as_degenerate():
    result = design(P.subsidized, jnp.asarray(9.999), P.deadweight_loss, solve=FAILS_BEYOND_80,
                    optimizer=optax.sgd(5.0), steps=100, max_rejections=5, progress=False)
    assert result.status == Status.DEGENERATE
    assert float(result.params) == pytest.approx(9.999) and len(result.history["accepted"]) < 100


def test_second_call_does_not_recompile():
    run(steps=3)
    size = _design._evaluate._cache_size()
    run(steps=5)
    assert _design._evaluate._cache_size() == size


def test_bounds_are_respected():
    result = run(steps=60, bounds=(0.0, 5.0))
    assert float(result.params) == pytest.approx(5.0)  # welfare grows with s up to 22.5: the bound binds


def test_progress_bar_shows_objective_and_violation(capsys):
    design(P.subsidized, jnp.asarray(0.0), P.deadweight_loss, solve=P.SOLVE, constraints=(P.SPENDING,), steps=3,
           progress=True)
    err = capsys.readouterr().err
    assert "design" in err and "objective=" in err and "violation=" in err


# ---- checkpoints -------------------------------------------------------------------------------


def test_resume_after_sigkill_gives_identical_parameters(tmp_path):
    """A child process running design with a checkpoint is killed with SIGKILL mid-run; run again with the
    same arguments it resumes and ends exactly where an uninterrupted run ends."""
    checkpoint, out = tmp_path / "design.ckpt", tmp_path / "result.npz"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    command = [sys.executable, "-c", P.CHILD, str(checkpoint), str(out)]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        if checkpoint.exists():
            with open(checkpoint, "rb") as f:
                step = pickle.load(f)["step"]
            if step >= 30:
                child.send_signal(signal.SIGKILL)
                killed_at = step
                break
        time.sleep(0.005)
    child.wait()
    assert killed_at is not None, f"the child ended before it could be killed: {child.stderr.read().decode()[-2000:]}"
    assert child.returncode == -signal.SIGKILL and not out.exists()
    with open(checkpoint, "rb") as f:
        assert 30 <= pickle.load(f)["step"] < 400  # interrupted mid-run, progress kept
    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    saved = np.load(out)
    reference = P.resumable_run(None)
    assert np.array_equal(saved["params"], np.asarray(reference.params))  # bit for bit
    assert np.array_equal(saved["objective"], reference.history["objective"])
    assert np.array_equal(saved["multipliers"], reference.multipliers[0])
    assert float(reference.params) == pytest.approx(P.uniform_subsidy(P.BUDGET), rel=1e-4)


def test_a_checkpoint_of_a_different_run_is_refused(tmp_path):
    path = tmp_path / "c.ckpt"
    run(steps=4, checkpoint=path, checkpoint_every=2)
    with pytest.raises(ValueError, match="steps: 4 before, 6 now"):
        run(steps=6, checkpoint=path)
    with pytest.raises(ValueError, match="params0"):
        run(1.0, steps=4, checkpoint=path)
    finished = run(steps=4, checkpoint=path)  # same run: restored from the final checkpoint
    assert float(finished.params) == float(run(steps=4).params)


# ---- bad input ----------------------------------------------------------------------------------


def test_a_game_fn_that_is_not_traceable_is_refused_before_the_loop():
    def untraceable(s):
        return P.subsidized(float(s))  # float() of a tracer

    with pytest.raises(ValueError, match="game_fn must be traceable"):
        design(untraceable, jnp.asarray(0.0), P.deadweight_loss, solve=P.SOLVE, steps=5, progress=False)

    def branching(s, game, eq):
        return P.deadweight_loss(s, game, eq) if s > 0 else 0.0

    with pytest.raises(ValueError, match="objective, constraints"):
        design(P.subsidized, jnp.asarray(0.0), branching, solve=P.SOLVE, steps=5, progress=False)


def test_an_infeasible_budget_is_refused_before_the_loop():
    """Subsidies bounded below by 0 cannot spend less than 0: a budget of -100 is infeasible."""
    with pytest.raises(ValueError, match="constraints cannot be met"):
        run(5.0, constraints=(P.spending_over(-100.0),), bounds=(0.0, jnp.inf), steps=5)
    # The same budget with taxes allowed is feasible: the run goes ahead.
    assert run(5.0, constraints=(P.spending_over(-100.0),), steps=2).params is not None


def test_a_nonconverging_or_nonunique_start_is_refused():
    stingy = lambda game: solve_vi(game, method="extragradient", max_steps=2)
    with pytest.raises(ValueError, match="did not converge"):
        design(P.subsidized, jnp.asarray(0.0), P.deadweight_loss, solve=stingy, steps=5, progress=False)
    nan_gradient = lambda s, game, eq: P.deadweight_loss(s, game, eq) + 0.0 * jnp.sqrt(-1.0 - s)
    with pytest.raises(ValueError, match="not finite"):
        design(P.subsidized, jnp.asarray(0.0), nan_gradient, solve=P.SOLVE, steps=5, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=-1), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(optimizer="adam"), "optimizer"),
    (dict(constraints=(1.0,)), r"constraints\[0\]"),
    (dict(penalty=0.0), "penalty"),
    (dict(bounds=(1.0, 0.0)), "bounds"),
    (dict(bounds=(1.0, 2.0)), "outside bounds"),
    (dict(scenarios=jnp.zeros(0)), "scenarios"),
    (dict(scenario_constraints="all"), "scenario_constraints"),
])
def test_bad_arguments_are_named(kwargs, match):
    options = dict(solve=P.SOLVE, steps=2, progress=False)
    options.update(kwargs)
    with pytest.raises(ValueError, match=match):
        design(P.subsidized, jnp.asarray(0.0), P.deadweight_loss, **options)
    with pytest.raises(ValueError, match="params0"):
        design(P.subsidized, jnp.asarray(np.nan), P.deadweight_loss, solve=P.SOLVE, steps=2, progress=False)
