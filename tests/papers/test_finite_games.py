import numpy as np

from papers import load_all
from papers.finite_games import equilibrium_counts


def test_expected_pure_equilibria_is_one_for_independent_payoffs():
    """Closed form: with i.i.d. continuous payoffs each of the m*n profiles is a pure equilibrium
    with probability 1/(m n), so the expected count is exactly 1."""
    total, pure = equilibrium_counts(4, 0.0, 600, seed=3)
    se = pure.std(ddof=1) / np.sqrt(len(pure))
    assert abs(pure.mean() - 1.0) <= 3 * se
    assert np.all(total >= pure) and np.all(total % 2 == 1)  # nondegenerate games: an odd number


def test_common_interest_has_more_pure_equilibria():
    _, low = equilibrium_counts(4, -0.8, 300, seed=1)
    _, high = equilibrium_counts(4, 0.8, 300, seed=2)
    assert high.mean() > low.mean() + 0.5


def test_figure_runs_and_writes_files(tmp_path):
    figures = load_all()
    assert "equilibrium_counts" in figures
    paths = figures["equilibrium_counts"](str(tmp_path), quick=True)
    assert all((tmp_path / p.split("/")[-1]).stat().st_size > 0 for p in paths)
