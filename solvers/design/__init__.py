"""Mechanism design by learning: auction training (``train_auction``) and the misreport search it uses."""

from ._misreport import ascend_misreports, misreport_utilities, utilities
from ._train_auction import TRAINING_DEFAULTS, AuctionTrainingHistory, train_auction

__all__ = ["train_auction", "AuctionTrainingHistory", "TRAINING_DEFAULTS", "ascend_misreports",
           "misreport_utilities", "utilities"]
