"""Readers: a file in some layout -> a temp table `raw` of the generic feed's columns as text, plus `line`.

Every reader leaves exactly the columns of `models.FEED_COLUMNS` (missing optional ones as NULL) and a
`line` number that points a person at the row in their file. Other layouts (column mappings, Shopify)
register a reader here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from ..errors import FeedError
from ..models import FEED_COLUMNS, REQUIRED_COLUMNS


@dataclass
class RawFeed:
    table: str                      # temp table name, holds FEED_COLUMNS as VARCHAR + line
    rows: int
    warnings: list[str] = field(default_factory=list)
    line_label: str = "line"       # what `line` means for this format (line / row)


Reader = Callable[[duckdb.DuckDBPyConnection, Path, dict], RawFeed]
READERS: dict[str, Reader] = {}


def register(name: str):
    def wrap(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn
    return wrap


def detect_format(path: Path) -> str:
    """Guess the layout from the name and the first bytes."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json", ".jsonl.gz"):
        return "jsonl"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:1] in (b"{", b"["):
        return "jsonl"
    try:
        from .shopify import looks_like_shopify  # optional layout, registered when present
        if looks_like_shopify(path):
            return "shopify"
    except ImportError:
        pass
    return "csv"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def normalise_columns(cur, table: str, renames: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Map the file's columns onto feed columns (case and spaces ignored).
    Returns (select expressions for FEED_COLUMNS, warnings)."""
    names = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]
    by_key: dict[str, str] = {}
    for name in names:
        key = (renames or {}).get(name) or name.strip().lower().replace(" ", "_")
        by_key.setdefault(key, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in by_key]
    if missing:
        found = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        raise FeedError(f"missing required column(s): {', '.join(missing)} (the file has: {found})")
    unknown = [n for n in names if ((renames or {}).get(n) or n.strip().lower().replace(" ", "_"))
               not in FEED_COLUMNS and n != "line"]
    warnings = [f"ignored unknown column(s): {', '.join(unknown[:20])}" + (" …" if len(unknown) > 20 else "")] \
        if unknown else []
    exprs = [f"CAST({_quote_ident(by_key[c])} AS VARCHAR) AS {c}" if c in by_key else f"NULL::VARCHAR AS {c}"
             for c in FEED_COLUMNS]
    return exprs, warnings


def _finish(cur, loaded: str, line_offset: int, renames=None, line_label="line") -> RawFeed:
    exprs, warnings = normalise_columns(cur, loaded, renames)
    # rowids of a fresh temp table follow insertion (= file) order but do not start at 0
    cur.execute(f"CREATE OR REPLACE TEMP TABLE raw AS SELECT rowid - (SELECT min(rowid) FROM {loaded}) "
                f"+ {line_offset} AS line, {', '.join(exprs)} FROM {loaded}")
    cur.execute(f"DROP TABLE {loaded}")
    rows = cur.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise FeedError("the file has a header but no rows")
    return RawFeed("raw", rows, warnings, line_label)


def load_csv(cur, path: Path, encoding: str = "utf-8", delim: str | None = None) -> str:
    """Load a CSV as all-text into temp table `loaded`, with clear errors for the usual breakages."""
    if path.stat().st_size == 0:
        raise FeedError("the file is empty")
    enc = encoding.lower().replace("_", "-")
    enc = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1", "utf16": "utf-16"}.get(enc, enc)
    options = {"header": True, "all_varchar": True, "encoding": enc, "strict_mode": True,
               "max_line_size": 4_000_000}
    if delim:
        options["delim"] = delim
    opts = ", ".join(f"{k} = ${k}" for k in options)
    try:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_csv($path, {opts})",
                    {"path": str(path), **options})
    except duckdb.Error as err:
        raise FeedError(explain_csv_error(err, enc)) from None
    return "loaded"


def explain_csv_error(err: Exception, encoding: str) -> str:
    text = str(err)
    low = text.lower()
    if "unicode" in low or "utf" in low and "invalid" in low:
        return (f"the file is not valid {encoding.upper()} text (it may be Latin-1 / Windows-1252, or not a "
                f"text file at all). Re-save it as UTF-8, or import with --encoding latin-1.")
    if "sniff" in low or "could not convert" in low or "expected" in low and "column" in low \
            or "too many columns" in low or "maximum line size" in low:
        first = text.split("\n")[0]
        return f"the file is not a readable CSV: {first[:300]}"
    return f"cannot read the file as CSV: {text.splitlines()[0][:300]}"


@register("csv")
def read_csv(cur, path: Path, options: dict) -> RawFeed:
    loaded = load_csv(cur, path, options.get("encoding") or "utf-8", options.get("delimiter"))
    return _finish(cur, loaded, line_offset=2)


@register("parquet")
def read_parquet(cur, path: Path, options: dict) -> RawFeed:
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_parquet($path)",
                    {"path": str(path)})
    except duckdb.Error as err:
        raise FeedError(f"cannot read the file as Parquet: {str(err).splitlines()[0][:300]}") from None
    return _finish(cur, "loaded", line_offset=1, line_label="row")


@register("jsonl")
def read_jsonl(cur, path: Path, options: dict) -> RawFeed:
    if path.stat().st_size == 0:
        raise FeedError("the file is empty")
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_json($path, "
                    "format = 'newline_delimited', records = true, union_by_name = true, "
                    "maximum_object_size = 16777216, sample_size = -1)",
                    {"path": str(path)})
    except duckdb.Error as err:
        raise FeedError(f"cannot read the file as JSON lines (one object per line): "
                        f"{str(err).splitlines()[0][:300]}") from None
    return _finish(cur, "loaded", line_offset=1)


def file_size(path: str | os.PathLike) -> int:
    return Path(path).stat().st_size
