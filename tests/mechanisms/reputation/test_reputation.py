"""Reputation rules: bounded, monotone, convergent, whitewashing-proof; EigenTrust against numpy."""

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mechanisms import (
    BetaEvidence,
    beta_score,
    beta_update,
    eigentrust,
    ewma_reliability,
    penalize,
    price_tier,
)

T = 30  # rounds of history, fixed so examples share one shape
histories = st.tuples(st.integers(0, 2**32 - 1), st.floats(0.05, 1.0), st.booleans())


def run_beta(positive, negative, forgetting):
    evidence = BetaEvidence.fresh(positive.shape[1:])
    scores = []
    for t in range(positive.shape[0]):
        evidence = beta_update(evidence, positive[t], negative[t], forgetting=forgetting)
        scores.append(beta_score(evidence))
    return evidence, np.asarray(jnp.stack(scores))


@given(histories)
def test_beta_bounded_and_monotone(history):
    seed, forgetting, integral = history
    rng = np.random.default_rng(seed)
    positive = rng.integers(0, 3, (T, 4)).astype(float) if integral else rng.random((T, 4))
    negative = rng.integers(0, 3, (T, 4)).astype(float) if integral else rng.random((T, 4))
    evidence, scores = run_beta(positive, negative, forgetting)
    assert np.all((scores > 0) & (scores < 1))
    more_good = beta_score(beta_update(evidence, jnp.ones(4), jnp.zeros(4), forgetting=forgetting))
    more_bad = beta_score(beta_update(evidence, jnp.zeros(4), jnp.ones(4), forgetting=forgetting))
    neutral = beta_score(beta_update(evidence, jnp.zeros(4), jnp.zeros(4), forgetting=forgetting))
    assert np.all(np.asarray(more_good) > np.asarray(neutral))
    assert np.all(np.asarray(more_bad) < np.asarray(neutral))


@given(st.floats(0.0, 1.0), st.floats(0.5, 0.95))
def test_beta_converges_to_closed_form_under_stationary_behavior(p, forgetting):
    """Feedback p positive and 1 - p negative each round: r -> p / (1 - lam), s -> (1 - p) / (1 - lam)."""
    positive = np.full((400, 1), p)
    _, scores = run_beta(positive, 1 - positive, forgetting)
    limit = (p / (1 - forgetting) + 1) / (1 / (1 - forgetting) + 2)
    assert abs(scores[-1, 0] - limit) <= 1e-9
    # The approach is monotone: every round of the same behavior moves the score closer.
    errors = np.abs(scores[:, 0] - limit)
    assert np.all(np.diff(errors) <= 1e-15)


def honest_history(draw_seed, forgetting):
    """An honest agent: each round at least as much positive as negative feedback."""
    rng = np.random.default_rng(draw_seed)
    negative = rng.random((T, 1)) * 0.5
    positive = negative + rng.random((T, 1)) * 0.5
    return positive, negative


@given(st.integers(0, 2**32 - 1), st.floats(0.05, 1.0))
def test_beta_whitewashing_never_beats_an_established_honest_agent(seed, forgetting):
    positive, negative = honest_history(seed, forgetting)
    _, scores = run_beta(positive, negative, forgetting)
    fresh = float(beta_score(BetaEvidence.fresh((1,)))[0])
    assert fresh == 0.5
    assert np.all(scores >= fresh - 1e-15)


def test_whitewashing_search_finds_the_violation_of_an_optimistic_ewma():
    """EWMA started at 1 (optimistic newcomers) is beaten by whitewashing: the search finds it;
    the neutral start of 1/2 is not."""
    def fresh_beats_honest(args, initial):
        seed, _ = args
        rng = np.random.default_rng(seed)
        outcomes = 0.5 + 0.5 * rng.random((T, 1))  # honest: reliability >= 1/2 every round
        history = np.asarray(ewma_reliability(outcomes, alpha=0.2, initial=initial))
        return bool(initial > history[-1, 0] + 1e-12)

    search = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    found = find(st.tuples(st.integers(0, 2**32 - 1), st.just(0)), lambda a: fresh_beats_honest(a, 1.0),
                 settings=search)
    assert fresh_beats_honest(found, 1.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        outcomes = 0.5 + 0.5 * rng.random((T, 1))
        assert np.asarray(ewma_reliability(outcomes, alpha=0.2, initial=0.5))[-1, 0] >= 0.5


def random_trust(seed, n=8, zero_row=True):
    rng = np.random.default_rng(seed)
    C = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    if zero_row:
        C[0] = 0.0  # a peer that trusts nobody
    p = np.zeros(n)
    p[[1, 2]] = 0.5
    return C, p


@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.9))
def test_eigentrust_equals_numpy_principal_eigenvector(seed, damping):
    C, p = random_trust(seed)
    result = eigentrust(C, p, damping=damping)
    t = np.asarray(result.trust)
    assert bool(result.converged)
    assert np.all(t >= 0) and abs(t.sum() - 1) <= 1e-12
    rows = C.sum(1, keepdims=True)
    Cn = np.where(rows > 0, C / np.where(rows > 0, rows, 1), p[None, :])
    M = (1 - damping) * Cn.T + damping * np.outer(p, np.ones(len(p)))
    w, V = np.linalg.eig(M)
    v = np.real(V[:, np.argmax(np.real(w))])
    v = v / v.sum()
    np.testing.assert_allclose(t, v, atol=1e-10)


def test_eigentrust_converges_geometrically_at_the_damping_rate():
    C, p = random_trust(3)
    damping = 0.3
    exact = np.asarray(eigentrust(C, p, damping=damping).trust)
    start_error = np.abs(p - exact).sum()
    for k in [1, 5, 10, 20]:
        t = np.asarray(eigentrust(C, p, damping=damping, max_steps=k).trust)
        assert np.abs(t - exact).sum() <= (1 - damping) ** k * start_error + 1e-13


@given(st.integers(0, 2**32 - 1))
def test_colluders_cannot_exceed_what_flows_into_them(seed):
    """Whatever trust colluders place in each other, t(G) <= ((1 - a) inflow(G) + a p(G)) / a,
    with equality when they trust only each other."""
    damping = 0.2
    C, p = random_trust(seed, zero_row=False)
    group = [5, 6, 7]
    C[np.ix_(group, group)] = 1e3  # heavy mutual praise
    C[np.ix_(group, [0, 1, 2, 3, 4])] = 0.0  # and nothing outside
    t = np.asarray(eigentrust(C, p, damping=damping).trust)
    Cn = C / C.sum(1, keepdims=True)
    outside = [0, 1, 2, 3, 4]
    inflow = sum(t[j] * Cn[j, group].sum() for j in outside)
    bound = ((1 - damping) * inflow + damping * p[group].sum()) / damping
    assert t[group].sum() <= bound + 1e-12
    assert t[group].sum() == pytest.approx(bound, abs=1e-10)


def test_penalty_and_price_tiers():
    rep = jnp.array([0.9, 0.9, 0.2])
    np.testing.assert_allclose(penalize(rep, jnp.array([True, False, False]), penalty=0.5), [0.45, 0.9, 0.2])
    tiers = price_tier(jnp.array([0.1, 0.5, 0.95]), jnp.array([0.3, 0.8]), jnp.array([1.2, 1.0, 0.9]))
    np.testing.assert_allclose(tiers, [1.2, 1.0, 0.9])


def test_bad_input():
    with pytest.raises(ValueError, match="forgetting"):
        beta_update(BetaEvidence.fresh((2,)), jnp.ones(2), jnp.ones(2), forgetting=0.0)
    with pytest.raises(ValueError, match="nonnegative"):
        beta_update(BetaEvidence.fresh((2,)), -jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match="square"):
        eigentrust(np.ones((2, 3)))
    with pytest.raises(ValueError, match="sum to 1"):
        eigentrust(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        eigentrust(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="increasing"):
        price_tier(jnp.array([0.5]), jnp.array([0.8, 0.3]), jnp.array([1.0, 1.0, 1.0]))


def test_bad_shapes_and_values_are_refused_before_jit():
    fresh = BetaEvidence.fresh((3,))
    with pytest.raises(ValueError, match=r"positive must have the evidence's shape \(3,\)"):
        beta_update(fresh, jnp.ones(2), jnp.ones(3))
    with pytest.raises(ValueError, match=r"negative must have the evidence's shape \(3,\)"):
        beta_update(fresh, jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match="positive must have the evidence's shape"):
        beta_update(fresh, jnp.ones((2, 3)), jnp.ones(3))  # would silently grow the evidence
    with pytest.raises(ValueError, match="share a shape"):
        beta_update(BetaEvidence(jnp.zeros(3), jnp.zeros(2)), jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="evidence must be a BetaEvidence"):
        beta_update((jnp.zeros(3), jnp.zeros(3)), jnp.ones(3), jnp.ones(3))
    broadcast = beta_update(fresh, 1.0, jnp.zeros(3))  # one round's feedback for everyone is fine
    np.testing.assert_allclose(broadcast.positive, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="outcomes must have a time axis"):
        ewma_reliability(0.5)
    with pytest.raises(ValueError, match="reputation must be finite"):
        price_tier(jnp.array([0.5, jnp.nan]), jnp.array([0.3]), jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="reputation must be finite"):
        penalize(jnp.array([jnp.nan]), jnp.array([True]))
    with pytest.raises(ValueError, match="tol"):
        eigentrust(np.ones((2, 2)), tol=-1.0)
    with pytest.raises(ValueError, match="max_steps"):
        eigentrust(np.ones((2, 2)), max_steps=0)
