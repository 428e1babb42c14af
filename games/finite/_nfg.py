"""Reading and writing Gambit's ``.nfg`` strategic-form game files.

Both versions of the format are read: the *payoff* version (a flat list of
payoffs, one per player per pure profile) and the *outcome* version (a list of
named outcomes followed by one outcome index per pure profile, ``0`` meaning
the null outcome with zero payoffs). Pure profiles are listed with player 1's
action changing fastest. Numbers may be integers, decimals, exponent notation
or rationals such as ``3/4``. :func:`write_nfg` writes the payoff version with
``repr`` floats, so ``read_nfg(write_nfg(g))`` returns the same payoffs bit for
bit.

Reference: R. D. McKelvey, A. M. McLennan and T. L. Turocy (2016), *Gambit:
Software Tools for Game Theory*, "Strategic form games (.nfg)" file format.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

import numpy as np

from ._normal_form import NormalFormGame, validate_game

__all__ = ["read_nfg", "write_nfg", "parse_nfg"]

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|(,)|([^\s{},"]+)|(\n)')


class _Tokens:
    """A token stream that knows the line number of every token."""

    def __init__(self, text: str):
        self.items: list[tuple[str, str, int]] = []  # (kind, value, line)
        line = 1
        for match in _TOKEN.finditer(text):
            string, brace, comma, word, newline = match.groups()
            if newline is not None:
                line += 1
            elif string is not None:
                self.items.append(("string", string.replace('\\"', '"'), line))
                line += string.count("\n")
            elif brace is not None:
                self.items.append((brace, brace, line))
            elif word is not None:
                self.items.append(("word", word, line))
            # commas are optional separators between outcome payoffs: skipped
        self.pos = 0
        self.last_line = self.items[-1][2] if self.items else line  # EOF: report the last token's line

    def peek(self):
        return self.items[self.pos] if self.pos < len(self.items) else ("eof", "", self.last_line)

    def next(self, expect: str | None = None, what: str = ""):
        kind, value, line = self.peek()
        if expect is not None and kind != expect:
            shown = "end of file" if kind == "eof" else repr(value)
            raise ValueError(f"malformed .nfg file, line {line}: expected {what or expect}, found {shown}")
        self.pos += 1
        return kind, value, line

    def number(self, what: str) -> float:
        kind, value, line = self.next("word", what)
        try:
            return float(Fraction(value)) if "/" in value else float(value)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"malformed .nfg file, line {line}: {what} must be a number, found {value!r}") from None

    def integer(self, what: str) -> int:
        kind, value, line = self.next("word", what)
        if not re.fullmatch(r"\d+", value):
            raise ValueError(f"malformed .nfg file, line {line}: {what} must be a non-negative integer, found {value!r}")
        return int(value)


def parse_nfg(text: str) -> tuple[NormalFormGame, dict]:
    """Parse the text of an ``.nfg`` file.

    Returns the game and a dict with its ``title``, ``players`` (names),
    ``strategies`` (names per player) and ``comment``. Raises ``ValueError``
    naming the line of the first problem.
    """
    tok = _Tokens(text)
    _, magic, line = tok.next("word", "the header 'NFG'")
    if magic != "NFG":
        raise ValueError(f"malformed .nfg file, line {line}: a file must start with 'NFG', found {magic!r}")
    _, version, line = tok.next("word", "the version number")
    if version != "1":
        raise ValueError(f"malformed .nfg file, line {line}: only version 1 is supported, found {version!r}")
    _, numtype, line = tok.next("word", "'R' or 'D'")
    if numtype not in ("R", "D"):
        raise ValueError(f"malformed .nfg file, line {line}: expected 'R' or 'D', found {numtype!r}")
    _, title, _ = tok.next("string", "the title string")

    tok.next("{", what="'{' opening the player list")
    players = []
    while tok.peek()[0] == "string":
        players.append(tok.next()[1])
    tok.next("}", what="'}' closing the player list")
    if not players:
        raise ValueError(f"malformed .nfg file, line {tok.peek()[2]}: the game has no players")

    _, _, line = tok.next("{", what="'{' opening the strategy list")
    strategies: list[list[str]] = []
    if tok.peek()[0] == "{":  # named strategies: { { "a" "b" } { ... } }
        for i in range(len(players)):
            tok.next("{", what=f"'{{' opening player {i + 1}'s strategy names")
            names = []
            while tok.peek()[0] == "string":
                names.append(tok.next()[1])
            tok.next("}", what=f"'}}' closing player {i + 1}'s strategy names")
            strategies.append(names)
    else:  # counts: { 3 2 }
        for i in range(len(players)):
            count = tok.integer(f"player {i + 1}'s number of strategies")
            strategies.append([str(k + 1) for k in range(count)])
    tok.next("}", what="'}' closing the strategy list")
    shape = tuple(len(s) for s in strategies)
    for i, m in enumerate(shape):
        if m < 1:
            raise ValueError(f"malformed .nfg file, line {line}: player {i + 1} has no strategies")

    comment = ""
    if tok.peek()[0] == "string":
        comment = tok.next()[1]

    n = len(players)
    num_profiles = int(np.prod(shape))
    flat = np.zeros((num_profiles, n))  # profile index in Gambit order (player 1 fastest)
    if tok.peek()[0] == "{":  # outcome version
        tok.next("{")
        outcomes = [np.zeros(n)]  # outcome 0: the null outcome
        while tok.peek()[0] == "{":
            tok.next("{")
            tok.next("string", f"outcome {len(outcomes)}'s name")
            outcomes.append(np.array([tok.number(f"outcome {len(outcomes)}'s payoff") for _ in range(n)]))
            tok.next("}", what=f"'}}' closing outcome {len(outcomes) - 1} ({n} payoffs)")
        tok.next("}", what="'}' closing the outcome list")
        for k in range(num_profiles):
            _, value, line = tok.peek()
            index = tok.integer(f"the outcome of profile {k + 1}")
            if index >= len(outcomes):
                raise ValueError(
                    f"malformed .nfg file, line {line}: outcome {index} does not exist "
                    f"(the file defines {len(outcomes) - 1})"
                )
            flat[k] = outcomes[index]
    else:  # payoff version
        for k in range(num_profiles):
            for i in range(n):
                flat[k, i] = tok.number(f"payoff {i + 1} of profile {k + 1} (of {num_profiles})")
    kind, value, line = tok.peek()
    if kind != "eof":
        raise ValueError(f"malformed .nfg file, line {line}: unexpected {value!r} after the last payoff")

    # Gambit order has player 1 fastest: that is C order over reversed axes.
    payoffs = flat.reshape(shape[::-1] + (n,))
    payoffs = np.transpose(payoffs, (n,) + tuple(range(n - 1, -1, -1)))
    game = NormalFormGame(np.ascontiguousarray(payoffs), num_players=n)
    validate_game(game)
    return game, dict(title=title, players=players, strategies=strategies, comment=comment)


def read_nfg(path: str | os.PathLike) -> NormalFormGame:
    """Read a Gambit ``.nfg`` file (payoff or outcome version) into a :class:`NormalFormGame`.

    Example:
      >>> game = read_nfg("tests/games/data/pennies.nfg")  # doctest: +SKIP
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_nfg(text)[0]


def _quote(s: str) -> str:
    return '"' + s.replace('"', '\\"') + '"'


def write_nfg(game: NormalFormGame, path: str | os.PathLike, *, title: str = "nashgrid game") -> None:
    """Write a single game as a payoff-version ``.nfg`` file (floats as exact ``repr`` decimals)."""
    validate_game(game)
    if game.batch_shape:
        raise ValueError(f"write_nfg writes one game; got a batch of shape {game.batch_shape}")
    n = game.num_players
    payoffs = np.asarray(game.payoffs, dtype=np.float64)
    flat = np.transpose(payoffs, tuple(range(n, 0, -1)) + (0,)).reshape(-1, n)
    lines = [
        f"NFG 1 R {_quote(title)} {{ {' '.join(_quote(f'Player {i + 1}') for i in range(n))} }} "
        f"{{ {' '.join(str(m) for m in game.num_actions)} }}",
        "",
        " ".join(repr(float(v)) for v in flat.ravel()),
        "",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
