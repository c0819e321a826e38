"""The Shopify orders export (Admin → Orders → Export → CSV): one row per line item, read into the feed.

Lines of one order share its `Name` (#1001); the order's own fields are on its first line (the first with
a `Total`) and blank on the others, so the order's fields come from that head line, `items_ordered` is the
sum of `Lineitem quantity` over all its lines, and lines of one order found apart are a duplicate order. What the export says maps onto the feed like this
(README, "Importing your own orders", has the table a person reads):

* Name → order_id (Id when Name is blank) · Created at → placed_at (Shopify writes "2026-11-20 14:03:11
  -0500"; stored as UTC) · Total → order_total · Currency → currency · Email → customer_email
* Financial Status → payment_status (partially_refunded is paid with a refund; expired is failed)
* Total − Outstanding Balance → amount_paid · Refunded Amount → amount_refunded
* Fulfillment Status → fulfillment_status; a Cancelled at time makes it canceled
* Shipping Name / Address1 (else Street) / City / Zip / Country → ship_* · Risk Level → risk_level
* Tags with the word VIP → customer_tier vip · Notes → customer_message

The export has no stock levels, address verification, risk score, lifetime value, customer id, return
requests or snapshot time: those stay blank (unknown), so the rules that need them never fire on them.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from ..errors import FeedError
from ..store.dialect import ident, literal
from . import readers
from .readers import RawFeed, register
from .validate import trim_all

# The columns exq reads (others are ignored); the first three must be there.
REQUIRED = ("Name", "Created at", "Total")
ORDER_FIELDS = {
    # feed column: Shopify column(s) it comes from, first non-blank wins
    "customer_email": "Email",
    "currency": "Currency",
    "ship_name": "Shipping Name",
    "ship_city": "Shipping City",
    "ship_country": "Shipping Country",
    "customer_message": "Notes",
}
USED = ("Name", "Id", "Email", "Financial Status", "Fulfillment Status", "Currency", "Total", "Created at",
        "Lineitem quantity", "Shipping Name", "Shipping Street", "Shipping Address1", "Shipping City",
        "Shipping Zip", "Shipping Country", "Notes", "Cancelled at", "Refunded Amount", "Outstanding Balance",
        "Tags", "Risk Level")

FINANCIAL_STATUS = {
    "paid": "paid", "pending": "pending", "authorized": "authorized", "partially_paid": "partially_paid",
    "refunded": "refunded", "partially_refunded": "paid", "voided": "voided", "expired": "failed",
}
FULFILLMENT_STATUS = {
    "fulfilled": "fulfilled", "unfulfilled": "unfulfilled", "partial": "partial",
    "partially_fulfilled": "partial", "restocked": "canceled", "pending": "unfulfilled",
    "scheduled": "unfulfilled", "on_hold": "unfulfilled",
}
RISK_LEVEL = {"low": "low", "medium": "medium", "high": "high"}

UNKNOWN_FIELDS = ("items_available (stock)", "address_verified", "risk_score", "customer_ltv", "customer_id",
                  "return_requested", "damage_reported", "return_reason", "updated_at (snapshot time)")

LABELS = {
    "order_id": "Name", "placed_at": "Created at", "order_total": "Total", "currency": "Currency",
    "customer_email": "Email", "customer_tier": "Tags", "payment_status": "Financial Status",
    "amount_paid": "Total − Outstanding Balance", "amount_refunded": "Refunded Amount",
    "risk_level": "Risk Level", "items_ordered": "Lineitem quantity", "ship_name": "Shipping Name",
    "ship_address1": "Shipping Address1", "ship_city": "Shipping City", "ship_postal_code": "Shipping Zip",
    "ship_country": "Shipping Country", "fulfillment_status": "Fulfillment Status",
    "customer_message": "Notes",
}


def _header(path: Path, encoding: str = "utf-8") -> list[str]:
    with open(path, "rb") as fh:
        head = fh.read(65536)
    text = head.decode("utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else encoding, errors="replace")
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    try:
        return next(csv.reader(io.StringIO(first)))
    except (StopIteration, csv.Error):
        return []


def looks_like_shopify(path: Path) -> bool:
    """True when the first line is a Shopify orders export header."""
    names = {c.strip().lower() for c in _header(path)}
    return {"name", "created at", "total", "lineitem quantity", "financial status"} <= names




def _map_sql(col: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in mapping.items())
    return f"CASE lower(replace({col}, ' ', '_')) {whens} END"


def _t(col: str) -> str:
    return f"nullif(trim({ident(col)}), '')"


@register("shopify")
def read_shopify(cur, path: Path, options: dict) -> RawFeed:
    encoding = readers.check_text_file(path, readers.normalise_encoding(options.get("encoding")))
    header = _header(path, encoding)
    by_lower = {}
    for name in header:
        by_lower.setdefault(name.strip().lower(), name)
    missing = [c for c in REQUIRED if c.lower() not in by_lower]
    if missing:
        raise FeedError(f"missing Shopify column(s): {', '.join(missing)} — is this an orders export "
                        f"(Admin → Orders → Export)? The file has: {', '.join(header[:12])}"
                        + (" …" if len(header) > 12 else ""))
    # Read only the columns exq uses (the CSV reader skips the rest), as text, in file order.
    select = ", ".join(f"{ident(name)} AS {ident(canon)}"
                       for canon in USED if canon.lower() in by_lower
                       for name in [by_lower[canon.lower()]])
    absent = ", ".join(f"NULL::VARCHAR AS {ident(c)}" for c in USED if c.lower() not in by_lower)
    options_sql = {"header": True, "skip": 0, "all_varchar": True, "encoding": encoding, "strict_mode": True,
                   "max_line_size": readers.MAX_LINE, "delim": ",", "quote": readers.QUOTE, "escape": '"',
                   "comment": readers.NO_COMMENT}
    opts = ", ".join(f"{k} = ${k}" for k in options_sql)
    try:
        with readers.readable_by_duckdb(path, encoding) as (source, source_encoding):
            readers.load_from_file(cur, f"CREATE OR REPLACE TEMP TABLE shop_lines AS SELECT {select}"
                                   f"{', ' + absent if absent else ''} FROM read_csv($path, {opts})",
                                   {**options_sql, "path": str(source), "encoding": source_encoding})
    except duckdb.Error as err:
        raise FeedError(readers.explain_csv_error(err, encoding)) from None
    lines = cur.execute("SELECT count(*) FROM shop_lines").fetchone()[0]
    if lines == 0:
        cur.execute("DROP TABLE shop_lines")
        raise FeedError("the file has a header but no rows")

    # Line numbers: the header is line 1 (a quoted field with line breaks inside shifts this; the report
    # also names the order, so a person finds it either way). rowids of a fresh temp table follow the file.
    offset = 2 - cur.execute("SELECT min(rowid) FROM shop_lines").fetchone()[0]
    # the lines of one order: the same Name (or Id) once trimmed as an order id is
    name, oid = (f"nullif({trim_all(ident(c))}, '')" for c in ("Name", "Id"))
    total, qty = _t("Total"), _t("Lineitem quantity")
    lines_sql = f"""(SELECT rowid + {offset} AS line,
                            -- lines without Name or Id each stand alone (and fail: order_id is blank)
                            coalesce({name}, {oid}, '#line ' || (rowid + {offset})) AS gkey, *
                     FROM shop_lines)"""
    # One pass over the lines for what is per order; the order's own fields come from its head line
    # (the first line with a Total, as Shopify writes them), joined back by line number.
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE shop_orders AS
        SELECT gkey, min(line) AS line, max(line) AS last_line, count(*) AS n_lines,
               coalesce(min(coalesce({name}, {oid})), '') AS okey,
               min(line) FILTER (WHERE {total} IS NOT NULL) AS head_line,
               min({oid}) AS id_min, max({oid}) AS id_max,
               min({total}) AS total_min, max({total}) AS total_max,
               sum(TRY_CAST({qty} AS BIGINT)) AS quantity,
               min(TRY_CAST({qty} AS BIGINT)) AS min_quantity,
               count(*) FILTER (WHERE {qty} IS NOT NULL AND TRY_CAST({qty} AS BIGINT) IS NULL) AS bad_quantities
        FROM {lines_sql}
        GROUP BY gkey""")
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE shop_heads AS
        SELECT o.line, o.last_line, o.n_lines, o.id_min, o.id_max, o.total_min, o.total_max, o.quantity,
               o.okey,
               {_t('Created at')} AS created_at,
               {total} AS total,
               {_t('Outstanding Balance')} AS outstanding,
               {_t('Refunded Amount')} AS refunded,
               {_t('Financial Status')} AS financial,
               {_t('Fulfillment Status')} AS fulfillment,
               {_t('Cancelled at')} AS cancelled_at,
               {_t('Risk Level')} AS risk,
               {_t('Tags')} AS tags,
               {_t('Shipping Address1')} AS address1,
               {_t('Shipping Street')} AS street,
               {_t('Shipping Zip')} AS zip,
               {', '.join(f"{_t(src)} AS {dst}" for dst, src in ORDER_FIELDS.items())}
        FROM shop_orders o LEFT JOIN (SELECT rowid + {offset} AS line, * FROM shop_lines WHERE {total} IS NOT NULL) h
             ON h.line = o.head_line""")

    money_ok = lambda col: f"TRY_CAST({col} AS DECIMAL(18,3)) IS NOT NULL"  # noqa: E731
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE raw AS
        SELECT line,
               nullif(okey, '') AS order_id,
               regexp_replace(created_at, '\\s+([+-][0-9]{{2}}:?[0-9]{{2}})$', '\\1') AS placed_at,
               total AS order_total,
               currency,
               NULL::VARCHAR AS updated_at,
               NULL::VARCHAR AS customer_id,
               customer_email,
               CASE WHEN regexp_matches(tags, '(^|[^A-Za-z])[Vv][Ii][Pp]([^A-Za-z]|$)') THEN 'vip' END
                   AS customer_tier,
               NULL::VARCHAR AS customer_ltv,
               {_map_sql('financial', FINANCIAL_STATUS)} AS payment_status,
               CASE WHEN {money_ok('total')} AND {money_ok('outstanding')}
                    THEN CAST(CAST(total AS DECIMAL(18,3)) - CAST(outstanding AS DECIMAL(18,3)) AS VARCHAR)
                    WHEN {money_ok('total')} THEN outstanding END AS amount_paid,
               refunded AS amount_refunded,
               NULL::VARCHAR AS risk_score,
               {_map_sql('risk', RISK_LEVEL)} AS risk_level,
               CAST(quantity AS VARCHAR) AS items_ordered,
               NULL::VARCHAR AS items_available,
               ship_name,
               coalesce(address1, street) AS ship_address1,
               ship_city,
               ltrim(zip, '''') AS ship_postal_code,
               ship_country,
               NULL::VARCHAR AS address_verified,
               CASE WHEN cancelled_at IS NOT NULL THEN 'canceled'
                    ELSE {_map_sql('fulfillment', FULFILLMENT_STATUS)} END AS fulfillment_status,
               NULL::VARCHAR AS return_requested,
               NULL::VARCHAR AS damage_reported,
               NULL::VARCHAR AS return_reason,
               customer_message
        FROM shop_heads""")

    # What only the line-item layout can tell: bad quantities (on their own line), an order whose lines
    # are not together (the same Name twice in the file), two orders sharing a Name, unknown statuses.
    flagged = cur.execute("SELECT count(*) FROM shop_orders WHERE bad_quantities > 0 OR min_quantity < 0"
                          ).fetchone()[0]
    quantity_errors = f"""
        SELECT n.line, 'items_ordered' AS column_name, left({qty}, 120) AS value,
               CASE WHEN TRY_CAST({qty} AS BIGINT) IS NULL THEN 'Lineitem quantity is not a whole number'
                    ELSE 'Lineitem quantity must not be negative' END
               || coalesce(' (order ' || {name} || ')', '') AS reason, o.line AS row_line
        FROM {lines_sql} n JOIN (SELECT gkey, line FROM shop_orders
                                 WHERE bad_quantities > 0 OR min_quantity < 0) o ON o.gkey = n.gkey
        WHERE {qty} IS NOT NULL AND coalesce(TRY_CAST({qty} AS BIGINT) < 0, true)
        UNION ALL""" if flagged else ""
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE shop_errors AS {quantity_errors}
        SELECT line, 'order_id' AS column_name, okey AS value,
               'duplicate order in this file: ' || okey || ' has lines ' || line || '–' || last_line ||
               ' with other orders in between (' || n_lines || ' of its lines)' AS reason, line AS row_line
        FROM shop_heads WHERE okey <> '' AND last_line - line + 1 <> n_lines
        UNION ALL
        SELECT line, 'order_id', okey,
               'duplicate order in this file: two orders (Id ' || id_min || ' and ' || id_max ||
               ') share the Name ' || okey, line
        FROM shop_heads WHERE okey <> '' AND id_min <> id_max
        UNION ALL
        SELECT line, 'order_id', okey,
               'duplicate order in this file: the lines of ' || okey || ' disagree on Total (' ||
               total_min || ' and ' || total_max || ')', line
        FROM shop_heads WHERE okey <> '' AND total_min <> total_max
        UNION ALL
        SELECT line, 'payment_status', left(financial, 120),
               'unknown Shopify Financial Status (known: {", ".join(FINANCIAL_STATUS)})', line
        FROM shop_heads WHERE financial IS NOT NULL AND {_map_sql('financial', FINANCIAL_STATUS)} IS NULL
        UNION ALL
        SELECT line, 'fulfillment_status', left(fulfillment, 120),
               'unknown Shopify Fulfillment Status (known: {", ".join(FULFILLMENT_STATUS)})', line
        FROM shop_heads WHERE fulfillment IS NOT NULL AND cancelled_at IS NULL
          AND {_map_sql('fulfillment', FULFILLMENT_STATUS)} IS NULL
        UNION ALL
        SELECT line, 'risk_level', left(risk, 120), 'unknown Shopify Risk Level (known: Low, Medium, High)', line
        FROM shop_heads WHERE risk IS NOT NULL AND {_map_sql('risk', RISK_LEVEL)} IS NULL
        """)
    orders = cur.execute("SELECT count(*) FROM raw").fetchone()[0]
    # the head line of each order as the file wrote it (exq's columns), for rejects fixed and imported again
    present = [c for c in USED if c.lower() in by_lower]
    cur.execute("CREATE OR REPLACE TEMP TABLE original AS SELECT h.line, "
                + ", ".join(f"l.{ident(c)}" for c in present)
                + f" FROM (SELECT rowid + {offset} AS line, * FROM shop_lines) l JOIN shop_orders h ON h.line = l.line")
    for t in ("shop_lines", "shop_orders", "shop_heads"):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    warnings = [f"Shopify export: {lines:,} line items in {orders:,} orders. It has no "
                f"{', '.join(UNKNOWN_FIELDS)}: those stay blank (unknown) and never fire a rule."]
    if "outstanding balance" not in by_lower:
        warnings.append("This export has no Outstanding Balance column (older Shopify exports): the amount paid "
                        "is unknown, so the payment rule can fire only on failed payments. Export again from "
                        "Shopify for the current layout.")
    return RawFeed("raw", orders, warnings, "line", errors="shop_errors", labels=dict(LABELS), original="original",
                   header=present, kind="csv", present=frozenset({"order_id", "placed_at", "order_total", "currency", "customer_email", "customer_tier",
                   "payment_status", "amount_refunded", "risk_level", "items_ordered", "ship_name",
                   "ship_address1", "ship_city", "ship_postal_code", "ship_country", "fulfillment_status",
                   "customer_message"} | ({"amount_paid"} if "outstanding balance" in by_lower else set())))
