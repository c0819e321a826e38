"""What was imported: the import log (every attempt, refused ones with their report) and the rejects."""
from __future__ import annotations

import json
from pathlib import Path

from ..store import Store

IMPORT_COLUMNS = ("import_id", "file_name", "status", "format", "mapping", "source", "rows_read", "orders_new",
                  "orders_updated", "orders_stale", "routine", "cases_new", "cases_new_by_bucket", "cases_updated",
                  "rejected", "actor", "started_at", "finished_at", "content_hash", "message", "rules_version")


def list_imports(store: Store, limit: int = 100, actor: str | None = None) -> list[dict]:
    """The newest imports first, each a dict; cases_new_by_bucket as a dict."""
    where, params = ("WHERE actor = ?", [actor]) if actor else ("", [])
    with store.read() as cur:
        rows = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports {where} "
                           f"ORDER BY import_id DESC LIMIT ?", params + [limit]).fetchall()
    out = []
    for row in rows:
        item = dict(zip(IMPORT_COLUMNS, row))
        by_bucket = item["cases_new_by_bucket"]
        item["cases_new_by_bucket"] = json.loads(by_bucket) if isinstance(by_bucket, str) else (by_bucket or {})
        out.append(item)
    return out


def get_import(store: Store, import_id: int) -> dict | None:
    with store.read() as cur:
        row = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports WHERE import_id = ?",
                          [import_id]).fetchone()
    if not row:
        return None
    item = dict(zip(IMPORT_COLUMNS, row))
    if isinstance(item["cases_new_by_bucket"], str):
        item["cases_new_by_bucket"] = json.loads(item["cases_new_by_bucket"])
    return item


def _rejects_sql(import_id: int | None) -> tuple[str, list]:
    if import_id is None:
        return "SELECT import_id, file_name, line, column_name, value, reason FROM rejects ORDER BY import_id, line", []
    return ("SELECT import_id, file_name, line, column_name, value, reason FROM rejects WHERE import_id = ? "
            "ORDER BY line, column_name", [import_id])


def rejects_frame(store: Store, import_id: int | None = None, limit: int | None = None):
    """Rejected values (one row per value) as a DataFrame, for one import or all."""
    sql, params = _rejects_sql(import_id)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with store.read() as cur:
        return cur.execute(sql, params).df()


def count_rejects(store: Store, import_id: int | None = None) -> int:
    sql, params = _rejects_sql(import_id)
    with store.read() as cur:
        return cur.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]


def export_rejects(store: Store, out: str | Path, import_id: int | None = None) -> int:
    """Write rejects as CSV (header row); returns how many were written."""
    Path(out).write_bytes(rejects_csv(store, import_id))
    return count_rejects(store, import_id)


def _inert(value):
    """A rejected value is untrusted text: a cell starting with = + - @ would run as a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def rejects_csv(store: Store, import_id: int | None = None) -> bytes:
    """Rejects as CSV bytes (for a download button or a file), formula-looking values made inert."""
    import csv
    import io
    sql, params = _rejects_sql(import_id)
    buf = io.StringIO()
    writer = csv.writer(buf)
    with store.read() as cur:
        res = cur.execute(sql, params)
        writer.writerow([d[0] for d in res.description])
        while batch := res.fetchmany(10_000):
            writer.writerows([_inert(v) for v in row] for row in batch)
    return buf.getvalue().encode("utf-8")
