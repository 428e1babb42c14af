"""A second call of each main solver on new data of the same shape compiles nothing (optax's habit)."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import games
import solvers

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compilations():
    """Count XLA backend compilations inside the block (jax.monitoring's compile-duration event)."""
    count = [0]

    def listener(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            count[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield count
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def finite_game(seed):
    return games.random_game(jax.random.key(seed), (3, 3))


def energy_game(seed):
    upper = np.random.default_rng(seed).uniform(0.5, 1.5, (3, 4))
    return games.demand_response_game(np.zeros((3, 4)), upper, upper.sum(1) / 2, a=0.5, b=0.1, billing="hourly")


def cournot(seed):
    grid = games.ieee14()
    import dataclasses
    grid = dataclasses.replace(grid, capacity=jnp.full(grid.num_lines, 0.4 + 0.1 * seed))
    return games.network_cournot_game(grid, [0, 1, 2], cost_linear=[1.0, 2.0, 3.0], demand_intercept=10.0,
                                      demand_slope=2.0)


CASES = {
    "lemke_howson": (finite_game, solvers.lemke_howson),
    "support_enumeration": (finite_game, solvers.support_enumeration),
    "zero_sum_lp": (lambda s: games.zero_sum(jax.random.normal(jax.random.key(s), (3, 3))), solvers.zero_sum_lp),
    "regret_matching": (finite_game, lambda g: solvers.regret_matching(g, max_steps=50)),
    "hedge": (finite_game, lambda g: solvers.hedge(g, max_steps=50)),
    "fictitious_play": (finite_game, lambda g: solvers.fictitious_play(g, max_steps=50)),
    "replicator_dynamics": (finite_game, lambda g: solvers.replicator_dynamics(g, max_steps=50)),
    "logit_qre": (finite_game, lambda g: solvers.logit_qre(g, 2.0)),
    "qre_homotopy": (finite_game, lambda g: solvers.qre_homotopy(g, max_steps=200)),
    "solve_vi": (energy_game, lambda g: solvers.solve_vi(g, max_steps=200)),
    "solve_vi_newton": (energy_game, lambda g: solvers.solve_vi(g, method="semismooth_newton", max_steps=20)),
    "solve_gne": (cournot, lambda g: solvers.solve_gne(g, max_steps=200)),  # interior point (the default)
    "solve_gne_extragradient": (cournot, lambda g: solvers.solve_gne(g, method="extragradient", max_steps=200)),
    "solve_gne_newton": (cournot, lambda g: solvers.solve_gne(g, method="semismooth_newton", max_steps=50)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_second_call_compiles_nothing(name):
    make, solve = CASES[name]
    jax.block_until_ready(solve(make(0)))
    with count_compilations() as compiled:
        jax.block_until_ready(solve(make(1)))
    assert compiled[0] == 0, f"{name} recompiled {compiled[0]} time(s) on new data of the same shape"


def test_the_counter_sees_a_compilation():
    """The check can fail: a fresh shape compiles."""
    with count_compilations() as compiled:
        jax.block_until_ready(solvers.lemke_howson(games.random_game(jax.random.key(0), (7, 5))))
    assert compiled[0] > 0


@pytest.mark.parametrize("solve", [
    lambda g, k: solvers.solve_vi(energy_game(g), method="interior_point", max_steps=k),
    lambda g, k: solvers.solve_vi(energy_game(g), method="extragradient", max_steps=100 * k),
    lambda g, k: solvers.solve_vi(energy_game(g), method="semismooth_newton", max_steps=k),
    lambda g, k: solvers.solve_gne(cournot(g), method="interior_point", max_steps=k),
    lambda g, k: solvers.solve_gne(cournot(g), method="extragradient", max_steps=10 * k),
    lambda g, k: solvers.solve_gne(cournot(g), method="semismooth_newton", max_steps=k),
], ids=["solve_vi", "solve_vi_extragradient", "solve_vi_newton", "solve_gne", "solve_gne_extragradient",
        "solve_gne_newton"])
def test_a_new_iteration_budget_compiles_nothing(solve):
    """max_steps is traced: a MAX_STEPS check after a solve reuses its program."""
    full = solve(0, 100)
    with count_compilations() as compiled:
        short = solve(0, 1)
    assert compiled[0] == 0
    assert int(full.status) == solvers.Status.CONVERGED and int(short.status) == solvers.Status.MAX_STEPS
    assert int(short.iterations) < int(full.iterations)


def test_a_budget_beyond_int32_still_runs():
    """The traced budget is JAX's default integer (int64 here), as the static bound was: no overflow."""
    for method in ("extragradient", "interior_point"):
        eq = solvers.solve_vi(energy_game(0), method=method, max_steps=2**31 + 5)
        assert int(eq.status) == solvers.Status.CONVERGED
