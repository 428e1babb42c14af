"""Mechanism design through equilibria: bilevel design and Stackelberg leaders."""

from ._design import DesignResult, design
from ._stackelberg import stackelberg

__all__ = ["design", "stackelberg", "DesignResult"]
