"""Shapley values: closed forms (Harsanyi dividends), the four axioms, and Monte Carlo agreement."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mechanisms import monte_carlo_shapley, proportional_rewards, shapley_values

N = 6


def dividend_game(dividends):
    """v(S) = sum_T d_T [T subset of S]: Shapley value phi_i = sum_{T containing i} d_T / |T| (Harsanyi 1963)."""
    coalitions = [T for T in dividends]

    def v(S):
        total = 0.0
        for T in coalitions:
            total = total + dividends[T] * jnp.all(S[..., list(T)], axis=-1).astype(float)
        return total

    def closed_form(n):
        phi = np.zeros(n)
        for T, d in dividends.items():
            phi[list(T)] += d / len(T)
        return phi

    return v, closed_form


def _dividends(seed, n=N):
    rng = np.random.default_rng(seed)
    subsets = [T for k in range(1, n + 1) for T in itertools.combinations(range(n), k)]
    chosen = rng.choice(len(subsets), size=8, replace=False)
    return {subsets[c]: float(rng.normal()) for c in chosen}


def dividend_games():
    return st.integers(0, 2**32 - 1).map(_dividends)


@given(dividend_games())
def test_exact_equals_harsanyi_closed_form_and_efficiency(dividends):
    v, closed_form = dividend_game(dividends)
    phi = np.asarray(shapley_values(v, N))
    np.testing.assert_allclose(phi, closed_form(N), atol=1e-12)
    grand = float(v(jnp.ones(N, bool)))
    empty = float(v(jnp.zeros(N, bool)))
    assert phi.sum() == pytest.approx(grand - empty, abs=1e-12)  # efficiency


@given(dividend_games(), dividend_games())
def test_additivity(d1, d2):
    v1, _ = dividend_game(d1)
    v2, _ = dividend_game(d2)
    both = shapley_values(lambda S: v1(S) + v2(S), N)
    np.testing.assert_allclose(both, shapley_values(v1, N) + shapley_values(v2, N), atol=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_symmetry_and_null_player(seed):
    rng = np.random.default_rng(seed)
    w = rng.random(N)
    w[1] = w[0]  # players 0 and 1 are symmetric
    w[N - 1] = 0.0  # player N-1 is null
    v = lambda S: jnp.sqrt(jnp.sum(jnp.where(S, w, 0.0), axis=-1))  # concave "model value" of pooled data
    phi = np.asarray(shapley_values(v, N))
    assert phi[0] == pytest.approx(phi[1], abs=1e-12)
    assert abs(phi[N - 1]) <= 1e-12


def test_sixteen_players_closed_form():
    n = 16
    w = np.arange(1, n + 1, dtype=float)
    phi = shapley_values(lambda S: jnp.sum(jnp.where(S, w, 0.0), axis=-1), n)  # additive game
    np.testing.assert_allclose(phi, w, atol=1e-9)


def test_monte_carlo_within_three_standard_errors():
    """Over 20 random games x 6 players, the estimates fall within 3 standard errors of the exact
    values at the normal rate (99.7% expected; >= 95% required) and never beyond 5."""
    z = []
    for seed in range(20):
        dividends = _dividends(seed)
        v, closed_form = dividend_game(dividends)
        estimate, se = monte_carlo_shapley(v, N, key=jax.random.key(seed), num_permutations=2000)
        diff = np.abs(np.asarray(estimate) - closed_form(N))
        se = np.asarray(se)
        assert np.all(diff[se == 0] <= 1e-12)  # a constant marginal is estimated exactly
        z.extend(diff[se > 0] / se[se > 0])
    z = np.array(z)
    assert np.mean(z <= 3) >= 0.95 and z.max() <= 5


def equal_split(v, n):
    """A rule known to break the null-player axiom: everyone gets v(N) / n."""
    return jnp.full(n, v(jnp.ones(n, bool)) / n)


def test_null_player_search_finds_the_violation_of_equal_split():
    def null_player_gets_something(dividends):
        v, _ = dividend_game(dividends)
        involved = {i for T in dividends for i in T}
        nulls = [i for i in range(N) if i not in involved]
        return bool(nulls) and abs(float(equal_split(v, N)[nulls[0]])) > 1e-9

    found = find(dividend_games(), null_player_gets_something,
                 settings=settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck)))
    v, _ = dividend_game(found)
    assert abs(float(shapley_values(v, N)[[i for i in range(N) if all(i not in T for T in found)][0]])) <= 1e-12


def test_proportional_and_bad_input():
    np.testing.assert_allclose(proportional_rewards(jnp.array([1.0, 3.0, 0.0]), 8.0), [2.0, 6.0, 0.0])
    np.testing.assert_allclose(proportional_rewards(jnp.zeros(4), 8.0), [2.0] * 4)
    with pytest.raises(ValueError, match="nonnegative"):
        proportional_rewards(jnp.array([1.0, -1.0]), 1.0)
    with pytest.raises(ValueError, match="monte_carlo_shapley"):
        shapley_values(lambda S: jnp.sum(S, -1).astype(float), 17)
    with pytest.raises(ValueError, match="value_fn"):
        shapley_values(lambda S: jnp.sum(S).astype(float), 3)


@given(dividend_games())
def test_clarke_pivot_equals_dividend_closed_form(dividends):
    """v(N) - v(N minus i) = sum of the dividends of coalitions containing i."""
    from mechanisms import clarke_pivot_rewards

    v, _ = dividend_game(dividends)
    expected = np.zeros(N)
    for T, d in dividends.items():
        expected[list(T)] += d
    np.testing.assert_allclose(clarke_pivot_rewards(v, N), expected, atol=1e-12)


def test_search_finds_clarke_pivot_deficit_but_shapley_stays_budget_balanced():
    from mechanisms import clarke_pivot_rewards

    def deficit(dividends):
        v, _ = dividend_game(dividends)
        return float(jnp.sum(clarke_pivot_rewards(v, N))) > float(v(jnp.ones(N, bool))) + 1e-9

    found = find(dividend_games(), deficit,
                 settings=settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck)))
    v, _ = dividend_game(found)
    assert deficit(found)
    assert float(jnp.sum(shapley_values(v, N))) == pytest.approx(float(v(jnp.ones(N, bool))), abs=1e-12)
