# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Solve and visualize a two-player game
#
# Every equilibrium of a small bimatrix game by support enumeration, one by Lemke-Howson, and the
# logit quantal response equilibrium branch (McKelvey and Palfrey 1995) that starts at uniform play
# and selects one of them as precision grows. The picture is the classic best-response diagram:
# each player's best-response correspondence in the unit square, equilibria where they cross.
#
# Open with Jupyter through jupytext (`jupytext --to notebook`), or run as a script:
# `python examples/solve_and_visualize_a_game.py` writes `game_equilibria.png`.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)  # nashgrid never flips this for you

from analysis import nash_conv
from games import bimatrix
from solvers import lemke_howson, logit_qre, support_enumeration

# %% [markdown]
# A game with three equilibria: battle of the sexes, with the row player preferring (Top, Left)
# and the column player (Bottom, Right).

# %%
A = jnp.array([[3.0, 0.0], [0.0, 2.0]])  # row player's payoffs
B = jnp.array([[2.0, 0.0], [0.0, 3.0]])  # column player's payoffs
game = bimatrix(A, B)

equilibria = support_enumeration(game)
for x, y in equilibria.to_list():
    print(f"row {np.round(x, 4)}  column {np.round(y, 4)}  NashConv {float(nash_conv(game, (x, y))):.1e}")
one = lemke_howson(game)
print("Lemke-Howson from label 0:", [np.round(np.asarray(s), 4) for s in one.strategies])

# %% [markdown]
# The logit QRE at precision `lam` solves `sigma_i = softmax(lam * u_i(sigma_{-i}))`. One call
# traces the principal branch for a whole batch of precisions (a batch of copies of the game).

# %%
lams = jnp.concatenate([jnp.zeros(1), jnp.geomspace(0.05, 60.0, 59)])
batch = bimatrix(jnp.broadcast_to(A, lams.shape + A.shape), jnp.broadcast_to(B, lams.shape + B.shape))
branch = logit_qre(batch, lams)
path_top, path_left = np.asarray(branch.strategies[0][:, 0]), np.asarray(branch.strategies[1][:, 0])
print("QRE at the largest precision:", path_top[-1].round(4), path_left[-1].round(4))

# %%
# Best responses: the row player plays Top iff 3 q >= 2 (1 - q), i.e. q >= 2/5 (q = P(Left));
# the column player plays Left iff 2 p >= 3 (1 - p), i.e. p >= 3/5 (p = P(Top)).
q_star = float(A[1, 1] / (A[0, 0] + A[1, 1]))
p_star = float(B[1, 1] / (B[0, 0] + B[1, 1]))
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 0, 1, 1], [0, q_star, q_star, 1], color="tab:blue", lw=2, label="row's best response")
ax.plot([0, p_star, p_star, 1], [0, 0, 1, 1], color="tab:orange", lw=2, ls="--", label="column's best response")
ax.plot(path_top, path_left, color="tab:green", marker=".", ms=3, label="logit QRE branch")
for x, y in equilibria.to_list():
    ax.plot(x[0], y[0], "ko", ms=8)
ax.set_xlabel("P(row plays Top)")
ax.set_ylabel("P(column plays Left)")
ax.set_title(f"{int(equilibria.count)} equilibria; the QRE branch selects one")
ax.legend(loc="center left", fontsize=8)
fig.tight_layout()
fig.savefig("game_equilibria.png", dpi=120)
