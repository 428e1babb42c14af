"""Mechanism design: bilevel design through equilibria and Stackelberg leaders (``design``,
``stackelberg``), and learned auctions trained against regret (``train_auction``; the misreport search
it uses, ``ascend_misreports``, is shared with ``analysis.auction_regret``)."""

from ._design import DesignResult, design
from ._misreport import ascend_misreports, misreport_utilities, utilities
from ._stackelberg import stackelberg
from ._train_auction import TRAINING_DEFAULTS, AuctionTrainingHistory, train_auction

__all__ = ["design", "stackelberg", "DesignResult", "train_auction", "AuctionTrainingHistory"]
