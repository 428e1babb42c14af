"""Real grids and profiles from SimBench (optional: the ``simbench`` package with pandapower).

SimBench (Meinecke et al. 2020) publishes benchmark distribution and transmission grids of Germany with a
year of load, PV, wind and other profiles at 15-minute resolution. :func:`simbench_grid` turns a SimBench
grid into a :class:`~games.Grid` through networkx (:func:`~games.grid_from_networkx`): in-service buses,
lines and transformers whose switches are closed (an open switch takes its element out; a closed bus-bus
switch joins its buses), the component of the external-grid bus (the slack), reactances in per unit of 1
MVA (``x_ohm * 1 MVA / V_kV^2`` for lines, ``vk% / 100 * 1 MVA / S_n`` for transformers) and thermal
ratings in kW (``sqrt(3) V I`` for lines, ``S_n`` for transformers), the units of the built-in market.
:func:`simbench_profiles` averages the year's relative profiles to the market's slots: households
(SimBench's H0 standard load profiles, else all loads), PV and wind (the renewables' relative output; a
grid without wind farms takes the wind profiles of ``1-MV-rural--0-sw``). :func:`simbench_market` is
:func:`~games.default_market` on that grid with those profiles.

The package is an optional extra (``pip install nashgrid[data]``); without it these functions raise an
``ImportError`` that says so. SimBench data are published under the Open Database License (ODbL 1.0);
the ``simbench`` package and pandapower under the 3-clause BSD licence.

Reference: S. Meinecke et al. (2020), "SimBench: a benchmark dataset of electric power systems to compare
innovative solutions based on power flow analysis", Energies 13(12), 3290; L. Thurner et al. (2018),
"pandapower: an open-source Python tool for convenient modeling, analysis, and optimization of electric
power systems", IEEE Transactions on Power Systems 33(6).
"""

from __future__ import annotations

import functools
import math
import warnings

import jax
import networkx as nx
import numpy as np

from ..grid import Grid, grid_from_networkx

__all__ = ["simbench_grid", "simbench_profiles", "simbench_market", "simbench_available"]

_EXTRA = "SimBench data need the optional packages simbench and pandapower: pip install nashgrid[data] " \
         "(or pip install simbench)"
_WIND_FALLBACK = "1-MV-rural--0-sw"


def simbench_available() -> bool:
    """Whether the ``simbench`` package can be imported."""
    try:
        import simbench  # noqa: F401
    except ImportError:
        return False
    return True


def _simbench():
    try:
        import simbench
    except ImportError as error:
        raise ImportError(f"{_EXTRA} ({error})") from None
    return simbench


@functools.lru_cache(maxsize=8)
def _net(code: str):
    simbench = _simbench()
    if not isinstance(code, str) or code not in simbench.collect_all_simbench_codes():
        raise ValueError(f"{code!r} is not a SimBench code (e.g. '1-LV-rural1--0-sw', '1-MV-rural--0-sw'); see "
                         "simbench.collect_all_simbench_codes()")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simbench.get_simbench_net(code)


def simbench_grid(code: str = "1-LV-rural1--0-sw") -> Grid:
    """The SimBench grid ``code`` as a :class:`~games.Grid` (see the module docstring); buses are labelled by
    their pandapower index; the external-grid bus is the slack with role ``producer``, as are buses with
    medium-voltage plants; buses with rooftop generators are ``prosumer``, the others ``consumer``.

    Example:
      >>> grid = simbench_grid("1-LV-rural1--0-sw")  # doctest: +SKIP
      >>> grid.num_buses, grid.num_lines  # doctest: +SKIP
      (14, 13)

    Reference: Meinecke et al. (2020); Thurner et al. (2018).
    """
    net = _net(code)
    switch = net.switch
    open_switch = switch[~switch["closed"].astype(bool)]
    open_lines = set(open_switch.loc[open_switch["et"] == "l", "element"].astype(int))
    open_trafos = set(open_switch.loc[open_switch["et"] == "t", "element"].astype(int))
    buses = net.bus[net.bus["in_service"].astype(bool)]
    voltage = buses["vn_kv"].astype(float).to_dict()
    G = nx.MultiGraph()
    G.add_nodes_from(int(b) for b in buses.index)
    for index, line in net.line.iterrows():
        u, v = int(line["from_bus"]), int(line["to_bus"])
        if not bool(line["in_service"]) or index in open_lines or u not in voltage or v not in voltage:
            continue
        parallel = max(int(line.get("parallel", 1)), 1)
        ohm = float(line["x_ohm_per_km"]) * float(line["length_km"]) / parallel
        G.add_edge(u, v, reactance=max(ohm / voltage[u] ** 2, 1e-9), capacity=1000.0 * math.sqrt(3) * voltage[u]
                   * float(line["max_i_ka"]) * parallel, **{"from": u})
    for index, trafo in net.trafo.iterrows():
        u, v = int(trafo["hv_bus"]), int(trafo["lv_bus"])
        if not bool(trafo["in_service"]) or index in open_trafos or u not in voltage or v not in voltage:
            continue
        G.add_edge(u, v, reactance=max(float(trafo["vk_percent"]) / 100.0 / float(trafo["sn_mva"]), 1e-9),
                   capacity=1000.0 * float(trafo["sn_mva"]), **{"from": u})
    closed = switch[switch["closed"].astype(bool) & (switch["et"] == "b")]
    for _, s in closed.iterrows():
        u, v = int(s["bus"]), int(s["element"])
        if u in voltage and v in voltage and u != v:
            G.add_edge(u, v, reactance=1e-6, capacity=math.inf, **{"from": u})
    slack = int(net.ext_grid["bus"].iloc[0])
    G = G.subgraph(nx.node_connected_component(G, slack)).copy()
    plants = {int(b) for b in net.sgen.loc[~net.sgen["type"].astype(str).str.startswith(("PV", "lv_")), "bus"]}
    rooftop = {int(b) for b in net.sgen["bus"]}
    for bus in G.nodes:
        G.nodes[bus]["role"] = "producer" if bus == slack or bus in plants else (
            "prosumer" if bus in rooftop else "consumer")
    return grid_from_networkx(G, slack=slack)


def _by_slot(series: np.ndarray, slots: int) -> np.ndarray:
    """A year at 15-minute resolution ``(days * 96,)`` as ``(days, slots)`` means."""
    if 96 % slots:
        raise ValueError(f"slots must divide the 96 quarter hours of a day (1, 2, 3, 4, 6, 8, 12, 24, ...); got {slots}")
    days = series.shape[0] // 96
    return series[: days * 96].reshape(days, slots, 96 // slots).mean(-1)


def _columns(frame, prefixes):
    names = [c for c in frame.columns if c != "time" and str(c).startswith(prefixes)]
    return frame[names].to_numpy(dtype=float) if names else None


def simbench_profiles(code: str = "1-LV-rural1--0-sw", *, slots: int = 24) -> np.ndarray:
    """``(4, days, slots)`` profiles in the order of :data:`~games.market.PROFILE_NAMES` (household with mean 1,
    flat, solar and wind as fractions of capacity) from the SimBench year of ``code`` (2016: 366 days).

    Reference: Meinecke et al. (2020).
    """
    if isinstance(slots, bool) or not isinstance(slots, (int, np.integer)) or slots < 1:
        raise ValueError(f"slots must be a positive integer; got {slots!r}")
    net = _net(code)
    loads = net.profiles["load"]
    active = [c for c in loads.columns if str(c).endswith("_pload")]
    household = loads[[c for c in active if str(c).startswith("H0")] or active].to_numpy(dtype=float).mean(1)
    renewables = net.profiles["renewables"]
    solar = _columns(renewables, ("PV",))
    wind = _columns(renewables, ("WP",))
    if wind is None:
        wind = _columns(_net(_WIND_FALLBACK).profiles["renewables"], ("WP",))
    if solar is None:
        solar = _columns(_net(_WIND_FALLBACK).profiles["renewables"], ("PV",))
    household = _by_slot(household, slots)
    solar = np.clip(_by_slot(solar.mean(1), slots), 0.0, 1.0)
    wind = np.clip(_by_slot(wind.mean(1), slots), 0.0, 1.0)
    return np.stack([household / household.mean(), np.ones_like(household), solar, wind])


def simbench_market(code: str = "1-LV-rural1--0-sw", num_agents: int = 200, key=None, *, slots: int = 24,
                    line_rating=1.0, **kwargs):
    """:func:`~games.default_market` on the SimBench grid ``code`` with its profiles (ratings in kW, times
    ``line_rating``); other keywords as for :func:`~games.default_market`.

    Reference: Meinecke et al. (2020).
    """
    from ._default import default_market

    return default_market(num_agents, jax.random.key(0) if key is None else key, slots=slots, grid=simbench_grid(code),
                          profiles=simbench_profiles(code, slots=slots), line_rating=line_rating, **kwargs)
