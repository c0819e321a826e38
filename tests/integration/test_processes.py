"""Team server mode (SPEC §10): several app processes and a command-line import write to one PostgreSQL
database at once — processes, not threads. One winner per transition, no lost event, the event log replays
to every case's state; the inbox is imported by exactly one of several app processes.

DuckDB lets one process own its file (the other processes get `DatabaseLocked`, tested in test_store and
test_cli), so these tests run with --backend postgresql."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from exq_core.ingest import import_file
from exq_core.ingest.inbox import inbox_dir
from exq_core.models import Actor, Role
from exq_core.rules import DEFAULT_RULES_PATH, load_rules
from tests.accounts import ensure_accounts
from tests.support import NOW, ROOT
from tests.feeds import write_feed
from tests.sql import one, rows

PROCESSES = 4
STEPS = 40
CASES = 6
IMPORT_KINDS = ("rerouted", "snapshot_updated", "condition_cleared")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("several processes writing at once is PostgreSQL's job: a DuckDB file has one owner")


def _start(*argv: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def test_app_processes_and_a_cli_import_at_once_lose_nothing(store, tmp_path):
    failed = [{"order_id": f"P{i}", "payment_status": "failed"} for i in range(CASES)]
    import_file(store, write_feed(tmp_path / "first.csv", failed), rules=load_rules(DEFAULT_RULES_PATH), now=NOW)
    case_ids = [r[0] for r in rows(store, "SELECT case_id FROM cases ORDER BY case_id")]
    ensure_accounts(store, *(Actor(username=f"p{i}", role=Role.MANAGER) for i in range(PROCESSES)))
    (events_before,), (decisions_before,) = one(store, "SELECT count(*) FROM events"), \
        one(store, "SELECT count(*) FROM decisions")
    # the cron import: newer snapshots of the same orders (the facts a reviewer sees change under them)
    # and a few thousand new orders, so it is still writing while the reviewers work
    newer = [{"order_id": f"P{i}", "payment_status": "failed", "amount_paid": f"{i}.00",
              "updated_at": "2026-11-27T09:00:00Z"} for i in range(CASES)]
    more = [{"order_id": f"N{i}", "items_available": "0" if i % 9 == 0 else "5"} for i in range(3000)]
    cron_feed = write_feed(tmp_path / "cron.csv", newer + more)

    workers = [_start("-m", "tests.process_worker", store.target, str(i), str(STEPS), *map(str, case_ids))
               for i in range(PROCESSES)]
    cli = _start("-c", textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        assert sys.stdin.readline().strip() == "go"
        from exq_core.cli import main
        sys.exit(main(["import", {str(cron_feed)!r}, "--db", {store.target!r}, "--quiet"]))"""))
    started = time.monotonic()
    for proc in [*workers, cli]:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=300) for proc in [*workers, cli]]
    elapsed = time.monotonic() - started
    for proc, (out, err) in zip([*workers, cli], outputs):
        assert proc.returncode == 0, err[-3000:]
    results = [json.loads(out) for out, _ in outputs[:PROCESSES]]
    assert "imported" in outputs[-1][0]

    won = [tuple(w) for r in results for w in r["won"]]
    claims_only = sum(len(r["claims_only"]) for r in results)
    refused = sum((Counter(r["refused"]) for r in results), Counter())
    assert len(won) > 20 and sum(refused.values()) > 0              # the race really happened, both ways
    # no transition was won twice, across processes
    assert max(Counter((case_id, version) for _, case_id, version in won).values()) == 1
    import_events = dict(rows(store, f"""SELECT case_id, count(*) FROM events WHERE kind IN
                                         ({", ".join(f"'{k}'" for k in IMPORT_KINDS)}) GROUP BY case_id"""))
    # The import re-routed each case that was open when it applied, once; a case a reviewer had resolved
    # by then is left alone (a resolved case is never re-routed): its last transition before the import's
    # events went to 'resolved'.
    assert set(import_events.values()) <= {1}
    first_import_event = one(store, f"""SELECT min(event_id) FROM events WHERE kind IN
                                        ({", ".join(f"'{k}'" for k in IMPORT_KINDS)})""")[0]
    for case_id in case_ids:
        if case_id not in import_events:
            before = rows(store, "SELECT to_state FROM events WHERE case_id = ? AND event_id < ? "
                                 "ORDER BY event_id DESC LIMIT 1", [case_id, first_import_event or 2**62])
            assert before == [("resolved",)], (case_id, before)
    rerouted = sum(import_events.get(c, 0) for c in case_ids)
    for case_id in case_ids:            # every version step is one win of a reviewer or of the import
        wins = sum(1 for _, c, _ in won if c == case_id)
        assert one(store, "SELECT version FROM cases WHERE case_id = ?", [case_id])[0] == \
            1 + wins + import_events.get(case_id, 0)
    opened_by_import = one(store, "SELECT count(*) FROM cases WHERE order_id LIKE 'N%'")[0]
    (events_after,) = one(store, "SELECT count(*) FROM events")
    assert events_after == events_before + len(won) + claims_only + rerouted + opened_by_import   # none lost
    assert one(store, "SELECT count(*) FROM decisions")[0] == \
        decisions_before + sum(1 for kind, _, _ in won if kind == "decide")
    for case_id in case_ids:            # and each case's event log replays to its current state
        trail = rows(store, "SELECT from_state, to_state FROM events WHERE case_id = ? ORDER BY event_id",
                     [case_id])
        for (_, before_to), (after_from, _) in zip(trail, trail[1:]):
            assert before_to == after_from, trail
        assert trail[-1][1] == one(store, "SELECT state FROM cases WHERE case_id = ?", [case_id])[0]
    print(f"\n{PROCESSES} app processes + 1 CLI import, {elapsed:.1f} s: {len(won)} transitions won "
          f"({sum(1 for k, _, _ in won if k == 'decide')} decisions, {sum(1 for k, _, _ in won if k == 'claim')} "
          f"claims that moved a state), {claims_only} claims alone, refused {dict(refused)}, "
          f"{rerouted} re-routed by the import ({CASES - rerouted} resolved before it), {opened_by_import} cases "
          f"opened by it; 0 lost events")


INBOX_PASS = textwrap.dedent("""
    import sys; sys.path.insert(0, {root!r})
    assert sys.stdin.readline().strip() == "go"
    from exq_core.ingest.inbox import InboxWatcher
    from exq_core.store import open_store
    store = open_store({url!r}, migrate=False)
    watcher = InboxWatcher(store, {folder!r})
    done = []
    for _ in range(5):
        done += [r.file_name for r in watcher.run_once()]
    print(",".join(done))
    store.close()
""")


def test_the_inbox_is_imported_by_exactly_one_of_several_app_processes(store, tmp_path):
    folder = inbox_dir(store.target)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"drop-{i}.csv" for i in range(4)]
    for i, name in enumerate(names):
        path = write_feed(folder / name, [{"order_id": f"I{i}-{j}", "risk_level": "high" if j % 3 else "low"}
                                          for j in range(400)])
        old = time.time() - 60                      # written a while ago: ready
        os.utime(path, (old, old))
    procs = [_start("-c", INBOX_PASS.format(root=str(ROOT), url=store.target, folder=str(folder)))
             for _ in range(3)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in outputs]
    imported_by = [out.strip().split(",") if out.strip() else [] for out, _ in outputs]
    assert sorted(f for files in imported_by for f in files) == sorted(names)      # each file by one process
    assert rows(store, "SELECT file_name, count(*) FROM imports GROUP BY file_name ORDER BY file_name") == \
        [(name, 1) for name in sorted(names)]
    assert sorted(p.name for p in (folder / "done").iterdir()) == sorted(names)
    assert one(store, "SELECT count(*) FROM orders")[0] == 1600
