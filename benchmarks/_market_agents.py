"""The built-in auction market stepped agent by agent in plain Python: the peer of ``bench_market``.

Agent-based market tools (Mesa's ``agent.step()``, most research ABMs) advance a model by looping over
agents and slots in Python. :func:`agent_loop` runs the day of :mod:`games.market._pieces` (the auction
mechanism with its default pieces) that way: per agent and slot the weather, the price taker's jobs,
the battery, the offers; Huang et al.'s (2002) double auction on the sorted book; per slot the pooled
exports and imports, the merit order with failures and re-dispatch, load shedding and the line limits
(bus sums in Python, the PTDF product with numpy); per agent the delivery checks, audits, fines,
slashing and beta reputation; the data centers' credits (McAfee's auction) and the settlement; the jobs'
progress. It is written from the model's description, not from the JAX code paths, and serves as an
independent check: its prices, trades and welfare equal ``analysis.simulate``'s. The random draws
(forecast errors, audits) are ``jax.random``'s for the same keys, so that the two runs see the same
weather.

References: as :mod:`games.market._pieces` (Huang, Scheller-Wolf and Sycara 2002; McAfee 1992; Josang
and Ismail 2002; Schweppe et al. 1988).
"""

from __future__ import annotations

import bisect
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

RENEWABLE, DISPATCHABLE, PROSUMER, DATACENTER = 0, 1, 2, 3


@jax.jit
def _draws(key, shape_like):
    """The day's standard normals (per agent, per agent and slot) and audit uniforms, as ``step`` draws them."""
    N, T = shape_like.shape
    key_weather, _, key_audit = jax.random.split(key, 3)
    key_day, key_slot = jax.random.split(key_weather)
    normal = lambda k, shape: jax.random.normal(k, shape, jnp.float32).astype(shape_like.dtype)
    return normal(key_day, (N, 1))[:, 0], normal(key_slot, (N, T)), jax.random.uniform(key_audit, (N,), shape_like.dtype)


def _fill(amount, capacities):
    """Fill ``amount`` from ``capacities`` in order: each takes ``clip(amount - before, 0, capacity)``."""
    out, total = [], 0.0
    for c in capacities:
        before = (total + c) - c
        total += c
        out.append(min(max(amount - before, 0.0), c))
    return out


def _huang(bids, asks, qb, qs):
    """Huang et al. (2002) on lists (traders with quantity 0 absent): ``(bought, sold, buyer price, seller price)``."""
    buyers = sorted((i for i in range(len(bids)) if qb[i] > 0), key=lambda i: -bids[i])
    sellers = sorted((j for j in range(len(asks)) if qs[j] > 0), key=lambda j: asks[j])
    bought, sold = [0.0] * len(bids), [0.0] * len(asks)
    demand, supply = np.cumsum([qb[i] for i in buyers]), np.cumsum([qs[j] for j in sellers])
    if not buyers or not sellers:
        return bought, sold, 0.0, 0.0
    best, ranked_asks = 0.0, [asks[j] for j in sellers]
    for k, i in enumerate(buyers):  # buyer k is served up to min(D_k, supply asking <= its bid)
        m = bisect.bisect_right(ranked_asks, bids[i])
        at_bid = supply[m - 1] if m else 0.0
        before = demand[k] - qb[i]
        if at_bid > before:
            best = max(best, min(demand[k], at_bid))
    if best <= 0:
        return bought, sold, 0.0, 0.0
    K = next(k for k, i in enumerate(buyers) if demand[k] - qb[i] < best <= demand[k])
    L = next(k for k, j in enumerate(sellers) if supply[k] - qs[j] < best <= supply[k])
    volume = min(demand[K] - qb[buyers[K]], supply[L] - qs[sellers[L]])
    for side, ranked, q, out in ((buyers[:K], buyers, qb, bought), (sellers[:L], sellers, qs, sold)):
        amounts = sorted((q[i] for i in side), reverse=True)  # equal reduction: max(q - delta, 0)
        delta, total = 0.0, 0.0
        for n, a in enumerate(amounts, start=1):
            total += a
            if a > (total - volume) / n:
                delta = (total - volume) / n
        delta = max(delta, 0.0)
        for i in side:
            out[i] = max(q[i] - delta, 0.0) if volume > 0 else 0.0
    return bought, sold, bids[buyers[K]], asks[sellers[L]]


def _mcafee(values, buying, selling):
    """McAfee (1992) with each data center's value as its bid and ask: ``(buyer, seller, buyer price, seller price)``."""
    b = sorted((i for i in range(len(values)) if buying[i]), key=lambda i: -values[i])
    s = sorted((i for i in range(len(values)) if selling[i]), key=lambda i: values[i])
    q = sum(1 for k in range(min(len(b), len(s))) if values[b[k]] >= values[s[k]])
    bid = lambda k: values[b[k - 1]] if 1 <= k <= len(b) else -math.inf
    ask = lambda k: values[s[k - 1]] if 1 <= k <= len(s) else math.inf
    p0 = (bid(q + 1) + ask(q + 1)) / 2
    if q > 0 and math.isfinite(p0) and ask(q) <= p0 <= bid(q):
        return set(b[:q]), set(s[:q]), p0, p0
    trades = max(q - 1, 0)
    return set(b[:trades]), set(s[:trades]), (bid(q) if q > 0 else 0.0), (ask(q) if q > 0 else 0.0)


class AgentLoopMarket:
    """The scenario as Python lists and the state of one seed, stepped a day at a time by :meth:`day`."""

    def __init__(self, scenario):
        get = lambda x: np.asarray(x).tolist()
        self.N, self.T, self.D = scenario.num_agents, scenario.num_slots, scenario.num_profile_days
        for name in ("role", "bus", "malicious", "capacity", "marginal_cost", "forecast_error", "generation_profile",
                     "load", "load_profile", "bid_price", "ask_price", "battery_capacity", "battery_power",
                     "battery_efficiency", "stake", "compute_offered", "credit_valuation", "plants", "datacenters",
                     "emission_rate"):
            setattr(self, name, get(getattr(scenario, name)))
        self.profiles = np.asarray(scenario.profiles)
        self.jobs = {name: get(getattr(scenario.jobs, name))
                     for name in ("owner", "start", "deadline", "energy", "max_power", "pausable")}
        self.p = {f.name: (get(getattr(scenario.params, f.name)) if np.ndim(getattr(scenario.params, f.name))
                           else get(getattr(scenario.params, f.name))) for f in dataclasses.fields(scenario.params)}
        self.ptdf = np.asarray(scenario.grid.ptdf)
        self.limit = np.asarray(scenario.grid.capacity)
        self.buses = scenario.grid.num_buses
        p = self.p
        self.offered_cost = [(1 - p["ask_shading"]) * c if m else c for c, m in zip(self.marginal_cost, self.malicious)]
        self.merit = sorted(range(len(self.plants)), key=lambda k: self.offered_cost[self.plants[k]])
        # the state
        self.battery = get(scenario.battery_initial)
        self.positive, self.negative = [0.0] * self.N, [0.0] * self.N
        self.reputation = [0.5] * self.N
        self.stakes = get(scenario.stake)
        self.credits = [0.0] * self.N
        self.remaining = list(self.jobs["energy"])
        self.expected = [p["retail_price"]] * self.T

    def _battery(self, i, have, want):
        """Self-consumption of agent ``i`` over the slots: ``(end charge, used, charged, discharged)``."""
        cap, power, eff = self.battery_capacity[i], self.battery_power[i], self.battery_efficiency[i]
        e, used, charged, discharged = self.battery[i], [], [], []
        for g, d in zip(have, want):
            u = min(g, d)
            up, down = min(g - u, power), min(d - u, power)
            c, x = min(up, cap / eff - e / eff), min(down, e)
            e = e + eff * c - x
            used.append(u), charged.append(c), discharged.append(x)
        return e, used, charged, discharged

    def day(self, day: int, key):
        N, T, p, jobs = self.N, self.T, self.p, self.jobs
        z_day, z_slot, audit = (np.asarray(x).tolist() for x in _draws(key, jnp.zeros((N, T))))
        enforced = bool(p["enforcement"])
        access = [(not enforced) or (self.reputation[i] >= p["access_threshold"]
                                     and self.stakes[i] >= p["minimum_stake"] * self.stake[i]) for i in range(N)]
        tier = [1.0 if not enforced else p["tier_multipliers"][sum(1 for t in p["tier_thresholds"] if t <= r)]
                for r in self.reputation]
        profile = self.profiles[:, day % self.D, :].tolist()
        rho = p["forecast_correlation"]
        # 1. weather, 2. schedules: agent by agent
        forecast, generation, demand = [], [], []
        for i in range(N):
            role = self.role[i]
            f = [self.capacity[i] * profile[self.generation_profile[i]][t] if role in (RENEWABLE, PROSUMER) else 0.0
                 for t in range(T)]
            g = [min(max(f[t] * (1.0 + self.forecast_error[i] * (rho * z_day[i] + math.sqrt(1 - rho**2) * z_slot[i][t])),
                         0.0), self.capacity[i]) for t in range(T)]
            base = [self.load[i] * profile[self.load_profile[i]][t] if role in (PROSUMER, DATACENTER) else 0.0
                    for t in range(T)]
            forecast.append(f), generation.append(g), demand.append(base)
        training = []
        for j in range(len(jobs["owner"])):
            start, deadline, power, rem = jobs["start"][j], jobs["deadline"][j], jobs["max_power"][j], self.remaining[j]
            window = [start <= day * T + t < deadline for t in range(T)]
            count = sum(window)
            later = max(deadline - max((day + 1) * T, start), 0)
            need = max(rem - power * later, 0.0)
            days_left = max((deadline - day * T + T - 1) // T, 1)
            target = min(min(power * count, rem), max(need, rem / days_left)) if count else 0.0
            row = [0.0] * T
            if jobs["pausable"][j]:  # the cheapest open slots (yesterday's prices) at full power
                for rank, t in enumerate(sorted((t for t in range(T) if window[t]), key=lambda t: self.expected[t])):
                    row[t] = min(max(target - power * rank, 0.0), power)
            else:  # from its start at full power until done
                before = 0
                for t in range(T):
                    if window[t]:
                        row[t] = min(max(rem - power * before, 0.0), power)
                        before += 1
            training.append(row)
        job_energy = [[0.0] * T for _ in range(N)]
        for j, owner in enumerate(jobs["owner"]):
            job_energy[owner] = [a + b for a, b in zip(job_energy[owner], training[j])]
        for i in range(N):
            compute = self.compute_offered[i] * p["compute_energy"] / T if self.role[i] == DATACENTER else 0.0
            demand[i] = [demand[i][t] + job_energy[i][t] + compute for t in range(T)]
        # 3. offers: agent by agent on the forecasts
        bids, asks, qb, qs = [], [], [], []
        for i in range(N):
            _, used, charged, discharged = self._battery(i, forecast[i], demand[i])
            surplus = sum(forecast[i][t] - used[t] - charged[t] for t in range(T))
            deficit = sum(demand[i][t] - used[t] - discharged[t] for t in range(T))
            sells, buys = self.role[i] in (RENEWABLE, PROSUMER), self.role[i] in (PROSUMER, DATACENTER)
            cheat = self.malicious[i] and sells
            sell = ((1.0 + p["over_report"]) if cheat else 1.0) * surplus if sells else 0.0
            buy = deficit if buys else 0.0
            bids.append(self.bid_price[i])
            asks.append((1.0 - p["ask_shading"]) * self.ask_price[i] if cheat else self.ask_price[i])
            qb.append(buy if buys and access[i] and buy > 0 else 0.0)
            qs.append(sell if sells and access[i] and sell > 0 else 0.0)
        # 4. the auction
        bought, sold, buyer_price, seller_price = _huang(bids, asks, qb, qs)
        # 5. dispatch: agents' batteries on the realized weather, then slot by slot on the grid
        end, used, charged, discharged, exports, imports, need, withheld, refused, excess = ([] for _ in range(10))
        for i in range(N):
            e, u, c, x = self._battery(i, generation[i], demand[i])
            sells = self.role[i] in (RENEWABLE, PROSUMER)
            surplus = [generation[i][t] - u[t] - c[t] for t in range(T)]
            w = [p["withhold"] * s if self.malicious[i] and sells else 0.0 for s in surplus]
            offered = [s - v for s, v in zip(surplus, w)]
            end.append(e), used.append(u), charged.append(c), discharged.append(x), withheld.append(w)
            refused.append([0.0 if access[i] else o for o in offered])
            exports.append([o - r for o, r in zip(offered, refused[i])])  # available, scaled below
            need.append([demand[i][t] - u[t] - x[t] for t in range(T)])
        K = len(self.plants)
        committed, dispatched = [[0.0] * T for _ in range(K)], [[0.0] * T for _ in range(K)]
        prices, congested = [0.0] * T, [[0.0] * T for _ in range(N)]
        imports = [[0.0] * T for _ in range(N)]
        excess = [[0.0] * T for _ in range(N)]
        for t in range(T):
            supply = sum(exports[i][t] for i in range(N))
            load = sum(need[i][t] for i in range(N))
            keep = load / supply if supply > load and supply > 0 else 1.0
            for i in range(N):
                available = exports[i][t]
                exports[i][t] = available * keep
                excess[i][t] = available - exports[i][t]
            residual = max(load - supply, 0.0)
            ranked = [self.plants[k] for k in self.merit]
            cap = [self.capacity[a] for a in ranked]
            offer = [((1.0 + p["over_report"]) if self.malicious[a] else 1.0) * c if access[a] else 0.0
                     for a, c in zip(ranked, cap)]
            com = _fill(residual, offer)
            delivered = [(1.0 - p["withhold"]) * min(c, cp) if self.malicious[a] else c
                         for a, c, cp in zip(ranked, com, cap)]
            spare = [cp - d if access[a] and not self.malicious[a] else 0.0 for a, cp, d in zip(ranked, cap, delivered)]
            redispatch = _fill(sum(c - d for c, d in zip(com, delivered)), spare)
            out = [d + r for d, r in zip(delivered, redispatch)]
            shortage = max(residual - sum(out), 0.0)
            share = 1.0 - shortage / load if load > 0 else 1.0
            marginal = max([self.offered_cost[a] for a, o in zip(ranked, out) if o > 0], default=0.0)
            scarce = shortage > 1e-9 * max(load, 1.0)
            prices[t] = p["scarcity_price"] if scarce else (marginal if residual > 0 else 0.0)
            for i in range(N):
                imports[i][t] = need[i][t] * share
            # line limits: scale the buses' net injections by alpha
            bus_out, bus_in = np.zeros(self.buses), np.zeros(self.buses)
            for i in range(N):
                bus_out[self.bus[i]] += exports[i][t]
                bus_in[self.bus[i]] += imports[i][t]
            for k, a in zip(self.merit, ranked):
                bus_out[self.bus[a]] += out[ranked.index(a)]
            net = bus_out - bus_in
            flows = np.abs(self.ptdf @ net)
            alpha = min([1.0] + [lim / f for lim, f in zip(self.limit, flows) if f > 0])
            out_factor = [(bus_in[b] + alpha * net[b]) / bus_out[b] if net[b] > 0 and bus_out[b] > 0 else 1.0
                          for b in range(self.buses)]
            in_factor = [(bus_out[b] - alpha * net[b]) / bus_in[b] if net[b] < 0 and bus_in[b] > 0 else 1.0
                         for b in range(self.buses)]
            for i in range(N):
                delivered_export = exports[i][t] * out_factor[self.bus[i]]
                congested[i][t] = exports[i][t] - delivered_export
                exports[i][t] = delivered_export
                imports[i][t] = imports[i][t] * in_factor[self.bus[i]]
            for k, a in zip(self.merit, ranked):
                committed[k][t] = com[ranked.index(a)]
                dispatched[k][t] = out[ranked.index(a)] * out_factor[self.bus[a]]
        # 6. enforcement, agent by agent
        plant_index = {a: k for k, a in enumerate(self.plants)}
        detected, fines, new_stakes, volume_of = [False] * N, [0.0] * N, list(self.stakes), [0.0] * N
        for i in range(N):
            delivered = sum(generation[i][t] - used[i][t] - charged[i][t] - withheld[i][t] for t in range(T))
            short = max(sold[i] - delivered, 0.0)
            plant_committed = plant_short = 0.0
            if i in plant_index:
                k = plant_index[i]
                plant_committed = sum(committed[k])
                plant_short = sum(c - ((1.0 - p["withhold"]) * min(c, self.capacity[i]) if self.malicious[i] else c)
                                  for c in committed[k])
            volume = sold[i] + plant_committed + (self.compute_offered[i] * p["credit_rate"]
                                                  if self.role[i] == DATACENTER else 0.0)
            traded = volume > 0
            noise = self.forecast_error[i] * math.sqrt(rho**2 * sum(forecast[i]) ** 2
                                                       + (1 - rho**2) * sum(f * f for f in forecast[i]))
            late = (short > p["delivery_tolerance"] * sold[i] + 3.0 * noise) or \
                (plant_short > p["delivery_tolerance"] * plant_committed)
            detected[i] = traded and (late or (audit[i] < p["audit_probability"] and self.malicious[i]))
            if detected[i] and enforced:
                fines[i] = p["penalty_rate"] * p["retail_price"] * volume
                new_stakes[i] = (1.0 - p["slash_fraction"]) * self.stakes[i]
            f = p["forgetting"]
            self.positive[i] = f * self.positive[i] + (1.0 if traded and not detected[i] else 0.0)
            self.negative[i] = f * self.negative[i] + (1.0 if detected[i] else 0.0)
            score = (self.positive[i] + 1.0) / (self.positive[i] + self.negative[i] + 2.0)
            self.reputation[i] = (1.0 - p["reputation_penalty"]) * score if detected[i] else score
            volume_of[i] = volume
        slashed = [s - n for s, n in zip(self.stakes, new_stakes)]
        # 7. credits of the data centers
        centers = self.datacenters
        holding, need_energy, values = [], [], []
        for i in centers:
            claimed = self.compute_offered[i] * ((1.0 + p["compute_over_report"]) if self.malicious[i] else 1.0)
            earned = 0.0 if detected[i] and enforced else p["credit_rate"] * claimed
            holding.append(self.credits[i] + earned)
            need_energy.append(sum(job_energy[i]))
            values.append(p["retail_price"] * p["credit_block"] * self.credit_valuation[i])
        block = p["credit_block"]
        can = [access[i] for i in centers]
        buy_set, sell_set, credit_buy_price, credit_sell_price = _mcafee(
            values, [c and h < n for c, h, n in zip(can, holding, need_energy)],
            [c and h - block >= n for c, h, n in zip(can, holding, need_energy)])
        spent_total = 0.0
        for c, i in enumerate(centers):
            h = holding[c] + (block if c in buy_set else 0.0) - (block if c in sell_set else 0.0)
            served = [imports[i][t] / need[i][t] if need[i][t] > 0 else 1.0 for t in range(T)]
            training_served = sum(sum(training[j][t] * served[t] for t in range(T))
                                  for j, owner in enumerate(jobs["owner"]) if owner == i)
            spent = min(h, training_served)
            self.credits[i] = h - spent
            spent_total += spent
        # 8. settlement (the money of the day) and the operator's surplus
        retail, feed_in = p["retail_price"], p["feed_in_price"]
        payments = receipts = 0.0
        for i in range(N):
            available = sum(exports[i][t] + excess[i][t] + congested[i][t] for t in range(T))
            exported, imported = sum(exports[i]), sum(imports[i])
            short = max(sold[i] - available, 0.0)
            payments += buyer_price * bought[i] + retail * (short + max(imported - bought[i], 0.0)) + fines[i]
            receipts += seller_price * sold[i] * tier[i] + feed_in * (max(exported - sold[i], 0.0)
                                                                      + max(bought[i] - imported, 0.0))
        receipts += sum(prices[t] * dispatched[k][t] for k in range(K) for t in range(T))
        # 9. the jobs' progress and the next day's state
        for j, owner in enumerate(jobs["owner"]):
            done = 0.0
            for t in range(T):
                d = demand[owner][t]
                share = (used[owner][t] + discharged[owner][t] + imports[owner][t]) / d if d > 0 else 1.0
                done += training[j][t] * min(max(share, 0.0), 1.0)
            rem = max(self.remaining[j] - done, 0.0)
            self.remaining[j] = 0.0 if jobs["deadline"][j] <= (day + 1) * T else rem
        self.battery, self.stakes, self.expected = end, new_stakes, prices
        unserved = sum(need[i][t] - imports[i][t] for i in range(N) for t in range(T))
        plants_cost = sum(dispatched[k][t] * self.marginal_cost[self.plants[k]] for k in range(K) for t in range(T))
        return {"prices": prices, "trades": [s - b for s, b in zip(sold, bought)],
                "auction_prices": [buyer_price, seller_price], "welfare": -(plants_cost + p["scarcity_price"] * unserved),
                "reputation": list(self.reputation), "credits": [self.credits[i] for i in centers],
                "payments": payments, "receipts": receipts, "slashed": sum(slashed)}


def agent_loop(scenario, key, days: int) -> dict:
    """``days`` days of one seed (key ``key``, as ``simulate(..., key=key[None])``) stepped agent by agent:
    ``{name: (days, ...) numpy array}`` of prices, trades, auction prices, welfare, reputation, credits."""
    market = AgentLoopMarket(scenario)
    rows = [market.day(d, jax.random.fold_in(key, d)) for d in range(days)]
    return {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
