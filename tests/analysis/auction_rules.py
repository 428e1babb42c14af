"""Classical single-item auctions in the learned-rule protocol: oracles for the regret tests.

First price (Vickrey 1961: not truthful), second price (Vickrey 1961: truthful) and Myerson's optimal
auction for values uniform on [0, 1] (Myerson 1981: second price with reserve 1/2; revenue 5/12 for
two bidders, 0.53125 for three).
"""

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class SingleItemAuction:
    num_bidders: int
    kind: str  # "first_price", "second_price" or "myerson"

    num_items = 1
    exactly_truthful = False

    def init(self, key=None):
        return {}

    def __call__(self, params, bids):
        b = bids[..., 0]
        winner = jnp.argmax(b, axis=-1)
        top = jnp.max(b, axis=-1)
        second = jnp.max(jnp.where(jax.nn.one_hot(winner, self.num_bidders, dtype=bool), -jnp.inf, b), axis=-1)
        if self.kind == "first_price":
            sells, price = jnp.ones_like(top, bool), top
        elif self.kind == "second_price":
            sells, price = jnp.ones_like(top, bool), second
        else:
            sells, price = top >= 0.5, jnp.maximum(second, 0.5)
        allocation = jnp.where(sells[..., None], jax.nn.one_hot(winner, self.num_bidders, dtype=b.dtype), 0.0)
        return allocation[..., None], allocation * price[..., None]

    relaxed = __call__

    def objective(self, values, allocation, payments):
        return jnp.sum(payments, axis=-1)
