"""Reading and checking a feed file in DuckDB, before anything is written: the file becomes temp table
`raw` (a reader per format), every broken value is named (`row_errors`), two snapshots of one order in one
file are settled (the newest wins, a tie with other facts is a conflict), and the report says what was found
and what the layout leaves the rules unable to judge."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import duckdb
from pydantic import BaseModel

from ..errors import FeedError
from ..models import FEED_COLUMNS
from ..rules import RuleSet
from ..store.dialect import literal
from . import readers
from .validate import errors_sql, failing_rows_sql, trim_all

MAX_REPORTED = 50


class RowError(BaseModel):
    line: int
    column: str
    value: str | None
    reason: str


class ImportReport(BaseModel):
    """What validation found: the first MAX_REPORTED errors and how many there are in all."""
    file_name: str
    format: str
    rows: int = 0
    error_count: int = 0
    invalid_rows: int = 0
    errors: list[RowError] = []
    warnings: list[str] = []
    line_label: str = "line"

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        if self.ok:
            return f"{self.file_name}: {self.rows:,} rows, no errors."
        rows = f"{self.invalid_rows:,} of {self.rows:,} rows" if self.invalid_rows else f"{self.rows:,} rows"
        head = [f"{self.file_name}: {self.error_count:,} invalid value(s) in {rows}; nothing was imported."]
        for e in self.errors:
            value = "" if e.value is None else repr(e.value if len(e.value) <= 60 else e.value[:57] + "…")
            head.append(f"  {self.file_name}:{e.line} ({self.line_label} {e.line}) column {e.column} {value}: {e.reason}")
        if self.error_count > len(self.errors):
            head.append(f"  … and {self.error_count - len(self.errors):,} more.")
        return "\n".join(head)


def read_raw(cur, path: Path, fmt: str, options: dict) -> readers.RawFeed:
    if not path.exists():
        raise FeedError(f"no such file: {path}")
    if path.is_dir():
        raise FeedError(f"{path} is a folder, not a feed file")
    if fmt == "auto":
        fmt = readers.detect_format(path)
    reader = readers.READERS.get(fmt)
    if reader is None:
        raise FeedError(f"unknown format '{fmt}'; known: {', '.join(sorted(readers.READERS))}")
    try:
        return reader(cur, path, options)
    except duckdb.Error as err:
        # whatever the file holds, a person gets a sentence, not a stack trace
        raise FeedError(f"cannot read {path.name} as {fmt}: {str(err).splitlines()[0][:300]}") from None


def validate_raw(cur, raw: readers.RawFeed, file_name: str, fmt: str) -> None:
    """Fill temp table row_errors (line, column_name, value, reason, row_line). A reader's own errors replace
    the generic ones for the same row and column — or for the whole row, when they name the line itself
    (a broken JSON line)."""
    fails = cur.execute(f"SELECT 1 FROM ({failing_rows_sql(raw.table)}) f LIMIT 1").fetchone()
    if raw.errors and not cur.execute(f"SELECT 1 FROM {raw.errors} LIMIT 1").fetchone():
        cur.execute(f"DROP TABLE IF EXISTS {raw.errors}")       # the reader found nothing wrong
        raw = dataclasses.replace(raw, errors=None)
    if not fails and not raw.errors:
        # no row fails a check (most files): the error query, which takes DuckDB 70-100 ms to plan, is not run
        cur.execute("CREATE OR REPLACE TEMP TABLE row_errors (line BIGINT, column_name VARCHAR, value VARCHAR, "
                    "reason VARCHAR, row_line BIGINT)")
        return
    errors = f"SELECT line, column_name, value, reason, line AS row_line FROM ({errors_sql(raw.table, raw.written)}) g"
    if not fails:
        errors += " WHERE false"        # only the reader's own errors: the planner reads nothing
    if raw.errors:
        errors = (f"SELECT line, column_name, value, reason, row_line FROM {raw.errors} UNION ALL "
                  f"SELECT * FROM ({errors}) g WHERE NOT EXISTS (SELECT 1 FROM {raw.errors} r "
                  f"WHERE r.row_line = g.row_line AND (r.column_name = g.column_name OR r.column_name = 'line'))")
    column = "column_name"
    if raw.labels:
        # name the file's own column next to ours: "Financial Status (payment_status)"
        whens = " ".join(f"WHEN {literal(field)} THEN {literal(f'{name} ({field})')}"
                         for field, name in raw.labels.items() if name != field)
        column = f"CASE column_name {whens} ELSE column_name END" if whens else column
    cur.execute(f"CREATE OR REPLACE TEMP TABLE row_errors AS "
                f"SELECT line, {column} AS column_name, value, reason, row_line FROM ({errors}) e")
    if raw.errors:
        cur.execute(f"DROP TABLE IF EXISTS {raw.errors}")


def settle_snapshots(cur, raw: readers.RawFeed, now: datetime) -> tuple[int, int]:
    """Two snapshots of one order in one file: keep the newest (`updated_at`, blank = import time). Older
    ones and repeated copies are left out (counted); two different newest ones are a conflict: both rows become errors and
    the order is not applied. Returns (older snapshots left out, conflicting orders)."""
    key = f"nullif({trim_all()}, '')"          # the order id as the batch will hold it
    ts = f"coalesce(CAST(TRY_CAST({trim_all('updated_at')} AS TIMESTAMPTZ) AS TIMESTAMP), $now)"
    facts = "md5(concat_ws(chr(31), " + ", ".join(f"coalesce({trim_all(c)}, chr(0))" for c in FEED_COLUMNS) + "))"
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE dup_rows AS
        SELECT r.line, {key} AS k, {ts} AS ts, {facts} AS facts
        FROM {raw.table} r SEMI JOIN (SELECT {key} AS k FROM {raw.table} WHERE {key} IS NOT NULL
                                      GROUP BY 1 HAVING count(*) > 1) d ON {key} = d.k""", {"now": now})
    if not cur.execute("SELECT count(*) FROM dup_rows").fetchone()[0]:
        cur.execute("CREATE OR REPLACE TEMP TABLE superseded AS SELECT line FROM dup_rows")
        cur.execute("DROP TABLE dup_rows")
        return 0, 0
    cur.execute("""CREATE OR REPLACE TEMP TABLE dup_newest AS
        SELECT k, max(ts) AS ts FROM dup_rows GROUP BY k""")
    # the newest rows of each order; identical copies collapse into their first line
    cur.execute("""CREATE OR REPLACE TEMP TABLE dup_top AS
        SELECT d.k, d.facts, min(d.line) AS line, list(d.line ORDER BY d.line) AS lines
        FROM dup_rows d JOIN dup_newest n ON n.k = d.k AND n.ts = d.ts GROUP BY d.k, d.facts""")
    cur.execute("""INSERT INTO row_errors
        SELECT t.line, 'updated_at', strftime(n.ts, '%Y-%m-%dT%H:%M:%S'),
               'conflict: lines ' || array_to_string(list_sort(c.all_lines), ', ') || ' are different snapshots of order '
               || t.k || ' with the same updated_at; fix one of them (nothing of this order was imported)', t.line
        FROM dup_top t JOIN dup_newest n ON n.k = t.k
        JOIN (SELECT k, flatten(list(lines)) AS all_lines FROM dup_top GROUP BY k HAVING count(*) > 1) c ON c.k = t.k""")
    conflicts = cur.execute("SELECT count(DISTINCT k) FROM dup_top WHERE k IN "
                            "(SELECT k FROM dup_top GROUP BY k HAVING count(*) > 1)").fetchone()[0]
    # everything but the kept newest row of each order is left out of the batch
    cur.execute("""CREATE OR REPLACE TEMP TABLE superseded AS
        SELECT line FROM dup_rows ANTI JOIN (SELECT min(line) AS line FROM dup_top GROUP BY k HAVING count(*) = 1) keep
        USING (line)""")
    # left out and counted: older snapshots and repeated copies; a row with an error (a conflict's, or an
    # invalid value) is counted as rejected instead, so every row of the file is counted once
    older = cur.execute("SELECT count(*) FROM superseded s WHERE NOT EXISTS "
                        "(SELECT 1 FROM row_errors e WHERE e.row_line = s.line)").fetchone()[0]
    for t in ("dup_rows", "dup_newest", "dup_top"):
        cur.execute(f"DROP TABLE {t}")
    return older, conflicts


def report_of(cur, raw: readers.RawFeed, file_name: str, fmt: str, warnings: list[str]) -> ImportReport:
    count, invalid_rows = cur.execute("SELECT count(*), count(DISTINCT row_line) FROM row_errors").fetchone()
    first = cur.execute("SELECT line, column_name, value, reason FROM row_errors ORDER BY line, column_name "
                        "LIMIT ?", [MAX_REPORTED]).fetchall()
    return ImportReport(file_name=file_name, format=fmt, rows=raw.rows, error_count=count, invalid_rows=invalid_rows,
                        errors=[RowError(line=l, column=c, value=v, reason=r) for l, c, v, r in first],
                        warnings=warnings, line_label=raw.line_label)


RULE_NEEDS = {
    "payment": (("amount_paid",), "the payment rule can fire only on failed payments: the layout has no amount paid"),
    "inventory": (("items_available",), "the inventory rule can never fire: the layout has no stock (items_available)"),
    "fraud": (("risk_score", "risk_level"), "the fraud rule can never fire: the layout has no risk score or level"),
    "returns": (("return_requested", "damage_reported"),
                "the returns rule can never fire: the layout has no return or damage flags"),
}


def coverage_warnings(raw: readers.RawFeed, rules: RuleSet) -> list[str]:
    """What this layout leaves the active rules unable to judge (a column it does not carry at all)."""
    if raw.present is None:
        return []
    kinds = {r.kind for r in rules.active}
    out = []
    for kind, (fields, text) in RULE_NEEDS.items():
        if kind in kinds and not any(f in raw.present for f in fields):
            out.append(text + ".")
    for rule in (r for r in rules.active if r.kind == "address"):
        # a ship field the layout never carries is blank on every order, and one blank field fires the rule
        missing = [f for f in rule.ship_fields if f not in raw.present]
        if not missing:
            continue
        what = "no shipping address" if len(missing) == len(rule.ship_fields) else f"no {', '.join(missing)}"
        names = [s.value for s in rule.closed_statuses]
        which = (f"every order that is not {', '.join(names[:-1]) + ' or ' if len(names) > 1 else ''}{names[-1]}"
                 if names else "every order")
        out.append(f"the layout has {what}: the address rule sees blank shipping fields and opens an address case "
                   f"for {which}.")
    return out


def notes_for(raw: readers.RawFeed, rules: RuleSet, older: int, unused: int) -> list[str]:
    notes = list(raw.warnings) + coverage_warnings(raw, rules)
    if older:
        notes.append(f"{older:,} older snapshot(s) of orders whose newer snapshot is in the same file were left out "
                     "(the newest updated_at wins)")
    return notes
