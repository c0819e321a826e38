"""The JSON reader: JSON lines (one object per line) or one JSON array of objects, each object a row of the
generic feed, every value as the file wrote it (no type guessed across objects, a number keeps its digits).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

from ..errors import FeedError
from ..models import FEED_COLUMNS, REQUIRED_COLUMNS
from ..store.dialect import ident, literal
from ..store.duck import file_order
from .readers import MAX_LINE, RawFeed, check_text_file, explain_csv_error, field_key, load_from_file, register


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
        WITH suspects AS MATERIALIZED (SELECT r.*, CASE WHEN l.ok THEN l.j END AS j FROM raw r JOIN json_lines l
                                       USING (line)
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
    complete, and the orders after the cut were missing without a word. A gzip file is read to its end (an
    archive that itself ends early is cut off too)."""
    if path.suffix.lower() == ".gz":
        tail = b""
        try:
            with gzip.open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    tail = (tail + chunk)[-65536:]
        except (OSError, EOFError):
            return False
    else:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 65536))
            tail = fh.read()
    return tail.rstrip(b" \t\r\n").endswith(b"]")


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
