"""What differs between the two SQL engines exq writes to, and nothing else.

Every query in exq_core is written once, in the SQL both DuckDB 2.0 and PostgreSQL 15 understand
(`extract(epoch FROM …)`, `x * INTERVAL '1 second'`, `= ANY(list)`, `@>`, `cardinality`, `ON CONFLICT`,
`percentile_cont … WITHIN GROUP`). The few things that cannot be written the same way live here:
lists without their NULLs, temp tables, row locks, rounding of doubles, and how parameters are spelled.
Values that must be spelled into SQL (a rules file's thresholds, a column name) go through `literal` and
`ident`: the one quoting helper of the project.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from .schema import SEARCH_COLUMNS


def ident(name: str) -> str:
    """A quoted identifier: `ident('at')` → `"at"`."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value) -> str:
    """A SQL literal for a plain Python value (str, int, float, Decimal, bool, None).

    Numbers must be finite (a rules file's `inf` is refused at load; this is the last line)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return f"CAST('{value}' AS DECIMAL(18,3))"
    text = str(value)
    if "\x00" in text:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


def literal_list(values) -> str:
    """A list/array literal of strings: `ARRAY['a', 'b']::VARCHAR[]` (both engines)."""
    values = list(values)
    if not values:
        return "ARRAY[]::VARCHAR[]"
    return "ARRAY[" + ", ".join(literal(str(v)) for v in values) + "]::VARCHAR[]"


def one_of(expr: str, values) -> str:
    """`expr` equals one of `values` (NULL when expr is NULL), spelled as ORed comparisons: DuckDB plans
    `x IN (...)` with five or more constants as a join against the list, which cost 0.03-0.13 s per column
    per million imported rows; the comparisons cost a third of that. An empty list is false."""
    values = list(values)
    if not values:
        return "false"
    return "(" + " OR ".join(f"{expr} = {literal(v)}" for v in values) + ")"


def none_of(expr: str, values) -> str:
    """`expr` equals none of `values` (NULL when expr is NULL), as ANDed comparisons (see one_of)."""
    values = list(values)
    if not values:
        return "true"
    return "(" + " AND ".join(f"{expr} <> {literal(v)}" for v in values) + ")"


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    def compact(self, items: list[str]) -> str:
        """A VARCHAR list of the items that are not NULL, in order."""
        if not items:
            return "ARRAY[]::VARCHAR[]"
        if self.is_postgres:
            return f"array_remove(ARRAY[{', '.join(items)}]::VARCHAR[], NULL)"
        return f"list_filter([{', '.join(items)}], lambda x: x IS NOT NULL)"

    def round(self, expr: str, digits: int) -> str:
        """round() of a DOUBLE to `digits` places, as a DOUBLE (PostgreSQL rounds only NUMERIC)."""
        if self.is_postgres:
            return f"CAST(round(CAST({expr} AS NUMERIC), {int(digits)}) AS DOUBLE PRECISION)"
        return f"round({expr}, {int(digits)})"

    def order_text_contains(self, order: str, text: str) -> tuple[str, dict]:
        """A condition (and its parameters) that the order (table alias `order`) holds `text` (lower-cased)
        in one of its searchable columns (schema.SEARCH_COLUMNS), literally, whatever the letters' case.
        Only an order that has a case is searched (what an import marks). PostgreSQL looks in the lower-cased
        copy its import stored, with a LIKE (the text escaped) that the pg_trgm index serves. DuckDB keeps no
        copy and scans the columns of the orders marked `searchable` (an import stores them ahead of its routine
        orders, so the scan skips those orders' row groups): ILIKE is its fastest test, used when the
        text has no LIKE wildcard to escape (DuckDB's escaped LIKE is slower); else contains() of the
        lower-cased column (1M orders with long messages: 69 and 98 ms; the stored copy was 89 ms)."""
        if self.is_postgres:
            escaped = "replace(replace(replace($text, '\\', '\\\\'), '%', '\\%'), '_', '\\_')"
            return f"{order}.search_text LIKE '%' || {escaped} || '%'", {"text": text}
        if any(ch in text for ch in "%_\\"):
            tests = [f"contains(lower({order}.{column}), $text)" for column in SEARCH_COLUMNS]
            return f"{order}.searchable AND (" + " OR ".join(tests) + ")", {"text": text}
        tests = [f"{order}.{column} ILIKE $text_like" for column in SEARCH_COLUMNS]
        return f"{order}.searchable AND (" + " OR ".join(tests) + ")", {"text_like": f"%{text}%"}

    def create_temp(self, name: str, select: str) -> list[str]:
        """Statements that (re)create temp table `name` from a query."""
        if self.is_postgres:
            return [f"DROP TABLE IF EXISTS {name}", f"CREATE TEMP TABLE {name} AS {select}"]
        return [f"CREATE OR REPLACE TEMP TABLE {name} AS {select}"]

    @property
    def for_update(self) -> str:
        """Row lock for a read that a write in the same transaction depends on (DuckDB serialises writers)."""
        return " FOR UPDATE" if self.is_postgres else ""

    @property
    def for_share(self) -> str:
        return " FOR SHARE" if self.is_postgres else ""

    def advance_sequence(self, name: str, at_least: int) -> str:
        """A statement that moves sequence `name` so its next value is above `at_least` (ids written in bulk)."""
        if self.is_postgres:
            return f"SELECT setval('{name}', greatest({int(at_least)}, (SELECT last_value FROM {name})))"
        return f"SELECT max(nextval('{name}')) FROM range({int(at_least)})"

    def translate(self, sql: str, named: bool) -> str:
        """Parameters are written `$name` (or `?`) in exq_core; psycopg wants `%(name)s` / `%s`."""
        if not self.is_postgres:
            return sql
        return _to_psycopg(sql, named)


DUCKDB = Dialect("duckdb")
POSTGRES = Dialect("postgresql")

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)|\?|%")


@lru_cache(maxsize=4096)
def _to_psycopg(sql: str, named: bool) -> str:
    """Rewrite `$name`, `?` and a literal `%` outside quoted strings and identifiers."""
    out = []
    pos, n = 0, len(sql)
    while pos < n:
        quote = min((i for i in (sql.find("'", pos), sql.find('"', pos)) if i >= 0), default=-1)
        end = n if quote < 0 else quote
        out.append(_PARAM.sub(lambda m: _param(m, named), sql[pos:end]))
        if quote < 0:
            break
        close = sql.find(sql[quote], quote + 1)
        close = n - 1 if close < 0 else close
        out.append(sql[quote:close + 1].replace("%", "%%"))
        pos = close + 1
    return "".join(out)


def _param(match: re.Match, named: bool) -> str:
    token = match.group(0)
    if token == "%":
        return "%%"
    if token == "?":
        return "%s"
    return f"%({match.group(1)})s" if named else token
