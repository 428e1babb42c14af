# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # A demand-response sweep: billing rules under growing renewables
#
# Households schedule their daily energy under a billing rule (Mohsenian-Rad et al. 2010). Under
# *daily* proportional billing every household minimizes the same total cost, so the Nash
# equilibrium is the social optimum; under *hourly* billing each pays its share of every slot's
# cost, and the equilibrium costs more. This notebook sweeps the renewable share for both rules
# with the built-in `demand_response_study`, in chunks written to a Parquet folder that a rerun
# resumes, and plots the peak-to-average ratio (PAR) and the price of anarchy.
#
# Run as a script (`python examples/demand_response_sweep.py` writes `runs/demand_response/` and
# `demand_response_sweep.png`) or open it as a notebook with jupytext.

# %%
import json

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

jax.config.update("jax_enable_x64", True)

from analysis import demand_response_study, grid, sweep

# %% [markdown]
# One row per scenario: 20 households over 24 hourly slots, renewables covering up to 60% of the
# inflexible load at noon, both billing rules. Rows with the same number of users and the same
# rule are solved together in one jitted, vmapped call.

# %%
params = grid(users=[20], renewable_share=np.linspace(0.0, 0.6, 7), billing=["daily", "hourly"])
table = sweep(demand_response_study, params, out="runs/demand_response", chunk_size=64)
table.head()

# %% [markdown]
# The folder opens in one line and records where every number came from.

# %%
assert pd.read_parquet("runs/demand_response").equals(table)
with open("runs/demand_response/_manifest.json") as f:
    manifest = json.load(f)
print(manifest["status"], manifest["runs"][-1]["versions"]["jax"], manifest["runs"][-1]["device"])
print("all converged:", bool(table["converged"].all()), "largest residual:", float(table["residual"].max()))

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for billing, rows in table.groupby("billing"):
    left.plot(rows["renewable_share"], rows["peak_to_average"], marker="o", label=f"{billing} billing")
    right.plot(rows["renewable_share"], rows["price_of_anarchy"], marker="o", label=f"{billing} billing")
no_response = table[table["billing"] == "daily"]
left.plot(no_response["renewable_share"], no_response["par_no_response"], "k--", label="no response")
left.set_xlabel("renewable share of the inflexible load at noon")
left.set_ylabel("peak-to-average ratio of the net load")
right.set_xlabel("renewable share of the inflexible load at noon")
right.set_ylabel("price of anarchy (cost / optimal cost)")
left.legend(fontsize=8)
right.legend(fontsize=8)
fig.tight_layout()
fig.savefig("demand_response_sweep.png", dpi=120)
