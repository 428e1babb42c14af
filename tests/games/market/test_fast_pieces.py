"""The day's pieces written for speed equal their plain forms: the auction ranked by prices alone equals
``mechanisms.huang_double_auction`` (an independent implementation that sorts each book), and the price
taker's schedule equals filling the slots in the order of a stable sort of the expected prices."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from games.market import Offers, auction_clearing
from mechanisms import huang_double_auction

N = 12
BOOKS = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "ties": st.booleans(),  # prices drawn from a few values, so that equal prices are common
    "present": st.sampled_from([0.0, 0.3, 0.8, 1.0]),  # share of traders present on each side
})


@jax.jit
def _both(bid, ask, qb, qs, bm, sm):
    offers = Offers(bid=bid, ask=ask, buy_quantity=qb, sell_quantity=qs, buyer_mask=bm, seller_mask=sm)
    return auction_clearing(None, offers, None), huang_double_auction(bid, ask, qb, qs, buyer_mask=bm, seller_mask=sm)


def _book(draw):
    rng = np.random.default_rng(draw["seed"])
    price = (lambda: rng.integers(1, 4, N) / 10.0) if draw["ties"] else (lambda: rng.uniform(0.0, 1.0, N))
    bid, ask = price(), price()
    qb = np.where(rng.uniform(size=N) < 0.2, 0.0, rng.uniform(0.0, 5.0, N))  # some zero quantities too
    qs = np.where(rng.uniform(size=N) < 0.2, 0.0, rng.uniform(0.0, 5.0, N))
    bm, sm = rng.uniform(size=N) < draw["present"], rng.uniform(size=N) < draw["present"]
    return tuple(jnp.asarray(x) for x in (bid, ask, qb, qs, bm, sm))


FIELDS = ("buyer_quantities", "seller_quantities", "buyer_price", "seller_price", "buyer_payments", "seller_receipts",
          "surplus")


def _differences(ours, theirs):
    return [name for name in FIELDS if not np.allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-12,
                                                       atol=1e-12)]


@settings(max_examples=12, deadline=None)
@given(BOOKS)
def test_auction_ranked_by_prices_equals_the_sorting_auction(draw):
    ours, theirs = _both(*_book(draw))
    assert not _differences(ours, theirs), _differences(ours, theirs)


@jax.jit
def _ties_reversed(bid, ask, qb, qs, bm, sm):
    """The ranked auction with ties broken the other way (later traders first): not Huang's sort."""
    flip = lambda x: x[::-1]
    clearing, plain = _both(*map(flip, (bid, ask, qb, qs, bm, sm)))
    return jax.tree_util.tree_map(lambda x: x[::-1] if x.ndim else x, clearing), None


def test_the_comparison_finds_a_clearing_that_breaks_ties_the_other_way():
    search = settings(max_examples=200, phases=[Phase.generate], deadline=None, database=None)
    draw = find(BOOKS, lambda d: bool(_differences(_ties_reversed(*_book(d))[0], _both(*_book(d))[1])),
                settings=search)
    assert draw["ties"]  # only equal prices can tell the two apart
