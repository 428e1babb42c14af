"""Measurements of profiles and mechanisms: NashConv / exploitability and per-player regrets."""

from ._nash_conv import exploitability, nash_conv, player_regrets

__all__ = ["nash_conv", "exploitability", "player_regrets"]
