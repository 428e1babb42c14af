"""Independent implementations used as test oracles (pygambit: exact rational enumeration)."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pygambit as gbt

from games import NormalFormGame, write_nfg


def to_gambit(game: NormalFormGame):
    """The same game in pygambit, through a payoff-version .nfg file (exact decimals)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "game.nfg")
        write_nfg(game, path)
        return gbt.read_nfg(path)


def profile_to_arrays(game, eq) -> tuple[np.ndarray, ...]:
    return tuple(np.array([float(v) for _, v in eq[p]]) for p in game.players)


def gambit_all_equilibria(game: NormalFormGame) -> list[tuple[np.ndarray, ...]]:
    """All extreme equilibria by Gambit's enummixed (rational arithmetic on small games)."""
    g = to_gambit(game)
    m, n = game.num_actions
    result = gbt.nash.enummixed_solve(g, rational=m * n <= 25)
    return [profile_to_arrays(g, eq) for eq in result.equilibria]


def same_profile(p, q, atol=1e-7) -> bool:
    return all(np.allclose(a, b, atol=atol) for a, b in zip(p, q))


def profile_sets_equal(ps, qs, atol=1e-7) -> bool:
    if len(ps) != len(qs):
        return False
    return all(any(same_profile(p, q, atol) for q in qs) for p in ps) and all(
        any(same_profile(p, q, atol) for p in ps) for q in qs
    )
