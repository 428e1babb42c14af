"""The paper's one look: the Okabe-Ito colour-blind-safe palette, small fonts, PDF + PNG + JSON out.

Okabe and Ito (2008), "Color universal design": eight colours distinguishable under the common
colour-vision deficiencies; every figure of the paper draws from them in this order.
"""

from __future__ import annotations

import contextlib
import functools
import os

import matplotlib.pyplot as plt
from cycler import cycler

from .. import save_figure

#: Okabe-Ito: blue, vermillion, bluish green, orange, sky blue, reddish purple, yellow, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
#: The four most distinct, used by ``market_year``.
COLOURS = PALETTE[:4]

RC = {"axes.prop_cycle": cycler(color=PALETTE), "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
      "legend.fontsize": 7, "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
      "axes.spines.right": False, "savefig.bbox": "tight"}


@contextlib.contextmanager
def paper_style():
    """Matplotlib settings of the paper's figures, restored on exit."""
    with plt.rc_context(RC):
        yield


def styled(fn):
    """Draw the figure function ``fn`` under :func:`paper_style`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with paper_style():
            return fn(*args, **kwargs)

    return wrapper


def save(fig, data: dict, out_dir: str, name: str) -> list[str]:
    """Write ``name.pdf``, ``name.png`` and ``name.json`` (the numbers) in ``out_dir``; close ``fig``."""
    pdf = os.path.join(out_dir, f"{name}.pdf")
    fig.savefig(pdf)
    return [pdf, *save_figure(fig, data, out_dir, name)]


def band(ax, x, values, colour, label, *, alpha=0.2, **line):
    """Median over the first axis of ``values`` ``(seeds, len(x))`` and its 10-90% band (``alpha``: its shade)."""
    import numpy as np

    low, mid, high = np.percentile(np.asarray(values), [10, 50, 90], axis=0)
    ax.fill_between(x, low, high, color=colour, alpha=alpha, lw=0)
    ax.plot(x, mid, color=colour, label=label, **{"lw": 1.2, **line})
