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
from ..store.dialect import ident, literal
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
    return RawFeed("raw", rows, warnings, line_label, original=original, header=header, kind=kind, present=present)


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
            load_from_file(cur, f"CREATE OR REPLACE TEMP TABLE loaded AS SELECT * FROM read_csv($path, {opts})"
                           + (f" LIMIT {int(limit)}" if limit else ""),
                           {**options, "path": str(source), "encoding": source_encoding})
    except duckdb.Error as err:
        ragged = ragged_record(path, enc, options["delim"])
        if ragged:
            line, found, expected = ragged
            raise FeedError(f"line {line} has {found} fields where the header has {expected}: check that "
                            f"line's delimiters and quotes (the file uses {options['delim']!r}).") from None
        raise FeedError(explain_csv_error(err, enc)) from None
    return "loaded"


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
    return _finish(cur, load_parquet(cur, path), line_offset=1, line_label="row", kind="parquet",
                   written=parquet_names(cur, path))


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
    return "loaded"


@register("jsonl")
def read_jsonl(cur, path: Path, options: dict) -> RawFeed:
    """JSON lines (one object per line) or a file that is one JSON array of objects, read the same way: each
    object is a row, named by its line or by its place in the array. A value reaches validation as the file
    wrote it: no type is guessed across objects, and a number keeps its digits. A line or an element that is
    not a JSON object is an invalid row like any other (skippable with --skip-invalid); blank lines are
    skipped."""
    check_text_file(path)
    unit = load_json(cur, path)
    keys = json_keys_in_order(cur)
    # Objects may spell a field differently (customer_message in one, "Customer Message" in another): each
    # object's own spelling is read. One object with two keys of one field is an invalid row.
    spellings: dict[str, list[str]] = {}
    for key in keys:
        if field_key(key) in FEED_COLUMNS:
            spellings.setdefault(field_key(key), []).append(key)
    if not any(c in spellings for c in REQUIRED_COLUMNS) and not cur.execute(
            "SELECT count(*) FROM json_lines WHERE ok").fetchone()[0]:
        raise FeedError("no line of the file is a JSON object: is it JSON lines (one object per line)?"
                        if unit == "line" else "no element of the JSON array is an object")
    missing = [c for c in REQUIRED_COLUMNS if c not in spellings]
    if missing:
        shown = sorted(keys)
        raise FeedError(f"missing required field(s): {', '.join(missing)} (the objects have: "
                        f"{', '.join(shown[:12])}{' …' if len(shown) > 12 else ''}). Map them with a column "
                        "mapping: python -m exq_core mapping suggest FILE, or the mapping step on the Import page.")
    unknown = sorted(k for k in keys if field_key(k) not in FEED_COLUMNS)
    warnings = [f"ignored unknown field(s): {', '.join(unknown[:20])}" + (" …" if len(unknown) > 20 else "")] \
        if unknown else []
    # a valid line has its fields read as written (a JSON number keeps its digits, true/false stay words);
    # a broken line keeps only its line number, and its one error says why
    paths = [k for c in FEED_COLUMNS for k in spellings.get(c, [])]
    values = {c: [f"v[{paths.index(k) + 1}]" for k in spellings.get(c, [])] for c in FEED_COLUMNS}
    fields = [(f"coalesce({', '.join(v)})" if len(v) > 1 else v[0] if v else "NULL::VARCHAR") + f" AS {c}"
              for c, v in values.items()]
    cur.execute(f"CREATE OR REPLACE TEMP TABLE raw AS SELECT line, {', '.join(fields)} FROM "
                f"(SELECT line, CASE WHEN ok THEN {json_values('j', paths)} END AS v "
                f"FROM json_lines WHERE {NOT_BLANK_LINE})")
    what = "one object per line" if unit == "line" else "each element of the array must be one"
    # column "line": the error is the whole row's, and replaces the row's other errors (check.validate_raw)
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE json_errors AS
        SELECT line, 'line' AS column_name, left(j, 120) AS value,
               CASE WHEN json_valid(j) THEN {literal(f"not a JSON object ({what})")}
                    ELSE 'not valid JSON: the line is broken (a missing quote, brace or comma?)' END AS reason,
               line AS row_line
        FROM json_lines WHERE {NOT_BLANK_LINE} AND NOT ok""")
    if one_field_twice_in_an_object(cur, paths):
        cur.execute("""INSERT INTO json_errors
            SELECT l.line, c.field, c.names, c.reason, l.line FROM json_lines l
            JOIN json_clashes c ON json_keys(l.j) = c.keys WHERE l.ok""")
    refuse_nested_values(cur, spellings)
    cur.execute(f"CREATE OR REPLACE TEMP TABLE original AS SELECT line, j AS exq_json FROM json_lines "
                f"WHERE {NOT_BLANK_LINE}")
    for table in ("json_lines", "json_shapes", "json_clashes"):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    rows = cur.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise FeedError("the file has no JSON lines" if unit == "line" else "the JSON array is empty")
    return RawFeed("raw", rows, warnings, unit, errors="json_errors", original="original",
                   header=["exq_json"], kind="jsonl", present=frozenset(spellings))


def refuse_nested_values(cur, spellings: dict[str, list[str]]) -> None:
    """A list or an object where a field's value belongs is an invalid row (its JSON text was stored as the
    value). Only a value whose text starts with { or [ can be one: those rows alone are looked at again."""
    starts = {c: f"(left({c}, 1) IN ('{{', '['))" for c in spellings}
    if not cur.execute(f"SELECT count(*) FROM raw WHERE {' OR '.join(starts.values())}").fetchone()[0]:
        return
    nested = {c: [f"json_type(j, {literal_key(k)}) IN ('OBJECT', 'ARRAY')" for k in keys]
              for c, keys in spellings.items()}
    written = {c: "coalesce(" + ", ".join(f"CASE WHEN {test} THEN CAST(json_extract(j, {literal_key(k)}) AS VARCHAR) "
                                          "END" for test, k in zip(nested[c], spellings[c])) + ")"
               for c in spellings}
    cur.execute(f"""INSERT INTO json_errors
        WITH suspects AS MATERIALIZED (SELECT r.*, l.j FROM raw r JOIN json_lines l USING (line)
                                       WHERE {' OR '.join(starts.values())})
        """ + " UNION ALL ".join(
        f"SELECT line, {literal(c)}, left({written[c]}, 120), 'a list or an object, not a single value', line "
        f"FROM suspects WHERE {starts[c]} AND ({' OR '.join(nested[c])})" for c in spellings))


def one_field_twice_in_an_object(cur, keys: list[str]) -> bool:
    """Whether an object holds two of `keys` that are one feed field ("order_total" and "Order_Total", or
    one key written twice: DuckDB reads the first, Python's json the last). The key sets that do go to temp
    table json_clashes (keys, field, names, reason); json_shapes holds the key sets of the file."""
    if not keys:
        return False
    fields = ", ".join(f"({literal(k)}, {literal(field_key(k))})" for k in dict.fromkeys(keys))
    found = cur.execute(f"""
        SELECT keys, field, list(key ORDER BY pos)
        FROM (SELECT keys, unnest(keys) AS key, unnest(range(len(keys))) AS pos FROM json_shapes)
        JOIN (VALUES {fields}) f(key, field) USING (key)
        GROUP BY keys, field HAVING count(*) > 1""").fetchall()
    cur.execute("CREATE OR REPLACE TEMP TABLE json_clashes (keys VARCHAR[], field VARCHAR, names VARCHAR, "
                "reason VARCHAR)")
    for shape, field, names in found:
        cur.execute("INSERT INTO json_clashes VALUES (?, ?, ?, ?)", [
            shape, field, ", ".join(f'"{n}"' for n in names),
            f"{len(names)} keys for {field} in one object (case and spaces in keys are ignored): keep one"])
    return bool(found)


# DuckDB's JSON functions read a number as a double: 123456789012345.125 became 123456789012345.12 and
# 99999999999999.999 became 100000000000000.0 (money must be exact), 12.50 became 12.5 and 1E+2 100.0 (an
# error must quote the value as written). So before a value is extracted, every number outside a string is
# written as a string of its own characters, and `->>` returns them unchanged.
#
# One regular expression reads the JSON left to right as either a run of strings and characters that start
# no number (a string is matched whole, so a digit inside one is never touched), or a number. Each match is
# wrapped in \x01 … \x02 (bytes valid JSON never holds raw); runs and numbers alternate, so each \x02\x01
# between them is a quote around a number, and the two markers left at the ends are dropped. Without a
# capture group RE2 finds each match with its fast automaton (half the time of one with groups). The text
# must be valid JSON (an object, as `ok` says): in broken JSON a quote may open no string.
RUN_START, RUN_END, WHOLE_MATCH = "\x01", "\x02", "\\0"
_RUN_OR_NUMBER = r'(?:"(?:[^"\\]|\\.)*"|[^"0-9-])+|-?[0-9][0-9.eE+-]*'
# Only a number with a fraction or an exponent (a digit then . e E), or -0, can come back written otherwise:
# DuckDB reads a whole number exactly (beyond 64 bits as its text) and writes it back as it was. A line
# without one (money written as "12.50", as many shop APIs write it) is not rewritten at all.
_MAY_CHANGE = r'[0-9][.eE]|[:,\[][ \t\r\n]*-0[^0-9.eE]'


def numbers_as_text(j: str) -> str:
    """SQL: the valid JSON text `j` with every number in it written as a string (`12.50` -> `"12.50"`)."""
    marked = f"regexp_replace({j}, {literal(_RUN_OR_NUMBER)}, {literal(RUN_START + WHOLE_MATCH + RUN_END)}, 'g')"
    rewritten = (f"replace(replace(replace({marked}, {literal(RUN_END + RUN_START)}, '\"'), {literal(RUN_START)}, ''),"
                 f" {literal(RUN_END)}, '')")
    return f"(CASE WHEN regexp_matches({j}, {literal(_MAY_CHANGE)}) THEN {rewritten} ELSE {j} END)"


def literal_key(key: str) -> str:
    """A JSON path for one top-level key, as a SQL string literal: a JSON pointer, which names any key ($."…"
    cannot name the empty key, and takes "*" for a wildcard)."""
    return literal("/" + key.replace("~", "~0").replace("/", "~1"))


def json_values(j: str, keys: list[str]) -> str:
    """SQL: the values of top-level `keys` of the JSON object `j`, as written (a list of text), in one parse
    of the object (one `->>` per field parsed a line 27 times: 25 s of a million-line import)."""
    return f"json_extract_string({numbers_as_text(j)}, [{', '.join(literal_key(k) for k in keys)}])"


def json_keys_in_order(cur) -> list[str]:
    """The keys of the objects (json_shapes), in the order the file first writes them."""
    return [r[0] for r in cur.execute("""
        SELECT key FROM (SELECT unnest(keys) AS key, unnest(range(len(keys))) AS pos, first_line FROM json_shapes)
        GROUP BY key ORDER BY min(first_line), arg_min(pos, first_line)""").fetchall()]


# a blank line of JSON lines is no row; json_lines holds no blank element of an array
NOT_BLANK_LINE = "j IS NOT NULL AND (ok OR trim(j) <> '')"


def _json_layout(path: Path) -> str:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        return "array" if fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") else "lines"


def _array_closed(path: Path) -> bool:
    """Whether a JSON array file ends with its ]. DuckDB reads an array cut off after a comma ("[{…},") as
    complete, and the orders after the cut were missing without a word. (A gzip file is not looked at.)"""
    if path.suffix.lower() == ".gz":
        return True
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        return fh.read().rstrip(b" \t\r\n").endswith(b"]")


def load_json(cur, path: Path, limit: int | None = None) -> str:
    """The objects of a JSON file into temp table json_lines (line, j, ok), each as the file wrote it: the
    lines of JSON lines, or the elements of a JSON array (`line` is then the place in the array); ok when it
    is a JSON object. Their key sets into json_shapes (keys, first_line). Returns what `line` counts: "line"
    or "object".

    An array is split into its elements, not read as a table: read_json guesses one type per key across
    the objects, and then quoted "Anna" beside a number 12.5, turned order id 1 into 1.0, 12345678901234567
    into 1.2345678901234568e+16 and a time with an offset into another zone."""
    sample = f" LIMIT {int(limit)}" if limit else ""
    if _json_layout(path) == "array":
        try:
            load_from_file(cur, "CREATE OR REPLACE TEMP TABLE json_lines_raw AS SELECT CAST(json AS VARCHAR) AS j "
                           "FROM read_json_objects($path, format = 'array', maximum_object_size = $max_line_size)"
                           + sample, {"path": str(path), "max_line_size": MAX_LINE})
        except duckdb.Error as err:
            raise FeedError(f"cannot read the file as a JSON array of objects: "
                            f"{str(err).splitlines()[0][:300]}") from None
        if not _array_closed(path):
            raise FeedError("the JSON array is not closed (no ] at the end of the file): the file may have been "
                            "cut off. Export it again.")
        unit = "object"
    else:
        try:
            load_from_file(cur, """CREATE OR REPLACE TEMP TABLE json_lines_raw AS
                SELECT j FROM read_csv($path, columns = {'j': 'VARCHAR'}, header = false, delim = '\x01',
                                       quote = '', escape = '', auto_detect = false, strict_mode = false,
                                       max_line_size = $max_line_size, encoding = 'utf-8')""" + sample,
                           {"path": str(path), "max_line_size": MAX_LINE})
        except duckdb.Error as err:
            raise FeedError(explain_csv_error(err, "utf-8").replace("as CSV", "as JSON lines")) from None
        unit = "line"
    cur.execute("""CREATE OR REPLACE TEMP TABLE json_lines AS
        SELECT rowid - (SELECT min(rowid) FROM json_lines_raw) + 1 AS line, j,
               coalesce(json_valid(j) AND json_type(CASE WHEN json_valid(j) THEN j END) = 'OBJECT', false) AS ok
        FROM json_lines_raw""")
    cur.execute("DROP TABLE json_lines_raw")
    # the key sets of the objects: a file of a million objects has a few
    cur.execute("""CREATE OR REPLACE TEMP TABLE json_shapes AS
        SELECT json_keys(j) AS keys, min(line) AS first_line FROM json_lines WHERE ok GROUP BY 1""")
    return unit


def load_jsonl(cur, path: Path, limit: int | None = None) -> str:
    """JSON lines or a JSON array of objects into temp table `loaded` for a column mapping: a text column per
    key, in the order the objects first write them, each value as the file wrote it (as read_jsonl reads it)."""
    check_text_file(path)
    unit = load_json(cur, path, limit)
    broken = cur.execute(f"SELECT line, json_valid(j) FROM json_lines WHERE {NOT_BLANK_LINE} AND NOT ok "
                         "ORDER BY line LIMIT 1").fetchone()
    if broken:
        raise FeedError(f"{unit} {broken[0]} of the file is " + ("not a JSON object" if broken[1] else
                        "not valid JSON (a missing quote, brace or comma?)") + ": a mapped file is read whole")
    keys = json_keys_in_order(cur)
    if not keys:
        raise FeedError(f"no {unit} of the file is a JSON object with fields")
    if any(k == "" or "\x00" in k for k in keys):
        raise FeedError("a key of the objects is empty or holds a NUL character (\\u0000): no column can be named "
                        "so; remove that key")
    twice = cur.execute("SELECT first_line, keys FROM json_shapes WHERE len(keys) <> len(list_distinct(keys)) "
                        "ORDER BY 1 LIMIT 1").fetchone()
    if twice:
        again = next(k for i, k in enumerate(twice[1]) if k in twice[1][:i])
        raise FeedError(f"{unit} {twice[0]} of the file has the key \"{again}\" twice: keep one")
    by_lower: dict[str, str] = {}
    for key in keys:       # a table's column names ignore case
        if by_lower.setdefault(key.lower(), key) != key:
            raise FeedError(f"the objects have both \"{by_lower[key.lower()]}\" and \"{key}\": keys that differ "
                            "only in case cannot be told apart as columns; keep one spelling")
    columns = ", ".join(f"v[{i + 1}] AS {ident(k)}" for i, k in enumerate(keys))
    with file_order():
        cur.execute(f"CREATE OR REPLACE TEMP TABLE loaded AS SELECT {columns} FROM (SELECT line, "
                    f"{json_values('j', keys)} AS v FROM json_lines WHERE ok ORDER BY line)")
    for table in ("json_lines", "json_shapes"):
        cur.execute(f"DROP TABLE {table}")
    return "loaded"
