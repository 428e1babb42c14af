"""Atomic checkpoints: round trip of optimizer states and PRNG keys, refusal of a different run."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from solvers._core._checkpoint import Checkpointer, config_difference, fingerprint


def test_round_trip_restores_arrays_keys_and_optimizer_state(tmp_path):
    params = {"w": jnp.arange(3.0), "b": jnp.float64(2.0)}
    state = {"params": params, "opt": optax.adam(1e-2).init(params), "key": jax.random.key(7),
             "raw_key": jax.random.PRNGKey(3), "step": 12, "history": [1.5, 2.5]}
    ckpt = Checkpointer(tmp_path / "run.ckpt", config={"steps": 100, "seed": 0}, every=5)
    assert not ckpt.save(3, state)  # not due
    assert ckpt.save(10, state)
    step, restored = Checkpointer(tmp_path / "run.ckpt", config={"steps": 100, "seed": 0}).restore()
    assert step == 10
    np.testing.assert_array_equal(restored["params"]["w"], params["w"])
    assert jax.tree_util.tree_structure(restored["opt"]) == jax.tree_util.tree_structure(state["opt"])
    np.testing.assert_array_equal(jax.random.key_data(restored["key"]), jax.random.key_data(state["key"]))
    np.testing.assert_array_equal(jax.random.uniform(restored["key"]), jax.random.uniform(state["key"]))
    assert restored["history"] == [1.5, 2.5] and restored["step"] == 12
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]  # no temporary file left behind


def test_a_different_run_is_refused_with_the_difference_named(tmp_path):
    Checkpointer(tmp_path / "c", config={"steps": 100, "lr": 0.1}).save(0, {"x": jnp.zeros(2)})
    with pytest.raises(ValueError, match="steps: 100 before, 200 now"):
        Checkpointer(tmp_path / "c", config={"steps": 200, "lr": 0.1}).restore()
    assert config_difference({"a": 1}, {"a": 1}) == []


def test_unreadable_file_is_a_clear_error_and_no_path_means_no_checkpoint(tmp_path):
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="cannot be read"):
        Checkpointer(tmp_path / "junk", config={}).restore()
    off = Checkpointer(None, config={})
    assert off.restore() is None and not off.save(0, {}, force=True)
    with pytest.raises(ValueError, match="positive integer"):
        Checkpointer(None, config={}, every=0)


def test_fingerprint_tells_values_apart():
    assert fingerprint({"a": jnp.ones(2)}) == fingerprint({"a": jnp.ones(2)})
    assert fingerprint({"a": jnp.ones(2)}) != fingerprint({"a": jnp.array([1.0, 1.0 + 1e-12])})
