"""Finite games in normal form: the game type, random families, and Gambit ``.nfg`` files."""

from . import _nfg, _normal_form, _random
from ._nfg import *  # noqa: F403
from ._normal_form import *  # noqa: F403
from ._random import *  # noqa: F403

__all__ = [*_normal_form.__all__, *_random.__all__, *_nfg.__all__]
