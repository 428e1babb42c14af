import hashlib
import json
import math
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import mechanisms.settlement._ledger as ledger_module
from mechanisms import GENESIS_HASH, LedgerHead, SettlementLedger, mcafee_double_auction

SELECT = "SELECT height, previous, payload, hash FROM blocks ORDER BY height"


def fill(ledger, count=5, seed=0):
    rng = np.random.default_rng(seed)
    receipts = []
    for k in range(count):
        bids, asks = rng.random(6), rng.random(6)
        clearing = mcafee_double_auction(bids, asks)
        receipts.append(ledger.append_clearing(clearing, bids=bids, asks=asks, market=f"m{k}",
                                               reputation={"seller-0": 0.5 + 0.01 * k}))
    return receipts


def rows_of(path):
    raw = sqlite3.connect(path)
    try:
        return raw.execute(SELECT).fetchall()
    finally:
        raw.close()


def store_rows(path, rows):
    raw = sqlite3.connect(path)
    raw.execute("DELETE FROM blocks")
    raw.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?)", rows)
    raw.commit()
    raw.close()


def relinked(payloads):
    """A valid chain over ``payloads``, hashed independently of the library: SHA-256(previous || payload)."""
    rows, previous = [], "0" * 64
    for height, payload in enumerate(payloads):
        digest = hashlib.sha256((previous + payload).encode()).hexdigest()
        rows.append((height, previous, payload, digest))
        previous = digest
    return rows


def test_chain_verifies_and_records_round_trip(tmp_path):
    with SettlementLedger(tmp_path / "ledger.db") as ledger:
        fill(ledger)
        report = ledger.verify()
        assert report.ok and report.height == 5
        heights = [h for h, _ in ledger.blocks()]
        assert heights == list(range(5))
        _, first = next(ledger.blocks())
        assert first["kind"] == "clearing" and len(first["bids"]) == 6


def test_append_returns_receipts_that_are_the_chain_heads(tmp_path):
    path = tmp_path / "ledger.db"
    with SettlementLedger(path) as ledger:
        assert ledger.head() == LedgerHead(0, GENESIS_HASH) and ledger.verify().head == ledger.head()
        receipts = fill(ledger)
        stored = rows_of(path)
        assert [r.height for r in receipts] == [1, 2, 3, 4, 5]
        assert [r.hash for r in receipts] == [row[3] for row in stored]
        assert ledger.head() == receipts[-1] and ledger.verify().head == receipts[-1]
        for receipt in receipts:  # every earlier receipt is a prefix of the chain
            report = ledger.verify(expected_head=receipt)
            assert report.ok and report.anchored == receipt.height
        assert ledger.verify(expected_head=(receipts[2].height, receipts[2].hash)).ok


def test_any_altered_payload_or_hash_is_detected(tmp_path):
    path = tmp_path / "ledger.db"
    with SettlementLedger(path) as ledger:
        fill(ledger)
    raw = sqlite3.connect(path)
    payload = raw.execute("SELECT payload FROM blocks WHERE height = 2").fetchone()[0]
    for position in [0, len(payload) // 2, len(payload) - 2]:
        altered = payload[:position] + ("X" if payload[position] != "X" else "Y") + payload[position + 1:]
        raw.execute("UPDATE blocks SET payload = ? WHERE height = 2", (altered,))
        raw.commit()
        with SettlementLedger(path) as ledger:
            report = ledger.verify()
        assert not report.ok and report.first_bad_block == 2
    raw.execute("UPDATE blocks SET payload = ? WHERE height = 2", (payload,))
    raw.execute("DELETE FROM blocks WHERE height = 1")
    raw.commit()
    raw.close()
    with SettlementLedger(path) as ledger:
        assert not ledger.verify().ok


def test_flipped_byte_in_the_file_is_detected(tmp_path):
    path = tmp_path / "ledger.db"
    with SettlementLedger(path) as ledger:
        fill(ledger)
    data = bytearray(path.read_bytes())
    needle = b'"market":"m3"'
    at = data.find(needle)
    assert at > 0
    data[at + len(needle) - 2] ^= 0x01  # m3 -> m2 in the stored bytes
    path.write_bytes(bytes(data))
    with SettlementLedger(path) as ledger:
        report = ledger.verify()
    assert not report.ok


def test_forged_budget_is_detected_even_with_a_valid_hash(tmp_path):
    with SettlementLedger(tmp_path / "ledger.db") as ledger:
        fill(ledger, 2)
        ledger.append(dict(kind="clearing", payments=[1.0], receipts=[0.5], rewards=[], surplus=0.2))
        report = ledger.verify()
    assert not report.ok and report.reason == "budget identity violated"


# -- anchoring: what a chain cannot see of itself, a kept head can -------------------------------


@pytest.fixture
def template(tmp_path):
    """A 5-block ledger file and the receipt of its last block."""
    path = tmp_path / "template.db"
    with SettlementLedger(path) as ledger:
        receipt = fill(ledger)[-1]
    return path, receipt


def verify_copy(template_path, tmp_path, tamper, **kwargs):
    """Copy the template, tamper with the copy, then verify it: ``(unanchored, anchored)`` reports."""
    path = tmp_path / f"copy-{time.monotonic_ns()}.db"
    shutil.copy(template_path, path)
    tamper(path)
    with SettlementLedger(path) as ledger:
        return ledger.verify(), ledger.verify(**kwargs)


def test_truncation_deletion_of_any_block_and_empty_files_are_detected_against_the_kept_head(template, tmp_path):
    path, receipt = template
    original = rows_of(path)
    for index in range(5):
        # Deleting a block: a hole, or (relinked) a consistent shorter chain.
        def drop(p, index=index):
            raw = sqlite3.connect(p)
            raw.execute("DELETE FROM blocks WHERE height = ?", (index,))
            raw.commit()
            raw.close()

        def drop_and_relink(p, index=index):
            store_rows(p, relinked([row[2] for k, row in enumerate(original) if k != index]))

        for tamper in (drop, drop_and_relink):
            unanchored, anchored = verify_copy(path, tmp_path, tamper, expected_head=receipt)
            assert not anchored.ok, (index, tamper.__name__)
            assert anchored.height == 4
        # The chain alone cannot see its last block cut off, nor any block removed and the rest relinked.
        unanchored, _ = verify_copy(path, tmp_path, drop_and_relink, expected_head=receipt)
        assert unanchored.ok
    unanchored, anchored = verify_copy(path, tmp_path, lambda p: store_rows(p, []), expected_head=receipt)
    assert unanchored.ok and not anchored.ok and anchored.first_bad_block == 0 and "truncated" in anchored.reason
    unanchored, anchored = verify_copy(path, tmp_path, lambda p: open(p, "wb").close(), expected_head=receipt)
    assert unanchored.ok and not anchored.ok and anchored.height == 0
    unanchored, anchored = verify_copy(path, tmp_path, os.remove, expected_head=receipt)
    assert unanchored.ok and not anchored.ok


def test_a_consistent_rewrite_is_detected_against_the_kept_head(template, tmp_path):
    path, receipt = template
    original = rows_of(path)
    forged = json.loads(original[2][2])
    forged["market"], forged["bids"][0] = "forged", forged["bids"][0] + 1.0  # budget identity still holds
    payloads = [row[2] for row in original]
    payloads[2] = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    unanchored, anchored = verify_copy(path, tmp_path, lambda p: store_rows(p, relinked(payloads)),
                                       expected_head=receipt)
    assert unanchored.ok  # a self-consistent chain
    assert not anchored.ok and anchored.first_bad_block == 4 and "rewritten" in anchored.reason
    # Blocks appended after the kept head are linked but not anchored by it.
    with SettlementLedger(path) as ledger:
        ledger.append({"kind": "note"})
        report = ledger.verify(expected_head=receipt)
    assert report.ok and report.height == 6 and report.anchored == 5


def test_head_file_and_key_anchor_the_chain_without_the_caller(tmp_path):
    path, head_path, key = tmp_path / "ledger.db", tmp_path / "ledger.head", b"held by the settlement operator"
    with SettlementLedger(path, key=key, head_path=head_path) as ledger:
        receipts = fill(ledger)
        report = ledger.verify()
    assert report.ok and report.anchored == 5 and LedgerHead.load(head_path) == receipts[-1] == report.head
    assert receipts[-1].tag and len({r.tag for r in receipts}) == 5
    original = rows_of(path)
    saved = head_path.read_bytes()

    def check(tamper_db, tamper_head=None, *, key=key):
        shutil.copy(tmp_path / "pristine.db", path)
        head_path.write_bytes(saved)
        tamper_db(path)
        if tamper_head is not None:
            tamper_head(head_path)
        with SettlementLedger(path, key=key, head_path=head_path) as ledger:
            return ledger.verify()

    shutil.copy(path, tmp_path / "pristine.db")
    assert check(lambda p: None).ok
    assert not check(lambda p: store_rows(p, original[:4])).ok  # last block deleted
    assert not check(lambda p: open(p, "wb").close()).ok  # 0-byte file
    assert "missing" in check(lambda p: None, os.remove).reason
    assert "unreadable" in check(lambda p: None, lambda h: open(h, "wb").close()).reason
    # A consistent rewrite of the chain and of the head file: the forger lacks the key.
    payloads = [row[2] for row in original[:3]] + ['{"kind":"note"}']
    forged = relinked(payloads)
    for tag in ("", "0" * 64):
        report = check(lambda p: store_rows(p, forged), lambda h: LedgerHead(4, forged[-1][3], tag).save(h))
        assert not report.ok and "tag" in report.reason
    # Without a key, whoever can rewrite both files can forge a consistent pair: only a kept receipt tells.
    path_plain, head_plain = tmp_path / "plain.db", tmp_path / "plain.head"
    with SettlementLedger(path_plain, head_path=head_plain) as ledger:
        receipt = fill(ledger)[-1]
    store_rows(path_plain, forged)
    LedgerHead(4, forged[-1][3]).save(head_plain)
    with SettlementLedger(path_plain, head_path=head_plain) as ledger:
        assert ledger.verify().ok
        assert not ledger.verify(expected_head=receipt).ok


def test_head_file_never_moves_backwards_nor_over_evidence(tmp_path):
    path, head_path = tmp_path / "ledger.db", tmp_path / "ledger.head"
    with SettlementLedger(path, head_path=head_path) as ledger:
        receipts = fill(ledger)
    store_rows(path, rows_of(path)[:3])  # truncated behind the ledger's back ...
    with SettlementLedger(path, head_path=head_path) as ledger:
        for k in range(4):  # ... then written past the old height: the head file keeps the evidence
            ledger.append({"kind": "note", "k": k})
        assert LedgerHead.load(head_path) == receipts[-1]
        report = ledger.verify()
    assert not report.ok and report.first_bad_block == 4 and "rewritten" in report.reason
    # A head file that lags (a writer killed between its commit and the head write) is a valid prefix.
    path2, head2 = tmp_path / "lag.db", tmp_path / "lag.head"
    with SettlementLedger(path2, head_path=head2) as ledger:
        fill(ledger, 3)
    with SettlementLedger(path2) as writer_without_head_file:
        writer_without_head_file.append({"kind": "note"})
    with SettlementLedger(path2, head_path=head2) as ledger:
        report = ledger.verify()
        assert report.ok and report.height == 4 and report.anchored == 3
        ledger.append({"kind": "note"})
        assert LedgerHead.load(head2).height == 5


def test_a_deleted_head_file_is_not_recreated_by_appends(tmp_path):
    path, head_path = tmp_path / "ledger.db", tmp_path / "ledger.head"
    with SettlementLedger(path, head_path=head_path) as ledger:
        assert LedgerHead.load(head_path) == LedgerHead(0, GENESIS_HASH)  # a new ledger starts anchored
        assert ledger.verify().ok
        fill(ledger, 2)
    os.remove(head_path)
    store_rows(path, rows_of(path)[:1])  # truncated, and its anchor deleted
    with SettlementLedger(path, head_path=head_path) as ledger:
        ledger.append({"kind": "note"})  # would re-bless the truncated chain if it recreated the file
        assert not head_path.exists()
        report = ledger.verify()
        assert not report.ok and report.reason == "head file missing"
    # Anchoring an existing ledger is an explicit act: save a head you have verified.
    with SettlementLedger(path) as ledger:
        report = ledger.verify()
    report.head.save(head_path)
    with SettlementLedger(path, head_path=head_path) as ledger:
        assert ledger.verify().ok and ledger.verify().anchored == 2


# -- verify never raises on what it reads -----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
stored_values = (st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=20)
                 | st.binary(max_size=20) | json_values.map(json.dumps)
                 | st.sampled_from(['{"kind":"clearing"}', "NaN", "[", GENESIS_HASH, "0" * 63 + "\x80"]))
corruptions = st.one_of(
    st.tuples(st.just("field"), st.integers(0, 4), st.sampled_from(["height", "previous", "payload", "hash"]),
              stored_values),
    st.tuples(st.just("field_not_utf8"), st.integers(0, 4), st.sampled_from(["previous", "payload", "hash"]),
              st.binary(min_size=1, max_size=8).map(lambda b: b"\xff" + b)),
    st.tuples(st.just("delete"), st.integers(0, 4)),
    st.tuples(st.just("insert"), st.integers(-3, 8), stored_values, stored_values, stored_values),
    st.tuples(st.just("drop_table")),
    st.tuples(st.just("truncate_file"), st.integers(0, 8192)),
    st.tuples(st.just("overwrite_bytes"), st.integers(0, 8191), st.binary(min_size=1, max_size=64)),
)


def corrupt(path, corruption):
    kind = corruption[0]
    if kind in ("truncate_file", "overwrite_bytes"):
        data = bytearray(path.read_bytes())
        if kind == "truncate_file":
            del data[corruption[1]:]
        else:
            offset, patch = corruption[1] % len(data), corruption[2]
            data[offset:offset + len(patch)] = patch
        path.write_bytes(bytes(data))
        return
    raw = sqlite3.connect(path)
    # No fsync (speed), and untyped columns, so any value of any type can sit in any field.
    raw.executescript("PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY; BEGIN; "
                      "CREATE TABLE loose (height, previous, payload, hash); INSERT INTO loose SELECT * FROM blocks; "
                      "DROP TABLE blocks; ALTER TABLE loose RENAME TO blocks;")
    if kind == "field":
        _, index, column, value = corruption
        raw.execute(f"UPDATE blocks SET {column} = ? WHERE rowid = (SELECT rowid FROM blocks LIMIT 1 OFFSET ?)",
                    (value, index))
    elif kind == "field_not_utf8":  # text whose bytes are not UTF-8
        _, index, column, value = corruption
        raw.execute(f"UPDATE blocks SET {column} = CAST(? AS TEXT) WHERE rowid = "
                    "(SELECT rowid FROM blocks LIMIT 1 OFFSET ?)", (value, index))
    elif kind == "delete":
        raw.execute("DELETE FROM blocks WHERE rowid = (SELECT rowid FROM blocks LIMIT 1 OFFSET ?)", (corruption[1],))
    elif kind == "insert":
        raw.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)", corruption[1:])
    else:
        raw.execute("DROP TABLE blocks")
    raw.commit()
    raw.close()


def readable_rows(path):
    """The stored rows with the type of every value (0.0 is not the height 0), None if unreadable."""
    try:
        return [tuple((type(value), value) for value in row) for row in rows_of(path)]
    except sqlite3.Error:
        return None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(corruptions)
def test_verify_never_raises_and_rejects_any_corruption(template, corruption):
    template_path, receipt = template
    original = readable_rows(template_path)
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "ledger.db"
        shutil.copy(template_path, path)
        corrupt(path, corruption)
        unchanged = readable_rows(path) == original
        with SettlementLedger(path) as ledger:
            report = ledger.verify(expected_head=receipt)
    assert report.ok == unchanged, (report, corruption)
    assert report.ok or report.reason


def test_the_corruption_search_finds_what_an_unanchored_chain_misses(template):
    """The property above can fail: without the kept head, the same search finds an accepted corruption."""
    template_path, _ = template
    original = readable_rows(template_path)

    def accepted_though_changed(corruption):
        with tempfile.TemporaryDirectory() as directory:
            path = pathlib.Path(directory) / "ledger.db"
            shutil.copy(template_path, path)
            corrupt(path, corruption)
            with SettlementLedger(path) as ledger:
                return ledger.verify().ok and readable_rows(path) != original

    example = find(corruptions, accepted_though_changed, settings=settings(database=None, max_examples=500))
    assert accepted_though_changed(example)  # e.g. the last block deleted, or the table dropped


clearing_fields = st.fixed_dictionaries({}, optional={
    "payments": st.lists(st.floats(-10, 10), max_size=3) | json_values,
    "receipts": st.lists(st.floats(-10, 10), max_size=3) | json_values,
    "rewards": st.lists(st.floats(-10, 10), max_size=3) | json_values,
    "surplus": st.floats(-10, 10) | json_values,
})


def balanced(record):
    """Oracle: a well-formed clearing (lists of finite reals, a finite real surplus) that balances."""
    def real(x):
        return type(x) in (int, float) and math.isfinite(x)

    if not all(isinstance(record.get(k), list) and all(map(real, record[k])) for k in ("payments", "receipts",
                                                                                       "rewards")):
        return False
    if not real(record.get("surplus")):
        return False
    try:
        flows = float(np.sum(record["payments"], dtype=float) - np.sum(record["receipts"], dtype=float)
                      - np.sum(record["rewards"], dtype=float))
    except OverflowError:
        return False
    return math.isfinite(flows) and abs(flows - record["surplus"]) <= 1e-9 * max(1.0, abs(flows))


@given(clearing_fields, st.booleans())
def test_malformed_clearing_blocks_with_valid_hashes_are_reported_not_raised(fields, balance):
    record = dict(kind="clearing", **fields)
    if balance and all(isinstance(record.get(k), list) for k in ("payments", "receipts", "rewards")):
        try:
            flows = [np.sum(record[name]) for name in ("payments", "receipts", "rewards")]
            record["surplus"] = float(flows[0] - flows[1] - flows[2])
        except (TypeError, ValueError, OverflowError):
            pass
    ledger = SettlementLedger(":memory:")
    try:
        ledger.append(record)
    except ValueError:  # the writer refuses non-finite numbers up front
        return
    report = ledger.verify()
    assert report.ok == balanced(json.loads(json.dumps(record)))


def naive_budget_check(record):
    """The pre-fix verifier's budget check, which trusted the block's fields."""
    balance = sum(record["payments"]) - sum(record["receipts"]) - sum(record["rewards"])
    return abs(balance - record["surplus"]) <= 1e-9 * max(1.0, abs(balance))


def test_the_malformed_block_search_finds_crashes_of_a_trusting_verifier():
    def crashes(fields):
        try:
            naive_budget_check(dict(kind="clearing", **fields))
        except (KeyError, TypeError):
            return True
        return False

    example = find(clearing_fields, crashes, settings=settings(database=None))
    with pytest.raises((KeyError, TypeError)):
        naive_budget_check(dict(kind="clearing", **example))
    ledger = SettlementLedger(":memory:")
    ledger.append(dict(kind="clearing", **example))
    assert not ledger.verify().ok


# -- concurrency and crashes ---------------------------------------------------------------------------

CONCURRENT_WRITER = textwrap.dedent(
    """
    import importlib.util, json, os, sys, time
    spec = importlib.util.spec_from_file_location("nashgrid_ledger_under_test", sys.argv[1])
    module = importlib.util.module_from_spec(spec)  # the ledger module alone: no jax import per process
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    path, head_path, count, go = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    while not os.path.exists(go):
        time.sleep(0.002)
    ledger = module.SettlementLedger(path, key=b"k", head_path=head_path)
    for k in range(count):
        receipt = ledger.append({"kind": "note", "writer": os.getpid(), "k": k})
        print(json.dumps([receipt.height, receipt.hash, receipt.tag]), flush=True)
        if k % 3 == 2:
            assert ledger.verify().ok
    """
)


def test_concurrent_writer_processes_append_without_an_error(tmp_path):
    path, head_path, go = tmp_path / "ledger.db", tmp_path / "ledger.head", tmp_path / "go"
    writers, count = 4, 15
    processes = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, ledger_module.__file__, str(path),
                                   str(head_path), str(count), str(go)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(writers)]
    time.sleep(0.3)
    go.touch()
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err
    receipts = [LedgerHead(*json.loads(line)) for out, _ in outputs for line in out.splitlines()]
    assert sorted(r.height for r in receipts) == list(range(1, writers * count + 1))
    with SettlementLedger(path, key=b"k", head_path=head_path) as ledger:
        report = ledger.verify()
        assert report.ok and report.height == writers * count and report.anchored == writers * count
        assert all(ledger.verify(expected_head=receipt).ok for receipt in receipts[::7])


def test_concurrent_writer_threads_append_without_an_error(tmp_path):
    path = tmp_path / "ledger.db"
    shared = SettlementLedger(path)
    errors = []

    def write(ledger, count, close):
        try:
            for k in range(count):
                ledger.append({"kind": "note", "thread": threading.get_ident(), "k": k})
                if k % 4 == 3:
                    assert ledger.verify().ok
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            if close:
                ledger.close()

    threads = [threading.Thread(target=write, args=(SettlementLedger(path), 10, True)) for _ in range(3)]
    threads += [threading.Thread(target=write, args=(shared, 10, False)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = shared.verify()
    shared.close()
    assert report.ok and report.height == 60


def test_a_busy_database_is_waited_for_and_retried(tmp_path):
    path = tmp_path / "ledger.db"
    SettlementLedger(path).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock for a while
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    with SettlementLedger(path, timeout=0.01, retries=10) as ledger:
        assert ledger.append({"kind": "note"}).height == 1
    release.join()
    # Without retries the same wait reaches the caller: the retries are what the test above relies on.
    holder.execute("BEGIN IMMEDIATE")
    with SettlementLedger(path, timeout=0.01, retries=1) as ledger:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            ledger.append({"kind": "note"})
    holder.execute("COMMIT")
    holder.close()


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from mechanisms import SettlementLedger, mcafee_double_auction
    ledger = SettlementLedger(sys.argv[1], head_path=sys.argv[2])
    rng = np.random.default_rng(0)
    k = 0
    while True:
        bids, asks = rng.random(20), rng.random(20)
        ledger.append_clearing(mcafee_double_auction(bids, asks), bids=bids, asks=asks, market=str(k))
        k += 1
        print(k, flush=True)
    """
)


def test_killed_writer_loses_no_committed_block_and_leaves_no_half_block(tmp_path):
    path, head_path = tmp_path / "ledger.db", tmp_path / "ledger.head"
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(head_path)], stdout=subprocess.PIPE,
                              text=True, env=env)
    committed = 0
    deadline = time.time() + 120
    while committed < 30 and time.time() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        committed = int(line)
    writer.send_signal(signal.SIGKILL)  # mid-append, most likely
    writer.wait()
    assert committed >= 30, "the writer did not get going"
    with SettlementLedger(path, head_path=head_path) as ledger:
        report = ledger.verify()
        assert report.ok, report
        assert report.height >= committed
        assert report.anchored >= committed  # the head file was written before append returned


def test_bad_records():
    ledger = SettlementLedger(":memory:")
    with pytest.raises(ValueError, match="finite"):
        ledger.append({"x": float("nan")})
    with pytest.raises(ValueError, match="dict"):
        ledger.append([1, 2])
    assert len(ledger) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="key"):
        SettlementLedger(":memory:", key=b"")
    with pytest.raises(ValueError, match="timeout"):
        SettlementLedger(":memory:", timeout=-1.0)
    with pytest.raises(ValueError, match="retries"):
        SettlementLedger(":memory:", retries=0)
    with pytest.raises(ValueError, match="head_path"):
        SettlementLedger(":memory:", head_path="/nonexistent-directory/ledger.head")
    ledger = SettlementLedger(":memory:")
    with pytest.raises(ValueError, match="expected_head"):
        ledger.verify(expected_head=(1, "not a hash"))
    with pytest.raises(ValueError, match="expected_head"):
        ledger.verify(expected_head="abc")
    with pytest.raises(ValueError, match="height"):
        LedgerHead(-1, GENESIS_HASH)
    with pytest.raises(ValueError, match="GENESIS_HASH"):
        LedgerHead(0, "a" * 64)
    with pytest.raises(ValueError):
        LedgerHead.from_json('{"height": "3", "hash": "x"}')


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a SQLite database, but 100 bytes or more of something else entirely ......")
    with SettlementLedger(path) as ledger:
        report = ledger.verify()
    assert not report.ok and "unreadable" in report.reason


def test_the_readme_example_runs_as_written(capsys):
    readme = (pathlib.Path(__file__).resolve().parents[3] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "settlement.db" in b]
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split(maxsplit=1)
    assert printed[0] == "True" and "truncated" in printed[1]  # the chain alone passes; the kept head does not
