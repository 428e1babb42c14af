"""simulate: vmap over seeds equals a loop, each day reproduces the one-shot auction when nobody misbehaves
and no line binds, the ledger verifies, a run killed with SIGKILL resumes to the uninterrupted result, and
bad arguments are refused before anything is traced."""

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import RESULT_FIELDS, SimulationResult, simulate
from games import DATACENTER, DISPATCHABLE, PROSUMER, RENEWABLE
from mechanisms import SettlementLedger, huang_double_auction

from ..._tiny_path import ROOT  # noqa: F401  (keeps the repository root importable for the child)
from ...games.market._tiny import DAYS, SIM, honest, invariant_violations, run_days, tiny_market
from ._child import CHUNK, DAYS as KILL_DAYS, SEEDS, killed_run, write_scenario



@pytest.mark.slow  # run_days is a second compiled program (about 10 s)
def test_seeds_vectorized_equal_a_loop_of_single_seeds():
    scenario = tiny_market(2)
    key = jax.random.key(7)
    result = simulate(scenario, key=key, **SIM)
    for seed, seed_key in enumerate(jax.random.split(key, 2)):
        _, alone = run_days(scenario, seed_key)
        for name in RESULT_FIELDS:
            np.testing.assert_allclose(getattr(result, name)[seed], alone[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_seeds_are_independent_and_the_ledger_verifies(tmp_path):
    scenario = tiny_market(2)
    keys = jax.random.split(jax.random.key(7), 2)
    result = simulate(scenario, key=keys, ledger=tmp_path / "ledger.db", **SIM)
    assert isinstance(result, SimulationResult) and result.num_seeds == 2 and result.num_days == DAYS
    assert result.prices.shape == (2, DAYS, 6) and result.reputation.shape == (2, DAYS, 12)
    assert result.schedules.shape == (2, DAYS, scenario.num_datacenters, 6)
    assert not invariant_violations(result.diagnostics)
    swapped = simulate(scenario, key=keys[::-1], **SIM)  # a seed's days depend on its key alone
    for name in RESULT_FIELDS:
        np.testing.assert_array_equal(getattr(swapped, name), getattr(result, name)[::-1], err_msg=name)
    assert any(not np.array_equal(getattr(result, name)[0], getattr(result, name)[1]) for name in RESULT_FIELDS)  # they differ
    assert result.ledger.ok and result.ledger.height == DAYS
    with SettlementLedger(tmp_path / "ledger.db") as ledger:
        blocks = list(ledger.blocks())
    assert [payload["day"] for _, payload in blocks] == list(range(DAYS))
    day = blocks[1][1]  # the money identity of a day, from the ledger alone
    assert abs(sum(day["payments"]) - sum(day["receipts"]) - day["surplus"]) <= 1e-9 * max(1.0, sum(day["payments"]))
    np.testing.assert_allclose(day["operator_surplus"], result.diagnostics["operator_surplus"][:, 1], rtol=1e-12)


def daily_book(scenario, day):
    """The truthful book of ``day`` computed with numpy from the scenario alone (no forecast errors, no
    batteries, jobs that run from their start at full power): daily surplus offered at the ask price, daily
    deficit bid at the bid price."""
    role = np.asarray(scenario.role)
    T = scenario.num_slots
    profile = np.asarray(scenario.profiles)[:, day % scenario.num_profile_days]
    generation = np.where(np.isin(role, [RENEWABLE, PROSUMER])[:, None],
                          np.asarray(scenario.capacity)[:, None] * profile[np.asarray(scenario.generation_profile)], 0.0)
    demand = np.where(np.isin(role, [PROSUMER, DATACENTER])[:, None],
                      np.asarray(scenario.load)[:, None] * profile[np.asarray(scenario.load_profile)], 0.0)
    demand += np.where(role == DATACENTER, np.asarray(scenario.compute_offered)
                       * float(scenario.params.compute_energy) / T, 0.0)[:, None]
    jobs = scenario.jobs
    for j in range(jobs.num_jobs):  # full power from the start until the energy is drawn
        power, energy = float(jobs.max_power[j]), float(jobs.energy[j])
        for t in range(T):
            slot = day * T + t
            if int(jobs.start[j]) <= slot < int(jobs.deadline[j]):
                demand[int(jobs.owner[j]), t] += min(power, max(0.0, energy - power * (slot - int(jobs.start[j]))))
    surplus = np.where(np.isin(role, [RENEWABLE, PROSUMER]), np.maximum(generation - demand, 0.0).sum(1), 0.0)
    deficit = np.where(np.isin(role, [PROSUMER, DATACENTER]), np.maximum(demand - generation, 0.0).sum(1), 0.0)
    return surplus, deficit


def test_without_misbehaviour_or_line_limits_every_day_is_the_one_shot_auction():
    scenario = honest(tiny_market(4))
    result = simulate(scenario, key=jax.random.key(3), ledger=None, **{**SIM, "chunk_days": 2})
    assert float(result.unserved_energy.max()) == 0.0 and float(result.diagnostics["detected"].max()) == 0
    for day in range(DAYS):
        surplus, deficit = daily_book(scenario, day)
        sellers, buyers = surplus > 0, deficit > 0
        one_shot = huang_double_auction(np.asarray(scenario.bid_price), np.asarray(scenario.ask_price), deficit, surplus,
                                        buyer_mask=buyers, seller_mask=sellers)
        for seed in range(2):
            np.testing.assert_allclose(result.trades[seed, day], one_shot.seller_quantities - one_shot.buyer_quantities,
                                       rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(result.auction_prices[seed, day], [one_shot.buyer_price, one_shot.seller_price],
                                       rtol=1e-12)
    assert np.abs(result.trades).sum() > 0  # the auction did trade


def finished(chunks):
    """The chunk files written completely (not the hidden temporary file of one being written)."""
    return [f for f in os.listdir(chunks) if f.endswith(".npz") and not f.startswith(".")]


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    scenario = tiny_market(5)
    for name in ("reference", "killed"):
        (tmp_path / name).mkdir()
        write_scenario(str(tmp_path / name), scenario)
    reference = killed_run(str(tmp_path / "reference"))
    folder = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    child = subprocess.Popen([sys.executable, "-m", "tests.analysis.simulation._child", str(folder)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunks = folder / "run.ckpt.chunks"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        if chunks.is_dir() and len(finished(chunks)) >= 3:
            break  # three finished chunks (a hidden temporary file of the fourth does not count)
        time.sleep(0.005)
    assert child.poll() is None, f"the child ended before it could be killed: {child.stderr.read().decode()[-2000:]}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = len(finished(chunks))
    assert 3 <= done < KILL_DAYS // CHUNK  # killed mid-way
    resumed = killed_run(str(folder))
    for name in RESULT_FIELDS:
        np.testing.assert_array_equal(getattr(resumed, name), getattr(reference, name), err_msg=name)
    for name, value in reference.diagnostics.items():
        np.testing.assert_array_equal(resumed.diagnostics[name], value, err_msg=name)
    assert resumed.ledger.ok and resumed.ledger.height == KILL_DAYS
    with SettlementLedger(folder / "ledger.db") as killed, SettlementLedger(tmp_path / "reference" / "ledger.db") as ref:
        assert [p for _, p in killed.blocks()] == [p for _, p in ref.blocks()]
    assert SEEDS == reference.num_seeds


def test_bad_arguments_and_another_runs_checkpoint_are_refused(tmp_path):
    scenario = tiny_market(2)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="days must be a positive integer"):
        simulate(scenario, days=0, key=key)
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        simulate(scenario, days=2, seeds=1.5, key=key)
    with pytest.raises(ValueError, match=r"key must be one key or one key per seed \(3,\)"):
        simulate(scenario, days=2, seeds=3, key=jax.random.split(key, 2))
    with pytest.raises(ValueError, match="key must be a jax.random key"):
        simulate(scenario, days=2, key=np.arange(3.0))
    with pytest.raises(ValueError, match="chunk_days must be a positive integer"):
        simulate(scenario, days=2, key=key, chunk_days=0)
    with pytest.raises(ValueError, match="key is required"):
        simulate(scenario, days=2, key=None)
    simulate(scenario, key=key, checkpoint=tmp_path / "run.ckpt", ledger=None, **SIM)
    with pytest.raises(ValueError, match="belongs to a different run: .*seeds: 2 before, 4 now"):
        simulate(scenario, key=key, checkpoint=tmp_path / "run.ckpt", **{**SIM, "seeds": 4})
    other = tiny_market(3)
    with pytest.raises(ValueError, match="belongs to a different run: .*scenario"):
        simulate(other, key=key, checkpoint=tmp_path / "run.ckpt", **SIM)


def test_a_long_run_shows_a_progress_bar(capsys):
    simulate(tiny_market(2), key=jax.random.key(0), ledger=None, **{**SIM, "progress": True})
    err = capsys.readouterr().err
    assert "simulate" in err and f"{DAYS}/{DAYS}" in err and "day" in err


@pytest.mark.slow  # 40 agents x 30 days x 4 seeds: its own compiled program
def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("## A market that lives for a year (simulation)", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "(4, 30, 24) (4, 30, 40)" and lines[1] == "True True"
    assert lines[2].startswith("reputation after 30 days: honest ")
