"""The import use case: read, validate, apply newer snapshots, route — all-or-nothing per file."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from ..errors import FeedError, FeedInvalid
from ..models import FEED_COLUMNS, SYSTEM, Actor
from ..routing import RouteResult, route_changed
from ..rules import RuleSet, load_rules
from ..store import Store, utcnow
from ..workflow import require
from . import readers
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
    errors: list[RowError] = []
    warnings: list[str] = []
    line_label: str = "line"

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        if self.ok:
            return f"{self.file_name}: {self.rows:,} rows, no errors."
        head = [f"{self.file_name}: {self.error_count:,} invalid value(s) in {self.rows:,} rows; nothing was imported."]
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
    orders_stale: int = 0
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


def _validate(cur, raw: readers.RawFeed, file_name: str, fmt: str) -> ImportReport:
    cur.execute(f"CREATE OR REPLACE TEMP TABLE row_errors AS {errors_sql(raw.table)}")
    count = cur.execute("SELECT count(*) FROM row_errors").fetchone()[0]
    first = cur.execute("SELECT line, column_name, value, reason FROM row_errors ORDER BY line, column_name "
                        "LIMIT ?", [MAX_REPORTED]).fetchall()
    return ImportReport(file_name=file_name, format=fmt, rows=raw.rows, error_count=count,
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
    return reader(cur, path, options)


def preview_file(store: Store, path: str | Path, *, fmt: str = "auto", options: dict | None = None,
                 limit: int = 20):
    """Validate without writing: (report, first rows as exq will read them as a DataFrame)."""
    path = Path(path)
    fmt = readers.detect_format(path) if fmt == "auto" else fmt
    with store.read() as cur:
        raw = read_raw(cur, path, fmt, options or {})
        report = _validate(cur, raw, path.name, fmt)
        rows = cur.execute(f"SELECT * FROM ({typed_sql(raw.table, 'USD')}) ORDER BY line LIMIT ?",
                           [limit]).df()
        for t in ("raw", "row_errors"):
            cur.execute(f"DROP TABLE IF EXISTS {t}")
    return report, rows


def import_file(store: Store, path: str | Path, *, fmt: str = "auto", source: str | None = None,
                skip_invalid: bool = False, actor: Actor = SYSTEM, rules: RuleSet | None = None,
                now: datetime | None = None, options: dict | None = None, mapping: str | None = None,
                default_currency: str = "USD", progress: Progress | None = None) -> ImportResult:
    """Import one feed file. All-or-nothing unless skip_invalid; re-importing the same file changes nothing.
    Raises FeedError (unreadable file) or FeedInvalid (rows failed validation; carries the report)."""
    require(actor, "import")
    path = Path(path)
    rules = rules or load_rules()
    now = now or utcnow()
    tick = progress or (lambda stage, fraction: None)
    fmt = readers.detect_format(path) if fmt == "auto" and path.is_file() else fmt
    source = source or (fmt if fmt not in ("csv", "parquet", "jsonl") else "feed")

    tick("checking file", 0.0)
    if not path.is_file():
        raise FeedError(f"no such file: {path}")
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

    with store.unit_of_work() as uow:
        cur = uow.cursor
        tick("reading", 0.1)
        raw = read_raw(cur, path, fmt, options or {})
        tick("validating", 0.35)
        report = _validate(cur, raw, path.name, fmt)
        if not report.ok and not skip_invalid:
            raise FeedInvalid(report)
        import_id = cur.execute("SELECT nextval('import_seq')").fetchone()[0]
        if not report.ok:
            cur.execute("""INSERT INTO rejects SELECT $id, $file, line, column_name, value, reason
                           FROM row_errors ORDER BY line""", {"id": import_id, "file": path.name})
        tick("applying snapshots", 0.55)
        cols = ", ".join(c for c in FEED_COLUMNS if c not in ("order_id", "updated_at"))
        cur.execute(f"""CREATE OR REPLACE TEMP TABLE batch AS
            SELECT $source AS source, order_id, coalesce(updated_at, $now) AS updated_at, {cols}
            FROM ({typed_sql(raw.table, default_currency)}) t
            WHERE NOT EXISTS (SELECT 1 FROM row_errors e WHERE e.line = t.line)""",
                    {"source": source, "now": now})
        cur.execute("""CREATE OR REPLACE TEMP TABLE applied AS
            SELECT b.*, o.order_id IS NULL AS is_new FROM batch b
            LEFT JOIN orders o ON o.source = b.source AND o.order_id = b.order_id
            WHERE o.order_id IS NULL OR b.updated_at > o.updated_at""")
        counts = cur.execute("""SELECT (SELECT count(*) FROM batch), count(*) FILTER (WHERE is_new),
                                       count(*) FILTER (WHERE NOT is_new) FROM applied""").fetchone()
        batch_rows, orders_new, orders_updated = counts
        cur.execute("""DELETE FROM orders USING applied a
                       WHERE orders.source = a.source AND orders.order_id = a.order_id AND NOT a.is_new""")
        all_cols = ", ".join(("source", "order_id", "updated_at") + tuple(
            c for c in FEED_COLUMNS if c not in ("order_id", "updated_at")))
        cur.execute(f"""INSERT INTO orders ({all_cols}, import_id, imported_at)
                        SELECT {all_cols}, $id, $now FROM applied""", {"id": import_id, "now": now})
        tick("routing", 0.75)
        routed: RouteResult = route_changed(cur, rules, "applied", now, actor.username)
        status = "imported" if report.ok else "partial"
        result = ImportResult(
            import_id=import_id, file_name=path.name, status=status, report=report, rows=raw.rows,
            orders_new=orders_new, orders_updated=orders_updated, orders_stale=batch_rows - orders_new - orders_updated,
            routine=routed.routine, cases_new_by_bucket=routed.cases_new_by_bucket,
            cases_updated=routed.cases_updated,
            rejected=cur.execute("SELECT count(DISTINCT line) FROM row_errors").fetchone()[0])
        cur.execute("""INSERT INTO imports (import_id, file_name, content_hash, source, format, mapping, status,
                rows_read, orders_new, orders_updated, orders_stale, routine, cases_new, cases_new_by_bucket,
                cases_updated, rejected, actor, started_at, finished_at, message, rules_version)
            VALUES ($id, $file, $hash, $source, $format, $mapping, $status, $rows, $new, $upd, $stale, $routine,
                    $cases_new, $by_bucket, $cases_upd, $rejected, $actor, $now, $finished, $message, $rules)""",
                    {"id": import_id, "file": path.name, "hash": digest, "source": source, "format": fmt,
                     "mapping": mapping, "status": status, "rows": raw.rows, "new": orders_new,
                     "upd": orders_updated, "stale": result.orders_stale, "routine": result.routine,
                     "cases_new": result.cases_new, "by_bucket": json.dumps(result.cases_new_by_bucket),
                     "cases_upd": result.cases_updated, "rejected": result.rejected, "actor": actor.username,
                     "now": now, "finished": utcnow(), "message": "; ".join(report.warnings) or None,
                     "rules": rules.full_version})
        for t in ("raw", "row_errors", "batch", "applied"):
            cur.execute(f"DROP TABLE IF EXISTS {t}")
        tick("committing", 0.95)
        uow.commit()
    tick("done", 1.0)
    return result
