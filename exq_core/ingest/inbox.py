"""The inbox: feed files dropped into a folder (default `data/inbox/`, next to the database) are imported
by the process that owns the database — the running dashboard — so scheduled exports keep working while
DuckDB's single-writer lock keeps the command line out (SPEC §9).

Each file is imported all-or-nothing like any import (format detected; Shopify exports included), recorded
in `imports` (actor `inbox`), then moved: to `done/` when imported (or already imported before), to
`failed/` with a `<name>.report.txt` beside it when it was refused. Files still being written are left for
the next pass: hidden names, `.tmp` / `.part` / `.crdownload`, and anything modified in the last seconds.
`process_inbox` is one pass and needs no Streamlit; `InboxWatcher` runs passes on a background thread.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ExqError, FeedInvalid
from ..models import Actor, Role
from ..rules import RuleSet, load_rules
from ..store import Store, utcnow
from .feed import import_file

log = logging.getLogger(__name__)

INBOX_ACTOR = Actor(username="inbox", role=Role.MANAGER)
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp")
SETTLE_SECONDS = 2.0


def inbox_dir(db_path: str | os.PathLike) -> Path:
    """The inbox of a database: $EXQ_INBOX, else `inbox/` next to the database file (data/inbox/)."""
    env = os.environ.get("EXQ_INBOX", "")
    if env and env.lower() not in ("off", "0", "false", "no"):
        return Path(env)
    return Path(db_path).resolve().parent / "inbox"


@dataclass
class InboxResult:
    file_name: str
    status: str                 # imported | partial | duplicate | failed | refused | error
    moved_to: Path
    message: str
    import_id: int | None = None
    at: datetime | None = None


def pending_files(folder: Path, settle_seconds: float = SETTLE_SECONDS) -> list[Path]:
    """Files ready to import, oldest first."""
    if not folder.is_dir():
        return []
    now = time.time()
    ready = []
    for path in folder.iterdir():
        name = path.name
        if not path.is_file() or name.startswith((".", "~")) or name.lower().endswith(PARTIAL_SUFFIXES) \
                or name.endswith(".report.txt"):
            continue
        try:
            if now - path.stat().st_mtime < settle_seconds:
                continue
        except OSError:
            continue
        ready.append(path)
    return sorted(ready, key=lambda p: (p.stat().st_mtime, p.name))


def _move(path: Path, folder: Path, stamp: str) -> Path:
    """Move into folder without overwriting anything already there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{stamp}-{path.name}"
    n = 1
    while target.exists():
        target = folder / f"{stamp}-{n}-{path.name}"
        n += 1
    os.replace(path, target)
    return target


def process_inbox(store: Store, folder: str | os.PathLike, rules: RuleSet | None = None, *,
                  actor: Actor = INBOX_ACTOR, settle_seconds: float = SETTLE_SECONDS,
                  now: datetime | None = None) -> list[InboxResult]:
    """Import every ready file in `folder` (one pass); returns what happened to each."""
    folder = Path(folder)
    rules = rules or load_rules()
    results = []
    for path in pending_files(folder, settle_seconds):
        at = now or utcnow()
        stamp = at.strftime("%Y%m%dT%H%M%S")
        try:
            result = import_file(store, path, actor=actor, rules=rules, now=now)
        except FeedInvalid as err:
            results.append(_failed(path, folder, stamp, "refused", err.report.summary(), getattr(err, "import_id", None), at))
            continue
        except ExqError as err:
            results.append(_failed(path, folder, stamp, "failed", f"{path.name}: {err}", getattr(err, "import_id", None), at))
            continue
        except Exception as err:  # a bug must not stop the inbox: report it beside the file
            log.exception("inbox import of %s crashed", path)
            results.append(_failed(path, folder, stamp, "error", f"{path.name}: unexpected error: {err!r}", None, at))
            continue
        moved = _move(path, folder / "done", stamp)
        message = result.message or _summary(result)
        results.append(InboxResult(path.name, result.status, moved, message, result.import_id, at))
    return results


def _summary(result) -> str:
    by_bucket = ", ".join(f"{b} {n}" for b, n in sorted(result.cases_new_by_bucket.items())) or "none"
    return (f"{result.file_name}: import #{result.import_id} {result.status}: {result.rows:,} rows; orders "
            f"{result.orders_new:,} new, {result.orders_updated:,} updated; {result.routine:,} routine; new cases "
            f"{result.cases_new:,} ({by_bucket}); {result.cases_updated:,} cases updated.")


def _failed(path: Path, folder: Path, stamp: str, status: str, report: str, import_id, at) -> InboxResult:
    moved = _move(path, folder / "failed", stamp)
    header = (f"exq inbox: {path.name} was {status} at {at:%Y-%m-%d %H:%M:%S} UTC"
              + (f" (import #{import_id})" if import_id else "") + "; nothing was imported.\n"
              f"Fix the file and drop it into {folder} again.\n\n")
    moved.with_name(moved.name + ".report.txt").write_text(header + report + "\n", encoding="utf-8")
    return InboxResult(path.name, status, moved, report, import_id, at)


def inbox_files(folder: str | os.PathLike, limit: int = 50) -> dict[str, list[dict]]:
    """What is waiting, done and failed in the inbox (newest first), for the Import page."""
    folder = Path(folder)
    out: dict[str, list[dict]] = {"waiting": [], "done": [], "failed": []}
    for kind, where in (("waiting", folder), ("done", folder / "done"), ("failed", folder / "failed")):
        if not where.is_dir():
            continue
        files = [p for p in where.iterdir() if p.is_file() and not p.name.endswith(".report.txt")
                 and not p.name.startswith(".")]
        for p in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:limit]:
            report = p.with_name(p.name + ".report.txt")
            out[kind].append({"file": p.name, "path": str(p), "bytes": p.stat().st_size,
                              "modified": datetime.fromtimestamp(int(p.stat().st_mtime), timezone.utc).replace(tzinfo=None),
                              "report": report.read_text(encoding="utf-8", errors="replace")[:20_000]
                              if report.exists() else None})
    return out


class InboxWatcher:
    """Runs `process_inbox` every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, store: Store, folder: str | os.PathLike, rules_getter=load_rules, interval: float = 20.0):
        self.store, self.folder, self.rules_getter, self.interval = store, Path(folder), rules_getter, interval
        self.last_results: list[InboxResult] = []
        self.last_pass: datetime | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"exq-inbox:{self.folder}", daemon=True)

    def start(self) -> "InboxWatcher":
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def run_once(self) -> list[InboxResult]:
        results = process_inbox(self.store, self.folder, self.rules_getter())
        self.last_pass = utcnow()
        if results:
            self.last_results = (results + self.last_results)[:50]
        return results

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as err:  # keep watching: a broken rules file or a closed store must not kill it
                self.last_error = f"{type(err).__name__}: {err}"
                log.exception("inbox pass failed")
            self._stop.wait(self.interval)
