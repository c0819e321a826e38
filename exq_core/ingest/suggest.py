"""Suggesting a column mapping from a file's headers and sample values (`mapping suggest`, the Import page).

Three steps:
1. names: each header is scored against each field — the field's own name, known header names from real
   exports (platforms and ERPs in English, German, French, Spanish and Dutch), then fuzzy matching;
2. values: a pairing only stands when the column's sample values fit the field — dates parse as dates,
   money as numbers, and a status column is only taken for an enum field (payment_status,
   fulfillment_status, risk_level, customer_tier) when its values are, or translate to, that enum's values
   (Olist `order_status` → fulfillment_status, `payment_type` → nothing: card/boleto are methods);
3. layout: invoice lines (one row per line item, a quantity and a unit price or line total, no order
   total) are named in `Suggestion.lines` for the importer to sum per order, instead of mapping them.
The date format (day-first or month-first, decided by the data) and decimal commas come from the samples.
The words themselves (header names, status words, countries) are data in `vocabulary.py`.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field as dc_field
from datetime import datetime

from pydantic import BaseModel

from ..models import FEED_COLUMNS
from .mapping import ENUM_VALUES, MappingSpec, parse_spec
from .validate import BOOL_COLUMNS, FALSE_WORDS, INT_COLUMNS, MONEY_COLUMNS, TIME_COLUMNS, TRUE_WORDS
from .vocabulary import (BOOL_SYNONYMS, COUNTRIES, CURRENCY_SYMBOLS, ENUM_SYNONYMS, LINE_NAMES,
                         ORDER_AMOUNT_NAMES, ORDER_LEVEL_WORDS, SHIP_PARTS, SHIP_PREFIXES, STATE_NAMES,
                         STATUS_NAMES, STATUS_SCORES, SYNONYMS, UNKNOWN_NAMES, WEAK)


# -- header names ----------------------------------------------------------------------------------

THRESHOLD = 0.72


def _fold(text: str) -> str:
    """Lower case without accents; German umlauts as ae/oe/ue, ß as ss."""
    text = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _norm(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)          # InvoiceNo → Invoice No
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)        # IDNumber → ID Number
    return " ".join(re.sub(r"[^0-9a-z#]+", " ", _fold(text).replace("_", " ")).split())


def _names(table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    out = {}
    for key, names in table.items():
        seen: list[str] = []
        for n in names:
            if _norm(n) not in seen:
                seen.append(_norm(n))
        out[key] = seen
    return out


_STRONG = _names(SYNONYMS)
_WEAK = _names(WEAK)
_LINES = _names(LINE_NAMES)
_STATUS = {_norm(n) for n in STATUS_NAMES}
_STATE = {_norm(n) for n in STATE_NAMES}
_ORDER_AMOUNTS = {_norm(n) for n in ORDER_AMOUNT_NAMES}
_KNOWN = {n for names in _STRONG.values() for n in names} | {_norm(f) for f in FEED_COLUMNS} | _STATUS | _STATE


_SHIP_PREFIXES = sorted({_norm(p) for p in SHIP_PREFIXES}, key=len, reverse=True)
_SHIP_PARTS = _names(SHIP_PARTS)


def _ship_part(h: str) -> str | None:
    """The rest of a header after a delivery prefix ("lieferung plz" → "plz"), or None."""
    for prefix in _SHIP_PREFIXES:
        if h.startswith(prefix + " ") and len(h) > len(prefix) + 1:
            return h[len(prefix) + 1:]
    return None


def _name_score(h: str, field: str) -> float:
    """How well normalised header `h` names `field`, 0..1."""
    own = _norm(field)
    if h == own:
        return 1.0
    if field in _SHIP_PARTS and _ship_part(h) in _SHIP_PARTS[field]:
        return 0.9
    strong = _STRONG.get(field, [])
    if h in strong:
        return 0.95 - 0.001 * strong.index(h)
    # a header that is another field's known name is that field's (or nothing: "Order No" is no "Order notes")
    best = 0.0 if h in _KNOWN else max(_fuzzy(h, c) for c in [own, *strong]) * 0.9
    if h in _WEAK.get(field, ()):
        best = max(best, 0.8)
    if h in _STATUS and field in STATUS_SCORES:
        best = max(best, STATUS_SCORES[field])
    if h in _STATE and field in STATUS_SCORES:
        best = max(best, STATUS_SCORES[field] - 0.02)
    return best


def _role_score(h: str, role: str) -> float:
    names = _LINES[role]
    if h in names:
        return 0.95 - 0.001 * names.index(h)
    return max(_fuzzy(h, c) for c in names) * 0.9


def _fuzzy(h: str, name: str) -> float:
    """Similarity of a header to a known name (typos: "Ordr Id", "Order Totl"), 0 when a word of the
    header has no counterpart in the name: "payment type" is not "payment", nor "customer state"
    "customer message"."""
    if len(h) <= 5:
        return 0.0                          # a short word's typo is another word: "state" is no "stadt"
    words = name.split()
    if any(max(difflib.SequenceMatcher(None, w, n).ratio() for n in words) < 0.75 for w in h.split()):
        return 0.0
    return difflib.SequenceMatcher(None, h, name).ratio()


# -- values ----------------------------------------------------------------------------------------

def _vocab(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_vkey(word): target for target, words in table.items() for word in words}


def _vkey(value: str) -> str:
    """A value as a lookup key: folded, words joined by _, WooCommerce's wc- prefix dropped."""
    key = re.sub(r"[^0-9a-z]+", "_", _fold(value.strip())).strip("_")
    return key.removeprefix("wc_")


# the vocabulary's value words, folded for lookup: a status word of a real export → our value
ENUM_WORDS: dict[str, dict[str, str]] = {f: _vocab(words) for f, words in ENUM_SYNONYMS.items()}
BOOL_WORDS = {_fold(w): target for target, words in BOOL_SYNONYMS.items() for w in words}
UNKNOWN_WORDS = {_vkey(w) for w in UNKNOWN_NAMES}
COUNTRY_WORDS: dict[str, str] = {}
for _line in COUNTRIES.strip().splitlines():
    _code, _alpha3, _names_ = _line.split(" ", 2)
    for _n in [_alpha3, *_names_.split("|")]:
        COUNTRY_WORDS.setdefault(_vkey(_n), _code)

DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                "%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
                "%d.%m.%Y", "%d/%m/%y %H:%M", "%d/%m/%y", "%m/%d/%y %H:%M", "%m/%d/%y", "%d.%m.%y",
                "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M",
                "%d-%m-%Y", "%Y-%m-%d %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M", "%d %b %Y",
                "%b %d, %Y", "%Y%m%d")

_MONEY_RE = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:[.,' \u00a0\u202f]\d{3})+)(?:[.,]\d+)?")
_INT_RE = re.compile(r"[+-]?(?:\d+(?:[.,]0+)?|\d{1,3}(?:[.,' \u00a0\u202f]\d{3})+)")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CURRENCY_AFFIX = re.compile(r"^(?:[A-Za-z]{3}\s*|[€$£¥₹])|(?:\s*[A-Za-z]{3}|\s*[€$£¥₹])$")

ENUM_FIT = 1.0          # share of distinct sample values that must be, or translate to, the enum's (or flag's) values
TYPE_FIT = 0.9          # … that must parse as a date or number, or be (or translate to) a currency / country code


@dataclass
class Fit:
    ok: bool
    quality: float = 1.0                       # 0..1: how well (1: every value as is)
    table: dict[str, str] = dc_field(default_factory=dict)   # their value -> ours, where needed


def _money_text(value: str) -> str:
    return _CURRENCY_AFFIX.sub("", value.strip()).strip()


def _is_money(value: str) -> bool:
    return bool(_MONEY_RE.fullmatch(_money_text(value)))


def _is_date(value: str) -> bool:
    return _iso(value) or any(_parses(value, fmt) for fmt in DATE_FORMATS)


def _share(values: list[str], test) -> float:
    return sum(1 for v in values if test(v)) / len(values)


def _enum_guess(field: str, raw: str) -> tuple[str | None, bool]:
    """Our value for `raw` in enum `field`, and whether `raw` is already ours as it is."""
    allowed = ENUM_VALUES[field]
    as_is = raw.strip().lower()
    if as_is in allowed:
        return as_is, True
    key = _vkey(raw)
    if key in allowed:
        return key, False
    words = ENUM_WORDS[field]
    if key in words:
        return words[key], False
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.8)          # typos: Refundd
    if close:
        return close[0], False
    close = difflib.get_close_matches(key, list(words), n=1, cutoff=0.88)
    return (words[close[0]], False) if close else (None, False)


def _bool_guess(raw: str) -> tuple[str | None, bool]:
    as_is = raw.strip().lower()
    if as_is in TRUE_WORDS + FALSE_WORDS:
        return as_is, True
    return BOOL_WORDS.get(_fold(raw.strip())), False


def _code_guess(field: str, raw: str) -> tuple[str | None, bool]:
    value = raw.strip()
    if _vkey(value) in UNKNOWN_WORDS:
        return "", False                    # "Unspecified" → blank (no country / the default currency)
    if field == "currency":
        if re.fullmatch(r"[A-Za-z]{3}", value):
            return value.upper(), True
        return CURRENCY_SYMBOLS.get(value.lower()), False
    if value.upper() == "UK":
        return "GB", False
    if re.fullmatch(r"[A-Za-z]{2}", value):
        return value.upper(), True
    return COUNTRY_WORDS.get(_vkey(value)), False


def _translated(values: list[str], guess, needed: float = ENUM_FIT) -> Fit:
    """Fits when at least `needed` of the distinct values are ours as they are or translate; the table
    holds the translations."""
    table, fits, direct = {}, 0, 0
    for raw in values[:50]:
        ours, as_is = guess(raw)
        if ours is None:
            continue
        fits += 1
        if as_is:
            direct += 1
        else:
            table[raw.strip()] = ours
    n = min(len(values), 50)
    return Fit(fits / n >= needed, 0.5 * fits / n + 0.5 * direct / n, table)


def _fit(field: str, values: list[str]) -> Fit:
    """Do the sample values fit `field`? Without samples there is nothing to go on but the name."""
    if not values:
        return Fit(True)
    if field in ENUM_VALUES:
        return _translated(values, lambda raw: _enum_guess(field, raw))
    if field in BOOL_COLUMNS:
        return _translated(values, _bool_guess)
    if field in ("currency", "ship_country"):
        return _translated(values, lambda raw: _code_guess(field, raw), TYPE_FIT)
    if field in TIME_COLUMNS:
        share = _share(values, _is_date)
    elif field in MONEY_COLUMNS or field == "risk_score":
        share = _share(values, _is_money)
    elif field in INT_COLUMNS:
        share = _share(values, lambda v: bool(_INT_RE.fullmatch(v)))
    elif field == "customer_email":
        share = _share(values, lambda v: bool(_EMAIL_RE.fullmatch(v)))
    else:
        return Fit(True)
    return Fit(share >= TYPE_FIT, share)


# -- the suggestion --------------------------------------------------------------------------------

class Suggestion(BaseModel):
    columns: dict[str, str]                       # their column -> field
    confidence: dict[str, float]                  # their column -> 0..1 (the `lines` columns too)
    values: dict[str, dict[str, str]] = {}
    date_format: str | None = None
    decimal_comma: bool = False
    lines: dict[str, str] = {}                    # "quantity" / "unit_price" / "line_total" -> their column

    def spec(self, name: str, **extra) -> MappingSpec:
        return parse_spec({"name": name, "columns": self.columns, "values": self.values,
                           "date_format": self.date_format, "decimal_comma": self.decimal_comma,
                           "lines": dict(self.lines) or None, **extra},
                          f"mapping '{name}'")


def suggest_mapping(headers: list[str], samples: dict[str, list[str]] | None = None) -> Suggestion:
    """Match their headers to our fields (exact name, known names, then fuzzy), one column per field, each
    only where the sample values fit the field; spot invoice lines; propose value translations, a date
    format and decimal commas from the sample values."""
    samples = samples or {}
    norm = {h: _norm(h) for h in headers}
    vals = {h: _distinct(samples.get(h) or []) for h in headers}
    pairs = []                                                      # (score, header, field, fit)
    for h in headers:
        for f in FEED_COLUMNS:
            name = _name_score(norm[h], f)
            if name < THRESHOLD or (norm[h] in _STATE and not vals[h] and name < 0.95):
                continue                    # a bare "State" is an order state only if its values say so
            fit = _fit(f, vals[h])
            if fit.ok:
                pairs.append((name * (0.9 + 0.1 * fit.quality), h, f, fit))
    pairs.sort(key=lambda p: -p[0])

    lines, line_conf = _invoice_lines(headers, norm, vals, samples, pairs)
    columns, confidence, fits, taken = {}, {}, {}, set()
    for score, header, f, fit in pairs:
        if header in columns or f in taken or header in lines.values():
            continue
        columns[header], confidence[header], fits[header] = f, round(min(score, 1.0), 2), fit
        taken.add(f)
    if "order_total" not in taken and not lines:
        # No order total, but a paid total ("total_paid" in order-level exports such as Olist's): that is
        # the order's value — the file cannot be imported without one — and what was paid stays unknown.
        paid = next((h for h, f in columns.items() if f == "amount_paid" and "total" in norm[h].split()), None)
        if paid:
            columns[paid], confidence[paid] = "order_total", round(confidence[paid] * 0.8, 2)
    columns = {h: columns[h] for h in headers if h in columns}          # in the file's order
    confidence = {h: confidence[h] for h in columns}
    for role, header in lines.items():
        confidence[header] = line_conf
    values = {f: fits[h].table for h, f in columns.items() if fits[h].table}

    times = [h for f in TIME_COLUMNS for h, g in columns.items() if g == f]     # placed_at first
    money = [v for h, f in columns.items() if f in MONEY_COLUMNS + ("risk_score",) for v in vals[h][:100]]
    money += [v for role, h in lines.items() if role != "quantity" for v in vals[h][:100]]
    return Suggestion(columns=columns, confidence=confidence, values=values,
                      date_format=_date_format([vals[h][:100] for h in times]),
                      decimal_comma=_decimal_comma(money), lines=lines)


def _distinct(raw: list) -> list[str]:
    out, seen = [], set()
    for v in raw[:200]:
        v = "" if v is None else str(v).strip()
        if v and v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _invoice_lines(headers, norm, vals, samples, pairs) -> tuple[dict[str, str], float]:
    """The invoice-line columns (role -> header) when the layout is one row per line item: a quantity and a
    unit price or line total, and no order-level total. Order ids repeating in the samples is the strong
    hint (it also makes a plain "Total" a line total); otherwise only the absence of a total says so."""
    roles: dict[str, str] = {}
    for role in ("quantity", "unit_price", "line_total"):
        kind = "items_ordered" if role == "quantity" else "order_total"
        best = max(((_role_score(norm[h], role), h) for h in headers if h not in roles.values()),
                   default=(0.0, None), key=lambda x: x[0])
        if best[0] >= 0.85 and _fit(kind, vals[best[1]]).ok:
            roles[role] = best[1]
    if "quantity" not in roles or not ({"unit_price", "line_total"} & roles.keys()):
        return {}, 0.0
    ids = next((h for _, h, f, _ in pairs if f == "order_id" and h not in roles.values()), None)
    raw_ids = [str(v).strip() for v in (samples.get(ids) or []) if v is not None and str(v).strip()] if ids else []
    repeats = len(set(raw_ids)) < len(raw_ids)
    total = next((h for _, h, f, _ in pairs if f == "order_total" and h not in roles.values()), None)
    if total is not None:
        order_level = any(w in norm[total] for w in ORDER_LEVEL_WORDS) or any(
            norm[h] in _ORDER_AMOUNTS or norm[h].startswith(("subtotal ", "tax ")) for h in headers)
        if not repeats or "line_total" in roles or order_level:
            return {}, 0.0                          # an order total is there: quantities are item counts
        roles["line_total"] = total                 # ids repeat and a plain "Total" is the line's
    return roles, 0.9 if repeats else 0.8


def _date_format(columns: list[list[str]]) -> str | None:
    """The strptime format of the time columns' values (None for ISO 8601). One format parsing every
    column's values is preferred (a later column may settle day-first or month-first); else the first
    column's. Day-first wins when the data cannot tell."""
    columns = [[v for v in col if not _iso(v)] for col in columns]
    columns = [col for col in columns if col]
    if not columns:
        return None
    every = [v for col in columns for v in col]
    for fmt in DATE_FORMATS:
        if all(_parses(v, fmt) for v in every):
            return fmt
    for fmt in DATE_FORMATS:
        if all(_parses(v, fmt) for v in columns[0]):
            return fmt
    return None


_COMMA_CLEAR = (re.compile(r"[+-]?\d{1,3}(?:[. \u00a0\u202f']\d{3})+,\d+"),  # 1.234,56
                re.compile(r"[+-]?\d+,\d{1,2}"),                             # 12,50
                re.compile(r"[+-]?\d+,\d{4,}"),                              # 0,12345
                re.compile(r"[+-]?(?:0|\d{4,}),\d{3}"))                      # 0,125 · 1234,567
_POINT_CLEAR = (re.compile(r"[+-]?\d{1,3}(?:[, \u00a0\u202f']\d{3})+\.\d+"),
                re.compile(r"[+-]?\d+\.\d{1,2}"),
                re.compile(r"[+-]?\d+\.\d{4,}"),
                re.compile(r"[+-]?(?:0|\d{4,})\.\d{3}"))


def _decimal_comma(money: list[str]) -> bool:
    """Decimal comma when the amounts clearly written with one (12,50 · 1.234,56) outnumber those clearly
    written with a decimal point (12.50 · 1,234.56) nine to one. "1.234" alone is either; "1.234.567" (dots
    grouping thousands) leans to the comma when nothing else tells."""
    comma = point = 0
    comma_hint = point_hint = False
    for raw in money:
        v = _money_text(raw)
        if any(p.fullmatch(v) for p in _COMMA_CLEAR):
            comma += 1
        elif any(p.fullmatch(v) for p in _POINT_CLEAR):
            point += 1
        elif re.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3}){2,}", v):
            comma_hint = True
        elif re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3}){2,}", v):
            point_hint = True
    if comma or point:
        # a stray amount in the other convention (a value pasted from elsewhere) does not turn the file's
        # convention over: the mapping declares the convention, and the import reports that row as an error
        return comma >= 9 * point
    return comma_hint and not point_hint


def _iso(value: str) -> bool:
    if not re.match(r"\d{4}-\d{2}-\d{2}", value):
        return False
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
