"""Readers: a file in some layout -> a temp table `raw` of the generic feed's columns as text, plus `line`.

Every reader leaves exactly the columns of `models.FEED_COLUMNS` (missing optional ones as NULL) and a
`line` number that points a person at the row in their file. Other layouts (column mappings, Shopify)
register a reader here.
"""
from __future__ import annotations

import codecs
import gzip
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from ..errors import FeedError
from ..models import FEED_COLUMNS, REQUIRED_COLUMNS
from ..store.dialect import ident
from ..store.duck import file_order


@dataclass
class RawFeed:
    table: str                      # temp table name, holds FEED_COLUMNS as VARCHAR + line
    rows: int
    warnings: list[str] = field(default_factory=list)
    line_label: str = "line"       # what `line` means for this format (line / row)
    # A reader that checks things the generic validation cannot see (a Shopify line item's quantity, a
    # mapping's date format) leaves them in a temp table (line, column_name, value, reason, row_line):
    # `line` is where the person should look, `row_line` the `raw` row it invalidates.
    errors: str | None = None
    labels: dict[str, str] = field(default_factory=dict)   # feed column -> the file's own column name
    # The rows as the file wrote them, for rejects that can be fixed and imported again: a temp table with
    # `line` and the file's own columns (as text), and those columns in the file's order.
    original: str | None = None
    header: list[str] = field(default_factory=list)
    # the same names as the file writes them, where DuckDB's differ (a name repeated in another case:
    # "Amount" and "amount" are read as amount and amount_1): what a rejects export heads its columns with
    header_written: list[str] | None = None
    # Feed columns a reader had to transform (a mapping's decimal comma); `w_<col>` in `table` keeps the
    # value as written, which is what an error quotes.
    written: frozenset[str] = frozenset()
    kind: str = "csv"              # the file's container: csv, jsonl, parquet
    present: frozenset[str] | None = None   # the feed fields the layout carries at all (None: all of them)


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
    if suffix in (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz"):
        return "jsonl"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":           # gzip: what it holds decides (a CSV or JSON compressed)
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(256)
        except (OSError, EOFError):
            return "csv"                    # the CSV reader explains a broken archive
    if head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"{", b"["):
        return "jsonl"
    try:
        from .shopify import looks_like_shopify  # optional layout, registered when present
        if looks_like_shopify(path):
            return "shopify"
    except ImportError:
        pass
    return "csv"


# Magic numbers of files people export by mistake instead of a CSV.
BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls / Office document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3", "a SQLite database"),
    (b"DUCK", "a DuckDB database"),
    (b"\x7fELF", "a program (ELF executable)"),
)


def check_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Refuse what is not a text table at all, clearly; returns the encoding to read it with
    (a UTF-16 byte-order mark wins over the one asked for)."""
    if path.stat().st_size == 0:
        raise FeedError("the file is empty")
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    gz_ok = path.suffix.lower() == ".gz"
    for magic, what in BINARY_SIGNATURES:
        if head.startswith(magic) or (magic == b"DUCK" and head[8:12] == magic):
            if magic == b"\x1f\x8b" and gz_ok:
                return encoding
            raise FeedError(f"this is not a CSV file: it looks like {what}. Export the orders as CSV "
                            f"(UTF-8), Parquet or JSON lines and import that.")
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    if head.count(0) > len(head) // 100 or control > len(head) // 10:
        raise FeedError("this is not a CSV file: it is binary data, not text. Export the orders as CSV "
                        "(UTF-8), Parquet or JSON lines and import that.")
    return encoding


# A feed has no comment lines. Left to guess, DuckDB's sniffer can take '#' for a comment character, and
# then every line that starts with one — "#1001,…", an order named as Shopify names them — is skipped
# without a word (a 4-order feed with a quoted line break in an id imported 1 order).
NO_COMMENT = ""
# A CSV field is quoted with double quotes (RFC 4180). Left to guess, the sniffer can take the apostrophe for
# the quote character — a feed with ids like 'O-1' or Shopify-style postcodes ('78701) — and then strips
# apostrophes from values and joins rows. (The escape character is still found by the sniffer: "" or \".)
QUOTE = '"'
MAX_LINE = 1 << 30      # a line (a cell) of any size is read, so its value gets the per-value size error
USUAL_LINE = 1 << 22    # 4 MB: tried first (see load_from_file)


def load_from_file(cur, sql: str, params: dict) -> None:
    """Run a statement that loads a file into a temp table whose rowids follow the file (see
    store.duck.file_order). DuckDB reads a CSV in buffers at least as large as the longest line allowed, one
    thread per buffer: the usual limit is tried first and keeps both cores busy; only a file refused with it
    is read again allowing a line of any size (MAX_LINE: then in one buffer, on one thread)."""
    with file_order():
        if params.get("max_line_size", 0) > USUAL_LINE:
            try:
                cur.execute(sql, params | {"max_line_size": USUAL_LINE})
                return
            except duckdb.Error:
                pass
        cur.execute(sql, params)


def normalise_columns(cur, table: str, renames: dict[str, str] | None = None,
                      written: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Map the file's columns onto feed columns (case and spaces ignored). `written`: the column names as the
    file writes them, when DuckDB's differ. Returns (select expressions for FEED_COLUMNS, warnings)."""
    names = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]

    def key(name: str) -> str:
        return (renames or {}).get(name) or field_key(name)
    refuse_one_field_twice(written or names, key)
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(key(name), name)
    missing = [c for c in REQUIRED_COLUMNS if c not in by_key]
    if missing:
        found = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        raise FeedError(f"missing required column(s): {', '.join(missing)} (the file has: {found}). If it is "
                        "another layout, map its columns: python -m exq_core mapping suggest FILE (then import "
                        "with --mapping), or the mapping step on the Import page.")
    unknown = [n for n in names if key(n) not in FEED_COLUMNS and n != "line"]
    warnings = [f"ignored unknown column(s): {', '.join(unknown[:20])}" + (" …" if len(unknown) > 20 else "")] \
        if unknown else []
    exprs = [f"CAST({ident(by_key[c])} AS VARCHAR) AS {c}" if c in by_key else f"NULL::VARCHAR AS {c}"
             for c in FEED_COLUMNS]
    return exprs, warnings


def field_key(name: str) -> str:
    """The feed field a column or a key names: case and surrounding spaces ignored, inner spaces as '_'."""
    return name.strip().lower().replace(" ", "_")


def refuse_one_field_twice(names: list[str], key: Callable[[str], str] = field_key) -> None:
    """Two columns of one field (order_total and Order Total) are an error: which one the file means is not
    ours to guess (the first of them was read, and the other ignored without a word)."""
    by_field: dict[str, list[str]] = {}
    for name in names:
        if key(name) in FEED_COLUMNS:
            by_field.setdefault(key(name), []).append(name)
    twice = {field: found for field, found in by_field.items() if len(found) > 1}
    if twice:
        raise FeedError("; ".join(f"the columns {' and '.join(repr(n) for n in found)} are both {field}"
                                  for field, found in twice.items())
                        + " (case and spaces in names are ignored): keep one column for each field")


def drop_table_or_view(cur, name: str) -> None:
    """Drop work table (or view) `name` if it is there."""
    for kind in ("TABLE", "VIEW"):
        try:
            cur.execute(f"DROP {kind} IF EXISTS {name}")
            return
        except duckdb.Error:      # it is the other kind
            pass


def _finish(cur, loaded: str, line_offset: int, renames=None, line_label="line", kind: str = "csv",
            written: list[str] | None = None) -> RawFeed:
    exprs, warnings = normalise_columns(cur, loaded, renames, written)
    # rowids of a fresh temp table follow insertion (= file) order but do not start at 0
    line = f"rowid - (SELECT min(rowid) FROM {loaded}) + {line_offset}"
    types = {name: typ for name, typ, *_ in cur.execute(f"DESCRIBE {loaded}").fetchall()}
    header = list(types)
    keys = {name: name.strip().lower().replace(" ", "_") for name in types}
    if not renames and "line" not in keys.values() and \
            all(name == key and types[name] == "VARCHAR" for name, key in keys.items() if key in FEED_COLUMNS):
        # The file already speaks the feed's column names as text (our own layout): `raw` is a view of the
        # loaded table instead of a copy of a million rows of text (the copy cost ~10% of an import), and
        # it is its own record of the rows as written.
        first = cur.execute(f"SELECT min(rowid) FROM {loaded}").fetchone()[0] or 0
        absent = "".join(f", NULL::VARCHAR AS {c}" for c in FEED_COLUMNS if c not in types)
        drop_table_or_view(cur, "raw")
        cur.execute(f"CREATE TEMP VIEW raw AS SELECT rowid - {int(first)} + {int(line_offset)} AS line, *{absent} "
                    f"FROM {loaded}")
        original = "raw"
    else:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE raw AS SELECT {line} AS line, {', '.join(exprs)} FROM {loaded}")
        cur.execute("DROP TABLE IF EXISTS original")
        cur.execute(f"CREATE TEMP TABLE original AS SELECT {line} AS line, "
                    + ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in header) + f" FROM {loaded}")
        cur.execute(f"DROP TABLE {loaded}")
        original = "original"
    rows = cur.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise FeedError("the file has a header but no rows")
    present = frozenset(keys[n] for n in header if keys[n] in FEED_COLUMNS)
    return RawFeed("raw", rows, warnings, line_label, original=original, header=header, kind=kind, present=present,
                   header_written=written if written and len(written) == len(header) else None)


# "Latin-1" files from Windows tools are Windows-1252: € „ “ – … are its bytes 0x80–0x9F, which strict
# Latin-1 (DuckDB's) refuses as "not latin-1 encoded". Such a file is read as Windows-1252 (the five bytes
# it leaves undefined as Latin-1) and handed to DuckDB as a private UTF-8 copy.
codecs.register_error("exq-latin-1", lambda err: (err.object[err.start:err.end].decode("latin-1"), err.end))


@contextmanager
def readable_by_duckdb(path: Path, encoding: str) -> Iterator[tuple[Path, str]]:
    """(the file DuckDB reads, its encoding): the file itself, or for Latin-1 a UTF-8 copy that lives as
    long as the block (read it into a table inside the block)."""
    if encoding != "latin-1":
        yield path, encoding
        return
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with tempfile.TemporaryDirectory(prefix="exq-read-") as folder:     # private (0700), removed after
        copy = Path(folder) / "utf8.csv"
        with opener(path, "rb") as src, open(copy, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk.decode("cp1252", errors="exq-latin-1").encode("utf-8"))
        yield copy, "utf-8"


def load_csv(cur, path: Path, encoding: str = "utf-8", delim: str | None = None, limit: int | None = None) -> str:
    """Load a CSV as all-text into temp table `loaded`, with clear errors for the usual breakages."""
    enc, delim = csv_dialect(path, encoding, delim)
    options = {"header": True, "skip": 0, "all_varchar": True, "encoding": enc, "strict_mode": True,
               "max_line_size": MAX_LINE, "comment": NO_COMMENT, "quote": QUOTE, "delim": delim}
    opts = ", ".join(f"{k} = ${k}" for k in options)
    try:
        with readable_by_duckdb(path, enc) as (source, source_encoding):
            sql = (f"CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_csv($path, {opts}, escape = $escape)"
                   + (f" LIMIT {int(limit)}" if limit else ""))
            params = {**options, "path": str(source), "encoding": source_encoding}
            # A quote inside a quoted value is escaped by a second quote (RFC 4180: spreadsheets write
            # "a ""b"" c"). Left to guess, DuckDB's sniffer could take the apostrophe for the escape and then
            # dropped an apostrophe before a character in a quoted value ("' 0" was stored as "0"); pinned,
            # the read also skips that sniffing. A file that escapes with a backslash (\") is read again so.
            try:
                load_from_file(cur, sql, params | {"escape": QUOTE})
            except duckdb.Error as first:
                if not backslash_escapes(source, source_encoding):
                    raise
                try:
                    load_from_file(cur, sql, params | {"escape": "\\"})
                except duckdb.Error:
                    raise first from None
    except duckdb.Error as err:
        ragged = ragged_record(path, enc, options["delim"])
        if ragged:
            line, found, expected = ragged
            raise FeedError(f"line {line} has {found} fields where the header has {expected}: check that "
                            f"line's delimiters and quotes (the file uses {options['delim']!r}).") from None
        raise FeedError(explain_csv_error(err, enc)) from None
    return "loaded"


def backslash_escapes(path: Path, encoding: str) -> bool:
    """Whether the file's first megabyte holds a backslash before a quote (\"): it may escape quotes so."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
            return '\\"' in fh.read(1 << 20)
    except (OSError, EOFError, LookupError):
        return False


def csv_dialect(path: Path, encoding: str, delim: str | None) -> tuple[str, str]:
    """(encoding, delimiter) a CSV is read with. The delimiter comes from the header line: left to guess,
    DuckDB's sniffer meets a ragged row by choosing another delimiter or no header, and the person then reads
    "missing required columns" instead of the line that has too many or too few fields."""
    enc = check_text_file(path, normalise_encoding(encoding))
    return enc, delim or header_delimiter(path, enc)


def csv_header(path: Path, encoding: str, delim: str) -> list[str] | None:
    """The header's names as the file writes them. DuckDB renames the second of two names that differ only in
    case (order_total, Order_Total -> Order_Total_1), and its first was read as the field."""
    import csv
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    codec = {"utf-8": "utf-8-sig", "latin-1": "cp1252"}.get(encoding, encoding)
    try:
        with opener(path, "rt", newline="", encoding=codec, errors="exq-latin-1") as fh:
            return next(csv.reader(fh, delimiter=delim), None)
    except (csv.Error, UnicodeError, OSError):
        return None


def ragged_record(path: Path, encoding: str, delim: str) -> tuple[int, int, int] | None:
    """The first record whose field count differs from the header's: (line, fields, header fields).
    Only run after DuckDB refused the file, to name the line."""
    import csv
    try:
        with open(path, newline="", encoding="utf-16" if encoding == "utf-16" else encoding, errors="replace") as fh:
            reader = csv.reader(fh, delimiter=delim)
            header = next(reader, None)
            if header is None:
                return None
            for record in reader:
                if record and len(record) != len(header):
                    return reader.line_num, len(record), len(header)
    except csv.Error:
        return None
    return None


def header_delimiter(path: Path, encoding: str) -> str:
    """The delimiter of a CSV, from its header line: the most frequent of , ; tab | outside quotes."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="ignore").lstrip("\ufeff")
    line = text.split("\n", 1)[0]
    unquoted = "".join(part for i, part in enumerate(line.split('"')) if i % 2 == 0)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def normalise_encoding(encoding: str | None) -> str:
    enc = (encoding or "utf-8").lower().replace("_", "-")
    # Latin-1 is read as Windows-1252, its superset in what people type (see readable_by_duckdb)
    enc = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1", "utf16": "utf-16",
           "cp1252": "latin-1", "windows-1252": "latin-1"}.get(enc, enc)
    if enc not in ("utf-8", "latin-1", "utf-16"):
        raise FeedError(f"unsupported encoding '{encoding}': use utf-8, latin-1 or utf-16")
    return enc


def explain_csv_error(err: Exception, encoding: str) -> str:
    text = str(err)
    low = text.lower()
    if "invalid unicode" in low or "byte sequence" in low:
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
    return _finish(cur, loaded, line_offset=2,
                   written=csv_header(path, *csv_dialect(path, options.get("encoding") or "utf-8",
                                                         options.get("delimiter"))))


@register("parquet")
def read_parquet(cur, path: Path, options: dict) -> RawFeed:
    loaded = load_parquet(cur, path)
    refuse_unusable_columns(cur, loaded, [n for n, *_ in cur.execute(f"DESCRIBE {loaded}").fetchall()
                                          if field_key(n) in FEED_COLUMNS])
    return _finish(cur, loaded, line_offset=1, line_label="row", kind="parquet", written=parquet_names(cur, path))


def _nested(typ: str) -> bool:
    return typ.endswith("]") or typ.startswith(("STRUCT", "MAP", "UNION"))


def refuse_unusable_columns(cur, loaded: str, used: list[str]) -> None:
    """A Parquet column exq reads must hold single values: a list or a record (their text was stored, as
    "[1, 2]"), or bytes that are not UTF-8 text, refuse the file, naming the column. A column's type is the
    same on every row, so the column is the error, not a row."""
    types = {name: typ for name, typ, *_ in cur.execute(f"DESCRIBE {loaded}").fetchall()}
    for name in used:
        typ = types.get(name, "")
        if _nested(typ):
            raise FeedError(f"column '{name}' holds lists or records ({typ}), not single values: export it as "
                            "text or a number")
        if typ == "BLOB":
            row = cur.execute(f"SELECT CAST({ident(name)} AS VARCHAR) FROM {loaded} "
                              f"WHERE try(decode({ident(name)})) IS NULL AND {ident(name)} IS NOT NULL LIMIT 1").fetchone()
            raise FeedError(f"column '{name}' holds bytes that are not UTF-8 text (e.g. {row[0][:60]!r}): export "
                            "text columns as UTF-8 strings")


def parquet_names(cur, path: Path) -> list[str]:
    """The file's top-level column names as it writes them (DuckDB renames one of two that differ only in
    case). parquet_schema lists the schema depth first: the root, then each column with its nested fields."""
    rows = cur.execute("SELECT name, num_children FROM parquet_schema($path)", {"path": str(path)}).fetchall()

    def after(i: int) -> int:          # the index after column i and its nested fields
        end = i + 1
        for _ in range(rows[i][1] or 0):
            end = after(end)
        return end
    names, i = [], 1
    while i < len(rows):
        names.append(rows[i][0])
        i = after(i)
    return names


def load_parquet(cur, path: Path, limit: int | None = None) -> str:
    if path.stat().st_size == 0:
        raise FeedError("the file is empty")
    try:
        load_from_file(cur, "CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_parquet($path)"
                       + (f" LIMIT {int(limit)}" if limit else ""), {"path": str(path)})
    except duckdb.Error as err:
        raise FeedError(f"cannot read the file as Parquet: {str(err).splitlines()[0][:300]}") from None
    # Parquet's plain binary type is how some tools write text: a column of valid UTF-8 is read as that text
    # (cast as it was, "café" was stored as 'caf\xC3\xA9'); any other stays bytes (refuse_unusable_columns)
    for name, typ, *_ in cur.execute("DESCRIBE loaded").fetchall():
        col = ident(name)
        if typ == "BLOB" and not cur.execute(f"SELECT 1 FROM loaded WHERE try(decode({col})) IS NULL "
                                             f"AND {col} IS NOT NULL LIMIT 1").fetchone():
            cur.execute(f"ALTER TABLE loaded ALTER COLUMN {col} TYPE VARCHAR USING decode({col})")
    return "loaded"
