"""Test data for imports: Shopify orders exports built on the real export header."""
from __future__ import annotations

import csv
from pathlib import Path

from bench.bench_shopify import SHOPIFY_HEADER

# shared/ sits beside the checkout (locally and in CI)
REAL_HEADER_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "shopify" / "orders_export_header.csv"


def shopify_header() -> list[str]:
    """The real header (shared/data/shopify), else the copy the benchmark keeps."""
    if REAL_HEADER_FILE.exists():
        return next(csv.reader(REAL_HEADER_FILE.open(encoding="utf-8-sig")))
    return list(SHOPIFY_HEADER)


ADDRESS = {"Shipping Name": "Ada Lovelace", "Shipping Street": "12 Congress Ave", "Shipping Address1": "12 Congress Ave",
           "Shipping City": "Austin", "Shipping Zip": "'78701", "Shipping Province": "TX", "Shipping Country": "US"}


def order(name: str, *quantities: int | str, total: str = "100.00", created: str = "2026-11-20 14:03:11 -0500",
          financial: str = "paid", fulfillment: str = "unfulfilled", outstanding: str = "0.00",
          refunded: str = "0.00", risk: str = "Low", tags: str = "", notes: str = "", email: str | None = None,
          cancelled: str = "", address: dict | None = None, order_id: str | None = None, **extra) -> list[dict]:
    """One Shopify order as its export lines: the order's fields on the first line, then one line per
    further line item carrying only Name, Email and the Lineitem columns, as Shopify writes them."""
    quantities = quantities or (1,)
    email = email if email is not None else f"{name.strip('#')}@example.com"
    first = {"Name": name, "Email": email, "Financial Status": financial, "Fulfillment Status": fulfillment,
             "Currency": "USD", "Subtotal": total, "Shipping": "0.00", "Taxes": "0.00", "Total": total,
             "Created at": created, "Notes": notes, "Cancelled at": cancelled, "Refunded Amount": refunded,
             "Outstanding Balance": outstanding, "Id": order_id or str(5_000_000 + int("".join(c for c in name if c.isdigit()) or 0)),
             "Tags": tags, "Risk Level": risk, "Source": "web", "Payment Method": "Shopify Payments",
             "Billing Name": "Ada Lovelace", **(ADDRESS if address is None else address), **extra}
    lines = []
    for i, qty in enumerate(quantities):
        item = {"Lineitem quantity": str(qty), "Lineitem name": f"Mug {i}", "Lineitem price": "10.00",
                "Lineitem sku": f"MUG-{i}", "Lineitem requires shipping": "true", "Lineitem taxable": "true",
                "Lineitem fulfillment status": "pending", "Vendor": "exq-shop"}
        lines.append({**(first if i == 0 else {"Name": name, "Email": email}), **item})
    return lines


def write_shopify(path: Path, *orders: list[dict], header: list[str] | None = None) -> Path:
    header = header or shopify_header()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for lines in orders:
            for line in lines:
                unknown = set(line) - set(header)
                assert not unknown, f"not Shopify columns: {unknown}"
                writer.writerow(line)
    return path


# -- reading the import log in tests (exq_core's queries take a cursor) ------------------------------------

def list_imports(store, limit: int = 100, actor: str | None = None) -> list[dict]:
    from exq_core.queries import imports
    with store.read() as cur:
        return imports.list_imports(cur, limit, actor)


def rejects_frame(store, import_id: int | None = None, limit: int | None = None):
    from exq_core.queries import imports
    with store.read() as cur:
        return imports.rejects_frame(cur, import_id, limit)


def count_rejects(store, import_id: int | None = None) -> int:
    from exq_core.queries import imports
    with store.read() as cur:
        return imports.count_rejects(cur, import_id)


def rejected_rows(store, import_id: int):
    from exq_core.queries import imports
    with store.read() as cur:
        return imports.rejected_rows(cur, import_id)
