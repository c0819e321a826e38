"""The real-data test set (tests/data/<case>/, issue 11 point 5): files in the shapes real exports have —
Shopify's current and an older header, two stores with the same order numbers, an ERP export with day-first
dates and decimal commas (UTF-8 with a BOM, and Windows-1252), invoice lines — imported through the command
line and the inbox, and compared with what each case's expected.toml says, worked out by hand from the rules.

Portable: databases come from the `store` fixture (its `target` is what --db takes), files live in tmp_path,
queries are plain SQL both engines run (tests/real_shapes.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from exq_core.ingest.inbox import process_inbox
from tests.real_shapes import (CASES, cli, drop_into_inbox, expected, import_differences, import_log, load_case,
                               order_differences, reject_differences, stored_cases, stored_orders)

WITH_REJECTS = [name for name in CASES if expected(name).get("rejects")]


def imported(store, case, **kw) -> None:
    """Import every file of the case through the command line; each must succeed."""
    for imp in case.imports:
        code, out, err = cli(*case.import_args(imp, **kw), "--db", store.target)
        assert code == 0, err


def data_of(store, case) -> tuple[dict, dict]:
    return stored_orders(store, case.sources), stored_cases(store, case.sources)


# -- the command line -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_each_case_imports_through_the_command_line_as_worked_out_by_hand(store, tmp_path, name):
    case = load_case(name, tmp_path)
    for imp in case.imports:
        code, out, err = cli(*case.import_args(imp), "--db", store.target)
        assert code == 0, err
        assert f"{imp['file']} (source {imp['source']}): import #" in out
        for warning in imp["warnings"]:                     # said to the person, not only logged
            assert warning in err, (warning, err)
        assert import_differences(store, imp) == []
        assert reject_differences(store, case, imp["file"]) == []
        if imp["rejected"]:
            assert "these rows were skipped" in err and "python -m exq_core rejects --import" in err
    assert order_differences(store, case) == []


@pytest.mark.parametrize("name", WITH_REJECTS)
def test_one_broken_row_refuses_the_whole_file_naming_line_column_value_and_reason(store, tmp_path, name):
    case = load_case(name, tmp_path)
    imp = next(i for i in case.imports if i["rejected"])
    args = [a for a in case.import_args(imp) if a != "--skip-invalid"]
    code, out, err = cli(*args, "--db", store.target)
    assert code == 1 and "nothing was imported" in err and "--skip-invalid" in err
    for r in case.rejects:
        assert f"{imp['file']}:{r['line']} (line {r['line']}) column {r['column']} {r['value']!r}: {r['reason']}" in err
    assert stored_orders(store, case.sources) == {}                       # all-or-nothing
    assert [row["status"] for row in import_log(store, imp["file"], imp["source"])] == ["refused"]


@pytest.mark.parametrize("name", CASES)
def test_importing_the_same_files_again_changes_nothing_and_is_logged_as_unchanged(store, tmp_path, name):
    case = load_case(name, tmp_path)
    imported(store, case)
    before = data_of(store, case)
    for imp in case.imports:
        code, out, err = cli(*case.import_args(imp), "--db", store.target)
        assert code == 0, err
        assert "already imported" in out and "nothing changed" in out
        assert import_log(store, imp["file"], imp["source"])[-1]["status"] == "unchanged"
    assert data_of(store, case) == before


# -- two stores, one numbering ------------------------------------------------------------------------------

def test_two_stores_keep_their_own_1001(store, tmp_path):
    case = load_case("two-stores", tmp_path)
    imported(store, case)
    orders = stored_orders(store, case.sources)
    berlin, vienna = orders[("berlin", "#1001")], orders[("vienna", "#1001")]
    assert (berlin["order_total"], berlin["ship_city"]) == (Decimal("42.80"), "Berlin")   # two orders,
    assert (vienna["order_total"], vienna["ship_city"]) == (Decimal("1200.00"), "Wien")   # each its own
    assert order_differences(store, case) == []


def test_the_second_store_without_its_name_is_refused_with_how_to_name_it(store, tmp_path):
    case = load_case("two-stores", tmp_path)
    berlin, vienna = case.imports
    assert cli(*case.import_args(berlin), "--db", store.target)[0] == 0
    before = data_of(store, case)
    code, out, err = cli("import", str(case.path(vienna["file"])), "--quiet", "--db", store.target)
    assert code == 1 and case.expected["refusals"]["no_source"] in err
    assert "inbox/my-shop/" in err                      # and how the inbox names it
    assert data_of(store, case) == before


def test_the_second_store_under_the_first_stores_name_is_refused(store, tmp_path):
    case = load_case("two-stores", tmp_path)
    berlin, vienna = case.imports
    assert cli(*case.import_args(berlin), "--db", store.target)[0] == 0
    before = data_of(store, case)
    code, out, err = cli(*case.import_args(vienna, source="berlin"), "--db", store.target)
    refusals = case.expected["refusals"]
    assert code == 1 and refusals["other_store"] in err and refusals["other_store_hint"] in err
    assert "#1001: stored as placed 2026-11-10 08:00, this file says 2026-11-12 09:20" in err
    assert "Nothing was imported" in err
    assert data_of(store, case) == before               # berlin's orders untouched
    assert import_log(store, vienna["file"], "berlin")[-1]["status"] == "failed"
    # named as its own store, it goes in
    assert cli(*case.import_args(vienna), "--db", store.target)[0] == 0
    assert order_differences(store, case) == []


def test_a_windows_1252_export_without_its_encoding_is_refused_saying_which_to_give(store, tmp_path):
    case = load_case("erp-windows-1252", tmp_path)
    [imp] = case.imports
    args = case.import_args({**imp, "encoding": None})
    code, out, err = cli(*args, "--db", store.target)
    assert code == 1 and case.expected["refusals"]["no_encoding"] in err
    assert stored_orders(store, case.sources) == {}


# -- the inbox -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_the_inbox_imports_each_case_from_its_source_folder_as_worked_out_by_hand(store, tmp_path, name):
    case = load_case(name, tmp_path)
    inbox = tmp_path / "inbox"
    dropped = drop_into_inbox(store, case, inbox)
    results = process_inbox(store, inbox, settle_seconds=0)
    assert [(r.file_name, r.source, r.status) for r in results] == \
        [(i["file"], i["source"], "partial" if i["rejected"] else "imported") for i in case.imports]
    for path, imp in zip(dropped, case.imports):
        assert not path.exists() and (path.parent / "done" / path.name).exists()
        assert import_differences(store, imp) == []
        assert import_log(store, imp["file"], imp["source"])[-1]["message"] is not None
        assert reject_differences(store, case, imp["file"]) == []
    assert order_differences(store, case) == []


@pytest.mark.parametrize("name", ["shopify-current", "erp-decimal-comma", "erp-windows-1252", "invoice-lines"])
def test_the_inbox_yields_the_same_orders_as_the_command_line(store, tmp_path, name):
    """One file, two ways in: the command line as source X, the inbox folder as source X-inbox."""
    case = load_case(name, tmp_path)
    [imp] = case.imports
    imported(store, case)
    folder = tmp_path / "inbox"
    [path] = drop_into_inbox(store, case, folder)
    moved = folder / f"{imp['source']}-inbox"
    path.parent.rename(moved)
    [result] = process_inbox(store, folder, settle_seconds=0)
    assert result.source == f"{imp['source']}-inbox" and result.status in ("imported", "partial")

    def facts(source):
        orders, cases = stored_orders(store, [source]), stored_cases(store, [source])
        skip = {"source", "import_id", "imported_at", "updated_at", "search_text"}   # updated_at: import time
        return ({oid: {k: v for k, v in row.items() if k not in skip} for (_, oid), row in orders.items()},
                {oid: [(c["bucket"], list(c["rules_fired"]), list(c["flags"])) for c in cs]
                 for (_, oid), cs in cases.items()})
    cli_orders, cli_cases = facts(imp["source"])
    assert len(cli_orders) == len(case.orders)
    assert facts(f"{imp['source']}-inbox") == (cli_orders, cli_cases)


def test_a_file_with_a_broken_row_is_refused_by_the_inbox_with_its_report_beside_it(store, tmp_path):
    case = load_case("erp-decimal-comma", tmp_path)
    inbox = tmp_path / "inbox"
    [path] = drop_into_inbox(store, case, inbox, skip_invalid=False)
    [result] = process_inbox(store, inbox, settle_seconds=0)
    assert (result.status, result.source) == ("refused", "erp-wien")
    report = (path.parent / "failed" / f"{path.name}.report.txt").read_text(encoding="utf-8")
    [reject] = case.rejects
    assert (f"auftraege.csv:{reject['line']} (line {reject['line']}) column {reject['column']} "
            f"{reject['value']!r}: {reject['reason']}") in report
    assert stored_orders(store, case.sources) == {}


def test_a_shopify_export_in_the_inbox_root_is_refused_with_how_to_name_the_store(store, tmp_path):
    case = load_case("two-stores", tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "vienna.csv").write_bytes(case.path("vienna.csv").read_bytes())
    [result] = process_inbox(store, inbox, settle_seconds=0)
    assert result.status == "failed" and case.expected["refusals"]["no_source"] in result.message
    assert stored_orders(store, ["vienna", "feed"]) == {}
