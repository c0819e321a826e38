"""Feeds into exq: read a file into rows of the generic feed (SPEC §2), validate them in DuckDB,
apply the newer snapshots and route them. Formats differ only in how they are read (`readers`)."""
from .check import ImportReport, RowError
from .feed import ImportResult, import_file, preview_file

__all__ = ["ImportReport", "ImportResult", "RowError", "import_file", "preview_file"]
