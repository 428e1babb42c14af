"""A hash-chained settlement ledger in SQLite, anchored by heads kept outside the database.

Every block (a clearing with its bids, allocations, payments, rewards and
reputation updates, or any JSON-able record) is stored with the SHA-256 hash

    h_i = SHA-256(h_{i-1} || canonical_json(payload_i)),   h_{-1} = "0" * 64,

so each block's hash commits to the whole history before it (Haber and
Stornetta 1991's linking). Each block is appended in one SQLite transaction
(``BEGIN IMMEDIATE``, ``synchronous=FULL``): a crash loses nothing that was
committed and never leaves half a block; concurrent writers (threads or
processes) are serialized by SQLite's write lock, wait on it (a busy timeout)
and retry a bounded number of times, so none sees ``database is locked``.

A chain that only checks itself cannot see its own end cut off, a block
removed and the rest relinked, or the file emptied: the remainder is still a
valid chain. What makes those detectable is a *head* kept elsewhere:
``LedgerHead(height, hash)``, the number of blocks and the hash of the last
one (RFC 6962's signed tree head: tree size and root hash; Crosby and Wallach
2009's commitments, which auditors keep to check that "the log, as seen now,
is consistent with how it was seen in the past"). Because ``h_{n-1}`` commits
to every earlier block, a kept head ``(n, h)`` vouches for blocks ``0..n-1``:
:meth:`SettlementLedger.verify` with ``expected_head`` fails if the ledger
holds fewer than ``n`` blocks (truncation, a deleted block, an empty or
0-byte file) or if block ``n - 1`` does not hash to ``h`` (any rewrite of the
first ``n`` blocks, however consistent), unless SHA-256 collides. Heads come
three ways:

- every :meth:`~SettlementLedger.append` returns the new head, a receipt the
  caller keeps (the strongest anchor: it also catches a roll-back of the
  whole file to an earlier copy);
- ``head_path=``: the ledger keeps the latest head in a separate file,
  written atomically (write, fsync, rename) after each commit, never moved
  backwards or over evidence of tampering; ``verify()`` checks it. A new
  ledger starts it at the genesis head; an append never recreates a head file
  that went missing (``verify`` reports it): to start anchoring an existing
  ledger, save a verified head explicitly (``report.head.save(head_path)``);
- ``key=``: heads carry an HMAC-SHA256 tag under a key the caller holds, so
  a head file (or a receipt stored somewhere untrusted) cannot be forged by
  whoever can rewrite the database but lacks the key.

A head vouches only for the blocks up to its height: blocks appended after
it are hash-linked but not yet anchored (:attr:`LedgerReport.anchored`).

Besides the links, every clearing block must satisfy the budget identity
``sum(payments) - sum(receipts) - sum(rewards) == surplus``. Verification
never raises on what it reads: any malformed row, payload, head file or
unreadable database is a report with ``ok=False`` and a reason.

References: S. Haber and W. S. Stornetta (1991), "How to time-stamp a digital
document", Journal of Cryptology 3(2) (hash-linked records); S. A. Crosby and
D. S. Wallach (2009), "Efficient data structures for tamper-evident logging",
USENIX Security (commitments kept by auditors); B. Laurie, A. Langley and
E. Kasper (2013), RFC 6962 "Certificate Transparency", section 3.5 (signed
tree heads); H. Krawczyk, M. Bellare and R. Canetti (1997), RFC 2104 (HMAC);
SQLite's atomic commit (https://sqlite.org/atomiccommit.html) and
``BEGIN IMMEDIATE`` (https://sqlite.org/lang_transaction.html).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import random
import re
import sqlite3
import tempfile
import threading
import time

import numpy as np

try:  # POSIX advisory locks order head-file writers across processes; elsewhere, threads only.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["SettlementLedger", "LedgerReport", "LedgerHead", "GENESIS_HASH"]

GENESIS_HASH = "0" * 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEAD_TAG_DOMAIN = b"nashgrid settlement ledger head v1"


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


def _is_busy(err: Exception) -> bool:
    """Whether SQLite refused because another connection holds a lock (worth waiting and retrying)."""
    name = getattr(err, "sqlite_errorname", "")
    return isinstance(err, sqlite3.OperationalError) and (
        name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(err))


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


@dataclasses.dataclass(frozen=True)
class LedgerHead:
    """The head of a ledger: ``height`` blocks, the last of which hashes to ``hash``.

    A receipt the caller keeps (see the module docstring): ``verify(expected_head=head)``
    then detects truncation, deletion and any rewrite of the first ``height`` blocks.
    ``tag`` is the HMAC-SHA256 of the head under the ledger's key (``""`` without a key).
    The empty ledger's head is ``LedgerHead(0, GENESIS_HASH)``.

    Example:
      >>> ledger = SettlementLedger(":memory:")
      >>> receipt = ledger.append({"kind": "note"})
      >>> receipt.height, ledger.verify(expected_head=receipt).ok
      (1, True)
    """

    height: int
    hash: str
    tag: str = ""

    def __post_init__(self):
        if isinstance(self.height, bool) or not isinstance(self.height, int) or self.height < 0:
            raise ValueError(f"LedgerHead: height must be a nonnegative integer; got {self.height!r}")
        if not isinstance(self.hash, str) or not _HEX64.fullmatch(self.hash):
            raise ValueError(f"LedgerHead: hash must be 64 lowercase hex digits; got {self.hash!r}")
        if self.height == 0 and self.hash != GENESIS_HASH:
            raise ValueError("LedgerHead: the head of an empty ledger (height 0) is GENESIS_HASH")
        if not isinstance(self.tag, str) or not (self.tag == "" or _HEX64.fullmatch(self.tag)):
            raise ValueError(f"LedgerHead: tag must be empty or 64 lowercase hex digits; got {self.tag!r}")

    def to_json(self) -> str:
        return json.dumps({"height": self.height, "hash": self.hash, "tag": self.tag}, sort_keys=True)

    @classmethod
    def from_json(cls, text) -> "LedgerHead":
        """Parse :meth:`to_json`'s output; ``ValueError`` on anything else."""
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except (TypeError, ValueError, RecursionError) as err:
            raise ValueError(f"a ledger head must be JSON: {err}") from None
        if not isinstance(data, dict) or set(data) - {"height", "hash", "tag"} or not {"height", "hash"} <= set(data):
            raise ValueError("a ledger head is a JSON object with keys height, hash and (optionally) tag")
        return cls(data["height"], data["hash"], data.get("tag", ""))

    def save(self, path) -> None:
        """Write the head to ``path`` atomically (a temporary file, fsync, rename)."""
        _atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path) -> "LedgerHead":
        """Read a head saved by :meth:`save` (``FileNotFoundError`` if absent, ``ValueError`` if malformed)."""
        with open(path, "rb") as f:
            data = f.read(4096)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a ledger head file must be UTF-8 JSON") from None
        return cls.from_json(text)


def _atomic_write_text(path, text: str) -> None:
    """Write-then-rename: readers see the old content or the new, never a mix (fsync'd, directory too)."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, temporary = tempfile.mkstemp(prefix=".head-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX; not possible everywhere)
        directory_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory_fd)
    except OSError:
        pass
    finally:
        os.close(directory_fd)


@dataclasses.dataclass(frozen=True)
class LedgerReport:
    """Result of :meth:`SettlementLedger.verify`.

    Attributes:
      ok: the chain, its budget identities and every anchor check out.
      height: blocks read from the database.
      first_bad_block: index of the first block that fails (for a truncation, the first missing one).
      reason: what failed (empty when ``ok``).
      head: the verified head of the chain (``None`` unless ``ok``): keep it as the next anchor.
      anchored: how many blocks the anchors (``expected_head``, the head file) vouch for.
    """

    ok: bool
    height: int
    first_bad_block: int | None = None
    reason: str = ""
    head: LedgerHead | None = None
    anchored: int = 0


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _budget_problem(record, atol: float) -> str:
    """Why a clearing record breaks the budget identity or is malformed ('' if it holds); never raises."""
    flows = {}
    for name in ("payments", "receipts", "rewards"):
        values = record.get(name)
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            return f"malformed clearing block: {name} must be a list of finite numbers"
        flows[name] = values
    surplus = record.get("surplus")
    if not _is_number(surplus):
        return "malformed clearing block: surplus must be a finite number"
    try:
        balance = math.fsum(flows["payments"]) - math.fsum(flows["receipts"]) - math.fsum(flows["rewards"])
    except OverflowError:
        return "malformed clearing block: money flows overflow"
    if not math.isfinite(balance):
        return "malformed clearing block: money flows overflow"
    if abs(balance - surplus) > atol * max(1.0, abs(balance)):
        return "budget identity violated"
    return ""


def _block_problem(row, index: int, previous: str, atol: float) -> tuple[str, str]:
    """``(reason, digest)`` for one stored row; reason '' if the block is sound. Never raises."""
    if not isinstance(row, tuple) or len(row) != 4:
        return "malformed row", ""
    height, link, payload, digest = row
    if isinstance(height, bool) or not isinstance(height, int):
        return "malformed block: height is not an integer", ""
    if height != index:
        return "missing block", ""
    if not isinstance(link, str) or link != previous:
        return "broken link to the previous block", ""
    if not isinstance(payload, str) or not isinstance(digest, str):
        return "malformed block: payload and hash must be text", ""
    try:
        recomputed = _chain_hash(previous, payload)
    except UnicodeError:
        return "malformed block: payload is not valid text", ""
    if not _HEX64.fullmatch(digest) or not hmac.compare_digest(recomputed, digest):
        return "hash does not match the payload", ""
    try:
        record = json.loads(payload, parse_constant=_reject_constant)
        canonical = _canonical(record)
    except (ValueError, TypeError, RecursionError):
        return "payload is not JSON", ""
    if canonical != payload:
        return "payload is not canonical JSON", ""
    if isinstance(record, dict) and record.get("kind") == "clearing":
        problem = _budget_problem(record, atol)
        if problem:
            return problem, ""
    return "", digest


class SettlementLedger:
    """Append-only, hash-chained settlement log in one SQLite file, with heads anchored outside it.

    Args:
      path: the SQLite file (``":memory:"`` for a throwaway ledger).
      key: optional HMAC key (bytes or str) the caller holds: heads (receipts and the head file)
        carry a tag only the key's holder can make, and ``verify`` checks it.
      head_path: optional file where the ledger keeps its latest head (written atomically after
        every commit, writers ordered by an advisory lock on ``head_path + ".lock"``); ``verify``
        then checks the chain against it.
      timeout: seconds a writer waits for another's transaction (SQLite's busy timeout).
      retries: attempts of one append before a busy database is reported (with jittered backoff).

    Example:
      >>> ledger = SettlementLedger(":memory:")
      >>> receipt = ledger.append({"kind": "note", "text": "genesis"})  # keep it elsewhere
      >>> ledger.verify(expected_head=receipt).ok
      True
    """

    def __init__(self, path: str | os.PathLike, *, key: bytes | str | None = None,
                 head_path: str | os.PathLike | None = None, timeout: float = 30.0, retries: int = 8):
        if key is not None:
            if isinstance(key, str):
                key = key.encode()
            if not isinstance(key, (bytes, bytearray)) or len(key) == 0:
                raise ValueError("key must be nonempty bytes or str (the HMAC key the caller holds)")
        if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0):
            raise ValueError(f"timeout must be a nonnegative number of seconds; got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise ValueError(f"retries must be a positive integer; got {retries!r}")
        self.path = os.fspath(path)
        self.head_path = None if head_path is None else os.fspath(head_path)
        if self.head_path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(self.head_path))):
            raise ValueError(f"head_path must be in an existing directory; got {self.head_path!r}")
        self._key = None if key is None else bytes(key)
        self._retries = retries
        self._lock = threading.RLock()  # one connection shared by this object's threads
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=timeout, check_same_thread=False)
        self._broken = ""  # why the database could not be opened as a ledger (verify reports it)
        try:
            self._retrying(self._create_schema)
        except sqlite3.DatabaseError as err:
            if _is_busy(err):  # still busy after the retries: a writer cannot start
                raise
            self._broken = f"database unreadable: {err}"  # not a database, or a corrupt one: verify says so
        if self.head_path is not None and not self._broken and not os.path.exists(self.head_path):
            with self._lock:  # a new ledger starts its head file at the genesis head
                if self._retrying(lambda: self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]) == 0:
                    self._publish(self._signed(0, GENESIS_HASH), create=True)

    def _create_schema(self):
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, previous TEXT NOT NULL, "
            "payload TEXT NOT NULL, hash TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]

    # -- heads ---------------------------------------------------------------------------------

    def _tag(self, height: int, digest: str) -> str:
        message = _HEAD_TAG_DOMAIN + f"\n{height}\n{digest}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _signed(self, height: int, digest: str) -> LedgerHead:
        return LedgerHead(height, digest, self._tag(height, digest) if self._key is not None else "")

    def head(self) -> LedgerHead:
        """The current head as stored (unverified; :attr:`LedgerReport.head` is the verified one)."""
        with self._lock:
            row = self._db.execute("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return self._signed(row[0] + 1, row[1]) if row else self._signed(0, GENESIS_HASH)

    def _hash_at(self, index: int):
        row = self._db.execute("SELECT hash FROM blocks WHERE height = ?", (index,)).fetchone()
        return row[0] if row else None

    def _publish(self, head: LedgerHead, *, create: bool = False) -> None:
        """Move the head file forward to ``head``; never backwards, never over a head our chain does not
        extend, and never in place of a head file that went missing (evidence left for ``verify``)."""
        lock_file = open(self.head_path + ".lock", "a+b")
        try:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                current = LedgerHead.load(self.head_path)
            except FileNotFoundError:
                current = None
            except (OSError, ValueError):
                return
            if current is None and not create:
                return
            if current is not None:
                if current.height >= head.height:
                    return
                if self._key is not None and not hmac.compare_digest(current.tag, self._tag(current.height,
                                                                                            current.hash)):
                    return
                if current.height > 0 and self._retrying(lambda: self._hash_at(current.height - 1)) != current.hash:
                    return
            head.save(self.head_path)
        finally:
            lock_file.close()  # releases the lock

    # -- writing -------------------------------------------------------------------------------

    def _retrying(self, operation):
        """Run ``operation`` again (jittered exponential backoff) while SQLite reports a busy database."""
        for attempt in range(self._retries):
            try:
                return operation()
            except sqlite3.OperationalError as err:
                if not _is_busy(err) or attempt == self._retries - 1:
                    raise
                time.sleep(min(0.02 * 2**attempt, 1.0) * (0.5 + random.random()))

    def _append_once(self, payload: str):
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock before reading the head
        try:
            row = self._db.execute("SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
            height, previous = (row[0] + 1, row[1]) if row else (0, GENESIS_HASH)
            digest = _chain_hash(previous, payload)
            self._db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)", (height, previous, payload, digest))
            self._db.execute("COMMIT")
        except BaseException:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return height, digest

    def append(self, record: dict) -> LedgerHead:
        """Append one block in a single transaction; returns the new head (a receipt to keep).

        The receipt's ``hash`` is the block's hash and its ``height`` the number of blocks up to and
        including it.
        """
        if not isinstance(record, dict):
            raise ValueError("a ledger record must be a dict")
        payload = _canonical(_plain(record))
        with self._lock:
            height, digest = self._retrying(lambda: self._append_once(payload))
            head = self._signed(height + 1, digest)
            if self.head_path is not None:
                self._publish(head)
        return head

    def append_clearing(self, clearing, *, bids, asks, market: str, rewards=None, reputation=None) -> LedgerHead:
        """Record one market's clearing with the reports, the money flows, rewards and reputation updates.

        ``clearing`` is a single (unbatched) :class:`~mechanisms.Clearing`;
        ``rewards`` (optional) are paid out of the surplus. Returns the new head, as :meth:`append`.
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
        with self._lock:
            rows = self._db.execute("SELECT height, payload FROM blocks ORDER BY height").fetchall()
        for height, payload in rows:
            yield height, json.loads(payload)

    # -- verifying -----------------------------------------------------------------------------

    def _anchor_problem(self, anchor: LedgerHead, hashes: list, label: str, *, must_be_signed: bool):
        """``(first_bad_block, reason)`` if the chain ``hashes`` does not extend ``anchor``, else None."""
        if self._key is not None and (anchor.tag or must_be_signed):
            if not hmac.compare_digest(anchor.tag, self._tag(anchor.height, anchor.hash)):
                return None, f"{label}: its tag is not this key's signature of the head (forged or unsigned)"
        if anchor.height > len(hashes):
            return len(hashes), (f"{label}: the ledger holds {len(hashes)} blocks, the anchored head "
                                 f"{anchor.height} (truncated, or blocks deleted)")
        if anchor.height > 0 and hashes[anchor.height - 1] != anchor.hash:
            return anchor.height - 1, (f"{label}: block {anchor.height - 1} does not hash to the anchored "
                                       "head (history rewritten)")
        return None

    def verify(self, *, expected_head: LedgerHead | tuple | None = None, atol: float = 1e-9) -> LedgerReport:
        """Replay the chain (links, hashes, budget identities) and check it against the anchors.

        Args:
          expected_head: a head kept from an earlier :meth:`append` or report (or ``(height, hash)``):
            the chain must hold at least that many blocks, the last of them hashing to it.
          atol: tolerance of the budget identity, relative to the size of the money flows.

        Never raises on what it reads: a malformed row, payload or head file and an unreadable
        database all give ``ok=False`` with the reason.
        """
        if expected_head is not None and not isinstance(expected_head, LedgerHead):
            try:
                expected_head = LedgerHead(*expected_head)
            except (TypeError, ValueError) as err:
                raise ValueError(f"expected_head must be a LedgerHead or (height, hash): {err}") from None
        with self._lock:
            return self._verify(expected_head, atol)

    def _verify(self, expected_head, atol) -> LedgerReport:
        if self._broken:
            return LedgerReport(False, 0, 0, self._broken)
        anchors = []
        if expected_head is not None:
            anchors.append((expected_head, "expected_head", False))
        head_file_problem = ""
        if self.head_path is not None:
            # Read before the blocks: the file only ever moves to committed heads, so the snapshot of the
            # blocks taken next holds at least as many (other writers may commit in between).
            try:
                anchors.append((LedgerHead.load(self.head_path), "head file", True))
            except FileNotFoundError:
                head_file_problem = "head file missing"
            except Exception as err:  # unreadable or malformed
                head_file_problem = f"head file unreadable: {err}"
        try:
            rows = self._retrying(self._read_rows)
        except Exception as err:  # sqlite3.Error, text that is not UTF-8, ...: not a sound ledger
            return LedgerReport(False, self._count(), self._first_unreadable_row(), f"database unreadable: {err}")
        hashes, previous = [], GENESIS_HASH
        for row in rows:
            reason, previous = _block_problem(row, len(hashes), previous, atol)
            if reason:
                return LedgerReport(False, len(rows), len(hashes), reason)
            hashes.append(previous)
        if head_file_problem:
            return LedgerReport(False, len(hashes), None, head_file_problem)
        for anchor, label, must_be_signed in anchors:
            problem = self._anchor_problem(anchor, hashes, label, must_be_signed=must_be_signed)
            if problem is not None:
                return LedgerReport(False, len(hashes), problem[0], problem[1])
        head = self._signed(len(hashes), hashes[-1] if hashes else GENESIS_HASH)
        anchored = max((anchor.height for anchor, _, _ in anchors), default=0)
        return LedgerReport(True, len(hashes), head=head, anchored=anchored)

    def _read_rows(self):
        # One statement: a consistent snapshot while other writers commit.
        return self._db.execute("SELECT height, previous, payload, hash FROM blocks ORDER BY height").fetchall()

    def _count(self) -> int:
        """Rows in the blocks table, 0 if they cannot be counted (never raises)."""
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])
        except Exception:
            return 0

    def _first_unreadable_row(self) -> int:
        """Index of the first row that cannot be read (never raises)."""
        count = 0
        try:
            for _ in self._db.execute("SELECT height, previous, payload, hash FROM blocks ORDER BY height"):
                count += 1
        except Exception:
            pass
        return count
