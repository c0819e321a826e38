"""Row validation of the generic feed in SQL: one pass over the raw text columns, every broken value
named with its line, column, value and reason. The same rules as `models.FeedRow`, vectorised.

Cost matters here (SPEC §8: a million rows imported in seconds), so the SQL is shaped for DuckDB:
* a row is first screened by one WHERE over plain boolean predicates (DuckDB short-circuits those);
  the error structs are only built for the few rows that fail;
* `trim` allocates a new string for every value, so it only runs on values that may have white space
  around them (`trim_all`), and casts that skip surrounding white space themselves (numbers) get the value
  as it is;
* duplicates are found by grouping, not by a window over every row.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..models import (MAX_TEXT, CustomerTier, FulfillmentStatus, PaymentStatus, RiskLevel)
from ..store.dialect import literal, none_of, one_of

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

TEXT_COLUMNS = ("customer_id", "customer_email", "ship_name", "ship_address1", "ship_city",
                "ship_postal_code", "return_reason", "customer_message")
MONEY_COLUMNS = ("order_total", "customer_ltv", "amount_paid", "amount_refunded")
INT_COLUMNS = ("items_ordered", "items_available")
BOOL_COLUMNS = ("address_verified", "return_requested", "damage_reported")
TIME_COLUMNS = ("placed_at", "updated_at")
ENUM_COLUMNS = {"customer_tier": CustomerTier, "payment_status": PaymentStatus, "risk_level": RiskLevel,
                "fulfillment_status": FulfillmentStatus}
MONEY_RE = r"^[+-]?[0-9]{1,15}(\.[0-9]*)?$"
# a decimal number with at most 3 places; zeros after them are fine (ERP exports write 100.0000)
MONEY_OK_RE = r"^[+-]?[0-9]{1,15}(\.[0-9]{0,3}0*)?$"
INT_RE = r"^[+-]?[0-9]+$"                              # casts alone would take "2.5", "1e3", "0x10", "1_000"

NOT_DECIMAL = "not a decimal number (use . for decimals, no thousands separators)"
DIGITS_RE = r"^[+-]?[0-9]+(\.[0-9]*)?$"                # a decimal number of any size
TOO_LARGE = "too large: at most 15 digits before the decimal point"
TOO_PRECISE = "more than 3 decimal places"
NOT_WHOLE = "not a whole number"
OUT_OF_RANGE = "out of range: a whole number from -2,147,483,648 to 2,147,483,647"


_q = literal
# Characters that could reorder or hide an id on screen: refused in identifiers (textsafety.INVISIBLE).
INVISIBLE_CLASS = "[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"


# SPEC §2: blank is null, empty or only white space (a tab or a line break is white space too).
WHITE_SPACE = " \t\n\r\v\f"
_WS = "'" + WHITE_SPACE + "'"


def _starts_blank(col: str) -> str:
    """Empty, or the first character is white space (or another control character): `col < '!'` in
    byte order. A comparison, so DuckDB can rule out whole row groups from their min/max statistics."""
    return f"({col} < '!')"


# the same characters as a regular expression class (RE2: \v is a vertical tab, \f a form feed)
_WS_CLASS = "[ \\t\\n\\r\\v\\f]"


def _ws_edge(col: str) -> str:
    """A cheap test that a value may have white space to trim: it starts with white space (or is empty), or
    it ends with any white-space character. A value that is only white space always starts with it. (The
    end-anchored regular expression costs 0.02 s per column on a million held-out rows more than a test
    for a trailing space alone; six `ends_with` tests cost 0.07 s.)"""
    return f"({_starts_blank(col)} OR regexp_matches({col}, '{_WS_CLASS}$'))"


def _strip(col: str) -> str:
    """trim(col, white space), in the form that costs least on long text: DuckDB's `trim`/`rtrim` with a
    character list walks the whole string from its start (about 20 µs for a 2 kB message), a regular
    expression anchored at the end does not (about 5 µs); `ltrim` stops at the first other character."""
    return f"regexp_replace(ltrim({col}, {_WS}), '{_WS_CLASS}+$', '')"


def trim_all(col: str = "order_id") -> str:
    """The value with white space trimmed at both ends, whatever the character, trimmed only when it may need
    it. Every check and every typed value uses this one trim: the order id as it is stored and matched (with
    two trims, "O-1" and "\tO-1" were two rows of one order in a batch, and DuckDB stored the order twice),
    and every other value (with a trim that missed a trailing tab, "EUR\t" passed its check and was stored
    with the tab)."""
    return f"(CASE WHEN {_ws_edge(col)} THEN {_strip(col)} ELSE {col} END)"


def blank(col: str) -> str:
    """NULL, empty or only white space (a blank value that is not empty starts with white space)."""
    return f"({col} IS NULL OR ({_starts_blank(col)} AND {_strip(col)} = ''))"


def not_blank(col: str) -> str:
    """NOT blank(col), spelled out: DuckDB short-circuits AND/OR in a filter, but not under a NOT."""
    return f"({col} IS NOT NULL AND ({col} >= '!' OR {_strip(col)} <> ''))"


def _not_match(col: str, regex: str) -> str:
    """NOT regexp_full_match(trim(col), regex) for a regex without spaces: the value as written is tried
    first, and trim only runs for the values that fail it."""
    return f"(NOT regexp_full_match({col}, '{regex}') AND NOT regexp_full_match({_strip(col)}, '{regex}'))"


def _word_not_in(col: str, words) -> str:
    """lower(trim(col)) is none of `words`; lower/trim only run when the value as written is not one."""
    return f"({none_of(col, words)} AND {none_of(f'lower({trim_all(col)})', words)})"


@dataclass(frozen=True)
class Check:
    """One validation rule on one column. `bad` is true when a value is broken (blank values never are,
    except for the required-value checks); `reason` is a SQL string expression; `value` what to report."""
    column: str
    bad: str
    reason: str
    value: str

    def struct(self) -> str:
        return (f"CASE WHEN {self.bad} THEN {{'column': {_q(self.column)}, 'value': {self.value}, "
                f"'reason': {self.reason}}} END")


def _written(col: str, written: frozenset[str]) -> str:
    """What a person wrote in the cell: a reader that had to transform a value keeps it in `w_<col>`."""
    return f"left(coalesce(w_{col}, {col}), 120)" if col in written else f"left({col}, 120)"


def checks(written: frozenset[str] = frozenset()) -> list[Check]:
    """Every check of a raw feed row. Two snapshots of one order are not an error (the newest wins; see
    `feed`). `written`: columns whose value as written is kept in `w_<col>` (reported instead)."""
    def _check(col: str, bad: str, reason: str) -> Check:
        # the check first: it is false for almost every value, so the blank test rarely runs at all
        return Check(col, f"(({bad}) AND {not_blank(col)})", _q(reason), _written(col, written))

    out = [Check(col, blank(col), _q("required value is blank"), _written(col, written))
           for col in ("order_id", "placed_at", "order_total")]
    out.append(_check("order_id", f"strlen(order_id) > 200 AND length({trim_all()}) > 200",
                      "order_id longer than 200 characters"))
    for col in TIME_COLUMNS:
        # the cast skips spaces around a date-time, not a tab or a line break after it
        out.append(_check(col, f"TRY_CAST({trim_all(col)} AS TIMESTAMPTZ) IS NULL",
                          "not an ISO 8601 date-time (e.g. 2026-11-27T09:30:00Z)"))
    for col in MONEY_COLUMNS:
        # one regex for the good values; which message applies is only worked out for the bad ones
        out.append(Check(col, f"({_not_match(col, MONEY_OK_RE)} AND {not_blank(col)})",
                         f"CASE WHEN regexp_full_match({trim_all(col)}, '{MONEY_RE}') THEN {_q(TOO_PRECISE)} "
                         f"WHEN regexp_full_match({trim_all(col)}, '{DIGITS_RE}') THEN {_q(TOO_LARGE)} "
                         f"ELSE {_q(NOT_DECIMAL)} END", _written(col, written)))
    out.append(_check("order_total", "contains(order_total, '-') AND TRY_CAST(order_total AS DECIMAL(18,3)) < 0",
                      "order_total must not be negative"))
    out.append(_check("risk_score", "TRY_CAST(risk_score AS DOUBLE) IS NULL OR "
                                    "NOT (TRY_CAST(risk_score AS DOUBLE) BETWEEN 0 AND 1)",
                      "risk_score must be a number from 0 to 1"))
    for col in INT_COLUMNS:
        # a whole number too large for a count is said to be one ("3000000000" was "not a whole number")
        bad = f"{_not_match(col, INT_RE)} OR TRY_CAST({col} AS INTEGER) IS NULL"
        out.append(Check(col, f"(({bad}) AND {not_blank(col)})",
                         f"CASE WHEN regexp_full_match({trim_all(col)}, '{INT_RE}') THEN {_q(OUT_OF_RANGE)} "
                         f"ELSE {_q(NOT_WHOLE)} END", _written(col, written)))
    out.append(_check("items_ordered", "contains(items_ordered, '-') AND TRY_CAST(items_ordered AS INTEGER) < 0",
                      "items_ordered must not be negative"))
    for col in BOOL_COLUMNS:
        out.append(_check(col, _word_not_in(col, TRUE_WORDS + FALSE_WORDS), "not true/false (or yes/no, 1/0)"))
    for col, enum in ENUM_COLUMNS.items():
        out.append(_check(col, _word_not_in(col, [e.value for e in enum]),
                          f"must be one of {', '.join(e.value for e in enum)}"))
    out.append(_check("currency", _not_match("currency", "[A-Za-z]{3}"),
                      "not an ISO 4217 currency code (three letters)"))
    out.append(_check("ship_country", _not_match("ship_country", "[A-Za-z]{2}"),
                      "not an ISO 3166 alpha-2 country code (two letters)"))
    for col in ("order_id", "customer_id"):
        # only a value with non-ASCII characters can hold one (strlen counts bytes, length characters)
        out.append(_check(col, f"strlen({col}) > length({col}) AND regexp_matches({col}, '{INVISIBLE_CLASS}')",
                          "contains invisible or direction-changing characters (bidi controls, zero-width "
                          "characters): an id must read as what it is"))
    for col in TEXT_COLUMNS + ("order_id",):
        # strlen (bytes) is free and never less than length (characters)
        out.append(_check(col, f"strlen({col}) > {MAX_TEXT} AND length({col}) > {MAX_TEXT}",
                          f"text longer than {MAX_TEXT:,} characters"))
    return out


def failing_rows_sql(raw: str) -> str:
    """The lines of the rows some check fails (a line once per failing column): an OR of every check over
    a row reads all the columns of every row, one check at a time the scan reads only that column (1M
    held-out rows, none failing: 0.86 -> 0.59 s). Most files fail nothing, and then errors_sql need not run."""
    by_column: dict[str, list[str]] = {}
    for c in checks():
        by_column.setdefault(c.column, []).append(c.bad)
    return " UNION ALL ".join(f"SELECT line FROM {raw} WHERE {' OR '.join(bad)}" for bad in by_column.values())


def errors_sql(raw: str, written: frozenset[str] = frozenset()) -> str:
    """All errors of the raw table, one row each: line, column, value (as written), reason."""
    all_checks = checks(written)
    structs = ",\n".join(c.struct() for c in all_checks)
    screen = "\n   OR ".join(c.bad for c in all_checks)
    return f"""
        SELECT line, e.column AS column_name, e.value AS value, e.reason AS reason
        FROM (SELECT line, unnest(list_filter([{structs}], lambda x: x IS NOT NULL)) AS e
              FROM {raw} WHERE {screen})"""


def _text(col: str) -> str:
    """The value with white space trimmed, blank as NULL."""
    return f"(CASE WHEN {_ws_edge(col)} THEN nullif({_strip(col)}, '') ELSE {col} END)"


# every word a boolean may be written as, and what it means
BOOL_WORDS = ("MAP {" + ", ".join(f"{_q(w)}: {str(w in TRUE_WORDS).lower()}" for w in TRUE_WORDS + FALSE_WORDS)
              + "}")


def _bool(col: str) -> str:
    # DuckDB's own cast reads true/false/t/f/1/0 (any case); the other values are trimmed, lower-cased and
    # looked up once in the word map (`coalesce` runs it only for them). Two `IN (...)` lists of the
    # trimmed word computed it for every row: 0.1 s per column per million rows, against 0.01 s.
    return f"coalesce(TRY_CAST({col} AS BOOLEAN), {BOOL_WORDS}[lower({trim_all(col)})])"


def _enum(col: str, enum) -> str:
    return f"CASE WHEN {one_of(col, [e.value for e in enum])} THEN {col} ELSE lower({_text(col)}) END"


def typed_sql(raw: str, default_currency: str) -> str:
    """The raw text columns cast to the feed's types, blank as NULL. Run on rows that passed."""
    cols = ["line", f"{trim_all()} AS order_id"]
    for col in TIME_COLUMNS:
        cols.append(f"CAST(TRY_CAST({trim_all(col)} AS TIMESTAMPTZ) AS TIMESTAMP) AS {col}")
    for col in MONEY_COLUMNS:
        cols.append(f"TRY_CAST({col} AS DECIMAL(18,3)) AS {col}")
    cols.append(f"coalesce(upper({_text('currency')}), {_q(default_currency)}) AS currency")
    cols.append("TRY_CAST(risk_score AS DOUBLE) AS risk_score")
    for col in INT_COLUMNS:
        cols.append(f"TRY_CAST({col} AS INTEGER) AS {col}")
    for col in BOOL_COLUMNS:
        cols.append(f"{_bool(col)} AS {col}")
    for col, enum in ENUM_COLUMNS.items():
        cols.append(f"{_enum(col, enum)} AS {col}")
    for col in TEXT_COLUMNS:
        cols.append(f"{_text(col)} AS {col}")
    cols.append(f"upper({_text('ship_country')}) AS ship_country")
    return f"SELECT {', '.join(cols)} FROM {raw}"
