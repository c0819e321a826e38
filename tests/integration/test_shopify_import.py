"""The Shopify orders export, built on the real header, read into orders and routed to the expected buckets."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from bench.bench_shopify import SHOPIFY_HEADER
from exq_core.errors import FeedError, FeedInvalid
from exq_core.ingest import import_file, preview_file
from exq_core.ingest.readers import detect_format
from exq_core.ingest.shopify import looks_like_shopify
from tests.ingest_support import REAL_HEADER_FILE, order, shopify_header, write_shopify
from tests.feeds import snapshot

NOW = datetime(2026, 11, 27, 12, 0)
BLANK_ADDRESS = {"Shipping Name": "Bo Blank", "Shipping City": "Austin", "Shipping Zip": "'78701",
                 "Shipping Country": "US"}  # no street, no Address1


@pytest.fixture
def export(tmp_path):
    """Nine orders, one per situation, several with more than one line item."""
    return write_shopify(
        tmp_path / "orders_export_1.csv",
        order("#1001", 2, 1, 3, total="60.00"),                                          # routine, 3 lines
        order("#1002", 1, total="45.00", financial="refunded", refunded="45.00", fulfillment="fulfilled"),
        order("#1003", 1, 1, total="80.00", financial="partially_refunded", refunded="10.00"),
        order("#1004", 1, total="120.00", risk="High"),                                  # fraud
        order("#1005", 1, 2, total="30.00", address=BLANK_ADDRESS),                      # address
        order("#1006", 1, total="250.00", tags="wholesale, VIP", notes="Gift wrap, please"),  # vip
        order("#1007", 1, total="99.00", financial="pending", outstanding="99.00"),       # payment
        order("#1008", 1, total="70.00", financial="voided", cancelled="2026-11-21 10:00:00 -0500",
              address=BLANK_ADDRESS),                                                    # canceled: routine
        order("#1009", 4, total="200.00", outstanding="5.00"),                            # payment (5 unpaid)
    )


def orders_by_id(store) -> dict:
    with store.read() as cur:
        cur.execute("SELECT * FROM orders ORDER BY order_id")
        names = [d[0] for d in cur.description]
        return {row[1]: dict(zip(names, row)) for row in cur.fetchall()}


def buckets(store) -> dict:
    with store.read() as cur:
        return dict(cur.execute("SELECT order_id, bucket FROM cases").fetchall())


def test_the_benchmark_uses_the_real_header():
    if not REAL_HEADER_FILE.exists():
        pytest.skip("shared/data not mounted")
    assert list(SHOPIFY_HEADER) == shopify_header()
    assert len(SHOPIFY_HEADER) == 79


def test_a_shopify_export_is_detected(export, tmp_path, feed):
    assert looks_like_shopify(export) and detect_format(export) == "shopify"
    generic = feed([{"order_id": "A"}])
    assert not looks_like_shopify(generic) and detect_format(generic) == "csv"


def test_export_is_read_one_order_per_name_and_routed(store, export, manager):
    result = import_file(store, export, source="acme-shop", actor=manager, now=NOW)
    assert result.status == "imported" and result.report.format == "shopify"
    assert result.rows == 9 and result.orders_new == 9
    assert result.cases_new_by_bucket == {"fraud_risk": 1, "address_problem": 1, "vip_revenue": 1,
                                          "payment_mismatch": 2}
    assert result.routine == 4
    assert buckets(store) == {"#1004": "fraud_risk", "#1005": "address_problem", "#1006": "vip_revenue",
                              "#1007": "payment_mismatch", "#1009": "payment_mismatch"}
    with store.read() as cur:
        source, fmt, status = cur.execute("SELECT source, format, status FROM imports").fetchone()
    assert (source, fmt, status) == ("acme-shop", "shopify", "imported")


def test_each_field_is_mapped(store, export):
    import_file(store, export, source="acme-shop", now=NOW)
    o = orders_by_id(store)
    first = o["#1001"]
    assert first["source"] == "acme-shop"
    assert first["items_ordered"] == 6                                   # 2 + 1 + 3 over three lines
    assert first["placed_at"] == datetime(2026, 11, 20, 19, 3, 11)       # -0500 → UTC
    assert first["order_total"] == Decimal("60.000") and first["currency"] == "USD"
    assert first["amount_paid"] == Decimal("60.000")                     # Total − Outstanding Balance
    assert first["customer_email"] == "1001@example.com"
    assert first["payment_status"] == "paid" and first["fulfillment_status"] == "unfulfilled"
    assert (first["ship_name"], first["ship_address1"], first["ship_city"], first["ship_postal_code"],
            first["ship_country"]) == ("Ada Lovelace", "12 Congress Ave", "Austin", "78701", "US")
    assert first["risk_level"] == "low" and first["customer_tier"] is None
    # what the export cannot know stays unknown
    for field in ("items_available", "address_verified", "risk_score", "customer_ltv", "customer_id",
                  "return_requested", "damage_reported", "return_reason"):
        assert first[field] is None, field
    assert first["updated_at"] == NOW                                    # no snapshot time: the import's
    assert o["#1002"]["payment_status"] == "refunded" and o["#1002"]["amount_refunded"] == Decimal("45.000")
    assert o["#1003"]["payment_status"] == "paid" and o["#1003"]["amount_refunded"] == Decimal("10.000")
    assert o["#1003"]["items_ordered"] == 2
    assert o["#1004"]["risk_level"] == "high"
    assert o["#1005"]["ship_address1"] is None
    assert o["#1006"]["customer_tier"] == "vip" and o["#1006"]["customer_message"] == "Gift wrap, please"
    assert o["#1007"]["amount_paid"] == Decimal("0.000") and o["#1007"]["payment_status"] == "pending"
    assert o["#1008"]["fulfillment_status"] == "canceled" and o["#1008"]["payment_status"] == "voided"
    assert o["#1009"]["amount_paid"] == Decimal("195.000")


def test_vip_needs_the_word_not_the_letters(store, tmp_path):
    path = write_shopify(tmp_path / "tags.csv",
                         order("#2001", tags="VIP"), order("#2002", tags="vip-gold, newsletter"),
                         order("#2003", tags="VIPER fans"), order("#2004", tags="wholesale"))
    import_file(store, path, source="acme-shop", now=NOW)
    tiers = {k: v["customer_tier"] for k, v in orders_by_id(store).items()}
    assert tiers == {"#2001": "vip", "#2002": "vip", "#2003": None, "#2004": None}


def test_preview_shows_orders_as_exq_reads_them(store, export):
    report, rows = preview_file(store, export)
    assert report.ok and report.rows == 9 and report.format == "shopify"
    assert list(rows["order_id"][:3]) == ["#1001", "#1002", "#1003"]
    assert rows.loc[0, "items_ordered"] == 6
    assert any("no items_available" in w for w in report.warnings)
    assert snapshot(store)["orders"][0] == 0


def test_a_later_export_updates_the_orders_and_their_cases(store, export, tmp_path):
    import_file(store, export, source="acme-shop", now=NOW)
    later = write_shopify(tmp_path / "orders_export_2.csv",
                          order("#1004", 1, total="120.00", risk="High", financial="voided",
                                cancelled="2026-11-26 09:00:00 -0500"),
                          order("#1007", 1, total="99.00", financial="paid", outstanding="0.00"))
    result = import_file(store, later, source="acme-shop", now=datetime(2026, 11, 27, 13, 0))
    assert result.orders_updated == 2 and result.cases_updated == 2 and result.cases_new == 0
    with store.read() as cur:
        cleared = dict(cur.execute("SELECT order_id, condition_cleared FROM cases").fetchall())
    assert cleared["#1007"] is True              # paid now: flagged, not closed
    # canceled and voided: no money at stake, so the fraud rule no longer fires (SPEC §3) — flagged, not closed
    assert cleared["#1004"] is True


def test_the_same_export_twice_changes_nothing(store, export):
    import_file(store, export, source="acme-shop", now=NOW)
    before = snapshot(store)
    again = import_file(store, export, source="acme-shop", now=datetime(2026, 11, 28))
    assert again.status == "unchanged" and "already imported" in again.message
    after = snapshot(store)
    assert {t: v for t, v in after.items() if t not in ("imports", "sequences")} == \
        {t: v for t, v in before.items() if t not in ("imports", "sequences")}
    assert after["imports"][0] == before["imports"][0] + 1          # the re-import is logged, as unchanged


def test_a_quantity_error_names_its_own_line(store, tmp_path):
    path = write_shopify(tmp_path / "bad.csv", order("#3001", 1, 1), order("#3002", 1, "two", 3))
    with pytest.raises(FeedInvalid) as info:
        import_file(store, path, source="acme-shop", now=NOW)
    report = info.value.report
    assert report.error_count == 1 and report.invalid_rows == 1
    error = report.errors[0]
    assert (error.line, error.value) == (5, "two")                      # header 1, #3001 on 2–3, #3002 on 4–6
    assert error.column == "Lineitem quantity (items_ordered)"
    assert "not a whole number" in error.reason and "#3002" in error.reason


def test_an_order_split_across_the_file_is_a_duplicate(store, tmp_path):
    path = write_shopify(tmp_path / "dup.csv", order("#4001", 1), order("#4002", 1), order("#4001", 2))
    with pytest.raises(FeedInvalid) as info:
        import_file(store, path, source="acme-shop", now=NOW)
    reasons = [e.reason for e in info.value.report.errors]
    assert any("duplicate order in this file" in r and "#4001" in r for r in reasons)
    assert snapshot(store)["orders"][0] == 0


@pytest.mark.parametrize("name_as_written", ["#4101\t", " #4101", "#4101\r\n"])
def test_a_line_whose_name_has_white_space_around_it_is_a_line_of_the_same_order(store, tmp_path, name_as_written):
    lines = order("#4101", 2, 3, 4)
    lines[1]["Name"] = name_as_written
    path = write_shopify(tmp_path / "ws.csv", lines, order("#4102", 1))
    result = import_file(store, path, source="acme-shop", now=NOW)
    assert (result.status, result.orders_new, result.rejected) == ("imported", 2, 0)
    assert orders_by_id(store)["#4101"]["items_ordered"] == 9


def test_skip_invalid_keeps_the_good_orders(store, tmp_path):
    path = write_shopify(tmp_path / "mixed.csv", order("#5001", 1), order("#5002", 1, financial="bogus"),
                         order("#5003", 1, total="-4.00"))
    result = import_file(store, path, source="acme-shop", skip_invalid=True, now=NOW)
    assert result.status == "partial" and result.rejected == 2 and set(orders_by_id(store)) == {"#5001"}
    with store.read() as cur:
        rejects = cur.execute("SELECT line, column_name, value, reason FROM rejects ORDER BY line").fetchall()
    assert rejects[0][:3] == (3, "Financial Status (payment_status)", "bogus")
    assert "unknown Shopify Financial Status" in rejects[0][3]
    assert rejects[1][:3] == (4, "Total (order_total)", "-4.00")


def test_not_an_orders_export_is_a_clear_error(store, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("Handle,Title,Variant SKU\nmug,Mug,MUG-1\n")
    with pytest.raises(FeedError, match="missing Shopify column.*Name.*Created at.*Total"):
        import_file(store, path, source="acme-shop", fmt="shopify")


def test_an_order_without_lines_after_its_header_row(store, tmp_path):
    header_only = tmp_path / "empty_export.csv"
    header_only.write_text(",".join(shopify_header()) + "\n")
    with pytest.raises(FeedError, match="header but no rows"):
        import_file(store, header_only, source="acme-shop")


def test_an_export_without_a_store_name_is_refused_with_how_to_name_it(store, tmp_path):
    path = write_shopify(tmp_path / "orders_export.csv", order("#1001", 1))
    with pytest.raises(FeedError, match="does not name its store.*--source") as info:
        import_file(store, path)
    assert info.value.import_id is not None            # refused imports are logged too


def test_two_stores_with_the_same_order_numbers_never_overwrite_each_other(store, tmp_path):
    """Three stores' exports all number their orders #1001…: each store is its own source."""
    a = write_shopify(tmp_path / "a.csv", order("#1001", 1, total="10.00", created="2026-11-01 09:00:00 +0000"))
    b = write_shopify(tmp_path / "b.csv", order("#1001", 2, total="999.00", created="2026-11-20 17:30:00 +0000"))
    import_file(store, a, source="store-a", now=NOW)
    import_file(store, b, source="store-b", now=NOW)
    with store.read() as cur:
        rows = cur.execute("SELECT source, order_id, order_total FROM orders ORDER BY source").fetchall()
    assert rows == [("store-a", "#1001", Decimal("10.000")), ("store-b", "#1001", Decimal("999.000"))]
    # the same store's name on another store's export: refused, with the way out, and nothing written
    before = snapshot(store)
    with pytest.raises(FeedError, match=r"#1001: stored as placed 2026-11-01.*another store's export.*--source") as info:
        import_file(store, b, source="store-a", now=NOW)
    assert info.value.import_id is not None
    after = snapshot(store)
    for table in ("orders", "cases", "events", "rejects"):
        assert after[table] == before[table]


def test_an_older_export_without_outstanding_balance_warns_that_payments_cannot_be_checked(store, tmp_path):
    header = [h for h in shopify_header() if h != "Outstanding Balance"]
    lines = [{k: v for k, v in line.items() if k != "Outstanding Balance"} for line in order("#1001", 1)]
    path = write_shopify(tmp_path / "old.csv", lines, header=header)
    result = import_file(store, path, source="old-shop", now=NOW)
    assert any("no Outstanding Balance" in w and "payment rule" in w for w in result.report.warnings)
    with store.read() as cur:
        assert cur.execute("SELECT amount_paid FROM orders").fetchone() == (None,)
