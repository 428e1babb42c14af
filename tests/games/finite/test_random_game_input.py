"""random_game refuses shapes that are not tuples of non-negative integers, naming the argument (issue 16)."""

import jax
import numpy as np
import pytest

from games import read_nfg, random_game, write_nfg


@pytest.mark.parametrize("num_actions", [(2, -1), (2.5, 2), (2, 0), (True, 2), "ab", 3])
def test_bad_num_actions(num_actions):
    with pytest.raises(ValueError, match="num_actions|at least one action"):
        random_game(jax.random.key(0), num_actions)


@pytest.mark.parametrize("batch_shape", [(-1,), (2.0,), (3, -2), 4])
def test_bad_batch_shape(batch_shape):
    with pytest.raises(ValueError, match="batch_shape"):
        random_game(jax.random.key(0), (2, 2), batch_shape=batch_shape)


def test_numpy_integers_and_an_empty_batch_are_fine():
    game = random_game(jax.random.key(0), (np.int64(2), 3), batch_shape=(np.int32(4), 0))
    assert game.num_actions == (2, 3) and game.batch_shape == (4, 0)


def test_read_nfg_docstring_example_runs(tmp_path):
    path = tmp_path / "game.nfg"
    write_nfg(random_game(jax.random.key(1), (2, 3)), path)
    assert read_nfg(path).num_actions == (2, 3)
