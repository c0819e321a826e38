"""Suggesting a column mapping from a file's headers and sample values (`mapping suggest`, the Import page)."""
from __future__ import annotations

import difflib
import re
from datetime import datetime

from pydantic import BaseModel

from ..models import FEED_COLUMNS
from .mapping import ENUM_VALUES, MappingSpec, parse_spec
from .validate import BOOL_COLUMNS, FALSE_WORDS, MONEY_COLUMNS, TIME_COLUMNS, TRUE_WORDS


SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order number", "order no", "order #", "order", "name", "id", "order ref",
                 "reference", "order reference", "bestellnummer", "commande", "numero pedido"),
    "placed_at": ("created at", "order date", "date", "created", "placed", "order time", "purchase date",
                  "ordered at", "datum", "bestelldatum", "date commande", "fecha"),
    "order_total": ("total", "grand total", "amount", "order amount", "total amount", "order value",
                    "gesamt", "summe", "montant", "importe", "total price"),
    "currency": ("currency code", "curr", "währung", "devise", "moneda"),
    "updated_at": ("updated", "modified at", "last modified", "changed at", "snapshot time", "export time"),
    "customer_id": ("customer", "customer number", "customer no", "client id", "kundennummer", "buyer id"),
    "customer_email": ("email", "e-mail", "mail", "customer mail", "buyer email", "email address"),
    "customer_tier": ("tier", "segment", "customer segment", "loyalty tier", "vip"),
    "customer_ltv": ("lifetime value", "ltv", "clv", "customer lifetime value"),
    "payment_status": ("financial status", "payment", "paid", "payment state", "zahlungsstatus"),
    "amount_paid": ("paid amount", "amount received", "captured", "captured amount", "payment amount"),
    "amount_refunded": ("refunded", "refund amount", "refunded amount", "refunds"),
    "risk_score": ("fraud score", "risk", "score"),
    "risk_level": ("risk level", "fraud risk", "risk rating"),
    "items_ordered": ("quantity", "qty", "items", "units", "lineitem quantity", "menge"),
    "items_available": ("stock", "available", "in stock", "inventory", "on hand", "qty available"),
    "ship_name": ("shipping name", "recipient", "ship to", "ship to name", "delivery name"),
    "ship_address1": ("shipping address", "address", "street", "shipping street", "address line 1",
                      "shipping address1", "strasse"),
    "ship_city": ("city", "shipping city", "town", "stadt", "ville"),
    "ship_postal_code": ("zip", "postcode", "postal code", "shipping zip", "plz", "code postal"),
    "ship_country": ("country", "shipping country", "country code", "land", "pays"),
    "address_verified": ("address ok", "address valid", "verified address", "avs"),
    "fulfillment_status": ("fulfilment status", "shipping status", "shipment status", "status", "delivery status"),
    "return_requested": ("return", "returned", "return request", "rma"),
    "damage_reported": ("damaged", "damage", "broken"),
    "return_reason": ("reason for return", "rma reason"),
    "customer_message": ("note", "notes", "message", "comment", "comments", "customer note", "remarks"),
}

DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                "%m/%d/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
                "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y-%m-%d %H:%M:%S %z", "%d %b %Y %H:%M", "%d %b %Y", "%b %d, %Y",
                "%Y%m%d")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z#]+", " ", text.lower().replace("_", " ")).split())


class Suggestion(BaseModel):
    columns: dict[str, str]                       # their column -> field
    confidence: dict[str, float]                  # their column -> 0..1
    values: dict[str, dict[str, str]] = {}
    date_format: str | None = None
    decimal_comma: bool = False

    def spec(self, name: str, **extra) -> MappingSpec:
        return parse_spec({"name": name, "columns": self.columns, "values": self.values,
                           "date_format": self.date_format, "decimal_comma": self.decimal_comma, **extra},
                          f"mapping '{name}'")


def _score(header: str, field: str) -> float:
    h = _norm(header)
    candidates = [_norm(field)] + [_norm(s) for s in SYNONYMS.get(field, ())]
    if h in candidates:
        return 1.0 if h == candidates[0] else 0.95 - 0.01 * candidates.index(h) / 10
    best = max(difflib.SequenceMatcher(None, h, c).ratio() for c in candidates)
    return best * 0.9


def suggest_mapping(headers: list[str], samples: dict[str, list[str]] | None = None) -> Suggestion:
    """Match their headers to our fields (exact name, synonyms, then fuzzy), one column per field, and
    propose value translations, a date format and decimal commas from sample values."""
    samples = samples or {}
    pairs = sorted(((_score(h, f), h, f) for h in headers for f in FEED_COLUMNS), key=lambda x: -x[0])
    columns, confidence, taken = {}, {}, set()
    for score, header, field in pairs:
        if score < 0.72 or header in columns or field in taken:
            continue
        columns[header], confidence[header] = field, round(score, 2)
        taken.add(field)
    columns = {h: columns[h] for h in headers if h in columns}          # in the file's order
    values: dict[str, dict[str, str]] = {}
    for header, field in columns.items():
        allowed = ENUM_VALUES.get(field) or (("true", "false") if field in BOOL_COLUMNS else None)
        if not allowed:
            continue
        table = {}
        for raw in samples.get(header, [])[:50]:
            as_is = raw.strip().lower()            # what validation accepts without a translation
            if as_is in allowed or (field in BOOL_COLUMNS and as_is in TRUE_WORDS + FALSE_WORDS):
                continue
            v = as_is.replace(" ", "_").replace("-", "_")
            if field in BOOL_COLUMNS:
                guess = "true" if v in ("ja", "oui", "si", "sí", "x", "✓", "checked", "on") else \
                        "false" if v in ("nein", "non", "off", "unchecked", "-") else None
            else:
                close = difflib.get_close_matches(v, allowed, n=1, cutoff=0.6)
                guess = close[0] if close else None
            if guess:
                table[raw.strip()] = guess
        if table:
            values[field] = table
    date_format = None
    for header, field in columns.items():
        if field not in TIME_COLUMNS:
            continue
        vals = [v.strip() for v in samples.get(header, [])[:100] if v.strip()]
        if not vals or all(_iso(v) for v in vals):
            continue
        for fmt in DATE_FORMATS:
            if all(_parses(v, fmt) for v in vals):
                date_format = fmt
                break
        if date_format:
            break
    money = [v.strip() for h, f in columns.items() if f in MONEY_COLUMNS for v in samples.get(h, [])[:100]]
    decimal_comma = bool(money) and any(re.fullmatch(r"-?[0-9.\s]*[0-9],[0-9]{1,3}", v) for v in money) \
        and not any(re.fullmatch(r"-?[0-9,]*[0-9]\.[0-9]{1,3}", v) for v in money)
    return Suggestion(columns=columns, confidence=confidence, values=values, date_format=date_format,
                      decimal_comma=decimal_comma)


def _iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
        return True
    except ValueError:
        return False
