import math

import jax
import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from games import grid_2d, grid_from_networkx, ieee14, ieee30, random_geometric


def three_bus():
    G = nx.Graph()
    for bus in (1, 2, 3):
        G.add_node(bus, role="prosumer")
    for u, v in [(1, 2), (1, 3), (2, 3)]:
        G.add_edge(u, v, reactance=1.0, capacity=10.0)
    return grid_from_networkx(G, slack=3)


def test_three_bus_textbook_ptdf():
    """Unit reactances, lines (1-2, 1-3, 2-3), slack at bus 3: injecting 1 at bus 1 (withdrawn at the
    slack) sends 1/3 over 1-2-3 and 2/3 directly."""
    grid = three_bus()
    np.testing.assert_allclose(grid.flows(np.array([1.0, 0.0, -1.0])), [1 / 3, 2 / 3, 1 / 3], atol=1e-14)
    np.testing.assert_allclose(grid.ptdf[:, 2], 0.0)  # slack column


def laplacian_flows(grid, injections):
    """Independent DC power flow: angles from the pseudo-inverse of networkx's weighted Laplacian."""
    G = nx.MultiGraph()
    G.add_nodes_from(range(grid.num_buses))
    for l in range(grid.num_lines):
        u, v = (int(np.flatnonzero(np.asarray(grid.incidence[:, l]) == s)[0]) for s in (1.0, -1.0))
        G.add_edge(u, v, weight=float(grid.susceptance[l]))
    L = nx.laplacian_matrix(G, nodelist=range(grid.num_buses), weight="weight").toarray()
    theta = np.linalg.pinv(L) @ injections
    K = np.asarray(grid.incidence)
    return np.asarray(grid.susceptance) * (K.T @ theta)


@pytest.mark.parametrize("make", [lambda: grid_2d(4, 5), ieee14, ieee30,
                                  lambda: random_geometric(40, 0.35, jax.random.key(0))])
def test_flows_conserve_power_and_match_laplacian_solution(make):
    grid = make()
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.normal(size=grid.num_buses)
        p -= p.mean()  # balanced injections
        f = np.asarray(grid.flows(p))
        np.testing.assert_allclose(np.asarray(grid.incidence) @ f, p, atol=1e-10)  # Kirchhoff's current law
        np.testing.assert_allclose(f, laplacian_flows(grid, p), atol=1e-9)


@given(st.integers(0, 2**31 - 1))
def test_flows_do_not_depend_on_the_slack_for_balanced_injections(seed):
    rng = np.random.default_rng(seed)
    G = nx.connected_watts_strogatz_graph(12, 4, 0.3, seed=seed)
    for u, v in G.edges:
        G.edges[u, v].update(reactance=float(rng.uniform(0.05, 0.5)), capacity=1.0)
    nx.set_node_attributes(G, "prosumer", "role")
    p = rng.normal(size=12)
    p -= p.mean()
    a = np.asarray(grid_from_networkx(G, slack=0).flows(p))
    b = np.asarray(grid_from_networkx(G, slack=7).flows(p))
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_ieee_systems():
    g14, g30 = ieee14(), ieee30()
    assert (g14.num_buses, g14.num_lines) == (14, 20)
    assert (g30.num_buses, g30.num_lines) == (30, 41)
    assert list(g14.buses_with_role("producer")) == [0, 1, 2, 5, 7]
    assert np.all(np.isinf(np.asarray(g14.capacity)))
    assert float(g30.capacity[0]) == pytest.approx(1.3) and float(g30.capacity[19]) == pytest.approx(0.16)


def test_pytree():
    grid = grid_2d(2, 3)
    leaves, tree = jax.tree_util.tree_flatten(grid)
    again = jax.tree_util.tree_unflatten(tree, leaves)
    assert again.roles == grid.roles and again.num_lines == 7
    assert jax.jit(lambda g, p: g.flows(p))(grid, np.ones(6) - 1).shape == (7,)


def base_graph():
    G = nx.path_graph(3)
    nx.set_node_attributes(G, "consumer", "role")
    nx.set_edge_attributes(G, 0.1, "reactance")
    nx.set_edge_attributes(G, 1.0, "capacity")
    return G


def test_bad_graphs():
    G = base_graph()
    G.add_node(9, role="consumer")
    with pytest.raises(ValueError, match="disconnected"):
        grid_from_networkx(G)
    G = base_graph()
    G.edges[0, 1]["reactance"] = 0.0
    with pytest.raises(ValueError, match=r"line \(0, 1\) has reactance 0.0"):
        grid_from_networkx(G)
    G = base_graph()
    G.edges[1, 2]["capacity"] = -1.0
    with pytest.raises(ValueError, match=r"line \(1, 2\) has capacity -1.0"):
        grid_from_networkx(G)
    G = base_graph()
    del G.edges[1, 2]["reactance"]
    with pytest.raises(ValueError, match=r"line \(1, 2\) has no 'reactance'"):
        grid_from_networkx(G)
    G = base_graph()
    del G.nodes[2]["role"]
    with pytest.raises(ValueError, match="bus 2 has no 'role'"):
        grid_from_networkx(G)
    G = base_graph()
    G.nodes[2]["role"] = "miner"
    with pytest.raises(ValueError, match="role 'miner'"):
        grid_from_networkx(G)
    G = base_graph()
    G.edges[0, 1]["reactance"] = math.nan
    with pytest.raises(ValueError, match="reactance nan"):
        grid_from_networkx(G)
    with pytest.raises(ValueError, match="no buses"):
        grid_from_networkx(nx.Graph())
    with pytest.raises(ValueError, match="slack bus 5"):
        grid_from_networkx(base_graph(), slack=5)
    with pytest.raises(ValueError, match="undirected"):
        grid_from_networkx(nx.DiGraph(base_graph()))
    with pytest.raises(ValueError, match="disconnected"):
        random_geometric(50, 0.01, jax.random.key(0))


@pytest.mark.parametrize("name", ["case14", "case30"])
def test_ptdf_equals_matpower_make_ptdf(name):
    """The built-in IEEE cases (with case14's transformer taps) against PYPOWER's port of MATPOWER's
    makePTDF, an independent implementation: same line orientation and numbering, to 1e-12."""
    import pypower.api as pypower
    from pypower.makePTDF import makePTDF

    case = pypower.ext2int(getattr(pypower, name)())
    H = makePTDF(case["baseMVA"], case["bus"], case["branch"], 0)
    grid = {"case14": ieee14, "case30": ieee30}[name]()
    np.testing.assert_allclose(np.asarray(grid.ptdf), H, atol=1e-12)


def test_ptdf_follows_the_susceptances_and_is_differentiable():
    """The PTDF is derived from the susceptances, never stored apart: a replaced susceptance changes it,
    and its derivative equals central finite differences."""
    import dataclasses

    grid = ieee14()
    doubled = dataclasses.replace(grid, susceptance=grid.susceptance.at[3].multiply(2.0))
    assert float(np.abs(np.asarray(doubled.ptdf) - np.asarray(grid.ptdf)).max()) > 1e-3
    flow = lambda b: dataclasses.replace(grid, susceptance=b).ptdf[5, 3]
    g = jax.grad(flow)(grid.susceptance)
    h = 1e-6
    for line in (0, 3, 7):
        e = np.zeros(grid.num_lines)
        e[line] = h
        fd = (flow(grid.susceptance + e) - flow(grid.susceptance - e)) / (2 * h)
        np.testing.assert_allclose(float(g[line]), float(fd), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("traced", [False, True])
def test_transfer_factors_equal_the_ptdf_product_without_forming_it(traced):
    """``transfer_factors`` (angles for a few injection patterns, the Laplacian assembled line by line)
    equals ``PTDF @ P`` from the whole PTDF, as do its derivatives in the susceptances, on the IEEE 30
    case (taps, parallel lines) and a lattice, with the incidence concrete or traced."""
    from games import power_transfer_distribution_factors, transfer_factors

    for grid in (ieee30(), grid_2d(6, 5, reactance=0.1, capacity=1.0)):
        P = jax.random.normal(jax.random.key(1), (grid.num_buses, 4))
        whole = lambda K, b: power_transfer_distribution_factors(K, b, grid.slack) @ P
        few = lambda K, b: transfer_factors(K, b, grid.slack, P)
        if traced:
            whole, few = jax.jit(whole), jax.jit(few)
        K, b = grid.incidence, grid.susceptance
        np.testing.assert_allclose(few(K, b), whole(K, b), atol=1e-13)
        loss = lambda f: lambda b: (jax.numpy.sin(f(K, b)) ** 2).sum()
        np.testing.assert_allclose(jax.grad(loss(few))(b), jax.grad(loss(whole))(b), atol=1e-12)
        # and the PTDF itself against the textbook product diag(b) K^T B_r^{-1} (dense, independent)
        keep = np.array([k for k in range(grid.num_buses) if k != grid.slack])
        Kn, bn = np.asarray(K), np.asarray(b)
        B = (Kn[keep] * bn) @ Kn[keep].T
        textbook = np.zeros((grid.num_lines, grid.num_buses))
        textbook[:, keep] = (bn[:, None] * Kn[keep].T) @ np.linalg.inv(B)
        np.testing.assert_allclose(np.asarray(grid.ptdf), textbook, atol=1e-12)


def test_tap_ratio_and_orientation_attributes():
    G = nx.Graph()
    G.add_nodes_from([1, 2, 3], role="prosumer")
    G.add_edge(2, 1, reactance=1.0, capacity=1.0, tap=2.0, **{"from": 1})
    G.add_edge(2, 3, reactance=1.0, capacity=1.0)
    grid = grid_from_networkx(G, slack=3)
    assert grid.lines[0] == (1, 2)  # oriented by its from-bus
    np.testing.assert_allclose(np.asarray(grid.susceptance), [0.5, 1.0])  # b = 1 / (x tap)
    for bad, match in (({"tap": 0.0}, "tap ratio"), ({"from": 3}, "not one of its ends")):
        H = nx.Graph()
        H.add_nodes_from([1, 2], role="prosumer")
        H.add_edge(1, 2, reactance=1.0, capacity=1.0, **bad)
        with pytest.raises(ValueError, match=match):
            grid_from_networkx(H)
