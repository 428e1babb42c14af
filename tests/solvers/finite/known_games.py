"""Textbook games with their known equilibria (exact fractions)."""

import numpy as np

from games import bimatrix, zero_sum

MATCHING_PENNIES = zero_sum(np.array([[1.0, -1.0], [-1.0, 1.0]]))
MATCHING_PENNIES_EQ = [(np.array([0.5, 0.5]), np.array([0.5, 0.5]))]

ROCK_PAPER_SCISSORS = zero_sum(np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]))
ROCK_PAPER_SCISSORS_EQ = [(np.full(3, 1 / 3), np.full(3, 1 / 3))]

BATTLE_OF_THE_SEXES = bimatrix(np.array([[3.0, 0.0], [0.0, 2.0]]), np.array([[2.0, 0.0], [0.0, 3.0]]))
BATTLE_OF_THE_SEXES_EQ = [
    (np.array([1.0, 0.0]), np.array([1.0, 0.0])),
    (np.array([0.0, 1.0]), np.array([0.0, 1.0])),
    (np.array([0.6, 0.4]), np.array([0.4, 0.6])),
]

# B. von Stengel (2002), "Computing equilibria for two-person games", the 3x2 example of Figure 2.
VON_STENGEL_3X2 = bimatrix(
    np.array([[3.0, 3.0], [2.0, 5.0], [0.0, 6.0]]),
    np.array([[3.0, 2.0], [2.0, 6.0], [3.0, 1.0]]),
)
VON_STENGEL_3X2_EQ = [
    (np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.0])),
    (np.array([4 / 5, 1 / 5, 0.0]), np.array([2 / 3, 1 / 3])),
    (np.array([0.0, 1 / 3, 2 / 3]), np.array([1 / 3, 2 / 3])),
]

# Nondegenerate games with their complete equilibrium sets, for parametrized tests.
GAMES_WITH_EQUILIBRIA = [
    (MATCHING_PENNIES, MATCHING_PENNIES_EQ),
    (ROCK_PAPER_SCISSORS, ROCK_PAPER_SCISSORS_EQ),
    (BATTLE_OF_THE_SEXES, BATTLE_OF_THE_SEXES_EQ),
    (VON_STENGEL_3X2, VON_STENGEL_3X2_EQ),
]

# A degenerate game: the row player's pure strategy 0 has two pure best responses.
# Equilibria form a continuum {(e0, (p, 1-p)) : p >= 1/2}... plus (e1, e1); Lemke-Howson must still
# return an equilibrium from every starting label.
DEGENERATE = bimatrix(np.array([[1.0, 1.0], [0.0, 2.0]]), np.array([[1.0, 1.0], [0.0, 2.0]]))


def coordination(n: int):
    """The n x n pure coordination game A = B = I: 2^n - 1 equilibria, uniform on each nonempty support."""
    return bimatrix(np.eye(n), np.eye(n))
