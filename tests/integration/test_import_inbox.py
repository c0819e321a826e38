"""The inbox: files dropped into data/inbox/ are imported by the process that owns the database."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from exq_core.cli import main
from exq_core.ingest.inbox import InboxWatcher, inbox_dir, inbox_files, pending_files, process_inbox
from tests.ingest_support import list_imports
from tests.support import ROOT
from tests.ingest_support import order, write_shopify
from tests.feeds import only_logged, snapshot, write_feed


@pytest.fixture
def inbox(store):
    folder = inbox_dir(store.target)
    folder.mkdir()
    return folder


def age(path: Path, seconds: float = 60) -> Path:
    """Pretend the file was written a while ago (the inbox leaves files still being written alone)."""
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_the_inbox_is_next_to_the_database(tmp_path, monkeypatch):
    for name in ("EXQ_INBOX", "EXQ_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert inbox_dir(tmp_path / "data" / "exq.duckdb") == (tmp_path / "data" / "inbox").resolve()
    monkeypatch.chdir(tmp_path)                       # a server database: data/inbox/ where exq runs …
    assert inbox_dir("postgresql://exq@db.internal/exq") == (tmp_path / "data" / "inbox").resolve()
    monkeypatch.setenv("EXQ_HOME", str(tmp_path / "exq-home"))           # … or in $EXQ_HOME
    assert inbox_dir("postgresql://exq@db.internal/exq") == (tmp_path / "exq-home" / "inbox").resolve()
    monkeypatch.setenv("EXQ_INBOX", str(tmp_path / "drop"))
    assert inbox_dir(tmp_path / "data" / "exq.duckdb") == tmp_path / "drop"


def test_a_good_file_is_imported_and_moved_to_done(store, inbox):
    path = age(write_feed(inbox / "orders.csv", [{"order_id": "A", "risk_level": "high"}, {"order_id": "B"}]))
    results = process_inbox(store, inbox)
    assert [(r.file_name, r.status) for r in results] == [("orders.csv", "imported")]
    assert not path.exists() and (inbox / "done" / "orders.csv").exists()
    record = list_imports(store, limit=1)[0]
    assert (record["actor"], record["status"], record["orders_new"], record["cases_new"]) == ("inbox", "imported", 2, 1)
    assert "new cases 1 (fraud_risk 1)" in results[0].message


def test_a_shopify_export_is_imported_as_the_store_its_folder_names(store, inbox):
    (inbox / "berlin-shop").mkdir()
    age(write_shopify(inbox / "berlin-shop" / "orders_export.csv", order("#1", 1, 2), order("#2", 1, risk="High")))
    results = process_inbox(store, inbox)
    assert [(r.status, r.source) for r in results] == [("imported", "berlin-shop")]
    last = list_imports(store, limit=1)[0]
    assert (last["format"], last["source"], last["actor"]) == ("shopify", "berlin-shop", "inbox")
    assert (inbox / "berlin-shop" / "done" / "orders_export.csv").exists()


def test_a_shopify_export_without_a_store_folder_is_refused_with_how_to_name_it(store, inbox):
    age(write_shopify(inbox / "orders_export.csv", order("#1", 1)))
    [result] = process_inbox(store, inbox)
    assert result.status == "failed" and "does not name its store" in result.message
    report = (inbox / "failed" / "orders_export.csv.report.txt").read_text()
    assert "inbox/my-shop/" in report
    assert list_imports(store, limit=1)[0]["status"] == "failed"


def test_a_folder_settings_file_gives_the_mapping_and_encoding(store, inbox, tmp_path):
    from exq_core.ingest.mapping import MappingSpec, save_mapping
    from exq_core.models import SYSTEM
    save_mapping(store, MappingSpec(name="erp", columns={"Nr": "order_id", "Datum": "placed_at",
                                                         "Betrag": "order_total"},
                                    date_format="%d.%m.%Y", decimal_comma=True), SYSTEM)
    (inbox / "erp-de").mkdir()
    (inbox / "erp-de" / "exq-inbox.toml").write_text('mapping = "erp"\nencoding = "latin-1"\n')
    (inbox / "erp-de" / "export.csv").write_bytes("Nr;Datum;Betrag;Kunde\nA-1;27.11.2026;1.234,50;Müller\n".encode("latin-1"))
    age(inbox / "erp-de" / "export.csv")
    [result] = process_inbox(store, inbox)
    assert (result.status, result.source) == ("imported", "erp-de"), result.message
    with store.read() as cur:
        assert cur.execute("SELECT source, order_id, order_total FROM orders").fetchall() == \
            [("erp-de", "A-1", Decimal("1234.500"))]


def test_a_broken_settings_file_fails_the_folder_files_with_its_reason(store, inbox):
    (inbox / "shop").mkdir()
    (inbox / "shop" / "exq-inbox.toml").write_text('mapping = 7\nskip = "yes"\n')
    age(write_feed(inbox / "shop" / "a.csv", [{"order_id": "A"}]))
    [result] = process_inbox(store, inbox)
    assert result.status == "failed" and "exq-inbox.toml is not valid" in result.message


def test_symlinks_and_other_non_files_are_left_alone(store, inbox, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0\n")
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "dir.csv").mkdir()
    age(inbox / "link.csv")
    assert process_inbox(store, inbox) == []
    assert inbox_files(inbox)["waiting"] == []
    assert (inbox / "link.csv").is_symlink() and secret.read_text() == "root:x:0:0\n"


def test_a_bad_file_is_refused_whole_and_moved_aside_with_its_report(store, inbox):
    before = snapshot(store)
    age(write_feed(inbox / "bad.csv", [{"order_id": "A"}, {"order_id": "B", "order_total": "-2"}]))
    results = process_inbox(store, inbox)
    assert results[0].status == "refused"
    after = snapshot(store)
    assert after["orders"] == before["orders"] and after["cases"] == before["cases"]   # all-or-nothing
    failed = inbox / "failed" / "bad.csv"
    report = (inbox / "failed" / "bad.csv.report.txt").read_text()
    assert failed.exists() and not (inbox / "bad.csv").exists()
    assert "bad.csv was refused" in report and "bad.csv:3 (line 3) column order_total '-2'" in report
    assert list_imports(store, limit=1)[0]["status"] == "refused"


def test_an_unreadable_file_is_moved_aside(store, inbox):
    (inbox / "picture.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    age(inbox / "picture.csv")
    results = process_inbox(store, inbox)
    assert results[0].status == "failed"
    assert "PNG image" in (inbox / "failed" / "picture.csv.report.txt").read_text()


def test_the_same_file_again_changes_nothing_and_is_done(store, inbox):
    age(write_feed(inbox / "orders.csv", [{"order_id": "A"}]))
    process_inbox(store, inbox)
    before = snapshot(store)
    age(write_feed(inbox / "orders.csv", [{"order_id": "A"}]))     # the same export, dropped again
    results = process_inbox(store, inbox)
    assert results[0].status == "unchanged" and only_logged(before, snapshot(store))
    done = sorted(p.name for p in (inbox / "done").iterdir())
    assert len(done) == 2 and done[1] == "orders.csv" and done[0].endswith("-orders.csv")   # nothing overwritten


def test_files_still_being_written_are_left_for_the_next_pass(store, inbox):
    write_feed(inbox / "fresh.csv", [{"order_id": "A"}])                  # just now
    age(write_feed(inbox / "upload.csv.part", [{"order_id": "B"}]))
    age(write_feed(inbox / ".hidden.csv", [{"order_id": "C"}]))
    assert pending_files(inbox) == []
    assert process_inbox(store, inbox) == []
    assert [p.name for p in pending_files(inbox, settle_seconds=0)] == ["fresh.csv"]
    assert inbox_files(inbox)["waiting"][0]["file"] in ("fresh.csv", "upload.csv.part")


def test_inbox_files_lists_done_and_failed_with_reports(store, inbox):
    age(write_feed(inbox / "ok.csv", [{"order_id": "A"}]))
    age(write_feed(inbox / "bad.csv", [{"order_id": "B", "placed_at": "later"}]))
    process_inbox(store, inbox)
    files = inbox_files(inbox)
    assert [f["file"] for f in files["done"]] == ["ok.csv"]
    assert [f["file"] for f in files["failed"]] == ["bad.csv"] and "placed_at" in files["failed"][0]["report"]


def test_the_watcher_imports_within_its_interval(store, inbox):
    watcher = InboxWatcher(store, inbox, interval=0.2).start()
    try:
        path = write_feed(inbox / "late.csv", [{"order_id": "W"}])
        age(path)
        deadline = time.time() + 20
        while time.time() < deadline and not (inbox / "done" / "late.csv").exists():
            time.sleep(0.1)
        assert (inbox / "done" / "late.csv").exists()
        assert watcher.running and watcher.last_results[0].status == "imported"
    finally:
        watcher.stop()
    assert not watcher.running


def test_the_watcher_survives_a_failing_pass(store, inbox):
    calls = []

    def broken_rules():
        calls.append(1)
        raise RuntimeError("rules file unreadable")

    watcher = InboxWatcher(store, inbox, rules_getter=broken_rules, interval=0.05).start()
    try:
        age(write_feed(inbox / "x.csv", [{"order_id": "A"}]))
        deadline = time.time() + 10
        while time.time() < deadline and len(calls) < 3:
            time.sleep(0.05)
        assert len(calls) >= 3 and watcher.running and "rules file unreadable" in watcher.last_error
    finally:
        watcher.stop()


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from exq_core.store import open_store
    store = open_store({db!r})
    print("HOLDING", flush=True)
    time.sleep(120)
""")


@pytest.mark.duckdb_only
def test_cli_import_while_the_dashboard_holds_the_database_points_to_the_inbox(tmp_path, capsys, feed):
    db = tmp_path / "data" / "exq.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), db=str(db))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("HOLDING")
        path = feed([{"order_id": "A"}])
        assert main(["import", str(path), "--db", str(db), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert str(db) in err and f"process {holder.pid}" in err and "Traceback" not in err
        inbox = (tmp_path / "data" / "inbox").resolve()
        assert f"drop into {inbox}/ within a minute" in err and f"cp {path} {inbox}/" in err
    finally:
        holder.kill()
        holder.wait(timeout=30)
