"""CSV downloads: every cell a spreadsheet would run is neutralised, and a cell's own line breaks never end
its row (a bare carriage return used to go out unquoted: "x\\r=1+1" opened as a row starting with a live
"=1+1")."""
import csv
import io

import pandas as pd

from exq_core.exports import csv_bytes, frame_csv

CELLS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "note\r=1+1", "note\n=1+1", "note\r\n=1+1",
         "-12.50", "+3", "plain"]


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_each_cell_stays_in_its_row_and_no_formula_runs():
    rows = _read(csv_bytes(["value", "after"], [[cell, "end"] for cell in CELLS]))
    assert rows[0] == ["value", "after"]
    assert [r[1] for r in rows[1:]] == ["end"] * len(CELLS)            # no row was split by a line break
    expected = ["'" + c if c[0] in "=+-@\t\r" and c not in ("-12.50", "+3") else c for c in CELLS]
    assert [r[0] for r in rows[1:]] == expected


def test_a_frame_goes_out_the_same_way():
    frame = pd.DataFrame({"order": ["=HYPERLINK(\"http://x\")", "A-1"], "total": [1.5, None]})
    assert _read(frame_csv(frame)) == [["order", "total"], ["'=HYPERLINK(\"http://x\")", "1.5"], ["A-1", ""]]
