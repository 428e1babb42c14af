"""The ``nashgrid`` command line: ``solve`` a Gambit game, run a ``sweep`` or ``simulate`` a market from a TOML
file, rebuild ``figures``.

Every subcommand has ``--help``. A malformed file or a bad option ends with exit status 2 and
one line on standard error (``nashgrid solve: error: ...``), never a traceback; a computation that
fails (a solver that does not converge, sweep chunks that keep failing) ends with status 1.

``nashgrid solve`` prints equilibria the way Gambit's command-line tools do (``gambit-enummixed``,
``gambit-lcp``): one line per equilibrium, ``NE,`` followed by every strategy's probability, player
by player, as exact rationals (``1/3``) or, with ``--decimals N`` (Gambit's ``-d N``), as decimals
with ``N`` digits. Two-player profiles are made exact by solving the indifference equations of
the equilibrium's supports in rational arithmetic (von Stengel 2002, Algorithm 3.4) and checking
the result exactly. Reference: McKelvey, McLennan and Turocy (2016), Gambit command-line tools.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction

__all__ = ["main", "SOLVE_METHODS"]

#: ``--method`` names and the Gambit tool each corresponds to.
SOLVE_METHODS = {
    "support-enumeration": "all equilibria of a two-player game (as gambit-enummixed on nondegenerate games)",
    "vertex-enumeration": "all extreme equilibria of a two-player game (as gambit-enummixed, degenerate games too)",
    "lemke-howson": "one equilibrium of a two-player game (as gambit-lcp -e 1)",
    "zero-sum-lp": "the optimal strategies of a two-player zero-sum game (as gambit-lp)",
    "qre": "the limit of the logit QRE branch, any number of players (as gambit-logit -e), decimals",
}
#: Methods that arrive in later versions (a clear error instead of an unknown-choice message).
LATER_METHODS: dict[str, str] = {}


class _UsageError(Exception):
    """A bad file or option: one line on stderr, exit status 2."""


class _Failure(Exception):
    """A computation that did not succeed: one line on stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: message``) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ----------------------------------------------------------------------------------------------
# solve


def _exact(x: float) -> Fraction:
    """The exact payoff a Gambit file most likely wrote for this float, as Gambit reads it.

    Gambit reads ``0.1`` as the decimal ``1/10`` and ``1/3`` as the rational: a float whose
    shortest decimal has fewer than 16 significant digits is that decimal (``write_nfg`` writes
    ``repr`` floats, so its files come back exactly); a longer one that equals a fraction with
    denominator at most 10**6 is that fraction (``1/3``), and otherwise its shortest decimal.
    """
    decimal = Fraction(repr(x))
    digits = len(repr(abs(x)).split("e")[0].replace(".", "").lstrip("0"))
    if digits < 16:
        return decimal
    simple = Fraction(x).limit_denominator(10**6)
    return simple if float(simple) == x else decimal


def _solve_linear(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """Gaussian elimination in rationals; None when singular."""
    n = len(rhs)
    rows = [list(matrix[i]) + [rhs[i]] for i in range(n)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if rows[r][col] != 0), None)
        if pivot is None:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _exact_profile(A, B, x, y, tol: float = 1e-7):
    """The exact equilibrium on the supports of the float profile ``(x, y)``, checked exactly; or None.

    Solves ``A[I, J] y_J = v 1, sum y_J = 1`` and ``B[I, J]^T x_I = u 1, sum x_I = 1`` for supports
    ``I``, ``J`` of equal size, then checks nonnegativity and that no pure strategy does better.
    """
    I = [i for i in range(len(x)) if x[i] > tol]
    J = [j for j in range(len(y)) if y[j] > tol]
    if not I or len(I) != len(J):
        return None
    k = len(I)
    # unknowns (y_J, v): rows A[i, J] y - v = 0 for i in I, and sum y = 1
    y_sol = _solve_linear([[A[i][j] for j in J] + [Fraction(-1)] for i in I] + [[Fraction(1)] * k + [Fraction(0)]],
                          [Fraction(0)] * k + [Fraction(1)])
    x_sol = _solve_linear([[B[i][j] for i in I] + [Fraction(-1)] for j in J] + [[Fraction(1)] * k + [Fraction(0)]],
                          [Fraction(0)] * k + [Fraction(1)])
    if y_sol is None or x_sol is None:
        return None
    xs, ys = [Fraction(0)] * len(x), [Fraction(0)] * len(y)
    for i, value in zip(I, x_sol[:k]):
        xs[i] = value
    for j, value in zip(J, y_sol[:k]):
        ys[j] = value
    v, u = y_sol[k], x_sol[k]
    if min(xs) < 0 or min(ys) < 0:
        return None
    if any(sum(A[i][j] * ys[j] for j in range(len(y))) > v for i in range(len(x))):
        return None
    if any(sum(B[i][j] * xs[i] for i in range(len(x))) > u for j in range(len(y))):
        return None
    return xs, ys


def _read_game(path: str):
    from games import parse_nfg

    if path == "-":
        text, name = sys.stdin.read(), "<stdin>"
    else:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as error:
            raise _UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
        name = path
    try:
        game, info = parse_nfg(text)
    except ValueError as error:
        raise _UsageError(f"{name}: {error}") from None
    return game, info


def _solve(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # an application entry point, not an import side effect
    import numpy as np

    from solvers import Status, lemke_howson, qre_homotopy, support_enumeration, vertex_enumeration, zero_sum_lp

    if args.method in LATER_METHODS:
        raise _UsageError(f"--method {args.method} is not available in this version of nashgrid; use "
                          f"--method {LATER_METHODS[args.method]} (the same equilibria on nondegenerate games)")
    if args.decimals is not None and not 0 <= args.decimals <= 17:
        raise _UsageError(f"--decimals must be between 0 and 17; got {args.decimals}")
    game, info = _read_game(args.game)
    n = game.num_players
    if args.method != "qre" and n != 2:
        raise _UsageError(f"--method {args.method} needs a two-player game; {args.game} has {n} players "
                          "(use --method qre)")
    warnings = []
    try:
        if args.method == "support-enumeration":
            m1, m2 = game.num_actions
            pairs = sum(_comb(m1, k) * _comb(m2, k) for k in range(1, min(m1, m2) + 1))
            result = support_enumeration(game, max_equilibria=min(pairs, 100_000))
            profiles = [tuple(np.asarray(s) for s in p) for p in result.to_list()]
            status = Status(int(result.status))
            if status == Status.DEGENERATE:
                warnings.append("the game is degenerate: support enumeration may miss equilibria (Gambit's "
                                "enummixed lists the extreme points of every component)")
        elif args.method == "vertex-enumeration":
            result = vertex_enumeration(game)
            profiles, status = [tuple(np.asarray(s) for s in p) for p in result.to_list()], Status(int(result.status))
        elif args.method == "lemke-howson":
            result = lemke_howson(game)
            profiles, status = [tuple(np.asarray(s) for s in result.strategies)], Status(int(result.status))
        elif args.method == "zero-sum-lp":
            result = zero_sum_lp(game)
            profiles, status = [tuple(np.asarray(s) for s in result.strategies)], Status(int(result.status))
        else:
            result = qre_homotopy(game)
            profiles, status = [tuple(np.asarray(s) for s in result.strategies)], Status(int(result.status))
    except ValueError as error:
        raise _UsageError(str(error)) from None
    if status not in (Status.CONVERGED, Status.DEGENERATE):
        warnings.append(f"the solver stopped with status {status.name}: the profile is not a certified equilibrium")

    exact = []
    if n == 2 and args.method != "qre":
        A = [[_exact(v) for v in row] for row in np.asarray(game.payoffs[0]).tolist()]
        B = [[_exact(v) for v in row] for row in np.asarray(game.payoffs[1]).tolist()]
        for k, (x, y) in enumerate(profiles):
            refined = _exact_profile(A, B, x.tolist(), y.tolist())
            if refined is None:
                refined = tuple([Fraction(float(p)).limit_denominator(10**6) for p in s] for s in (x, y))
                if args.decimals is None:
                    warnings.append(f"equilibrium {k + 1}: no exact solution on its support (a degenerate game); "
                                    "printed as the nearest simple fractions")
            exact.append(refined)
    decimals = args.decimals if args.decimals is not None or exact else 6

    def render(k: int) -> list[str]:
        if exact and args.decimals is None:
            return [str(p) for s in exact[k] for p in s]
        values = [float(p) for s in exact[k] for p in s] if exact else [float(p) for s in profiles[k] for p in s]
        return [f"{v:.{decimals}f}" for v in values]

    if args.format == "json":
        document = {
            "game": {"title": info["title"], "players": info["players"], "strategies": info["strategies"]},
            "method": args.method,
            "status": status.name,
            "equilibria": [
                {"profile": [[float(p) for p in s] for s in (exact[k] if exact else profiles[k])],
                 "exact": [[str(p) for p in s] for s in exact[k]] if exact else None}
                for k in range(len(profiles))
            ],
        }
        print(json.dumps(document, indent=2))
    else:
        for k in range(len(profiles)):
            print("NE," + ",".join(render(k)))
    for warning in warnings:
        print(f"nashgrid solve: warning: {warning}", file=sys.stderr)
    return 0 if status in (Status.CONVERGED, Status.DEGENERATE) else 1


def _comb(n: int, k: int) -> int:
    import math

    return math.comb(n, k)


# ----------------------------------------------------------------------------------------------
# sweep

_SWEEP_KEYS = {"scenario", "out", "chunk_size", "scheduler", "progress", "retries", "axes", "sample"}


def _axis(name: str, value):
    import numpy as np

    if isinstance(value, dict):
        if set(value) == {"linspace"} and isinstance(value["linspace"], list) and len(value["linspace"]) == 3:
            start, stop, num = value["linspace"]
            if not isinstance(num, int) or num < 1:
                raise _UsageError(f"axes.{name}: linspace = [start, stop, num] needs an integer num >= 1")
            return np.linspace(float(start), float(stop), num)
        if set(value) == {"range"} and isinstance(value["range"], list) and 1 <= len(value["range"]) <= 3:
            if not all(isinstance(v, int) for v in value["range"]):
                raise _UsageError(f"axes.{name}: range = [start, stop, step] takes integers")
            return list(range(*value["range"]))
        raise _UsageError(f"axes.{name}: expected a list of values, {{ linspace = [start, stop, num] }} or "
                          f"{{ range = [start, stop, step] }}; got {value!r}")
    if isinstance(value, list):
        return value
    return [value]


def _distribution(name: str, value):
    if isinstance(value, dict) and set(value) == {"uniform"}:
        low_high = value["uniform"]
        if not (isinstance(low_high, list) and len(low_high) == 2):
            raise _UsageError(f"sample.distributions.{name}: uniform = [low, high]")
        return tuple(float(v) for v in low_high)
    if isinstance(value, dict) and set(value) == {"choice"}:
        if not isinstance(value["choice"], list):
            raise _UsageError(f"sample.distributions.{name}: choice = [values]")
        return list(value["choice"])
    if isinstance(value, (int, float, str, bool)):
        return value
    raise _UsageError(f"sample.distributions.{name}: expected {{ uniform = [low, high] }}, {{ choice = [...] }} "
                      f"or a constant; got {value!r}")


def _read_toml(path, keys) -> dict:
    """A TOML file's table, every key one of ``keys``; a usage error (exit status 2) otherwise."""
    import tomllib

    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except OSError as error:
        raise _UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise _UsageError(f"{path}: malformed TOML: {error}") from None
    unknown = sorted(set(config) - keys)
    if unknown:
        raise _UsageError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(keys)}")
    return config


def _sweep(args) -> int:
    config = _read_toml(args.config, _SWEEP_KEYS)

    import jax

    jax.config.update("jax_enable_x64", True)
    from analysis import STUDIES, SweepError, grid, sample, sweep

    scenario = config.get("scenario")
    if scenario not in STUDIES:
        raise _UsageError(f"{args.config}: scenario must be one of {sorted(STUDIES)}; got {scenario!r}")
    if ("axes" in config) == ("sample" in config):
        raise _UsageError(f"{args.config}: give either [axes] (a grid) or [sample] (a random design)")
    try:
        if "axes" in config:
            if not isinstance(config["axes"], dict) or not config["axes"]:
                raise _UsageError(f"{args.config}: [axes] must name at least one parameter")
            params = grid(**{name: _axis(name, value) for name, value in config["axes"].items()})
        else:
            spec = config["sample"]
            extra = sorted(set(spec) - {"seed", "n", "distributions"}) if isinstance(spec, dict) else []
            if not isinstance(spec, dict) or extra or "n" not in spec or not isinstance(spec.get("distributions"), dict):
                raise _UsageError(f"{args.config}: [sample] needs n, an optional seed and a [sample.distributions] "
                                  "table" + (f"; unknown key(s) {extra}" if extra else ""))
            params = sample(spec.get("seed", 0), spec["n"], **{name: _distribution(name, value)
                                                              for name, value in spec["distributions"].items()})
    except ValueError as error:
        raise _UsageError(f"{args.config}: {error}") from None
    out = args.out or config.get("out")
    if not isinstance(out, str) or not out:
        raise _UsageError(f"{args.config}: out (the output folder) is required, in the file or as --out")
    if not os.path.isabs(out) and args.out is None:  # relative to the configuration file
        out = os.path.join(os.path.dirname(os.path.abspath(args.config)), out)
    options = {"chunk_size": config.get("chunk_size", 256), "retries": config.get("retries", 2),
               "progress": config.get("progress", True) and not args.no_progress}
    scheduler = args.scheduler or config.get("scheduler")
    client = None
    if scheduler:
        try:
            import distributed
        except ImportError:
            raise _UsageError("a scheduler address needs dask.distributed (pip install nashgrid[distributed])") from None
        try:
            client = distributed.Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as error:
            raise _Failure(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    try:
        table = sweep(STUDIES[scenario], params, out=out, executor=client, **options)
    except SweepError as error:
        raise _Failure(str(error)) from None
    except ValueError as error:
        raise _UsageError(str(error)) from None
    finally:
        if client is not None:
            client.close()
    print(f"{len(table)} rows of {scenario} in {os.path.abspath(out)} (provenance: {os.path.join(out, '_manifest.json')})")
    return 0


# ----------------------------------------------------------------------------------------------
# simulate

_SIMULATE_KEYS = {"agents", "days", "seeds", "seed", "scenario_seed", "mechanism", "slots", "malicious_share",
                  "enforcement", "line_rating", "jobs_per_datacenter", "chunk_days", "out", "ledger", "checkpoint",
                  "progress", "simbench", "parameters"}


def _simulate(args) -> int:
    config = _read_toml(args.config, _SIMULATE_KEYS)
    for name in ("agents", "days"):
        if name not in config:
            raise _UsageError(f"{args.config}: {name} is required")
    for name in ("agents", "days", "seeds", "seed", "scenario_seed", "slots", "jobs_per_datacenter", "chunk_days"):
        if name in config and (isinstance(config[name], bool) or not isinstance(config[name], int)):
            raise _UsageError(f"{args.config}: {name} must be an integer; got {config[name]!r}")
    for name in ("enforcement", "progress"):
        if name in config and not isinstance(config[name], bool):
            raise _UsageError(f"{args.config}: {name} must be true or false; got {config[name]!r}")
    parameters = config.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _UsageError(f"{args.config}: [parameters] must be a table of market parameters")
    here = os.path.dirname(os.path.abspath(args.config))
    relative = lambda path: path if os.path.isabs(path) else os.path.join(here, path)
    out = args.out or config.get("out")
    if not isinstance(out, str) or not out:
        raise _UsageError(f"{args.config}: out (the output folder) is required, in the file or as --out")
    out = out if args.out is not None else relative(out)
    ledger = config.get("ledger")
    if ledger is not None and (not isinstance(ledger, str) or not ledger):
        raise _UsageError(f"{args.config}: ledger must be a file name (relative to out)")
    checkpoint = config.get("checkpoint", True)
    if not isinstance(checkpoint, bool):
        raise _UsageError(f"{args.config}: checkpoint must be true or false (the checkpoint lives in out)")

    import jax

    jax.config.update("jax_enable_x64", True)  # an application entry point, not an import side effect
    import numpy as np

    from analysis import simulate
    from games import default_market

    options = {name: config[name] for name in ("mechanism", "slots", "malicious_share", "enforcement", "line_rating",
                                                "jobs_per_datacenter") if name in config}
    try:
        key = jax.random.key(config.get("scenario_seed", 0))
        if "simbench" in config:  # its grid and its year of profiles
            from games import simbench_market

            scenario = simbench_market(config["simbench"], config["agents"], key, **options, **parameters)
        else:
            scenario = default_market(config["agents"], key, **options, **parameters)
    except ImportError as error:
        raise _UsageError(str(error)) from None
    except (ValueError, TypeError) as error:
        raise _UsageError(f"{args.config}: {error}") from None
    os.makedirs(out, exist_ok=True)
    try:
        result = simulate(scenario, days=config["days"], seeds=config.get("seeds", 1),
                          key=jax.random.key(config.get("seed", 0)), chunk_days=config.get("chunk_days"),
                          ledger=None if ledger is None else os.path.join(out, ledger),
                          checkpoint=os.path.join(out, "checkpoint") if checkpoint else None,
                          progress=config.get("progress", True) and not args.no_progress)
    except ValueError as error:
        raise _UsageError(str(error)) from None
    arrays = {name: getattr(result, name) for name in ("prices", "auction_prices", "schedules", "trades", "reputation",
                                                        "stakes", "credits", "welfare", "renewable_share", "emissions",
                                                        "unserved_energy")}
    arrays.update({f"diagnostics.{name}": value for name, value in result.diagnostics.items()})
    np.savez_compressed(os.path.join(out, "result.npz"), **arrays)
    summary = {"agents": config["agents"], "days": config["days"], "seeds": result.num_seeds,
               "mechanism": scenario.mechanism, "mean_price": float(result.prices.mean()),
               "renewable_share": float(result.renewable_share.mean()),
               "unserved_energy_per_day": float(result.unserved_energy.mean()),
               "emissions_per_day": float(result.emissions.mean()), "welfare_per_day": float(result.welfare.mean()),
               "invariants": result.invariants(), "seconds": round(result.seconds, 3),
               "ledger": None if result.ledger is None else {"ok": result.ledger.ok, "height": result.ledger.height,
                                                             "reason": result.ledger.reason}}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{result.num_seeds} seed(s) x {result.num_days} days of {config['agents']} agents in {os.path.abspath(out)}: "
          f"mean price {summary['mean_price']:.4f}, renewable share {summary['renewable_share']:.3f}, unserved "
          f"{summary['unserved_energy_per_day']:.3g} per day (result.npz, summary.json)")
    if result.ledger is not None and not result.ledger.ok:
        raise _Failure(f"the ledger does not verify: block {result.ledger.first_bad_block}: {result.ledger.reason}")
    return 0


# ----------------------------------------------------------------------------------------------
# figures


def _figures(args) -> int:
    from papers import load_all
    from papers.__main__ import main as papers_main

    figures = load_all()
    unknown = [name for name in args.only or [] if name not in figures]
    if unknown:
        raise _UsageError(f"unknown figure(s) {unknown}; registered: {sorted(figures)}")
    argv = ["--out", args.out] + [item for name in args.only or [] for item in ("--only", name)]
    argv += ["--quick"] * args.quick + ["--list"] * args.list
    return papers_main(argv)


# ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nashgrid", description="Equilibria, sweeps and figures for energy-market games.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    solve = commands.add_parser(
        "solve", help="equilibria of a Gambit .nfg game, printed as Gambit's tools print them",
        description="Print the Nash equilibria of a Gambit strategic-form game (.nfg) as Gambit's command-line "
                    "tools do: one line per equilibrium, 'NE,' then every strategy's probability, player by "
                    "player, as exact rationals (or decimals with --decimals). Methods: "
                    + "; ".join(f"{k}: {v}" for k, v in SOLVE_METHODS.items()) + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    solve.add_argument("game", metavar="GAME.nfg", help="the game file, or - for standard input")
    solve.add_argument("--method", "-m", default="support-enumeration", metavar="METHOD",
                       choices=sorted(SOLVE_METHODS) + sorted(LATER_METHODS),
                       help=f"one of {', '.join(SOLVE_METHODS)} (default: support-enumeration)")
    solve.add_argument("--format", "-f", default="gambit", choices=["gambit", "json"],
                       help="gambit (NE lines, default) or json")
    solve.add_argument("--decimals", "-d", type=int, metavar="N",
                       help="print decimals with N digits instead of rationals (Gambit's -d)")
    solve.set_defaults(handler=_solve)

    sweep = commands.add_parser(
        "sweep", help="run a built-in study over a grid or a random design described in a TOML file",
        description="Run a sweep described in a TOML file: scenario (a built-in study: demand_response, "
                    "network_cournot, mechanisms), out (a folder, relative to the file), chunk_size, retries, "
                    "progress, an optional Dask scheduler address, and either [axes] (a grid: lists, "
                    "{ linspace = [start, stop, num] } or { range = [start, stop, step] }) or [sample] "
                    "(n, seed, [sample.distributions]: { uniform = [low, high] }, { choice = [...] } or a "
                    "constant). Run it again to resume after an interruption.")
    sweep.add_argument("config", metavar="CONFIG.toml")
    sweep.add_argument("--out", help="output folder (overrides the file's out; relative to the current folder)")
    sweep.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    sweep.set_defaults(handler=_sweep)

    simulate = commands.add_parser(
        "simulate", help="simulate the repeated market described in a TOML file (days x seeds)",
        description="Simulate the built-in market (games.default_market) for days x seeds as a TOML file describes: "
                    "agents, days (required), seeds, seed (Monte Carlo key), scenario_seed, mechanism (auction or "
                    "pricing), slots, malicious_share, enforcement, line_rating, jobs_per_datacenter, simbench (a "
                    "SimBench grid code; needs nashgrid[data]), chunk_days, out (a folder, relative to the file: "
                    "result.npz and summary.json), ledger (an SQLite file name in out), checkpoint (default true: "
                    "run it again to resume), progress, and a [parameters] table of market parameters.")
    simulate.add_argument("config", metavar="CONFIG.toml")
    simulate.add_argument("--out", help="output folder (overrides the file's out; relative to the current folder)")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    simulate.set_defaults(handler=_simulate)

    figures = commands.add_parser("figures", help="regenerate the paper figures (python -m papers)",
                                  description="Regenerate the registered paper figures into a folder.")
    figures.add_argument("--only", action="append", metavar="NAME", help="a figure to build (repeatable)")
    figures.add_argument("--quick", action="store_true", help="smaller samples, for a smoke run")
    figures.add_argument("--out", default="figures", help="output folder (default: figures/)")
    figures.add_argument("--list", action="store_true", help="list the registered figures and exit")
    figures.set_defaults(handler=_figures)
    return parser


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("nashgrid")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv=None) -> int:
    """Run ``nashgrid`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print("nashgrid: error: choose a command: solve, sweep, simulate or figures (see nashgrid --help)",
              file=sys.stderr)
        return 2
    prog = f"nashgrid {args.command}"
    try:
        return args.handler(args)
    except _UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except _Failure as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
