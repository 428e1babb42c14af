"""The nashgrid command line: `solve` prints Gambit's equilibria in Gambit's format (pygambit's
enummixed on its own catalog and on textbook games), `sweep` runs and resumes a TOML-described
study, and bad input ends with exit status 2 and one line on stderr."""

import importlib.resources
import json
import os
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pygambit as gbt
import pytest

from analysis import grid, mechanism_study, sweep
from games import bimatrix, random_game, write_nfg, zero_sum
from nashgrid import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG = importlib.resources.files("pygambit") / "catalog_data"
TWO_PLAYER_CATALOG = sorted(str(p) for p in CATALOG.rglob("*.nfg") if len(gbt.read_nfg(str(p)).players) == 2)
# von Stengel's 6x6 games with 75 equilibria: support enumeration compiles for ~12 s, so they run in the slow profile
SMALL_CATALOG = [p for p in TWO_PLAYER_CATALOG if "vonstengel1999" not in p]
SLOW_CATALOG = [p for p in TWO_PLAYER_CATALOG if "vonstengel1999" in p]


def gambit_lines(path: str) -> set[str]:
    """What gambit-enummixed prints: 'NE,' then the exact probabilities, player by player."""
    game = gbt.read_nfg(path)
    result = gbt.nash.enummixed_solve(game, rational=True)
    return {"NE," + ",".join(str(v) for p in game.players for _, v in eq[p]) for eq in result.equilibria}


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def textbook_games(folder):
    games = {
        "prisoners_dilemma": bimatrix(jnp.array([[3.0, 0.0], [5.0, 1.0]]), jnp.array([[3.0, 5.0], [0.0, 1.0]])),
        "matching_pennies": zero_sum(jnp.array([[1.0, -1.0], [-1.0, 1.0]])),
        "rock_paper_scissors": zero_sum(jnp.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])),
        "random_3x3": random_game(np.uint32([0, 42]), (3, 3)),  # 17-digit decimals: huge exact rationals
    }
    paths = {}
    for name, game in games.items():
        paths[name] = str(folder / f"{name}.nfg")
        write_nfg(game, paths[name])
    return paths


def test_pygambit_ships_a_catalog_with_two_player_games():
    assert len(TWO_PLAYER_CATALOG) >= 5 and len(SMALL_CATALOG) >= 3  # Shapley 1974, von Stengel 1999, sexes


@pytest.mark.parametrize("path", SMALL_CATALOG + [pytest.param(p, marks=pytest.mark.slow) for p in SLOW_CATALOG],
                         ids=os.path.basename)
def test_solve_prints_gambits_enummixed_equilibria_on_its_catalog(capsys, path):
    status, out, err = run(capsys, "solve", path)
    lines = out.splitlines()
    assert status == 0 and err == ""
    assert len(lines) == len(set(lines)) and set(lines) == gambit_lines(path)


def test_solve_matches_gambit_on_textbook_games_and_lemke_howson_finds_one_of_them(capsys, tmp_path):
    for name, path in textbook_games(tmp_path).items():
        status, out, _ = run(capsys, "solve", path)
        assert status == 0 and set(out.splitlines()) == gambit_lines(path), name
        if name.endswith("3x3"):
            status, out, _ = run(capsys, "solve", path, "--method", "lemke-howson")
            assert status == 0 and len(out.splitlines()) == 1 and out.strip() in gambit_lines(path), name
    status, out, _ = run(capsys, "solve", str(tmp_path / "rock_paper_scissors.nfg"), "--method", "zero-sum-lp")
    assert out.strip() == "NE,1/3,1/3,1/3,1/3,1/3,1/3"


def test_decimals_and_json_formats(capsys, tmp_path):
    path = SMALL_CATALOG[0]
    exact = sorted(gambit_lines(path))
    status, out, _ = run(capsys, "solve", path, "--decimals", "4")
    printed = sorted(out.splitlines())
    assert status == 0 and all(len(v.split(".")[1]) == 4 for line in printed for v in line.split(",")[1:])
    rounded = sorted("NE," + ",".join(f"{float(__import__('fractions').Fraction(v)):.4f}" for v in line.split(",")[1:])
                     for line in exact)
    assert printed == rounded
    status, out, _ = run(capsys, "solve", path, "--format", "json")
    document = json.loads(out)
    assert document["status"] == "CONVERGED" and document["method"] == "support-enumeration"
    assert {"NE," + ",".join(v for s in eq["exact"] for v in s) for eq in document["equilibria"]} == set(exact)


def test_qre_solves_a_three_player_game_like_gambit_logit(capsys):
    path = str(CATALOG / "journals" / "ijgt" / "nau2004" / "sec4.nfg")  # unique equilibrium, irrational
    status, out, _ = run(capsys, "solve", path, "--method", "qre")
    game = gbt.read_nfg(path)
    logit = gbt.nash.logit_solve(game).equilibrium
    expected = [float(v) for p in game.players for _, v in logit[p]]
    assert status == 0
    np.testing.assert_allclose([float(v) for v in out.strip().split(",")[1:]], expected, atol=2e-6)


def test_the_console_entry_point_reads_stdin_like_gambit_enummixed(tmp_path):
    path = SMALL_CATALOG[-1]
    with open(path) as f:
        text = f.read()
    result = subprocess.run([sys.executable, "-m", "nashgrid", "solve", "-"], input=text, capture_output=True,
                            text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu"), timeout=300)
    assert result.returncode == 0, result.stderr
    gambit = os.path.join(os.path.dirname(sys.executable), "gambit-enummixed")  # pygambit's own CLI, if installed
    if os.path.exists(gambit):
        theirs = subprocess.run([gambit, "-q", path], capture_output=True, text=True, timeout=300).stdout
        assert sorted(result.stdout.splitlines()) == sorted(theirs.splitlines())
    assert set(result.stdout.splitlines()) == gambit_lines(path)
    bad = subprocess.run([sys.executable, "-m", "nashgrid", "solve", "-"], input="NFG 1 R \"x\" { \"a\" } { 2 }\n1\n",
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "nashgrid solve: error: <stdin>: malformed .nfg file, line 2: expected payoff 1 of " \
                                 "profile 2 (of 2), found end of file"


@pytest.mark.parametrize("argv, message", [
    (["solve", "/no/such/game.nfg"], "cannot read /no/such/game.nfg"),
    (["solve", str(CATALOG / "journals" / "ijgt" / "nau2004" / "sec4.nfg")], "needs a two-player game"),
    (["solve", SMALL_CATALOG[0], "--method", "vertex-enumeration"], "not available in this version"),
    (["solve", SMALL_CATALOG[0], "--decimals", "40"], "--decimals must be between 0 and 17"),
    ([], "choose a command"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("argv", [["solve", "game.nfg", "--method", "simplex"], ["sweep"], ["figures", "--bogus"]])
def test_bad_options_are_one_line_and_status_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "error:" in err


@pytest.mark.parametrize("command", ["solve", "sweep", "figures"])
def test_every_subcommand_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and f"usage: nashgrid {command}" in capsys.readouterr().out


def test_sweep_runs_a_toml_study_resumes_it_and_refuses_a_changed_one(capsys, tmp_path):
    config = tmp_path / "auction.toml"
    config.write_text(textwrap.dedent("""
        scenario = "mechanisms"
        out = "runs/auction"   # relative to this file
        chunk_size = 2
        progress = false

        [axes]
        traders = [5]
        mechanism = ["mcafee"]
        seed = { range = [0, 3] }
    """))
    status, out, err = run(capsys, "sweep", str(config))
    assert status == 0, err
    table = pd.read_parquet(tmp_path / "runs" / "auction")
    expected = sweep(mechanism_study, grid(traders=[5], mechanism=["mcafee"], seed=[0, 1, 2]), progress=False)
    pd.testing.assert_frame_equal(table, expected)
    assert "3 rows of mechanisms" in out
    status, _, _ = run(capsys, "sweep", str(config))  # everything is done: nothing is recomputed
    manifest = json.loads((tmp_path / "runs" / "auction" / "_manifest.json").read_text())
    assert status == 0 and manifest["runs"][-1]["chunks_computed"] == 0
    config.write_text(config.read_text().replace("range = [0, 3]", "range = [0, 4]"))
    status, _, err = run(capsys, "sweep", str(config))
    assert status == 2 and "parameters.axes.seed: [0, 1, 2] before, [0, 1, 2, 3] now" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text, message", [
    ("scenario = 'mechanisms'\nout = [", "malformed TOML"),
    ("scenario = 'weather'\nout = 'x'\n[axes]\nn = [1]", "scenario must be one of"),
    ("scenario = 'mechanisms'\nout = 'x'\ncolour = 'red'\n[axes]\nn = [1]", "unknown key(s) ['colour']"),
    ("scenario = 'mechanisms'\nout = 'x'", "either [axes]"),
    ("scenario = 'mechanisms'\nout = 'x'\n[axes]\ntraders = [3]", "missing ['mechanism']"),
    ("scenario = 'mechanisms'\n[axes]\ntraders = [3]\nmechanism = ['vcg']", "out (the output folder) is required"),
])
def test_malformed_sweep_files_are_one_line_and_status_2(capsys, tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    status, _, err = run(capsys, "sweep", str(config))
    assert status == 2 and len(err.strip().splitlines()) == 1 and message in err


def test_figures_delegates_to_papers(capsys):
    status, out, _ = run(capsys, "figures", "--list")
    assert status == 0 and "demand_response_load" in out.split()
    status, _, err = run(capsys, "figures", "--only", "no_such_figure")
    assert status == 2 and "unknown figure(s) ['no_such_figure']" in err
