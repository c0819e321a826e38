"""CSV a person downloads or writes with `export`: header row, UTF-8, spreadsheet formulas neutralised in every
cell (`textsafety.csv_cell`), streamed so a large export never sits in memory twice."""
from __future__ import annotations

import csv
import io
from typing import IO, Iterable, Sequence

from .textsafety import csv_cell


def write_csv(out: IO[str], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Write a header and the rows to a text stream; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
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


def batches(cur, size: int = 10_000):
    """The rows of an executed cursor, in batches, as one iterator."""
    while rows := cur.fetchmany(size):
        yield from rows
