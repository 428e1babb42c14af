import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mechanisms import SettlementLedger, mcafee_double_auction


def fill(ledger, count=5, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(count):
        bids, asks = rng.random(6), rng.random(6)
        clearing = mcafee_double_auction(bids, asks)
        ledger.append_clearing(clearing, bids=bids, asks=asks, market=f"m{k}",
                               reputation={"seller-0": 0.5 + 0.01 * k})


def test_chain_verifies_and_records_round_trip(tmp_path):
    with SettlementLedger(tmp_path / "ledger.db") as ledger:
        fill(ledger)
        report = ledger.verify()
        assert report.ok and report.height == 5
        heights = [h for h, _ in ledger.blocks()]
        assert heights == list(range(5))
        _, first = next(ledger.blocks())
        assert first["kind"] == "clearing" and len(first["bids"]) == 6


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


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from mechanisms import SettlementLedger, mcafee_double_auction
    ledger = SettlementLedger(sys.argv[1])
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
    path = tmp_path / "ledger.db"
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
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
    with SettlementLedger(path) as ledger:
        report = ledger.verify()
        assert report.ok
        assert report.height >= committed


def test_bad_records():
    ledger = SettlementLedger(":memory:")
    with pytest.raises(ValueError, match="finite"):
        ledger.append({"x": float("nan")})
    with pytest.raises(ValueError, match="dict"):
        ledger.append([1, 2])
    assert len(ledger) == 0
