"""Property: hostile input never crashes the importer with anything but FeedError / FeedInvalid, and never
leaves a partial import — either every row is in, or (all-or-nothing) nothing is; with --skip-invalid the
imported and the rejected rows add up. Text that gets in is stored exactly (trimmed), never interpreted."""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from exq_core.errors import FeedError, FeedInvalid
from exq_core.ingest import import_file
from exq_core.store import open_store
from tests.feeds import ROUTINE, snapshot

pytestmark = pytest.mark.slow          # hostile input: many generated files (make test-fast leaves it out)

NASTY = [
    "'; DROP TABLE orders; --", "\" OR 1=1 --", "Robert'); DELETE FROM cases;--", "$now", "?", "$1",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "{{7*7}}", "${jndi:ldap://x}",
    "=HYPERLINK(\"http://evil\")", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3",
    "\"", "\"\"", ",", ";", "\t", "|", "\r\n", "\n", "\r", "a\"b", "a,b", "'quoted'", "\\", "\\N", "NULL", "null",
    "\x00", "a\x00b", "\u202e\u202dRTL", "\ufeffBOM", "\u2028", "😀👍🏽", "Zürich—“quotes”", "\x1b[31mred",
    " ", "", "   padded   ", "#1001", "#", "'O-1'", "'78701", "''", "\tpadded\n",
]
WHITE_SPACE = " \t\n\r\x0b\x0c"      # what a value is trimmed of (SPEC §2)

hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "\"", ",", "😀"]), st.integers(9_995, 10_005)),
)
maybe_valid_time = st.one_of(st.just("2026-11-20T10:00:00Z"), st.just("2026-11-20 10:00:00-05:00"), hostile_text)
maybe_valid_money = st.one_of(st.just("12.50"), st.just("0"), st.just("-1"), st.just("1e3"), st.just("12,5"), hostile_text)

row = st.fixed_dictionaries({
    "order_id": st.one_of(st.from_regex(r"[A-Z]{1,3}-[0-9]{1,4}", fullmatch=True), hostile_text),
    "placed_at": maybe_valid_time,
    "order_total": maybe_valid_money,
    "customer_message": hostile_text,
    "ship_name": hostile_text,
    "return_reason": hostile_text,
    "payment_status": st.one_of(st.sampled_from(["paid", "PAID ", "failed", ""]), hostile_text),
    "ship_country": st.one_of(st.just("US"), hostile_text),
})


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ROUTINE) + ["order_id"], extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({**ROUTINE, **r})
    return out.getvalue().encode("utf-8")


def _attempt(data: bytes, name: str, skip_invalid: bool):
    """Import `data` into a fresh database; returns (result or None, error or None, before, after, store)."""
    store = open_store(":memory:")
    before = snapshot(store)
    result = error = None
    with tempfile.TemporaryDirectory(prefix="exq-hostile-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            result = import_file(store, path, skip_invalid=skip_invalid)
        except (FeedError, FeedInvalid) as err:      # anything else fails the test
            error = err
    return result, error, before, snapshot(store), store


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])


@SETTINGS
@given(rows=st.lists(row, min_size=1, max_size=6), skip_invalid=st.booleans())
def test_hostile_rows_never_crash_and_never_half_import(rows, skip_invalid):
    result, error, before, after, store = _attempt(_csv(rows), "hostile.csv", skip_invalid)
    try:
        with store.read() as cur:
            n_orders = cur.execute("SELECT count(*) FROM orders").fetchone()[0]
            n_rejected = cur.execute("SELECT count(DISTINCT line) FROM rejects").fetchone()[0]
            stored = dict(cur.execute("SELECT order_id, customer_message FROM orders").fetchall())
        if error is not None:
            for table in ("orders", "cases", "events", "rejects"):
                assert after[table] == before[table], table
            assert str(error)                                          # a sentence for a person
        else:
            assert result.rows == len(rows)             # every row written is read: none skipped or joined
            assert set(stored) <= {r["order_id"].strip(WHITE_SPACE) for r in rows}   # ids as written
            assert n_orders == result.orders_new
            # every row is accounted for: stored, rejected, or an older / repeated snapshot left out
            if skip_invalid:
                assert result.orders_new + result.rejected + result.older_in_file == result.rows
                assert result.orders_new + result.rejected == n_orders + n_rejected
            else:
                assert result.rejected == 0 and n_orders + result.older_in_file == result.rows
            for r in rows:                                             # what got in is stored as written
                key = r["order_id"].strip(WHITE_SPACE)
                if key in stored and stored[key] is not None:
                    assert stored[key].strip(WHITE_SPACE) == r["customer_message"].strip(WHITE_SPACE) or \
                        sum(1 for x in rows if x["order_id"].strip(WHITE_SPACE) == key) > 1
    finally:
        store.close()


@SETTINGS
@given(garbage=st.binary(max_size=400), header=st.booleans())
def test_garbage_bytes_never_crash(garbage, header):
    head = b"order_id,placed_at,order_total\n" if header else b""
    result, error, before, after, store = _attempt(head + garbage, "garbage.csv", False)
    try:
        if error is not None:
            for table in ("orders", "cases", "events", "rejects"):
                assert after[table] == before[table], table
        else:
            assert result.orders_new == after["orders"][0]
    finally:
        store.close()


@SETTINGS
@given(lines=st.lists(st.text(alphabet=st.sampled_from('ab,;"\'\n\r\t\\ 1.-:TZ'), max_size=30), min_size=1, max_size=8))
def test_broken_quoting_and_delimiters_never_crash(lines):
    data = ("order_id,placed_at,order_total\nA,2026-11-20T10:00:00Z,5\n" + "\n".join(lines)).encode()
    for fmt_name in ("broken.csv", "broken.jsonl"):
        result, error, before, after, store = _attempt(data, fmt_name, False)
        try:
            if error is not None:
                assert after["orders"] == before["orders"]
        finally:
            store.close()
