"""train_auction: revenue rises, the regret constraint bites, runs resume exactly after a SIGKILL.

The full targets (Duetting et al. 2019: RochetNet at the Manelli-Vincent optimum, RegretNet at
Myerson's) are in ``test_auction_targets.py`` (slow) and ``benchmarks/bench_auctions.py``.
"""

import os
import pickle
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import auction_regret, auction_revenue
from mechanisms import RegretNet, RochetNet
from solvers import Status, train_auction

from . import kill_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def single_item(key, n):
    return jax.random.uniform(key, (n, 2, 1))


def two_items(key, n):
    return jax.random.uniform(key, (n, 1, 2))


def test_rochetnet_training_raises_revenue():
    rule = RochetNet(2, menu_size=32)
    values = two_items(jax.random.key(9), 20_000)
    before = auction_revenue(rule, rule.init(jax.random.key(0)), values)
    params, history = train_auction(rule, two_items, key=jax.random.key(0), steps=300, batch_size=256,
                                    learning_rate=1e-2, log_every=100, progress=False)
    after = auction_revenue(rule, params, values)
    assert history.status == Status.CONVERGED and (history.regret == 0).all()
    assert float(after) > float(before) + 0.1 and float(after) > 0.45  # optimum 0.549
    assert history.objective[-1] > history.objective[0]


def test_the_regret_constraint_lowers_regret_that_revenue_alone_would_buy():
    rule = RegretNet(2, 1, hidden=(16, 16))
    common = dict(key=jax.random.key(1), steps=400, batch_size=64, misreport_steps=5, log_every=100,
                  support=(0.0, 1.0), progress=False, learning_rate=3e-3)
    constrained, history = train_auction(rule, single_item, penalty=5.0, penalty_increment=5.0, penalty_every=100,
                                         multiplier_every=20, **common)
    greedy, greedy_history = train_auction(rule, single_item, penalty=0.0, penalty_increment=0.0,
                                           multiplier_init=0.0, **common)
    values = single_item(jax.random.key(2), 128)
    regret = float(auction_regret(rule, constrained, values, support=(0.0, 1.0), restarts=0, steps=0).mean())
    greedy_regret = float(auction_regret(rule, greedy, values, support=(0.0, 1.0), restarts=0, steps=0).mean())
    assert greedy_regret > 0.05  # revenue alone: bidders gain by shading their bids ...
    assert regret < 0.25 * greedy_regret  # ... the augmented Lagrangian removes most of it
    assert history.regret[-1] < history.regret[0]  # regret falls during training ...
    assert history.objective[-1] > 0.25  # ... while revenue stays well above a random rule's
    assert history.multipliers[-1].min() > history.multipliers[0].min()  # multipliers moved up
    assert greedy_history.objective[-1] > history.objective[-1]  # the constraint costs revenue


def test_resume_after_sigkill_gives_the_uninterrupted_parameters(tmp_path):
    path = tmp_path / "run.ckpt"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen([sys.executable, "-m", "tests.solvers.design.kill_run", str(path)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not path.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate()
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    with open(path, "rb") as f:
        killed_at = pickle.load(f)["step"]
    assert 0 < killed_at < kill_run.STEPS  # killed mid-run, after a checkpoint

    resumed, resumed_history = kill_run.run(path)
    straight, straight_history = kill_run.run(None)
    for a, b in zip(jax.tree_util.tree_leaves(resumed), jax.tree_util.tree_leaves(straight)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed_history.objective, straight_history.objective)
    np.testing.assert_array_equal(resumed_history.multipliers, straight_history.multipliers)


def test_a_finished_run_is_returned_from_its_checkpoint_and_another_run_is_refused(tmp_path):
    path = tmp_path / "short.ckpt"
    first, first_history = kill_run.run(path, steps=40)
    again, again_history = kill_run.run(path, steps=40)  # nothing left to do: the saved result
    for a, b in zip(jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first_history.objective, again_history.objective)
    with pytest.raises(ValueError, match="steps: 40 before, 80 now"):
        kill_run.run(path, steps=80)
    with pytest.raises(ValueError, match="batch_size: 16 before, 32 now"):
        train_auction(RegretNet(2, 1, hidden=(8,)), kill_run.draw, key=jax.random.key(3), steps=40, batch_size=32,
                      misreport_steps=3, log_every=10, support=(0.0, 1.0), checkpoint=path, progress=False)


def test_nonfinite_training_is_reported_not_returned_as_a_result():
    def broken(key, n):
        return jnp.where(jax.random.uniform(key, (n, 1, 2)) > 0.5, jnp.inf, 0.5)

    params, history = train_auction(RochetNet(2, menu_size=4), broken, key=jax.random.key(0), steps=20, log_every=10,
                                    support=(0.0, 1.0), progress=False)
    assert history.status == Status.NONFINITE and len(history.steps) == 0
    assert all(bool(jnp.isfinite(x).all()) for x in jax.tree_util.tree_leaves(params))


def test_bad_arguments_are_named():
    rule = RegretNet(2, 1, hidden=(4,))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        train_auction(rule, single_item, key=key, steps=0)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 1\)"):
        train_auction(rule, two_items, key=key, steps=1)
    with pytest.raises(ValueError, match="sample_values must be a function"):
        train_auction(rule, None, key=key, steps=1)
    with pytest.raises(ValueError, match="checkpoint_every"):
        train_auction(rule, single_item, key=key, steps=10, log_every=10, checkpoint_every=15)
    with pytest.raises(ValueError, match="key must be a jax.random key"):
        train_auction(rule, single_item, key="seed", steps=1)
    with pytest.raises(ValueError, match="support must be finite with upper > lower"):
        train_auction(rule, single_item, key=key, steps=1, support=(1.0, 0.0))
    with pytest.raises(ValueError, match="learning_rate"):
        train_auction(rule, single_item, key=key, steps=1, learning_rate=-1.0)
