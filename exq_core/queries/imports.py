"""The import log (every attempt: imported, partial, unchanged, refused, failed) and the rejected rows.

Rejects are kept twice over: one row per rejected value (line, column, value as written, reason) and, with
each row's first error, the whole row as the file wrote it. `rejects_rows` gives them back as the file's
own columns plus `exq_line` and `exq_errors`: fix the values in a spreadsheet and import the file again
(exq ignores the two extra columns, with a warning).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

IMPORT_COLUMNS = ("import_id", "file_name", "status", "format", "mapping", "source", "rows_read", "orders_new",
                  "orders_updated", "orders_stale", "routine", "cases_new", "cases_new_by_bucket", "cases_updated",
                  "rejected", "actor", "started_at", "finished_at", "content_hash", "message", "rules_version",
                  "conflicts", "header")


def _load(value):
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def _item(row) -> dict:
    item = dict(zip(IMPORT_COLUMNS, row))
    item["cases_new_by_bucket"] = _load(item["cases_new_by_bucket"]) or {}
    item["header"] = _load(item["header"])
    return item


def list_imports(cur, limit: int = 100, actor: str | None = None) -> list[dict]:
    """The newest imports first, each a dict; cases_new_by_bucket as a dict."""
    where, params = ("WHERE actor = ?", [actor]) if actor else ("", [])
    rows = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports {where} "
                       f"ORDER BY import_id DESC LIMIT ?", params + [int(limit)]).fetchall()
    return [_item(r) for r in rows]


def get_import(cur, import_id: int) -> dict | None:
    row = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports WHERE import_id = ?",
                      [int(import_id)]).fetchone()
    return _item(row) if row else None


def _where(import_id: int | None) -> tuple[str, list]:
    return ("", []) if import_id is None else ("WHERE import_id = ?", [int(import_id)])


def rejects_frame(cur, import_id: int | None = None, limit: int | None = None) -> pd.DataFrame:
    """Rejected values (one row per value) as a DataFrame, for one import or all."""
    where, params = _where(import_id)
    sql = (f"SELECT import_id, file_name, line, column_name, value, reason FROM rejects {where} "
           "ORDER BY import_id, line, column_name")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return cur.execute(sql, params).df()


def count_rejects(cur, import_id: int | None = None) -> int:
    where, params = _where(import_id)
    return cur.scalar(f"SELECT count(*) FROM rejects {where}", params)


def rejected_rows(cur, import_id: int) -> tuple[list[str], list[list]]:
    """The rejected rows of one import as the file wrote them: (columns, rows) with the file's own columns
    followed by exq_line and exq_errors ("column: reason; …"). Rows whose original was not kept (an
    import from before rejects kept whole rows) carry only the rejected values."""
    item = get_import(cur, import_id)
    header = [h for h in (item or {}).get("header") or [] if h.lower() != "line"]
    rows = cur.execute("""SELECT line, column_name, value, reason, row_values FROM rejects WHERE import_id = ?
                          ORDER BY line, column_name""", [int(import_id)]).fetchall()
    by_line: dict[int, dict] = {}
    for line, column, value, reason, row_values in rows:
        entry = by_line.setdefault(line, {"values": None, "errors": [], "loose": {}})
        if row_values is not None and entry["values"] is None:
            entry["values"] = _load(row_values)
        entry["errors"].append(f"{column}: {reason}")
        entry["loose"].setdefault(column, value)
    if header == ["exq_json"]:      # JSON lines: the object's own fields (a broken line stays as it was)
        header = _json_fields(by_line)
    if not header:      # no original layout kept: the rejected values themselves
        header = sorted({c for e in by_line.values() for c in e["loose"]})
    out = []
    for line in sorted(by_line):
        entry = by_line[line]
        values = entry["values"] or entry["loose"]
        out.append([values.get(h) for h in header] + [line, "; ".join(entry["errors"])])
    return header + ["exq_line", "exq_errors"], out


def _json_fields(by_line: dict[int, dict]) -> list[str]:
    fields: list[str] = []
    for entry in by_line.values():
        text = (entry["values"] or {}).get("exq_json")
        try:
            obj = json.loads(text) if text else None
            # a number as the file wrote it (a float would turn 123456789012345.125 into …12, 12.50 into 12.5)
            written = json.loads(text, parse_float=str, parse_int=str) if isinstance(obj, dict) else None
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            entry["values"] = {k: _cell(v, written[k]) for k, v in obj.items()}
            fields += [k for k in obj if k not in fields]
    if any("exq_json" in (e["values"] or {}) for e in by_line.values()):
        fields.append("exq_json")
    return fields


def _cell(value, as_written):
    """A JSON value as a cell: text as it is, a number as the file wrote it, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(as_written, str):
        return as_written                                   # (NaN and Infinity are no such text)
    return json.dumps(value)


def sources(cur) -> list[str]:
    """The sources orders were imported from, most recent first."""
    return [r[0] for r in cur.execute("SELECT source FROM imports WHERE status IN ('imported', 'partial') "
                                      "GROUP BY source ORDER BY max(import_id) DESC").fetchall()]
