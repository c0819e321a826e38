"""What leaves exq for the model: plain text only, personal data masked.

`plain_text` makes any text safe to show and to send (no markup, no control or format characters).
`mask_text` hides personal data inside free customer text; `customer_text` applies both to one field of
an order, masking the order's own name, street, e-mail and postcode wherever the customer repeats them.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Mapping

_TAG_RE = re.compile(r"</?[A-Za-z!][^<>]{0,500}>")
_SPACE_RE = re.compile(r"\s+")
_EMAIL_RE = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w])")
_STREET_WORDS = (r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
                 r"square|sq|terrace|close|crescent|highway|hwy|parkway|pkwy|strasse|straße|str|weg|gasse|"
                 r"platz|allee|rue|via|calle|gracht|laan|straat")
_STREET_RE = re.compile(rf"\b\d{{1,6}}[a-z]?\s+(?:[\w'.-]+\s+){{0,4}}(?:{_STREET_WORDS})\b\.?|"
                        rf"\b[\w'.-]*(?:strasse|straße|gracht|straat|weg|gasse|laan)\s+\d{{1,6}}[a-z]?\b",
                        re.IGNORECASE)


def plain_text(text: str | None, limit: int | None = None) -> str:
    """Text fit to show as plain text: no control or format characters (bidi overrides, zero-width),
    no HTML tags, white space collapsed, cut to `limit` characters."""
    if not text:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))
    text = _TAG_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


_DATE_RE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def _is_phone(match: re.Match) -> bool:
    text = match.group()
    return sum(ch.isdigit() for ch in text) >= 7 and not _DATE_RE.fullmatch(text.strip())


def mask_text(text: str | None, known: Mapping[str, str | None] | None = None) -> str:
    """Mask e-mail addresses, phone numbers and street lines inside free text, plus the order's own
    personal values (`known`: placeholder → value, e.g. {"[name]": "Ada Lovelace"})."""
    if not text:
        return ""
    for placeholder, value in (known or {}).items():
        if value and len(value.strip()) >= 4:
            text = re.sub(re.escape(value.strip()), placeholder, text, flags=re.IGNORECASE)
    text = _EMAIL_RE.sub("[email]", text)
    text = _PHONE_RE.sub(lambda m: "[phone]" if _is_phone(m) else m.group(), text)
    text = _STREET_RE.sub("[street]", text)
    return text


def known_personal(order: dict) -> dict[str, str | None]:
    return {"[email]": order.get("customer_email"), "[street]": order.get("ship_address1"),
            "[name]": order.get("ship_name")}


def customer_text(order: dict, field_name: str, limit: int) -> str:
    """A customer-written field, masked and reduced to plain text."""
    return plain_text(mask_text(order.get(field_name), known_personal(order)), limit)

