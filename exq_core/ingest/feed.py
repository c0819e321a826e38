"""The import use case: read and validate a file in DuckDB, then apply the newest snapshots and route them
in one transaction of the store — all-or-nothing per file.

    read      a reader turns the file into temp table `raw` (the feed's columns as text, plus `line`)
    validate  every broken value named (line, column, value as written, reason) in `row_errors`
    snapshots two snapshots of one order in one file: the newest `updated_at` wins; two different ones
              at the same time are a conflict, reported once, and never applied
    write     the batch goes to the store (on PostgreSQL in bulk, with COPY), newer snapshots replace
              older ones, the changed orders are routed, the import and its rejects are recorded

The first three steps are `check` (they write nothing); this module runs them and does the writing.

Reading and validating happen outside the write transaction (on DuckDB on a cursor of the store itself,
on PostgreSQL in a private in-memory DuckDB), so a large file holds the database's writers only while its
rows are applied. Every import is logged — refused, failed and unchanged ones too.
"""
from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
from pydantic import BaseModel

from ..access import recheck
from ..errors import FeedError, FeedInvalid
from ..models import FEED_COLUMNS, SYSTEM, Actor
from ..routing import RouteResult, route_changed, sync_static_priority
from ..rules import RuleSet, load_rules
from ..store import Store, utcnow
from ..store import tallies
from ..store.dialect import ident, literal
from ..store.schema import SEARCH_TEXT
from . import json_feed, mapping as mappings, readers, shopify  # noqa: F401  (they register their readers)
from .check import ImportReport, notes_for, read_raw, report_of, settle_snapshots, validate_raw
from .validate import typed_sql

Progress = Callable[[str, float], None]
APPLY_ATTEMPTS = 3          # DuckDB: an import that conflicts with a reviewer's change is applied again
SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,59}$")
ORDER_COLUMNS = ("source", "order_id", "updated_at") + tuple(c for c in FEED_COLUMNS if c not in ("order_id", "updated_at"))
FACT_COLUMNS = tuple(c for c in FEED_COLUMNS if c not in ("order_id", "updated_at"))


class SourceName(str):
    """Where orders come from (one shop, one ERP): order ids are unique only within a source."""

    def __new__(cls, value: str):
        value = str(value).strip()
        if not SOURCE_RE.fullmatch(value):
            raise ValueError(f"'{value[:60]}' is not a source name: 1–60 letters, digits, spaces, _ . - "
                             "(starting with a letter or digit)")
        return super().__new__(cls, value)

    @property
    def value(self) -> str:
        return str(self)


class ImportResult(BaseModel):
    import_id: int | None
    file_name: str
    source: str
    status: str                     # imported | partial | unchanged
    report: ImportReport
    rows: int = 0
    orders_new: int = 0
    orders_updated: int = 0
    orders_stale: int = 0           # older than the stored snapshot: ignored
    orders_unchanged: int = 0       # the stored snapshot again (or newer, saying nothing new)
    older_in_file: int = 0          # an older snapshot (or a repeated copy) of an order whose newest is in the file
    conflicts: int = 0              # two different snapshots with the same updated_at (in the file or stored)
    routine: int = 0
    cases_new_by_bucket: dict[str, int] = {}
    cases_updated: int = 0
    rejected: int = 0
    message: str = ""

    @property
    def cases_new(self) -> int:
        return sum(self.cases_new_by_bucket.values())

    def summary(self) -> str:
        if self.status == "unchanged":
            return self.message
        by_bucket = ", ".join(f"{b} {n}" for b, n in sorted(self.cases_new_by_bucket.items())) or "none"
        extra = "".join(f", {n:,} {what}" for n, what in (
            (self.orders_unchanged, "unchanged"), (self.older_in_file, "older or repeated snapshots in the file"),
            (self.conflicts, "conflicting snapshots not applied")) if n)
        return (f"{self.file_name} (source {self.source}): import #{self.import_id} {self.status}: {self.rows:,} rows; "
                f"orders {self.orders_new:,} new, {self.orders_updated:,} updated, {self.orders_stale:,} older than "
                f"stored (ignored){extra}; {self.routine:,} routine; new cases {self.cases_new:,} ({by_bucket}); "
                f"{self.cases_updated:,} cases updated; {self.rejected:,} rejected.")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve(store: Store, path: Path, fmt: str, options: dict | None, mapping, source: str | None,
             default_currency: str) -> tuple[str, dict, str | None, str, str]:
    """(format, reader options, mapping name, source, default currency) for a file."""
    options = dict(options or {})
    ref = mapping if mapping is not None else options.pop("mapping", None)
    options.pop("mapping", None)
    if source is not None:
        try:
            source = SourceName(source)
        except ValueError as err:
            raise FeedError(str(err)) from None
    if ref is not None:
        spec = mappings.resolve_mapping(store, ref)
        options["spec"] = spec
        return ("mapped", options, spec.name, source or spec.source_name,
                spec.default_currency or default_currency)
    if fmt == "mapped":
        raise FeedError("format 'mapped' needs a column mapping (--mapping NAME or a .toml file)")
    if fmt == "auto" and path.is_file():
        fmt = readers.detect_format(path)
    if fmt == "shopify" and source is None:
        raise FeedError("a Shopify export does not name its store: say which store it is from, e.g. "
                        "--source my-shop (the Import page has a Store field; the inbox takes the store's "
                        "folder: inbox/my-shop/)")
    return fmt, options, None, source or "feed", default_currency


def preview_file(store: Store, path: str | Path, *, fmt: str = "auto", options: dict | None = None,
                 limit: int = 20, mapping=None, source: str | None = None, default_currency: str = "USD",
                 rules: RuleSet | None = None, now: datetime | None = None):
    """Validate without writing: (report, first rows as exq will read them as a DataFrame)."""
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"no such file: {path}")
    fmt, options, _, _, currency = _resolve(store, path, fmt, options, mapping, source or "preview",
                                            default_currency)
    rules = rules or load_rules()
    with store.work_cursor() as cur:
        try:
            raw = read_raw(cur, path, fmt, options)
            validate_raw(cur, raw, path.name, fmt)
            older, conflicts = settle_snapshots(cur, raw, now or utcnow())
            notes = notes_for(raw, rules, older, 0)
            report = report_of(cur, raw, path.name, fmt, notes)
            rows = cur.execute(f"SELECT line, {', '.join(FEED_COLUMNS)} FROM ({typed_sql(raw.table, currency)}) t "
                               f"ORDER BY line LIMIT ?", [limit]).df()
        finally:
            _drop_work(cur)
    return report, rows


WORK_TABLES = ("raw", "row_errors", "loaded", "original", "superseded", "batch", "applied", "dup_rows",
               "dup_newest", "dup_top", "json_lines", "json_lines_raw", "mapped_src", "mapped_errors",
               "shop_errors", "json_errors", "json_shapes", "json_clashes", "shop_lines", "shop_orders",
               "shop_heads")


def _drop_work(cur) -> None:
    for t in WORK_TABLES:       # raw and applied may be views (readers._finish, _apply)
        try:
            readers.drop_table_or_view(cur, t)
        except duckdb.Error:
            pass


# -- recording ------------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("import_id", "file_name", "content_hash", "source", "format", "mapping", "status", "rows_read",
                  "orders_new", "orders_updated", "orders_stale", "routine", "cases_new", "cases_new_by_bucket",
                  "cases_updated", "rejected", "actor", "started_at", "finished_at", "message", "rules_version",
                  "conflicts", "header")


def _record(uow, values: dict) -> int:
    """One row of the import log; returns its id."""
    import_id = values.get("import_id") or uow.cursor.scalar("SELECT nextval('import_seq')")
    row = {c: values.get(c) for c in IMPORT_COLUMNS} | {"import_id": import_id}
    for c in ("orders_new", "orders_updated", "orders_stale", "routine", "cases_new", "cases_updated", "rejected",
              "conflicts"):
        row[c] = row[c] or 0
    row["cases_new_by_bucket"] = json.dumps(row["cases_new_by_bucket"] or {})
    row["header"] = json.dumps(row["header"]) if row["header"] is not None else None
    uow.execute(f"INSERT INTO imports ({', '.join(IMPORT_COLUMNS)}) VALUES ({', '.join('?' * len(IMPORT_COLUMNS))})",
                [row[c] for c in IMPORT_COLUMNS])
    return import_id


def _record_alone(store: Store, **values) -> int | None:
    """A refused, failed or unchanged import is recorded too, in its own small transaction. Returns the id,
    or None when even that cannot be written (the caller's error matters more)."""
    try:
        with store.unit_of_work() as uow:
            import_id = _record(uow, values)
            uow.commit()
        return import_id
    except Exception:  # noqa: BLE001 — a log row must never hide the real error
        return None


# -- the import -----------------------------------------------------------------------------------------

def import_file(store: Store, path: str | Path, *, fmt: str = "auto", source: str | None = None,
                skip_invalid: bool = False, actor: Actor = SYSTEM, rules: RuleSet | None = None,
                now: datetime | None = None, options: dict | None = None, mapping=None,
                default_currency: str = "USD", progress: Progress | None = None) -> ImportResult:
    """Import one feed file. All-or-nothing unless skip_invalid; re-importing the same file changes nothing
    (and is logged as unchanged). `mapping` is a MappingSpec, a saved mapping's name or a mapping TOML path
    (then the format is 'mapped'). Raises FeedError (unreadable file) or FeedInvalid (rows failed validation;
    carries the report); either way nothing is written but the import's record (failed / refused)."""
    path = Path(path)
    rules = rules or load_rules()
    now = now or utcnow()
    tick = progress or (lambda stage, fraction: None)
    tick("checking file", 0.0)
    with store.read() as cur:
        recheck(cur, actor, "import")           # again inside the write; this one spares reading a big file
    if not path.is_file():
        raise FeedError(f"no such file: {path}" if not path.is_dir() else f"{path} is a folder, not a feed file")
    # the file's hash is computed while DuckDB reads it (hashlib and DuckDB both run outside the GIL)
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exq-import-hash")
    hashing = hasher.submit(file_hash, path)
    log = {"file_name": path.name, "source": source or "?", "format": fmt, "mapping": None,
           "actor": actor.username, "started_at": now, "rules_version": rules.full_version}
    try:
        try:
            fmt, options, mapping_name, source, default_currency = _resolve(
                store, path, fmt, options, mapping, source, default_currency)
        except FeedError as err:
            err.import_id = _record_alone(store, **log, content_hash=_digest(hashing), status="failed", rows_read=0,
                                          finished_at=utcnow(), message=f"{path.name}: {err}")
            raise
        log |= {"source": source, "format": fmt, "mapping": mapping_name}
        try:
            with store.work_cursor() as work:
                try:
                    tick("reading", 0.1)
                    raw = read_raw(work, path, fmt, options)
                    log["content_hash"] = _digest(hashing)
                    unchanged = _already_imported(store, log, fmt)
                    if unchanged is not None:
                        return unchanged
                    with store.unordered(work):     # the rows are numbered: no statement needs insertion order
                        return _validate_and_apply(store, work, raw, path, fmt=fmt, source=source,
                                                   skip_invalid=skip_invalid, actor=actor, rules=rules, now=now,
                                                   log=log, default_currency=default_currency, tick=tick)
                finally:
                    _drop_work(work)
        except FeedInvalid as err:
            report = err.report
            err.import_id = _record_alone(store, **log, status="refused", rows_read=report.rows,
                                          rejected=report.invalid_rows, finished_at=utcnow(), message=report.summary())
            raise
        except FeedError as err:
            log.setdefault("content_hash", _digest(hashing))
            err.import_id = _record_alone(store, **log, status="failed", rows_read=0, finished_at=utcnow(),
                                          message=f"{path.name}: {err}")
            raise
    finally:
        hasher.shutdown(wait=True)      # never leave the thread reading a file the caller may delete next


def _digest(hashing: Future) -> str:
    """The file's hash, once its thread has read the file."""
    try:
        return hashing.result()
    except OSError as err:
        raise FeedError(f"cannot read {err.filename}: {err.strerror}") from None


def _already_imported(store: Store, log: dict, fmt: str) -> ImportResult | None:
    """The same file (same content, same source) imported before: nothing changes, and that is logged."""
    name, source = log["file_name"], log["source"]
    with store.read() as cur:
        seen = cur.execute("SELECT import_id, started_at FROM imports WHERE content_hash = ? AND source = ? "
                           "AND status IN ('imported', 'partial') ORDER BY import_id LIMIT 1",
                           [log["content_hash"], source]).fetchone()
    if not seen:
        return None
    message = (f"{name} was already imported as source {source} (import #{seen[0]} at "
               f"{seen[1]:%Y-%m-%d %H:%M} UTC); nothing changed.")
    import_id = _record_alone(store, **log, status="unchanged", finished_at=utcnow(), message=message)
    return ImportResult(import_id=import_id, file_name=name, source=source, status="unchanged",
                        report=ImportReport(file_name=name, format=fmt), message=message)


def _validate_and_apply(store: Store, work, raw: readers.RawFeed, path: Path, *, fmt: str, source: str,
                        skip_invalid: bool, actor: Actor, rules: RuleSet, now: datetime, log: dict,
                        default_currency: str, tick: Progress) -> ImportResult:
    tick("validating", 0.3)
    try:
        validate_raw(work, raw, path.name, fmt)
        older, conflicts = settle_snapshots(work, raw, now)
    except duckdb.Error as err:
        raise FeedError(f"cannot validate {path.name}: {str(err).splitlines()[0][:300]}") from None
    report = report_of(work, raw, path.name, fmt, notes_for(raw, rules, older, 0))
    if not report.ok and not skip_invalid:
        raise FeedInvalid(report)
    # the valid rows, typed, one per order (the newest snapshot)
    skip = []
    if not report.ok:
        skip.append("NOT EXISTS (SELECT 1 FROM row_errors e WHERE e.row_line = t.line)")
    if work.scalar("SELECT count(*) FROM superseded"):
        skip.append("t.line NOT IN (SELECT line FROM superseded)")
    where = f"WHERE {' AND '.join(skip)}" if skip else ""
    cols = ", ".join(c for c in FEED_COLUMNS if c not in ("order_id", "updated_at"))
    batch = f"""SELECT {literal(source)} AS source, order_id, coalesce(updated_at, $now) AS updated_at, {cols}
                FROM ({typed_sql(raw.table, default_currency)}) t {where}"""
    tick("applying snapshots", 0.5)
    if store.is_postgres:
        return _write_postgres(store, work, raw, batch, report, source=source, actor=actor, rules=rules,
                               now=now, log=log, fmt=fmt, older=older, conflicts=conflicts, tick=tick)
    work.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {batch}", {"now": now})
    # Reviewers keep deciding while the batch is appended (a bulk unit of work); a case one of them changed
    # after this transaction began and that this import re-routes is a conflict: the import runs again.
    for attempt in range(1, APPLY_ATTEMPTS + 1):
        try:
            with store.bulk_unit_of_work(cursor=work) as uow:
                result = _apply(uow, raw, report, source=source, actor=actor, rules=rules, now=now, log=log,
                                fmt=fmt, older=older, conflicts=conflicts, tick=tick, rejects_from=work)
                tick("committing", 0.95)
                uow.commit()
            break
        except duckdb.TransactionException as err:
            if attempt == APPLY_ATTEMPTS:
                raise FeedError(f"{path.name} could not be applied: cases it re-routes kept changing while it ran "
                                f"({str(err).splitlines()[0][:120]}); nothing was imported, import it again") from None
            tick("a reviewer changed a case meanwhile: applying again", 0.5)
    tick("done", 1.0)
    return result


IMPORT_LOCK = 0x65787101          # "exq\1": PostgreSQL advisory lock held by the import being applied


def _write_postgres(store, work, raw, batch: str, report, **kw) -> ImportResult:
    """On PostgreSQL the validated batch (and the rejected rows) cross over in bulk with COPY, inside the one
    transaction that applies them."""
    tick = kw["tick"]
    with store.unit_of_work() as uow:
        cur = uow.cursor
        # one import at a time per database (cron, the inbox of another app process, a person): each
        # compares its snapshots with what the previous one committed
        cur.execute("SELECT pg_advisory_xact_lock(?)", [IMPORT_LOCK])
        cur.execute("CREATE TEMP TABLE batch (LIKE orders INCLUDING DEFAULTS) ON COMMIT DROP")
        cur.execute("ALTER TABLE batch DROP COLUMN import_id, DROP COLUMN imported_at, DROP COLUMN search_text")
        store.copy_from_duckdb(uow, work, batch, "batch", list(ORDER_COLUMNS), {"now": kw["now"]})
        result = _apply(uow, raw, report, rejects_from=work, store=store, **kw)
        tick("committing", 0.95)
        uow.commit()
    tick("done", 1.0)
    return result


def _apply(uow, raw: readers.RawFeed, report: ImportReport, *, source: str, actor: Actor, rules: RuleSet,
           now: datetime, log: dict, fmt: str, older: int, conflicts: int, tick: Progress, rejects_from,
           store: Store | None = None) -> ImportResult:
    """Inside the write transaction: check who imports, refuse another store's orders, apply newer
    snapshots, route, record the import and its rejects."""
    cur = uow.cursor
    recheck(cur, actor, "import")
    if fmt == "shopify":
        _refuse_other_store(cur, source)
    import_id = cur.scalar("SELECT nextval('import_seq')")
    if not report.ok:
        _write_rejects(uow, rejects_from, raw, import_id, log["file_name"], store)
    # A stored order takes a snapshot only when it is newer and says something new: the same facts again
    # (an overlapping export) re-route nothing and bump no case versions. Same time, other facts: a conflict.
    changed = " OR ".join(f"b.{c} IS DISTINCT FROM o.{c}" for c in FACT_COLUMNS)
    first = not cur.scalar("SELECT count(*) FROM (SELECT 1 FROM orders WHERE source = ? LIMIT 1) s", [source])
    if first:
        # the source's first import (a new shop, a history back-filled): every order is new, and the
        # batch is used as it is instead of being joined with the stored orders and copied
        cur.execute("DROP VIEW IF EXISTS applied")
        cur.execute("CREATE TEMP VIEW applied AS SELECT b.*, true AS is_new FROM batch b")
    else:
        for statement in cur.dialect.create_temp("applied", f"""
                SELECT b.*, o.order_id IS NULL AS is_new FROM batch b
                LEFT JOIN orders o ON o.source = b.source AND o.order_id = b.order_id
                WHERE o.order_id IS NULL OR (b.updated_at > o.updated_at AND ({changed}))"""):
            cur.execute(statement)
    batch_rows = cur.scalar("SELECT count(*) FROM batch")
    orders_new, orders_updated = cur.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM applied").fetchone()
    stale = same_time_conflicts = 0
    if batch_rows - orders_new - orders_updated:
        stale, same_time_conflicts = cur.execute(f"""
            SELECT count(*) FILTER (WHERE b.updated_at < o.updated_at),
                   count(*) FILTER (WHERE b.updated_at = o.updated_at AND ({changed}))
            FROM batch b JOIN orders o ON o.source = b.source AND o.order_id = b.order_id""").fetchone()
    unchanged = batch_rows - orders_new - orders_updated - stale - same_time_conflicts
    if orders_updated:
        cur.execute("""DELETE FROM orders WHERE EXISTS (SELECT 1 FROM applied a WHERE NOT a.is_new
                       AND orders.source = a.source AND orders.order_id = a.order_id)""")
    all_cols = ", ".join(ORDER_COLUMNS)

    def store_orders(with_case: str) -> None:
        # The Queue searches cases, so an order is stored with what makes it searchable only when it has a
        # case: on PostgreSQL its lower-cased text (schema.SEARCH_TEXT), trigram-indexed, the largest cost of
        # its import (1M demo orders, 93 % routine: 57 → 28 s once routine orders went without it); on DuckDB
        # a flag, the search reading the columns themselves (Dialect.order_text_contains). An order that
        # opens a case later is stored again then (a new snapshot is what opens it).
        tick("storing orders", 0.8)
        params = {"id": import_id, "now": now}
        rows = (f"(SELECT a.*, k.source IS NOT NULL AS has_case FROM applied a "
                f"LEFT JOIN {with_case} k ON k.source = a.source AND k.order_id = a.order_id) a")
        if cur.dialect.is_postgres:
            cur.execute(f"""INSERT INTO orders ({all_cols}, import_id, imported_at, search_text)
                            SELECT {all_cols}, $id, $now, CASE WHEN has_case THEN {SEARCH_TEXT} END
                            FROM {rows}""", params)
        elif 2 * cur.scalar(f"SELECT count(*) FROM {with_case}") < orders_new + orders_updated:
            # DuckDB, mostly routine orders: those with a case first, then the rest, so that they fill row
            # groups of their own and a search skips the routine orders' row groups by their `searchable`
            # statistics instead of reading their text (1M demo orders, 7 % with a case: 105-135 -> 55-85 ms)
            for searchable, join in (("true", "SEMI"), ("false", "ANTI")):
                cur.execute(f"""INSERT INTO orders ({all_cols}, import_id, imported_at, searchable)
                                SELECT {all_cols}, $id, $now, {searchable} FROM applied a
                                {join} JOIN {with_case} k ON k.source = a.source AND k.order_id = a.order_id""",
                            params)
        else:       # mostly cases: a search reads nearly every row group anyway, so one pass
            cur.execute(f"""INSERT INTO orders ({all_cols}, import_id, imported_at, searchable)
                            SELECT {all_cols}, $id, $now, has_case FROM {rows}""", params)

    tick("routing", 0.7)
    routed: RouteResult = route_changed(cur, rules, "applied", now, actor.username, facts="applied",
                                        hold=uow.hold_writers, appended=store_orders)
    sync_static_priority(uow, rules)        # rules changed since cases were stored: those they change, held
    tallies.add(cur, {tallies.ORDERS: orders_new})      # the Overview's count of every order (store/tallies.py)
    cur.execute(f"DROP {'VIEW' if first else 'TABLE'} IF EXISTS applied")
    status = "imported" if report.ok else "partial"
    notes = list(report.warnings)
    if unchanged:
        notes.append(f"{unchanged:,} snapshot(s) the same as the stored order: nothing to re-route")
    if same_time_conflicts:
        notes.append(f"{same_time_conflicts:,} order(s) with the same updated_at as the stored snapshot but other "
                     "facts were not applied (a conflict: export them with a newer updated_at)")
    all_conflicts = conflicts + same_time_conflicts
    result = ImportResult(
        import_id=import_id, file_name=log["file_name"], source=source, status=status, report=report,
        rows=raw.rows, orders_new=orders_new, orders_updated=orders_updated, orders_stale=stale,
        orders_unchanged=unchanged, older_in_file=older, conflicts=all_conflicts, routine=routed.routine,
        cases_new_by_bucket=routed.cases_new_by_bucket, cases_updated=routed.cases_updated,
        rejected=report.invalid_rows)
    _record(uow, {**log, "import_id": import_id, "status": status, "rows_read": raw.rows, "orders_new": orders_new,
                  "orders_updated": orders_updated, "orders_stale": stale, "routine": routed.routine,
                  "cases_new": result.cases_new, "cases_new_by_bucket": routed.cases_new_by_bucket,
                  "cases_updated": routed.cases_updated, "rejected": report.invalid_rows, "finished_at": utcnow(),
                  "message": "; ".join(notes) or None, "conflicts": all_conflicts, "header": raw.header_written or raw.header or None})
    return result


def _refuse_other_store(cur, source: str) -> None:
    """A Shopify export names no store: the same order number placed at another time is another store's
    order, and it is never applied over the stored one."""
    rows = cur.execute("""SELECT b.order_id, o.placed_at, b.placed_at FROM batch b
                          JOIN orders o ON o.source = b.source AND o.order_id = b.order_id
                          WHERE o.placed_at <> b.placed_at ORDER BY b.order_id LIMIT 4""").fetchall()
    if not rows:
        return
    n = cur.scalar("""SELECT count(*) FROM batch b JOIN orders o ON o.source = b.source AND o.order_id = b.order_id
                      WHERE o.placed_at <> b.placed_at""")
    examples = "; ".join(f"{oid}: stored as placed {was:%Y-%m-%d %H:%M}, this file says {now:%Y-%m-%d %H:%M}"
                         for oid, was, now in rows[:3])
    raise FeedError(f"{n:,} order number(s) in this Shopify export belong to other orders already stored for source "
                    f"'{source}' ({examples}). This looks like another store's export: import it under that "
                    f"store's own name, e.g. --source other-shop (Import page: the Store field; inbox: "
                    f"inbox/other-shop/). Nothing was imported.")


def _write_rejects(uow, work, raw: readers.RawFeed, import_id: int, file_name: str, store) -> None:
    """Each rejected value (line, column, value as written, reason), and with the row's first error the whole
    row as the file wrote it: rejects can be exported, fixed and imported again."""
    named = [(c, w) for c, w in zip(raw.header, raw.header_written or raw.header) if c.lower() != "line"]
    if raw.original and named:
        obj = "json_object(" + ", ".join(f"{literal(w)}, CAST(o.{ident(c)} AS VARCHAR)" for c, w in named) + ")"
        values = f"CASE WHEN e.first THEN CAST({obj} AS VARCHAR) END"
        join = f"LEFT JOIN {raw.original} o ON o.line = e.row_line"
    else:
        values, join = "NULL", ""
    select = f"""SELECT $id AS import_id, $file AS file_name, e.line, e.column_name, e.value, e.reason,
                        {values} AS row_values
                 FROM (SELECT *, row_number() OVER (PARTITION BY row_line ORDER BY line, column_name) = 1 AS first
                       FROM row_errors) e {join} ORDER BY e.line, e.column_name"""
    cols = ["import_id", "file_name", "line", "column_name", "value", "reason", "row_values"]
    params = {"id": import_id, "file": file_name}
    if store is not None:       # PostgreSQL: the rows cross over in bulk
        store.copy_from_duckdb(uow, work, select, "rejects", cols, params)
    else:
        uow.execute(f"INSERT INTO rejects ({', '.join(cols)}) {select}", params)
