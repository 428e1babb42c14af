"""Mechanisms: the rules of energy markets, as pure, jittable functions of reports and parameters.

They know nothing of games or solvers. So far: single-unit double auctions
(k-double, McAfee, SBBA, VCG), a multi-unit double auction (Huang et al.),
reward sharing (proportional, exact and Monte Carlo Shapley, Clarke pivot), reputation (beta with forgetting, EWMA reliability,
EigenTrust, penalties, price tiers), pricing and billing (flat, time of use,
real time, daily and hourly proportional billing, a learnable monotone price,
DC-OPF locational marginal prices), staking and slashing, a hash-chained
SQLite settlement ledger, and learned rules (RochetNet, RegretNet, a learned double
auction; :mod:`mechanisms.learned`). Their properties are checked by ``analysis``.
"""

from ._double_auction import (
    Clearing,
    efficient_trades,
    k_double_auction,
    mcafee_double_auction,
    sbba_double_auction,
    vcg_double_auction,
)
from ._multi_unit_auction import MultiUnitClearing, efficient_multi_unit_trades, huang_double_auction
from .learned import ClearingRule, DoubleAuctionNet, LearnedDoubleAuction, RegretNet, RochetNet
from ._ledger import GENESIS_HASH, LedgerReport, SettlementLedger
from ._pricing import (
    DCOPFResult,
    MonotonePrice,
    arbitrage_bill,
    daily_proportional_bill,
    daily_proportional_bills,
    dc_opf_lmp,
    flat_rate_bills,
    hourly_proportional_bill,
    hourly_proportional_bills,
    marginal_cost_price,
    monotone_price,
    quadratic_cost,
    real_time_bills,
    real_time_prices,
    time_of_use_bills,
)
from ._reputation import (
    BetaEvidence,
    EigenTrustResult,
    beta_score,
    beta_update,
    eigentrust,
    ewma_reliability,
    penalize,
    price_tier,
)
from ._reward_sharing import (
    MAX_EXACT_SHAPLEY_PLAYERS,
    clarke_pivot_rewards,
    monte_carlo_shapley,
    proportional_reward,
    proportional_rewards,
    shapley_values,
)
from ._staking import honest_validation_is_best_response, honesty_margin, slash, staking_rewards

__all__ = [
    "Clearing",
    "k_double_auction",
    "mcafee_double_auction",
    "sbba_double_auction",
    "vcg_double_auction",
    "efficient_trades",
    "MultiUnitClearing",
    "huang_double_auction",
    "efficient_multi_unit_trades",
    "proportional_rewards",
    "proportional_reward",
    "shapley_values",
    "monte_carlo_shapley",
    "clarke_pivot_rewards",
    "MAX_EXACT_SHAPLEY_PLAYERS",
    "BetaEvidence",
    "beta_update",
    "beta_score",
    "ewma_reliability",
    "eigentrust",
    "EigenTrustResult",
    "penalize",
    "price_tier",
    "flat_rate_bills",
    "time_of_use_bills",
    "real_time_prices",
    "real_time_bills",
    "quadratic_cost",
    "daily_proportional_bills",
    "hourly_proportional_bills",
    "daily_proportional_bill",
    "marginal_cost_price",
    "arbitrage_bill",
    "hourly_proportional_bill",
    "MonotonePrice",
    "monotone_price",
    "dc_opf_lmp",
    "DCOPFResult",
    "staking_rewards",
    "slash",
    "honesty_margin",
    "honest_validation_is_best_response",
    "SettlementLedger",
    "LedgerReport",
    "GENESIS_HASH",
    "RochetNet",
    "RegretNet",
    "LearnedDoubleAuction",
    "ClearingRule",
    "DoubleAuctionNet",
]
