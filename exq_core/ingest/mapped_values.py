"""A mapped file's values as the mapping declares them, in SQL: each number of a row trimmed and split once
(an amount into the currency it names and its digits), read by the declared number convention, checked
against the row's currency; dates by the declared format. `mapping.read_mapped` builds its feed from these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store.dialect import ident, literal
from .validate import trim_all

if TYPE_CHECKING:
    from .mapping import MappingSpec


# -- a row's numbers, worked out once --------------------------------------------------------------
#
# Each number of a row is trimmed (validate.trim_all: a tab, a line break too) and an amount split into the
# currency code or sign before it, the number and the code or sign after it — once, into columns of
# mapped_src. The checks and the feed's values refer to those columns: with the expressions written out in
# each of them, a 16-row file's SQL was 70,000 characters and took half a second to plan.

@dataclass(frozen=True)
class Prepared:
    """A number of the row, as columns of mapped_src (SQL)."""
    text: str                   # the value trimmed; NULL or '' when blank
    parts: str | None = None    # an amount: {pre, num, suf}, the currency code or sign before, number, after

    @property
    def bare(self) -> str:
        return f"struct_extract({self.parts}, 'num')" if self.parts else self.text

    @property
    def marks(self) -> tuple[str, str]:
        return tuple(f"nullif(struct_extract({self.parts}, '{side}'), '')" for side in ("pre", "suf"))

    @property
    def blank(self) -> str:
        return f"coalesce({self.text}, '') = ''"


def prepare(values: dict[str, tuple[str, bool]], source: str, prefix: str) -> tuple[str, dict[str, Prepared]]:
    """(SQL: the rows of `source` with each of `values` — name: (SQL of the value, whether it is an amount) —
    prepared as columns named from `prefix`; the prepared values by name)."""
    trimmed, split, prepared = [], [], {}
    for name, (expr, amount) in values.items():
        text = ident(f"{prefix}t_{name}")
        trimmed.append(f", {trim_all(expr)} AS {text}")
        parts = None
        if amount:
            parts = ident(f"{prefix}a_{name}")
            split.append(f", regexp_extract({text}, {literal(_AMOUNT)}, ['pre', 'num', 'suf']) AS {parts}")
        prepared[name] = Prepared(text, parts)
    return f"SELECT *{''.join(split)} FROM (SELECT *{''.join(trimmed)} FROM {source})", prepared


# -- the currency an amount names ------------------------------------------------------------------
#
# A currency code or sign around an amount ("USD 12,50", "12,50 €") is read, not thrown away: it must be the
# row's currency — its currency column, else the mapping's default_currency, else the currency an amount of
# the row names on its own. An amount in another currency is an error: it would be stored as that number in
# the wrong currency. $ and ¥ name a currency only together with the row's ($ is the dollar or peso of many
# countries, ¥ the yen or the yuan).

SIGNS: dict[str, tuple[str, ...]] = {
    "€": ("EUR",), "£": ("GBP",), "₹": ("INR",), "¥": ("JPY", "CNY"),
    "$": ("USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "ARS", "CLP", "COP", "TWD"),
}
_CURRENCY = "(?:[" + "".join(SIGNS) + "]|[A-Z]{3})"
_GAP = "[\\s\u00a0\u202f]*"     # RE2's \s is ASCII only; spreadsheets put a no-break space before the sign
_AMOUNT = f"(?s)^({_CURRENCY})?{_GAP}(.*?){_GAP}({_CURRENCY})?$"
UNSAID = " alone does not say which currency: map a currency column or set the mapping's default_currency"


def _code(mark: str) -> str:
    """The currency a mark names on its own: a code, or the sign of one currency; NULL for $ and ¥."""
    whens = " ".join(f"WHEN {literal(sign)} THEN {literal(codes[0]) if len(codes) == 1 else 'NULL'}"
                     for sign, codes in SIGNS.items())
    return f"CASE {mark} {whens} ELSE {mark} END"


def _currency_problem(amount: Prepared, currency: str, source: str) -> str:
    """SQL for why the currency an amount names is not the row's (`currency`, found as `source` says); NULL
    when it names none, or the row's."""
    agrees = " ".join(f"WHEN {literal(sign)} THEN {currency} IN ({', '.join(literal(c) for c in codes)})"
                      for sign, codes in SIGNS.items())
    # the code or sign before the number, then the one after it: each once, as the lambda's m
    return (f"list_filter(list_transform([{', '.join(amount.marks)}], lambda m: CASE WHEN m IS NULL THEN NULL "
            f"WHEN {currency} IS NULL THEN m || {literal(UNSAID)} WHEN NOT (CASE m {agrees} ELSE {currency} = m END) "
            f"THEN 'the amount is in ' || m || ', but the row''s currency is ' || {currency} || "
            f"{literal(f' ({source})')} END), lambda x: x IS NOT NULL)[1]")


def _row_currency(currency: Prepared | None, default: str | None, amounts: list[Prepared],
                  currency_column: str | None) -> tuple[str, str]:
    """(SQL for the row's currency, upper case, NULL when unknown; where it comes from, in words)."""
    parts = [f"upper(nullif({currency.text}, ''))"] if currency else []
    if default:
        parts.append(literal(default))
    else:
        parts += [_code(mark) for amount in amounts for mark in amount.marks]
    named = "the currency another amount of the row names"
    if currency is None:
        source = "the mapping's default_currency" if default else named
    else:
        source = f"its {currency_column} column, or " + (
            f"the mapping's default_currency {default} when that is blank" if default else named)
    return (f"coalesce({', '.join(parts)})" if parts else "NULL::VARCHAR"), source


# -- numbers, as the mapping declares them -----------------------------------------------------------
#
# A mapping declares its number convention (`decimal_comma`); it is checked, never guessed. Thousands
# separators in groups of three (".", ",", space, no-break space, apostrophe — whichever is not the decimal
# mark) and, around an amount, a currency sign or code (see above) are fine. A value written the other way
# ("12.50" under a decimal comma) is an error that quotes the value as written, never a number 100× off; so
# is a first group of zeros ("0.125" under a decimal comma is an eighth written the other way, not 125).

_SEP = "\\s\u00a0\u202f'"


def _convention(decimal_comma: bool) -> tuple[str, str, str, str]:
    """(valid pattern, thousands separators, decimal mark, the other convention's pattern)."""
    if decimal_comma:
        valid = rf"^[+-]?([1-9][0-9]{{0,2}}([.{_SEP}][0-9]{{3}})+|[0-9]+)(,[0-9]+)?$"
        other = r"^[+-]?[0-9]{1,3}(,[0-9]{3})*\.[0-9]+$|^[+-]?[0-9]*\.[0-9]{1,2}$|^[+-]?[0-9]+\.[0-9]{4,}$"
        return valid, f"[.{_SEP}]", ",", other
    valid = rf"^[+-]?([1-9][0-9]{{0,2}}([,{_SEP}][0-9]{{3}})+|[0-9]+)(\.[0-9]+)?$"
    other = r"^[+-]?[0-9]{1,3}(\.[0-9]{3})*,[0-9]+$|^[+-]?[0-9]*,[0-9]{1,2}$|^[+-]?[0-9]+,[0-9]{4,}$"
    return valid, f"[,{_SEP}]", ".", other


def _number(value: Prepared, spec: MappingSpec, currency: tuple[str, str] | None = None,
            strict: bool = False) -> tuple[str, str]:
    """(normalised text: plain digits with a point, NULL when the value breaks the convention;
    SQL for the reason a non-blank value breaks it, NULL when it does not). An amount passes `currency`, the
    row's currency and where it comes from (`_row_currency`): a code or sign around it must name that one —
    the reason says so; the text is NULL for it too only when `strict` (a line's price: a line with an error
    must have no number, see `_order_from_lines`; a row with an error is rejected whatever its values)."""
    valid, thousands, mark, other = _convention(spec.decimal_comma)
    bare = value.bare
    normal = f"regexp_replace({bare}, {literal(thousands)}, '', 'g')"
    if mark == ",":
        normal = f"replace({normal}, ',', '.')"
    said = "a decimal comma (1.234,56)" if spec.decimal_comma else "a decimal point (1,234.56)"
    wrong = "a decimal point" if spec.decimal_comma else "a decimal comma"
    problem = _currency_problem(value, *currency) if currency and value.parts else "NULL"
    reason = (f"CASE WHEN {value.blank} THEN NULL WHEN regexp_full_match({bare}, {literal(valid)}) THEN {problem} "
              f"WHEN regexp_full_match({bare}, {literal(other)}) THEN "
              f"{literal(f'written with {wrong}, but the mapping declares {said}')} "
              f"ELSE {literal(f'not a number (the mapping declares {said})')} END")
    ok = f"regexp_full_match({bare}, {literal(valid)})" + (f" AND ({problem}) IS NULL" if strict and problem != "NULL"
                                                          else "")
    return f"CASE WHEN {ok} THEN {normal} END", reason


def _field_expr(col: str, field: str, spec: MappingSpec) -> str:
    """SQL turning their column `col` (quoted) into the feed's text for `field` (numbers separately)."""
    expr = f"CAST({col} AS VARCHAR)"
    table = spec.values.get(field)
    if table:
        whens = " ".join(f"WHEN {literal(k.strip().lower())} THEN {literal(v.strip())}" for k, v in table.items())
        expr = f"CASE lower({trim_all(expr)}) {whens} ELSE {expr} END"
    return expr


ISO_TEXT = "%Y-%m-%dT%H:%M:%S.%f"     # a parsed time as the feed's text (UTC, fractions of a second kept)


def _date_expr(value: Prepared, fmt: str, time_zone: str | None = None) -> tuple[str, str]:
    """(the value parsed with the mapping's date format, NULL when it does not match; SQL for the reason a
    non-blank value does not, NULL when it does). A format without %z reads a local time of `time_zone`
    (the parsed time is then a point in time; the session's zone, UTC, writes it back)."""
    parsed = f"try_strptime({value.text}, {literal(fmt)})"
    if time_zone and "%z" not in fmt.replace("%%", ""):
        parsed = f"timezone({literal(time_zone)}, {parsed})"
    mismatch = f"does not match the date format {fmt}"
    reason = f"CASE WHEN {value.blank} THEN NULL WHEN {parsed} IS NULL THEN {literal(mismatch)} "
    if "%Y" in fmt.replace("%%", ""):
        # DuckDB's %Y takes fewer digits too: "02.11.26" would be 2 November of the year 26
        two_digits = f"a year before 1900: a two-digit year? The date format {fmt} has %Y, a year of four digits " \
                     "(2026, not 26)"
        reason += f"WHEN year({parsed}) < 1900 THEN {literal(two_digits)} "
        parsed = f"CASE WHEN year({parsed}) >= 1900 THEN {parsed} END"
    return parsed, reason + "END"


def _local_iso(value: str, time_zone: str) -> str:
    """An ISO 8601 text time without an offset read as a local time of `time_zone`, written back as UTC
    text; a value with an offset, Z or a zone of its own (DuckDB then refuses the appended zone), or no time
    at all, stays as written for the feed's own check. A date alone is local midnight."""
    v = trim_all(f"({value})")
    zone = literal(time_zone)
    local = (f"coalesce(TRY_CAST({v} || ' ' || {zone} AS TIMESTAMPTZ), "
             f"TRY_CAST({v} || ' 00:00:00 ' || {zone} AS TIMESTAMPTZ))")
    return f"coalesce(strftime({local}, '{ISO_TEXT}'), {value})"
