"""The inbox: feed files dropped into a folder (default `data/inbox/`, next to the database) are imported
by the running app — from server start, whether or not anyone opened a page — so scheduled exports keep
working while DuckDB's single-writer lock keeps the command line out (SPEC §9).

* A file in `inbox/` is imported with its source taken from its format (`feed` for the generic layout).
  A file in `inbox/<source>/` is imported as that source: one folder per shop or ERP. A Shopify export
  names no store, so it must be dropped into its store's folder.
* A source folder may carry `exq-inbox.toml` with what the command line would have said (the command
  line is locked out while the app runs): `format`, `mapping` (a saved mapping name), `encoding`,
  `default_currency`, `skip_invalid`.
* Each file is imported like any import (all-or-nothing unless the folder says `skip_invalid = true`),
  recorded in `imports` (actor `inbox`), then moved: to `done/` when imported (or unchanged), to `failed/`
  with a `<name>.report.txt` beside it when it was refused.
* Only regular files are read: symbolic links, folders, hidden names, files still being written
  (`.tmp`, `.part`, `.crdownload`…, or modified in the last seconds) are left alone.
* With several app processes on one PostgreSQL database, one of them imports at a time (an advisory lock).
"""
from __future__ import annotations

import atexit
import logging
import os
import stat
import threading
import time
import tomllib
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Callable, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ..errors import ExqError, FeedInvalid
from ..models import Actor, Role
from ..rules import RuleSet, load_rules
from ..store import Store, companion_dir, utcnow
from .feed import SourceName, import_file

log = logging.getLogger(__name__)

INBOX_ACTOR = Actor(username="inbox", role=Role.MANAGER, system=True)
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp")
SETTINGS_FILE = "exq-inbox.toml"
SETTLE_SECONDS = 2.0
SPECIAL = ("done", "failed")


def inbox_dir(db: str | os.PathLike) -> Path:
    """The inbox of a database: $EXQ_INBOX, else `inbox/` in its companion folder — next to the database
    file (data/inbox/); for a PostgreSQL database $EXQ_HOME/inbox, else data/inbox/ in the working folder."""
    env = os.environ.get("EXQ_INBOX", "")
    if env and env.lower() not in ("off", "0", "false", "no"):
        return Path(env)
    return companion_dir(db) / "inbox"


class InboxSettings(BaseModel):
    """`inbox/<source>/exq-inbox.toml`: how the files of that folder are read."""
    model_config = ConfigDict(extra="forbid")

    format: Literal["auto", "csv", "parquet", "jsonl", "shopify", "mapped"] = "auto"
    mapping: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    encoding: Literal["utf-8", "latin-1", "utf-16"] | None = None
    default_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    skip_invalid: bool = False


def read_settings(folder: Path) -> InboxSettings:
    path = folder / SETTINGS_FILE
    if not _regular(path):
        return InboxSettings()
    try:
        return InboxSettings.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ExqError(f"{path} is not valid TOML: {err}") from None
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ExqError(f"{path} is not valid: {problems}") from None


@dataclass
class InboxResult:
    file_name: str
    status: str                 # imported | partial | unchanged | failed | refused | error
    moved_to: Path
    message: str
    import_id: int | None = None
    at: datetime | None = None
    source: str | None = None


def _regular(path: Path) -> bool:
    """A regular file that is not a symbolic link (lstat: a link to a file is not followed)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def pending_files(folder: Path, settle_seconds: float = SETTLE_SECONDS) -> list[Path]:
    """Files ready to import in one folder, oldest first."""
    if not _is_dir(folder):
        return []
    now = datetime.now().timestamp()
    ready = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith((".", "~")) or name.lower().endswith(PARTIAL_SUFFIXES) \
                or name.endswith(".report.txt") or name == SETTINGS_FILE or not _regular(path):
            continue
        try:
            if now - os.lstat(path).st_mtime < settle_seconds:
                continue
        except OSError:
            continue
        ready.append(path)
    return sorted(ready, key=lambda p: (os.lstat(p).st_mtime, p.name))


def source_folders(folder: Path) -> list[tuple[Path, str | None]]:
    """(folder, source) pairs: the inbox itself (source from the format), then one per valid source name."""
    out: list[tuple[Path, str | None]] = [(folder, None)]
    if not _is_dir(folder):
        return out
    for sub in sorted(folder.iterdir(), key=lambda p: p.name):
        if sub.name in SPECIAL or sub.name.startswith(".") or not _is_dir(sub):
            continue
        try:
            out.append((sub, SourceName(sub.name).value))
        except ValueError:
            log.warning("inbox folder %s is not a valid source name; its files are left alone", sub)
    return out


def _move(path: Path, folder: Path, stamp: str) -> Path:
    """Move into folder without overwriting anything already there."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
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
    """Import every ready file in `folder` and its source sub-folders (one pass); returns what happened."""
    folder = Path(folder)
    rules = rules or load_rules()
    results = []
    for where, source in source_folders(folder):
        files = pending_files(where, settle_seconds)
        if not files:
            continue
        try:
            settings = read_settings(where)
        except ExqError as err:
            settings, problem = None, str(err)
        for path in files:
            at = now or utcnow()
            stamp = at.strftime("%Y%m%dT%H%M%S")
            if settings is None:
                results.append(_failed(path, where, stamp, "failed", f"{path.name}: {problem}", None, at, source))
                continue
            results.append(_import_one(store, path, where, source, settings, rules, actor, now, at, stamp))
    return results


def _import_one(store, path: Path, where: Path, source: str | None, settings: InboxSettings, rules: RuleSet,
                actor: Actor, now, at: datetime, stamp: str) -> InboxResult:
    try:
        result = import_file(store, path, fmt=settings.format, source=source, skip_invalid=settings.skip_invalid,
                             actor=actor, rules=rules, now=now, mapping=settings.mapping,
                             options={"encoding": settings.encoding} if settings.encoding else None,
                             default_currency=settings.default_currency or "USD")
    except FeedInvalid as err:
        return _failed(path, where, stamp, "refused", err.report.summary(), getattr(err, "import_id", None), at,
                       source)
    except ExqError as err:
        return _failed(path, where, stamp, "failed", f"{path.name}: {err}", getattr(err, "import_id", None), at,
                       source)
    except Exception as err:  # a bug must not stop the inbox: report it beside the file
        log.exception("inbox import of %s crashed", path)
        return _failed(path, where, stamp, "error", f"{path.name}: unexpected error: {type(err).__name__}", None,
                       at, source)
    moved = _move(path, where / "done", stamp)
    return InboxResult(path.name, result.status, moved, result.message or result.summary(), result.import_id, at,
                       result.source)


def _failed(path: Path, folder: Path, stamp: str, status: str, report: str, import_id, at, source) -> InboxResult:
    moved = _move(path, folder / "failed", stamp)
    header = (f"exq inbox: {path.name} was {status} at {at:%Y-%m-%d %H:%M:%S} UTC"
              + (f" (import #{import_id})" if import_id else "") + "; nothing was imported.\n"
              f"Fix the file and drop it into {folder} again.\n\n")
    report_path = moved.with_name(moved.name + ".report.txt")
    fd = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(header + report + "\n")
    return InboxResult(path.name, status, moved, report, import_id, at, source)


def inbox_files(folder: str | os.PathLike, limit: int = 50) -> dict[str, list[dict]]:
    """What is waiting, done and failed in the inbox and its source folders (newest first), for the Import
    page. Only regular files are listed; a report is read only when it is one."""
    folder = Path(folder)
    out: dict[str, list[dict]] = {"waiting": [], "done": [], "failed": []}
    for where, source in source_folders(folder):
        for kind, sub in (("waiting", where), ("done", where / "done"), ("failed", where / "failed")):
            if not _is_dir(sub):
                continue
            files = [p for p in sub.iterdir() if _regular(p) and not p.name.endswith(".report.txt")
                     and not p.name.startswith(".") and p.name != SETTINGS_FILE]
            for p in files:
                report = p.with_name(p.name + ".report.txt")
                st_ = os.lstat(p)
                out[kind].append({"file": p.name, "source": source, "path": str(p), "bytes": st_.st_size,
                                  "modified": datetime.fromtimestamp(int(st_.st_mtime), timezone.utc).replace(tzinfo=None),
                                  "report": report.read_text(encoding="utf-8", errors="replace")[:20_000]
                                  if _regular(report) else None})
    for kind in out:
        out[kind] = sorted(out[kind], key=lambda f: f["modified"], reverse=True)[:limit]
    return out


class InboxWatcher:
    """Runs `process_inbox` every `interval` seconds on a daemon thread until stopped. The store may be
    given as a callable, opened on the watcher's own thread: a database held by another process then only
    delays the inbox (the reason is kept in `last_error`) instead of stopping the server."""

    def __init__(self, store: Store | Callable[[], Store], folder: str | os.PathLike,
                 rules_getter: Callable[[], RuleSet] = load_rules, interval: float = 20.0):
        self._store = store
        self.folder, self.rules_getter, self.interval = Path(folder), rules_getter, interval
        self.last_results: list[InboxResult] = []
        self.last_pass: datetime | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"exq-inbox:{self.folder}", daemon=True)

    @property
    def store(self) -> Store:
        return self._store() if callable(self._store) else self._store

    def start(self) -> "InboxWatcher":
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread.start()
        _started.add(self)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def run_once(self) -> list[InboxResult]:
        store = self.store
        with store.exclusive("inbox") as mine:
            results = process_inbox(store, self.folder, self.rules_getter()) if mine else []
        self.last_pass = utcnow()
        if results:
            self.last_results = (results + self.last_results)[:50]
        return results

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as err:  # keep watching: a broken rules file or a held database must not kill it
                self.last_error = str(err) if isinstance(err, ExqError) else f"{type(err).__name__}: {err}"
                log.warning("inbox pass failed: %s", self.last_error)
            self._stop.wait(self.interval)


_watchers: dict[str, InboxWatcher] = {}
_watchers_guard = threading.Lock()
_started: "weakref.WeakSet[InboxWatcher]" = weakref.WeakSet()


@atexit.register
def _stop_all(timeout: float = 20.0) -> None:
    """At interpreter exit, stop every watcher and let a pass in progress finish. A daemon thread still
    inside DuckDB when Python finalizes is torn down mid-call, and the process aborts ("terminate called
    …", exit 134) after all its work was done."""
    watchers = list(_started)
    for watcher in watchers:
        watcher._stop.set()
    deadline = time.monotonic() + timeout
    for watcher in watchers:
        watcher.stop(max(0.0, deadline - time.monotonic()))


def ensure_watcher(store: Store | Callable[[], Store], folder: str | os.PathLike,
                   rules_getter: Callable[[], RuleSet] = load_rules, interval: float = 20.0) -> InboxWatcher:
    """The one running watcher of this process for `folder`, started if there is none."""
    key = str(Path(folder).resolve())
    with _watchers_guard:
        watcher = _watchers.get(key)
        if watcher is None or not watcher.running:
            watcher = InboxWatcher(store, folder, rules_getter, interval).start()
            _watchers[key] = watcher
        return watcher


def stop_watchers() -> None:
    with _watchers_guard:
        for watcher in _watchers.values():
            watcher.stop()
        _watchers.clear()
