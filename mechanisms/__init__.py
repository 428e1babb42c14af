"""Mechanisms: auctions, pricing, reward sharing, reputation and staking rules.

Pure functions of reports/actions and parameters; they know nothing of games or
solvers. (Populated by the mechanisms issue.)
"""

__all__: list[str] = []
