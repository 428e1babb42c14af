import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mechanisms import honest_validation_is_best_response, honesty_margin, slash, staking_rewards


def test_rewards_proportional_to_stake_and_slashing():
    np.testing.assert_allclose(staking_rewards([10.0, 30.0], 4.0), [1.0, 3.0])
    np.testing.assert_allclose(slash([10.0, 30.0], [False, True], fraction=0.5), [10.0, 15.0])


@given(st.integers(0, 2**32 - 1))
def test_condition_matches_monte_carlo_expected_utilities(seed):
    """Simulate detection draws: the deviation pays on average exactly g + (1-p) R_i - p f s_i,
    so honesty is a best response exactly when the closed-form margin is >= 0."""
    rng = np.random.default_rng(seed)
    stakes = rng.random(4) * 100
    reward, gain = 10.0, rng.random() * 30
    p, f = rng.random(), rng.random()
    share = np.asarray(staking_rewards(stakes, reward))
    draws = rng.random((200_000, 1)) < p
    deviate = gain + np.where(draws, -f * stakes, share)
    simulated = deviate.mean(0) - share
    se = deviate.std(0) / np.sqrt(draws.shape[0])
    margin = np.asarray(honesty_margin(stakes, reward, gain=gain, detection_probability=p, slash_fraction=f))
    np.testing.assert_array_less(np.abs(-margin - simulated), 5 * se + 1e-9)
    clear = np.abs(margin) > 6 * se  # where the simulation is conclusive, the verdicts agree
    verdict = np.asarray(honest_validation_is_best_response(stakes, reward, gain=gain, detection_probability=p,
                                                            slash_fraction=f))
    np.testing.assert_array_equal(verdict[clear], (simulated <= 0)[clear])


def test_without_slashing_or_detection_a_large_gain_breaks_honesty():
    assert not bool(honest_validation_is_best_response([50.0], 1.0, gain=5.0, detection_probability=0.0,
                                                       slash_fraction=1.0)[0])
    assert bool(honest_validation_is_best_response([50.0], 1.0, gain=5.0, detection_probability=0.5,
                                                   slash_fraction=0.5)[0])


def test_bad_input():
    with pytest.raises(ValueError, match="stakes"):
        staking_rewards([-1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="fraction"):
        slash([1.0], [True], fraction=1.5)
    with pytest.raises(ValueError, match="detection_probability"):
        honesty_margin([1.0], 1.0, gain=0.0, detection_probability=2.0, slash_fraction=0.1)


def test_nothing_staked_is_refused():
    """A split in proportion to stake is undefined when nothing is staked (the old rule split equally)."""
    for stakes in ([0.0, 0.0], np.array([[1.0, 2.0], [0.0, 0.0]])):
        with pytest.raises(ValueError, match="stakes must not all be zero"):
            staking_rewards(stakes, 1.0)
        with pytest.raises(ValueError, match="stakes must not all be zero"):
            honesty_margin(stakes, 1.0, gain=0.1, detection_probability=0.5, slash_fraction=0.5)
        with pytest.raises(ValueError, match="stakes must not all be zero"):
            honest_validation_is_best_response(stakes, 1.0, gain=0.1, detection_probability=0.5, slash_fraction=0.5)
    np.testing.assert_array_equal(slash([0.0, 0.0], [True, False], fraction=0.5), [0.0, 0.0])  # harmless
    with pytest.raises(ValueError, match="reward must be finite"):
        staking_rewards([1.0, 2.0], np.inf)
    with pytest.raises(ValueError, match="gain must be finite"):
        honesty_margin([1.0], 1.0, gain=np.nan, detection_probability=0.5, slash_fraction=0.5)
    with pytest.raises(ValueError, match="stakes"):
        staking_rewards(np.zeros((2, 0)), 1.0)


def test_a_batch_of_markets_with_their_own_pools_and_gains():
    stakes, pools = np.array([[1.0, 3.0], [2.0, 2.0]]), np.array([4.0, 8.0])
    np.testing.assert_allclose(staking_rewards(stakes, pools), [[1.0, 3.0], [4.0, 4.0]])
    margin = honesty_margin([1.0, 3.0], 4.0, gain=np.array([0.1, 5.0]), detection_probability=0.5,
                            slash_fraction=0.5)
    np.testing.assert_allclose(margin, [0.5 * (1.0 + 0.5) - 0.1, 0.5 * (3.0 + 1.5) - 5.0])
    with pytest.raises(ValueError, match="reward must be finite"):
        staking_rewards(stakes, np.array([4.0, np.nan]))
