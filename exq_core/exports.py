"""CSV a person downloads or writes with `export`: header row, UTF-8, CRLF line ends, spreadsheet formulas
neutralised in every cell (`textsafety.csv_cell`), streamed so a large export never sits in memory twice."""
from __future__ import annotations

import csv
import io
from typing import IO, Iterable, Sequence

from .textsafety import csv_cell


def write_csv(out: IO[str], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Write a header and the rows to a text stream; returns the number of rows."""
    # CRLF ends a row (RFC 4180), and so the writer quotes every cell holding a CR or LF: with "\n" alone a
    # bare CR stayed unquoted, and a spreadsheet split the row there — "x\r=1+1" became a live "=1+1".
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(str(c)) for c in columns])
    n = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        n += 1
    return n


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    return csv_cell(value)


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buf = io.StringIO()
    write_csv(buf, columns, rows)
    return buf.getvalue().encode("utf-8")


def frame_csv(frame) -> bytes:
    """A DataFrame as formula-safe CSV bytes (for a page's own download button)."""
    rows = (tuple(None if _isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None))
    return csv_bytes([str(c) for c in frame.columns], rows)


def _isna(value) -> bool:
    import pandas as pd
    if isinstance(value, (list, tuple, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def batches(cur, size: int = 10_000):
    """The rows of an executed cursor, in batches, as one iterator."""
    while rows := cur.fetchmany(size):
        yield from rows
