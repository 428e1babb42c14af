"""``python -m nashgrid``: the same as the ``nashgrid`` console script."""

import sys

from ._cli import main

sys.exit(main())
