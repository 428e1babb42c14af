"""Finite games: two-player pivoting and enumeration, the zero-sum LP, N-player quantal response
equilibria and learning dynamics."""

from . import _dynamics, _lemke_howson, _qre, _support_enumeration, _zero_sum
from ._dynamics import *  # noqa: F403
from ._lemke_howson import *  # noqa: F403
from ._qre import *  # noqa: F403
from ._support_enumeration import *  # noqa: F403
from ._zero_sum import *  # noqa: F403

__all__ = [*_lemke_howson.__all__, *_support_enumeration.__all__, *_zero_sum.__all__, *_dynamics.__all__,
           *_qre.__all__]
