"""The import use case: read, validate, apply newer snapshots, route — all-or-nothing per file."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
from pydantic import BaseModel

from ..errors import ExqError, FeedError, FeedInvalid
from ..models import FEED_COLUMNS, SYSTEM, Actor
from ..routing import RouteResult, route_changed
from ..rules import RuleSet, load_rules
from ..store import Store, utcnow
from ..workflow import require
from . import mapping as mappings, readers, shopify  # noqa: F401  (registers the shopify and mapped readers)
from .validate import errors_sql, typed_sql

MAX_REPORTED = 50
Progress = Callable[[str, float], None]


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


class ImportResult(BaseModel):
    import_id: int | None
    file_name: str
    status: str                     # imported | duplicate | partial
    report: ImportReport
    rows: int = 0
    orders_new: int = 0
    orders_updated: int = 0
    orders_stale: int = 0           # an older (or same-time) snapshot than the stored one: ignored
    orders_unchanged: int = 0       # newer, but every field as stored: nothing to re-route
    routine: int = 0
    cases_new_by_bucket: dict[str, int] = {}
    cases_updated: int = 0
    rejected: int = 0
    message: str = ""

    @property
    def cases_new(self) -> int:
        return sum(self.cases_new_by_bucket.values())


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _validate(cur, raw: readers.RawFeed, file_name: str, fmt: str) -> ImportReport:
    """Fill temp table row_errors (line, column_name, value, reason, row_line) and report on it.
    A reader's own errors (raw.errors) replace the generic ones for the same row and column."""
    errors = f"SELECT line, column_name, value, reason, line AS row_line FROM ({errors_sql(raw.table)})"
    if raw.errors:
        errors = (f"SELECT line, column_name, value, reason, row_line FROM {raw.errors} UNION ALL "
                  f"SELECT * FROM ({errors}) g WHERE NOT EXISTS (SELECT 1 FROM {raw.errors} r "
                  f"WHERE r.row_line = g.row_line AND r.column_name = g.column_name)")
    column = "column_name"
    if raw.labels:
        # name the file's own column next to ours: "Financial Status (payment_status)"
        whens = " ".join(f"WHEN {_sql_text(field)} THEN {_sql_text(f'{name} ({field})')}"
                         for field, name in raw.labels.items() if name != field)
        column = f"CASE column_name {whens} ELSE column_name END" if whens else column
    cur.execute(f"CREATE OR REPLACE TEMP TABLE row_errors AS "
                f"SELECT line, {column} AS column_name, value, reason, row_line FROM ({errors})")
    if raw.errors:
        cur.execute(f"DROP TABLE IF EXISTS {raw.errors}")
    count, invalid_rows = cur.execute("SELECT count(*), count(DISTINCT row_line) FROM row_errors").fetchone()
    first = cur.execute("SELECT line, column_name, value, reason FROM row_errors ORDER BY line, column_name "
                        "LIMIT ?", [MAX_REPORTED]).fetchall()
    return ImportReport(file_name=file_name, format=fmt, rows=raw.rows, error_count=count,
                        invalid_rows=invalid_rows,
                        errors=[RowError(line=l, column=c, value=v, reason=r) for l, c, v, r in first],
                        warnings=raw.warnings, line_label=raw.line_label)


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


def _resolve(store: Store, path: Path, fmt: str, options: dict | None, mapping, source: str | None,
             default_currency: str) -> tuple[str, dict, str | None, str, str]:
    """(format, reader options, mapping name, source, default currency) for a file."""
    options = dict(options or {})
    ref = mapping if mapping is not None else options.pop("mapping", None)
    options.pop("mapping", None)
    if ref is not None:
        spec = mappings.resolve_mapping(store, ref)
        options["spec"] = spec
        return ("mapped", options, spec.name, source or spec.source_name,
                spec.default_currency or default_currency)
    if fmt == "mapped":
        raise FeedError("format 'mapped' needs a column mapping (--mapping NAME or a .toml file)")
    if fmt == "auto" and path.is_file():
        fmt = readers.detect_format(path)
    return fmt, options, None, source or (fmt if fmt not in ("csv", "parquet", "jsonl") else "feed"), \
        default_currency


def preview_file(store: Store, path: str | Path, *, fmt: str = "auto", options: dict | None = None,
                 limit: int = 20, mapping=None, default_currency: str = "USD"):
    """Validate without writing: (report, first rows as exq will read them as a DataFrame)."""
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"no such file: {path}")
    fmt, options, _, _, currency = _resolve(store, path, fmt, options, mapping, None, default_currency)
    with store.read() as cur:
        try:
            raw = read_raw(cur, path, fmt, options)
            report = _validate(cur, raw, path.name, fmt)
            rows = cur.execute(f"SELECT line, {', '.join(FEED_COLUMNS)} FROM ({typed_sql(raw.table, currency)}) "
                               f"ORDER BY line LIMIT ?", [limit]).df()
        finally:
            for t in ("raw", "row_errors", "loaded"):
                cur.execute(f"DROP TABLE IF EXISTS {t}")
    return report, rows


def _record_failure(store: Store, *, path: Path, digest: str, source: str, fmt: str, mapping: str | None,
                    status: str, rows: int, rejected: int, actor: Actor, now: datetime, message: str,
                    rules: RuleSet) -> int:
    """A failed or refused import is recorded too (with its report), in its own small transaction.
    Returns the import id, or None when even that cannot be written (the caller's error matters more)."""
    try:
        return _write_failure(store, path=path, digest=digest, source=source, fmt=fmt, mapping=mapping,
                              status=status, rows=rows, rejected=rejected, actor=actor, now=now, message=message,
                              rules=rules)
    except (duckdb.Error, ExqError):
        return None


def _write_failure(store: Store, *, path, digest, source, fmt, mapping, status, rows, rejected, actor, now,
                   message, rules) -> int:
    with store.unit_of_work() as uow:
        import_id = uow.execute("SELECT nextval('import_seq')").fetchone()[0]
        uow.execute("""INSERT INTO imports (import_id, file_name, content_hash, source, format, mapping, status,
                rows_read, orders_new, orders_updated, orders_stale, routine, cases_new, cases_new_by_bucket,
                cases_updated, rejected, actor, started_at, finished_at, message, rules_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, '{}', 0, ?, ?, ?, ?, ?, ?)""",
                    [import_id, path.name, digest, source, fmt, mapping, status, rows, rejected, actor.username,
                     now, utcnow(), message, rules.full_version])
        uow.commit()
    return import_id


def import_file(store: Store, path: str | Path, *, fmt: str = "auto", source: str | None = None,
                skip_invalid: bool = False, actor: Actor = SYSTEM, rules: RuleSet | None = None,
                now: datetime | None = None, options: dict | None = None, mapping=None,
                default_currency: str = "USD", progress: Progress | None = None) -> ImportResult:
    """Import one feed file. All-or-nothing unless skip_invalid; re-importing the same file changes nothing.
    `mapping` is a MappingSpec, a saved mapping's name or a mapping TOML path (then the format is 'mapped').
    Raises FeedError (unreadable file) or FeedInvalid (rows failed validation; carries the report); either
    way nothing is written but the import's record (status failed / refused, with the report)."""
    require(actor, "import")
    path = Path(path)
    rules = rules or load_rules()
    now = now or utcnow()
    tick = progress or (lambda stage, fraction: None)

    tick("checking file", 0.0)
    if not path.is_file():
        raise FeedError(f"no such file: {path}" if not path.is_dir() else f"{path} is a folder, not a feed file")
    fmt, options, mapping_name, source, default_currency = _resolve(
        store, path, fmt, options, mapping, source, default_currency)
    digest = file_hash(path)
    with store.read() as cur:
        seen = cur.execute("SELECT import_id, started_at FROM imports WHERE content_hash = ? AND source = ? "
                           "AND status IN ('imported', 'partial') ORDER BY import_id LIMIT 1",
                           [digest, source]).fetchone()
    if seen:
        report = ImportReport(file_name=path.name, format=fmt)
        return ImportResult(import_id=seen[0], file_name=path.name, status="duplicate", report=report,
                            message=f"{path.name} was already imported (import #{seen[0]} at "
                                    f"{seen[1]:%Y-%m-%d %H:%M} UTC); nothing changed.")

    report: ImportReport | None = None
    try:
        with store.unit_of_work() as uow:
            result = _import(uow, path, fmt=fmt, options=options, source=source, skip_invalid=skip_invalid,
                             actor=actor, rules=rules, now=now, mapping_name=mapping_name, digest=digest,
                             default_currency=default_currency, tick=tick)
            tick("committing", 0.95)
            uow.commit()
    except FeedInvalid as err:
        report = err.report
        err.import_id = _record_failure(
            store, path=path, digest=digest, source=source, fmt=fmt, mapping=mapping_name, status="refused",
            rows=report.rows, rejected=report.invalid_rows, actor=actor, now=now, message=report.summary(),
            rules=rules)
        raise
    except FeedError as err:
        err.import_id = _record_failure(
            store, path=path, digest=digest, source=source, fmt=fmt, mapping=mapping_name, status="failed",
            rows=0, rejected=0, actor=actor, now=now, message=f"{path.name}: {err}", rules=rules)
        raise
    tick("done", 1.0)
    return result


def _import(uow, path: Path, *, fmt: str, options: dict, source: str, skip_invalid: bool, actor: Actor,
            rules: RuleSet, now: datetime, mapping_name: str | None, digest: str, default_currency: str,
            tick: Progress) -> ImportResult:
    """The import inside its transaction: read, validate, apply newer snapshots, route, record."""
    cur = uow.cursor
    tick("reading", 0.1)
    raw = read_raw(cur, path, fmt, options)
    tick("validating", 0.35)
    try:
        report = _validate(cur, raw, path.name, fmt)
    except duckdb.Error as err:
        raise FeedError(f"cannot validate {path.name}: {str(err).splitlines()[0][:300]}") from None
    if not report.ok and not skip_invalid:
        raise FeedInvalid(report)
    import_id = cur.execute("SELECT nextval('import_seq')").fetchone()[0]
    if not report.ok:
        cur.execute("""INSERT INTO rejects (import_id, file_name, line, column_name, value, reason)
                       SELECT $id, $file, line, column_name, value, reason
                       FROM row_errors ORDER BY line""", {"id": import_id, "file": path.name})
    tick("applying snapshots", 0.55)
    cols = ", ".join(c for c in FEED_COLUMNS if c not in ("order_id", "updated_at"))
    valid = "WHERE NOT EXISTS (SELECT 1 FROM row_errors e WHERE e.row_line = t.line)" if not report.ok else ""
    batch = f"""(SELECT $source AS source, order_id, coalesce(updated_at, $now) AS updated_at, {cols}
        FROM ({typed_sql(raw.table, default_currency)}) t {valid})"""
    params = {"source": source, "now": now}
    # A stored order takes a snapshot only when it is newer and says something new: the same facts
    # again (an overlapping export) re-route nothing and bump no case versions.
    # The typed batch is not materialised on its own: a million typed rows are copied once, not twice.
    changed = " OR ".join(f"b.{c} IS DISTINCT FROM o.{c}" for c in FEED_COLUMNS
                          if c not in ("order_id", "updated_at"))
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE applied AS
        SELECT b.*, o.order_id IS NULL AS is_new FROM {batch} b
        LEFT JOIN orders o ON o.source = b.source AND o.order_id = b.order_id
        WHERE o.order_id IS NULL OR (b.updated_at > o.updated_at AND ({changed}))""", params)
    batch_rows = cur.execute(f"SELECT count(*) FROM {raw.table} t {valid}").fetchone()[0]
    orders_new, orders_updated = cur.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM applied").fetchone()
    orders_stale = 0
    if batch_rows - orders_new - orders_updated:
        orders_stale = cur.execute(f"""SELECT count(*) FROM {batch} b JOIN orders o
                                       ON o.source = b.source AND o.order_id = b.order_id
                                       WHERE b.updated_at <= o.updated_at""", params).fetchone()[0]
    orders_unchanged = batch_rows - orders_new - orders_updated - orders_stale
    if orders_updated:
        cur.execute("""DELETE FROM orders USING applied a
                       WHERE orders.source = a.source AND orders.order_id = a.order_id AND NOT a.is_new""")
    all_cols = ", ".join(("source", "order_id", "updated_at") + tuple(
        c for c in FEED_COLUMNS if c not in ("order_id", "updated_at")))
    cur.execute(f"""INSERT INTO orders ({all_cols}, import_id, imported_at, search_text)
                    SELECT {all_cols}, $id, $now, lower(concat_ws(chr(31), order_id, customer_id, customer_email,
                                                                  ship_name, customer_message)) FROM applied""",
                {"id": import_id, "now": now})
    tick("routing", 0.75)
    routed: RouteResult = route_changed(cur, rules, "applied", now, actor.username, facts="applied")
    status = "imported" if report.ok else "partial"
    result = ImportResult(
        import_id=import_id, file_name=path.name, status=status, report=report, rows=raw.rows,
        orders_new=orders_new, orders_updated=orders_updated, orders_stale=orders_stale,
        orders_unchanged=orders_unchanged, routine=routed.routine, cases_new_by_bucket=routed.cases_new_by_bucket,
        cases_updated=routed.cases_updated, rejected=report.invalid_rows)
    notes = list(report.warnings)
    if orders_unchanged:
        notes.append(f"{orders_unchanged:,} newer snapshot(s) identical to the stored order: nothing to re-route")
    cur.execute("""INSERT INTO imports (import_id, file_name, content_hash, source, format, mapping, status,
            rows_read, orders_new, orders_updated, orders_stale, routine, cases_new, cases_new_by_bucket,
            cases_updated, rejected, actor, started_at, finished_at, message, rules_version)
        VALUES ($id, $file, $hash, $source, $format, $mapping, $status, $rows, $new, $upd, $stale, $routine,
                $cases_new, $by_bucket, $cases_upd, $rejected, $actor, $now, $finished, $message, $rules)""",
                {"id": import_id, "file": path.name, "hash": digest, "source": source, "format": fmt,
                 "mapping": mapping_name, "status": status, "rows": raw.rows, "new": orders_new,
                 "upd": orders_updated, "stale": orders_stale, "routine": result.routine,
                 "cases_new": result.cases_new, "by_bucket": json.dumps(result.cases_new_by_bucket),
                 "cases_upd": result.cases_updated, "rejected": result.rejected, "actor": actor.username,
                 "now": now, "finished": utcnow(), "message": "; ".join(notes) or None,
                 "rules": rules.full_version})
    for t in ("raw", "row_errors", "batch", "applied"):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    return result
