"""Continuous-game solvers (variational inequalities, generalized Nash). For now: the interior-point
method used by ``solve_gne`` and ``solve_vi`` (``method="interior_point"``)."""

from ._interior_point import DENSE_LIMIT, LINEAR_SOLVERS, InteriorPointOutput, interior_point

__all__ = ["interior_point", "InteriorPointOutput", "LINEAR_SOLVERS", "DENSE_LIMIT"]
