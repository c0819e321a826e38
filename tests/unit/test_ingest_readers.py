"""Layout detection and the first look at a file: what it is, and what it is not."""
from __future__ import annotations

import gzip

import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from exq_core.errors import FeedError
from exq_core.ingest.readers import check_text_file, detect_format, normalise_encoding
from exq_core.ingest.shopify import looks_like_shopify
from tests.ingest_support import shopify_header


@pytest.mark.parametrize("name, head, fmt", [
    ("a.parquet", b"PAR1....", "parquet"),
    ("a.bin", b"PAR1....", "parquet"),
    ("a.jsonl", b'{"order_id": 1}', "jsonl"),
    ("a.ndjson", b'{"order_id": 1}', "jsonl"),
    ("a.txt", b'[{"order_id": 1}]', "jsonl"),
    ("a.csv", b"order_id,placed_at,order_total\n", "csv"),
    ("a.tsv", b"order_id\tplaced_at\torder_total\n", "csv"),
])
def test_detect_format(tmp_path, name, head, fmt):
    path = tmp_path / name
    path.write_bytes(head)
    assert detect_format(path) == fmt


@pytest.mark.parametrize("name, text, fmt", [
    ("a.json.gz", '[{"order_id": 1}]', "jsonl"),
    ("a.ndjson.gz", '{"order_id": 1}\n', "jsonl"),
    ("a.jsonl.gz", '{"order_id": 1}\n', "jsonl"),
    ("a.gz", '\ufeff {"order_id": 1}\n', "jsonl"),        # what the archive holds decides, BOM or not
    ("a.gz", "order_id,placed_at,order_total\n", "csv"),
    ("a.csv.gz", "order_id,placed_at,order_total\n", "csv"),
])
def test_a_gzip_file_is_read_as_what_it_holds(tmp_path, name, text, fmt):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    assert detect_format(path) == fmt


def test_a_shopify_header_is_recognised_with_or_without_a_bom(tmp_path):
    header = ",".join(shopify_header()) + "\n"
    for prefix in ("", "\ufeff"):
        path = tmp_path / "export.csv"
        path.write_text(prefix + header, encoding="utf-8")
        assert looks_like_shopify(path) and detect_format(path) == "shopify"
    path.write_text("Name,Email,Total\n")                     # not enough of the header
    assert not looks_like_shopify(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert not looks_like_shopify(path)


@pytest.mark.parametrize("head, what", [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
    (b"\xff\xd8\xff\xe0" + bytes(64), "JPEG image"),
    (b"PK\x03\x04" + bytes(64), "ZIP archive"),
    (b"%PDF-1.4\n", "PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "old Excel"),
    (b"SQLite format 3\x00" + bytes(64), "SQLite database"),
    (b"\x00\x01\x02\x03" * 100, "binary data"),
])
def test_files_that_are_not_tables(tmp_path, head, what):
    path = tmp_path / "orders.csv"
    path.write_bytes(head)
    with pytest.raises(FeedError, match=f"not a CSV file.*{what}"):
        check_text_file(path)


def test_text_files_pass_and_utf16_is_recognised(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,placed_at\nA,2026-11-20\n", encoding="utf-8")
    assert check_text_file(path) == "utf-8"
    path.write_text("order_id,placed_at\nA,2026-11-20\n", encoding="utf-16")   # Excel's "Unicode text"
    assert check_text_file(path) == "utf-16"
    gz = tmp_path / "orders.csv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))
    assert check_text_file(gz) == "utf-8"                    # DuckDB reads gzip CSV itself
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FeedError, match="empty"):
        check_text_file(empty)


@pytest.mark.parametrize("given, expected", [(None, "utf-8"), ("UTF8", "utf-8"), ("latin1", "latin-1"),
                                             ("ISO-8859-1", "latin-1"), ("cp1252", "latin-1"), ("utf_16", "utf-16")])
def test_encodings(given, expected):
    assert normalise_encoding(given) == expected


def test_an_unknown_encoding_is_a_clear_error():
    with pytest.raises(FeedError, match="unsupported encoding 'ebcdic'"):
        normalise_encoding("ebcdic")


@pytest.mark.parametrize("body, line, found", [
    ("A1,2026-11-27T08:00:00Z,10.00\nA2,2026-11-27T08:00:00Z,10.00,extra\n", 3, 4),   # one field too many
    ("A1,2026-11-27T08:00:00Z\n", 2, 2),                                               # one field too few
])
def test_a_ragged_row_is_named_by_its_line(store, tmp_path, body, line, found):
    from exq_core.ingest import import_file
    feed = tmp_path / "ragged.csv"
    feed.write_text("order_id,placed_at,order_total\n" + body)
    with pytest.raises(FeedError, match=rf"line {line} has {found} fields where the header has 3"):
        import_file(store, feed)
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM orders").fetchone()[0] == 0


@pytest.mark.parametrize("header, delim", [("a,b;c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ('"x,y";b;c', ";"),
                                           ("single", ",")])
def test_the_delimiter_comes_from_the_header_line(tmp_path, header, delim):
    from exq_core.ingest.readers import header_delimiter
    path = tmp_path / "h.csv"
    path.write_text(header + "\n1\n")
    assert header_delimiter(path, "utf-8") == delim


# -- JSON: every value reaches validation as the text the file wrote --------------------------------------

def _read_json(tmp_path, text: str, name: str = "orders.jsonl") -> list[tuple]:
    from exq_core.ingest.json_feed import read_jsonl
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    cur = duckdb.connect()
    read_jsonl(cur, path, {})
    return cur.execute("SELECT order_id, order_total, customer_message, items_ordered FROM raw ORDER BY line"
                       ).fetchall()


def test_a_json_number_keeps_the_digits_it_was_written_with(tmp_path):
    # DuckDB's JSON functions read a number as a double: 123456789012345.125 was 123456789012345.12
    numbers = ["123456789012345.125", "99999999999999.999", "12.50", "1E+2", "-0.0", "12345678901234567890123",
               "0.1", "7", "-0", "-12345678901234567890123"]
    lines = "".join(f'{{"order_id": "A{i}", "placed_at": "2026-01-01", "order_total": {n}, "items_ordered": {n}}}\n'
                    for i, n in enumerate(numbers))
    assert [(t, i) for _, t, _, i in _read_json(tmp_path, lines)] == [(n, n) for n in numbers]


def test_digits_inside_json_text_are_left_alone(tmp_path):
    message = 'at 10:30, 2 boxes; "12.50" -1 [3] {"a": 1e5} \\u0031 \\\\ 7'
    import json
    line = json.dumps({"order_id": "1:2,3", "placed_at": "2026-01-01", "order_total": "-0.5",
                       "customer_message": message, "x": [1, 2.50, {"y": -3e-2}], "12": 12.0}) + "\n"
    assert _read_json(tmp_path, line) == [("1:2,3", "-0.5", json.loads(json.dumps(message)), None)]


_DUCK = duckdb.connect()
_NUMBER = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
_TEXT = st.text(alphabet=st.sampled_from('0123456789.-+eE"\\:,[]{} \t\nxé😀\u2028\x01'), max_size=12)
_NESTED = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                       max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.just("number"), _NUMBER), st.tuples(st.just("text"), _TEXT),
                          st.tuples(st.just("nested"), _NESTED)), min_size=1, max_size=6),
       st.sampled_from(["", " ", "\t"]), st.booleans())
def test_every_json_number_and_text_is_read_as_written_whatever_surrounds_it(values, space, ascii_only):
    """numbers_as_text quotes the numbers outside strings and nothing else (a digit, quote or brace inside a
    string, or a number inside a nested value, never shifts what it reads)."""
    import json
    from exq_core.ingest.json_feed import json_values
    written = {"number": lambda v: v, "text": lambda v: json.dumps(v, ensure_ascii=ascii_only),
               "nested": lambda v: json.dumps(v, ensure_ascii=ascii_only)}
    line = "{" + f",{space}".join(f'"k{i}":{space}{written[kind](v)}' for i, (kind, v) in enumerate(values)) + "}"
    got = _DUCK.execute(f"SELECT {json_values('$j', [f'k{i}' for i in range(len(values))])}",
                        {"j": line}).fetchone()[0]
    assert [read for (kind, _), read in zip(values, got) if kind != "nested"] == \
        [value for kind, value in values if kind != "nested"], line
