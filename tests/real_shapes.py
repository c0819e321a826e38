"""The real-data test set (tests/data/<case>/): files in the shapes real exports have, each with an
`expected.toml` worked out by hand from the rules file. Helpers to copy a case, import it through the
command line, and compare what the database holds with what the case expects — in plain SQL both engines
run, on whatever store the test was given."""
from __future__ import annotations

import io
import json
import shutil
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CASES = ("shopify-current", "shopify-older", "two-stores", "erp-decimal-comma", "erp-windows-1252",
         "invoice-lines")

# what an import adds up to when expected.toml does not say otherwise
IMPORT_DEFAULTS = {"format": "shopify", "skip_invalid": False, "older_in_file": 0, "rejected": 0,
                   "warnings": [], "not_warned": [], "mapping": None, "encoding": None}


@dataclass
class Case:
    name: str
    folder: Path            # a private copy of tests/data/<name>
    expected: dict

    @property
    def imports(self) -> list[dict]:
        return [{**IMPORT_DEFAULTS, **imp} for imp in self.expected["imports"]]

    @property
    def orders(self) -> list[dict]:
        return self.expected["orders"]

    @property
    def rejects(self) -> list[dict]:
        return self.expected.get("rejects", [])

    @property
    def sources(self) -> list[str]:
        return sorted({imp["source"] for imp in self.imports})

    def path(self, name: str) -> Path:
        return self.folder / name

    def import_args(self, imp: dict, *, source: str | None = None) -> list[str]:
        """`python -m exq_core import` arguments for one of the case's imports (without --db). `source`:
        another source name than the case's (a mapping names its own source; --source overrides it)."""
        args = ["import", str(self.path(imp["file"])), "--quiet"]
        if imp["mapping"]:
            args += ["--mapping", str(self.path(imp["mapping"]))]
        if source or not imp["mapping"]:
            args += ["--source", source or imp["source"]]
        if imp["encoding"]:
            args += ["--encoding", imp["encoding"]]
        if imp["skip_invalid"]:
            args.append("--skip-invalid")
        return args


def expected(name: str) -> dict:
    """A case's expected.toml as it is in the repository (for choosing cases at collection time)."""
    with open(DATA / name / "expected.toml", "rb") as fh:
        return tomllib.load(fh)


def load_case(name: str, tmp_path: Path) -> Case:
    """The case's files copied into the test's own folder (imports and the inbox move or write files)."""
    folder = tmp_path / "cases" / name
    shutil.copytree(DATA / name, folder)
    with open(folder / "expected.toml", "rb") as fh:
        return Case(name, folder, tomllib.load(fh))


def cli(*argv: str) -> tuple[int, str, str]:
    """`python -m exq_core …` in this process: (exit status, stdout, stderr)."""
    from exq_core.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


# -- what the database holds ----------------------------------------------------------------------------

def stored_orders(store, sources: list[str]) -> dict[tuple[str, str], dict]:
    marks = ", ".join("?" * len(sources))
    with store.read() as cur:
        rows = cur.execute(f"SELECT * FROM orders WHERE source IN ({marks}) ORDER BY source, order_id",
                           list(sources)).dicts()
    return {(r["source"], r["order_id"]): r for r in rows}


def stored_cases(store, sources: list[str]) -> dict[tuple[str, str], list[dict]]:
    marks = ", ".join("?" * len(sources))
    with store.read() as cur:
        rows = cur.execute(f"SELECT source, order_id, bucket, rules_fired, flags, state FROM cases "
                           f"WHERE source IN ({marks}) ORDER BY case_id", list(sources)).dicts()
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["source"], r["order_id"]), []).append(r)
    return out


def import_log(store, file_name: str, source: str) -> list[dict]:
    """The import log's rows for one file and source, oldest first."""
    with store.read() as cur:
        rows = cur.execute("SELECT import_id, status, format, rows_read, orders_new, orders_updated, routine, "
                           "cases_new, cases_new_by_bucket, rejected, message FROM imports "
                           "WHERE file_name = ? AND source = ? ORDER BY import_id", [file_name, source]).dicts()
    for r in rows:
        if isinstance(r["cases_new_by_bucket"], str):       # JSON: text on DuckDB, decoded on PostgreSQL
            r["cases_new_by_bucket"] = json.loads(r["cases_new_by_bucket"])
    return rows


def rejects(store, file_name: str) -> list[dict]:
    with store.read() as cur:
        return cur.execute("SELECT line, column_name, value, reason FROM rejects WHERE file_name = ?",
                           [file_name]).dicts()


# -- comparing with expected.toml -------------------------------------------------------------------------

def _same(stored, expected) -> bool:
    if isinstance(expected, bool) or expected is None:
        return stored is expected
    if isinstance(expected, float):
        return stored is not None and abs(float(stored) - expected) < 1e-9
    if isinstance(expected, int):
        return stored == expected
    if isinstance(stored, Decimal):
        return stored == Decimal(expected)
    if isinstance(stored, datetime):
        return stored == datetime.fromisoformat(expected)
    return stored == expected


def order_differences(store, case: Case) -> list[str]:
    """Every way the stored orders and cases of the case's sources differ from expected.toml (empty: none).
    Exact: the same orders, no more; totals as exact decimals; one case per exception order, none for a
    routine one."""
    orders = stored_orders(store, case.sources)
    cases = stored_cases(store, case.sources)
    problems = []
    expected_keys = [(o["source"], o["order_id"]) for o in case.orders]
    if sorted(orders) != sorted(expected_keys):
        problems.append(f"orders stored {sorted(orders)}, expected {sorted(expected_keys)}")
    for exp in case.orders:
        key = (exp["source"], exp["order_id"])
        got = orders.get(key)
        if got is None:
            continue
        wanted = {"order_total": exp["total"], "currency": exp["currency"], "placed_at": exp["placed_at"],
                  **exp.get("fields", {})}
        for field, value in wanted.items():
            if not _same(got[field], value):
                problems.append(f"{key} {field}: stored {got[field]!r}, expected {value!r}")
        for field in exp.get("blank", []):
            if got[field] is not None:
                problems.append(f"{key} {field}: stored {got[field]!r}, expected blank")
        routed = cases.get(key, [])
        if exp["bucket"] == "routine":
            if routed:
                problems.append(f"{key}: expected routine, has case(s) {[(c['bucket'], c['rules_fired']) for c in routed]}")
            continue
        if len(routed) != 1:
            problems.append(f"{key}: expected one case in {exp['bucket']}, has {len(routed)}")
            continue
        c = routed[0]
        got_case = (c["bucket"], list(c["rules_fired"]), list(c["flags"]), c["state"])
        want_case = (exp["bucket"], exp["rules"], exp.get("flags", []), "new")
        if got_case != want_case:
            problems.append(f"{key}: case (bucket, rules, flags, state) {got_case}, expected {want_case}")
    stray = sorted(set(cases) - set(expected_keys))
    if stray:
        problems.append(f"cases for orders not expected: {stray}")
    return problems


def import_differences(store, imp: dict, status: str | None = None) -> list[str]:
    """How the last logged import of `imp`'s file and source differs from expected.toml's numbers."""
    log = import_log(store, imp["file"], imp["source"])
    if not log:
        return [f"no import of {imp['file']} as {imp['source']} was logged"]
    last = log[-1]
    status = status or ("partial" if imp["rejected"] else "imported")
    got = {"status": last["status"], "format": last["format"], "rows": last["rows_read"],
           "orders_new": last["orders_new"], "routine": last["routine"],
           "cases": {b: n for b, n in (last["cases_new_by_bucket"] or {}).items() if n},
           "rejected": last["rejected"]}
    want = {"status": status, "format": imp["format"] if not imp["mapping"] else "mapped", "rows": imp["rows"],
            "orders_new": imp["orders_new"], "routine": imp["routine"], "cases": imp["cases"],
            "rejected": imp["rejected"]}
    problems = [f"{imp['file']} {k}: logged {got[k]!r}, expected {want[k]!r}" for k in want if got[k] != want[k]]
    message = last["message"] or ""
    problems += [f"{imp['file']}: no warning {w!r} in {message!r}" for w in imp["warnings"] if w not in message]
    problems += [f"{imp['file']}: warning {w!r} not expected in {message!r}" for w in imp["not_warned"] if w in message]
    return problems


def reject_differences(store, case: Case, file_name: str) -> list[str]:
    got = sorted(rejects(store, file_name), key=lambda r: (r["line"], r["column_name"]))
    want = sorted(case.rejects, key=lambda r: (r["line"], r["column"]))
    if len(got) != len(want):
        return [f"{file_name}: rejects {got}, expected {want}"]
    problems = []
    for g, w in zip(got, want):
        if (g["line"], g["column_name"], g["value"]) != (w["line"], w["column"], w["value"]) or w["reason"] not in g["reason"]:
            problems.append(f"{file_name}: reject {g}, expected {w}")
    return problems


# -- the inbox ------------------------------------------------------------------------------------------

def drop_into_inbox(store, case: Case, inbox: Path, *, skip_invalid: bool | None = None) -> list[Path]:
    """Each of the case's files into `inbox/<source>/`, with an exq-inbox.toml saying what the command line
    would have said (the mapping, saved by name first; the encoding; skip_invalid). Returns the dropped files."""
    from exq_core.ingest.mapping import load_toml, save_mapping
    from exq_core.models import SYSTEM
    dropped = []
    for imp in case.imports:
        folder = inbox / imp["source"]
        folder.mkdir(parents=True, exist_ok=True)
        settings = []
        if imp["mapping"]:
            spec = save_mapping(store, load_toml(case.path(imp["mapping"])), SYSTEM)
            settings.append(f'mapping = "{spec.name}"')
        if imp["encoding"]:
            settings.append(f'encoding = "{imp["encoding"]}"')
        if imp["skip_invalid"] if skip_invalid is None else skip_invalid:
            settings.append("skip_invalid = true")
        if settings:
            (folder / "exq-inbox.toml").write_text("\n".join(settings) + "\n", encoding="utf-8")
        target = folder / imp["file"]
        shutil.copy(case.path(imp["file"]), target)
        dropped.append(target)
    return dropped
