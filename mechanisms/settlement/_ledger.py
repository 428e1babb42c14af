"""A hash-chained settlement ledger in SQLite.

Every block (a clearing with its bids, allocations, payments, rewards and
reputation updates, or any JSON-able record) is stored with the SHA-256 hash
of ``previous_hash || canonical_json(payload)``. Each block is appended in one
SQLite transaction (``synchronous=FULL``), so a crash loses nothing that was
committed and never leaves half a block. :meth:`SettlementLedger.verify`
replays the chain: any altered payload, hash or link breaks it, and every
clearing block must satisfy the budget identity ``sum(payments) -
sum(receipts) - sum(rewards) == surplus``.

Reference: S. Haber and W. S. Stornetta (1991), "How to time-stamp a digital
document", Journal of Cryptology 3(2) (hash-linked records); SQLite's atomic
commit (https://sqlite.org/atomiccommit.html).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sqlite3

import numpy as np

__all__ = ["SettlementLedger", "LedgerReport", "GENESIS_HASH"]

GENESIS_HASH = "0" * 64


def _plain(x):
    """Arrays and numpy scalars to JSON-able lists and numbers."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "__array__"):
        return _plain(np.asarray(x).tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        if not math.isfinite(float(x)):
            raise ValueError("ledger records must be finite numbers")
        return float(x)
    if x is None or isinstance(x, str):
        return x
    raise ValueError(f"cannot record a value of type {type(x).__name__}")


def _canonical(payload) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _chain_hash(previous: str, payload_json: str) -> str:
    return hashlib.sha256((previous + payload_json).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class LedgerReport:
    """Result of :meth:`SettlementLedger.verify`."""

    ok: bool
    height: int
    first_bad_block: int | None = None
    reason: str = ""


class SettlementLedger:
    """Append-only, hash-chained settlement log in one SQLite file.

    Example:
      >>> ledger = SettlementLedger(":memory:")
      >>> _ = ledger.append({"kind": "note", "text": "genesis"})
      >>> ledger.verify().ok
      True
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, previous TEXT NOT NULL, "
            "payload TEXT NOT NULL, hash TEXT NOT NULL)"
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]

    def append(self, record: dict) -> str:
        """Append one block in a single transaction; returns its hash."""
        if not isinstance(record, dict):
            raise ValueError("a ledger record must be a dict")
        payload = _canonical(_plain(record))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
            height, previous = (row[0] + 1, row[1]) if row else (0, GENESIS_HASH)
            digest = _chain_hash(previous, payload)
            self._db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)", (height, previous, payload, digest))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return digest

    def append_clearing(self, clearing, *, bids, asks, market: str, rewards=None, reputation=None) -> str:
        """Record one market's clearing with the reports, the money flows, rewards and reputation updates.

        ``clearing`` is a single (unbatched) :class:`~mechanisms.Clearing`;
        ``rewards`` (optional) are paid out of the surplus.
        """
        payments = np.asarray(clearing.buyer_payments, dtype=float)
        receipts = np.asarray(clearing.seller_receipts, dtype=float)
        if payments.ndim != 1:
            raise ValueError("append_clearing records one market at a time; index the batch first")
        rewards = np.zeros(0) if rewards is None else np.asarray(rewards, dtype=float)
        record = dict(kind="clearing", market=market, bids=bids, asks=asks,
                      buyer_trades=clearing.buyer_trades, seller_trades=clearing.seller_trades,
                      payments=payments, receipts=receipts, rewards=rewards,
                      surplus=float(payments.sum() - receipts.sum() - rewards.sum()),
                      reputation=reputation)
        return self.append(record)

    def blocks(self):
        """Iterate ``(height, payload dict)`` in order."""
        for height, _, payload, _ in self._db.execute("SELECT * FROM blocks ORDER BY height"):
            yield height, json.loads(payload)

    def verify(self, *, atol: float = 1e-9) -> LedgerReport:
        """Replay the chain: links, hashes, and the budget identity of every clearing block."""
        previous, expected_height = GENESIS_HASH, 0
        try:
            rows = self._db.execute("SELECT height, previous, payload, hash FROM blocks ORDER BY height").fetchall()
        except sqlite3.DatabaseError as err:
            return LedgerReport(False, 0, 0, f"database unreadable: {err}")
        for height, link, payload, digest in rows:
            if height != expected_height:
                return LedgerReport(False, len(rows), expected_height, "missing block")
            if link != previous:
                return LedgerReport(False, len(rows), height, "broken link to the previous block")
            if _chain_hash(previous, payload) != digest:
                return LedgerReport(False, len(rows), height, "hash does not match the payload")
            try:
                record = json.loads(payload)
            except ValueError:
                return LedgerReport(False, len(rows), height, "payload is not JSON")
            if isinstance(record, dict) and record.get("kind") == "clearing":
                balance = sum(record["payments"]) - sum(record["receipts"]) - sum(record["rewards"])
                if abs(balance - record["surplus"]) > atol * max(1.0, abs(balance)):
                    return LedgerReport(False, len(rows), height, "budget identity violated")
            previous, expected_height = digest, expected_height + 1
        return LedgerReport(True, len(rows))
