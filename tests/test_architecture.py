"""The architecture of DESIGN.md, checked: dependencies point one way, and solvers never probe games."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = ["mechanisms", "games", "solvers", "analysis", "papers"]


def imported_packages(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("package", LAYERS)
def test_no_upward_imports(package):
    """``mechanisms -> games -> solvers -> analysis -> papers``: a package imports only those to its left."""
    allowed = set(LAYERS[: LAYERS.index(package)])
    forbidden = set(LAYERS) - allowed - {package}
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for path in (ROOT / package).rglob("*.py")
                 for name, line in imported_packages(path) if name in forbidden]
    assert not offenders, "upward imports:\n" + "\n".join(offenders)


def test_the_import_walker_finds_an_upward_import(tmp_path):
    """The check can fail: a module that imports a higher layer is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom solvers import solve_vi\n")
    assert ("solvers", 2) in list(imported_packages(bad))


def test_solvers_never_probe_games_or_name_a_game_class():
    """Solvers dispatch on the protocols of games: no hasattr/getattr, no concrete game class."""
    game_classes = {"DemandResponseGame", "NetworkCournotGame", "FederatedContributionGame", "Grid"}
    offenders = []
    for path in (ROOT / "solvers").rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.id}")
            if isinstance(node, ast.Name) and node.id in game_classes:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} names {node.id}")
    assert not offenders, "\n".join(offenders)
