"""nashgrid's command line: ``nashgrid solve | sweep | figures`` (``python -m nashgrid``).

The library itself is the top-level packages ``games``, ``solvers``, ``mechanisms``, ``analysis``
and ``papers``; this package holds only the console entry point :func:`main`.
"""

from ._cli import main

__all__ = ["main"]
