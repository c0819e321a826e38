"""Shared fixtures: fresh databases on the backend under test, a seeded demo database, a fixed clock, and a
running app. Helpers tests import live in helper modules (tests/support.py, tests/browser.py,
tests/feeds.py, tests/sql.py), never here.

Signing in. Every page sits behind the sign-in gate in app.py: a test that does not sign in sees only the
sign-in form. The demo database (`demo_db`, `demo_store`, `app_env`, `running_app`) has three accounts, all
with the password TEST_PASSWORD — maria (manager), sam (reviewer), vic (viewer), the same people as the
`manager` / `reviewer` / `viewer` actor fixtures.
* AppTest (with the `app_env` fixture): put the person in the session before the first run —
      at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
      at.session_state["actor"] = manager            # Actor(username="maria", role=Role.MANAGER)
      at.run(); at.switch_page("views/queue.py").run()
  or `at = app_test(manager, "views/queue.py")` (tests/support.py). The gate re-reads the account on every rerun, so the actor
  must be an account in the database (a made-up name is signed out); add one with
  `auth.add_user(store, name, password_or_None, role, SYSTEM)`.
* Playwright (tests/browser.py): `sign_in(page, running_app.url + "/queue?bucket=fraud_risk")` opens the address, signs in
  (default maria / TEST_PASSWORD) and waits for the page; or take `signed_in_page` (maria, on the Overview).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from exq_core import auth  # noqa: E402
from exq_core.models import SYSTEM, Actor, Role  # noqa: E402
from exq_core.store import open_store  # noqa: E402
from tests.browser import RunningApp, sign_in  # noqa: E402
from tests.support import (ACCOUNTS, ARTIFACTS, DEMO_BACKLOG, DEMO_ORDERS, NOW, ROOT,  # noqa: E402
                           TEST_PASSWORD)

auth.passwords.BCRYPT_ROUNDS = 4   # tests only: fast hashes (the shipped cost is auth.DEFAULT_BCRYPT_ROUNDS)

@pytest.fixture(autouse=True)
def _no_real_model(monkeypatch):
    """Tests never reach a real model: a developer's own key in the shell is ignored. Tests that need the
    AI talk to the local fake server (tests/ai_server.py) and set these themselves."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXQ_AI_MODEL", "EXQ_AI_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def now() -> datetime:
    return NOW


# -- the backend: DuckDB files (default) or databases on a private PostgreSQL server ---------------

def pytest_addoption(parser):
    parser.addoption("--backend", choices=("duckdb", "postgresql"),
                     default=os.environ.get("EXQ_TEST_BACKEND", "duckdb"),
                     help="the store the integration, page and browser tests use: DuckDB files, or databases "
                          "on a private PostgreSQL cluster this test session starts (or $EXQ_TEST_PG_URL)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--backend") != "postgresql":
        return
    skip = pytest.mark.skip(reason="DuckDB only (a property of the embedded file: locks, file modes, the file "
                                   "format)")
    for item in items:
        if "duckdb_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.config.getoption("--backend")


@pytest.fixture(scope="session")
def pg_server(backend):
    """On --backend postgresql: the server the test databases live on (started here, stopped at the end),
    with `empty`, a migrated template database holding the three test accounts. None on DuckDB."""
    if backend != "postgresql":
        yield None
        return
    from tests.pg_cluster import Databases, PrivateCluster
    cluster = None
    admin = os.environ.get("EXQ_TEST_PG_URL")
    if not admin:
        cluster = PrivateCluster().start()
        admin = cluster.url()
    databases = Databases(admin)
    try:
        databases.empty = databases.create(name=f"{databases.prefix}empty")
        with open_store(databases.url(databases.empty)) as s:
            _add_accounts(s)
        yield databases
    finally:
        if cluster is not None:
            cluster.stop()


def _add_accounts(store) -> None:
    for username, role in ACCOUNTS.items():
        auth.add_user(store, username, TEST_PASSWORD, role, SYSTEM)


@pytest.fixture
def new_db(backend, pg_server, tmp_path, monkeypatch):
    """new_db(name="exq", template=None) -> a database target of its own for this test: a DuckDB file path
    in tmp_path, or a PostgreSQL URL (a database created from `template`: "empty" for a migrated one with the
    test accounts, "demo" for the seeded demo, None for a blank one). Dropped afterwards."""
    created: list[str] = []
    if backend == "postgresql":          # a server database has no folder: its companions go in the test's
        monkeypatch.setenv("EXQ_HOME", str(tmp_path))

    def make(name: str = "exq", template: str | None = None):
        if backend != "postgresql":
            return tmp_path / f"{name}.duckdb"
        source = {"empty": pg_server.empty, "demo": getattr(pg_server, "demo", None), None: None}[template]
        created.append(pg_server.create(template=source))
        return pg_server.url(created[-1])
    yield make
    for name in created:
        pg_server.drop(name)


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory, backend) -> Path | None:
    """DuckDB: a migrated database with the test accounts, built once per test session (copy it, never write
    to it): a copy costs a tenth of migrating a new file. None on PostgreSQL (pg_server.empty is its own)."""
    if backend == "postgresql":
        return None
    target = tmp_path_factory.mktemp("empty") / "empty.duckdb"
    with open_store(target) as s:
        _add_accounts(s)
        s.checkpoint()
    return target


@pytest.fixture
def store(new_db, backend, empty_template):
    """An empty, migrated database with the three test accounts (maria, sam, vic): every write re-reads the
    acting person's account, so the people tests act as must exist. `store.target` opens it again."""
    if backend == "postgresql":
        s = open_store(new_db(template="empty"))
    else:
        target = new_db()
        shutil.copy(empty_template, target)
        s = open_store(target)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, backend, pg_server) -> Path | str:
    """A demo database built once per test session; copy it, never write to it."""
    from exq_core.demo import seed_demo
    if backend == "postgresql":
        pg_server.demo = pg_server.create(name=f"{pg_server.prefix}demo")
        target = pg_server.url(pg_server.demo)
    else:
        target = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with open_store(target) as s:
        seed_demo(s, n=DEMO_ORDERS, seed=7, backlog=DEMO_BACKLOG)
        _add_accounts(s)
        s.checkpoint()
    return target


@pytest.fixture
def demo_db(demo_template, new_db, backend) -> Path | str:
    """A private copy of the demo database: a file path (DuckDB) or a URL (PostgreSQL)."""
    if backend == "postgresql":
        return new_db("demo", template="demo")
    target = new_db("demo")
    shutil.copy(demo_template, target)
    return target


@pytest.fixture
def demo_store(demo_db):
    s = open_store(demo_db)
    yield s
    s.close()


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from exq_core.store import open_store
    store = open_store({path!r})
    print("ready", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def held_db(tmp_path, backend):
    """A database file held open by another process; yields (path, holder pid)."""
    if backend == "postgresql":
        pytest.skip("DuckDB only: one process owns a DuckDB file; a server has no such lock")
    path = tmp_path / "held.duckdb"
    open_store(path).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield path, proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def manager() -> Actor:
    return Actor(username="maria", role=Role.MANAGER)


@pytest.fixture
def reviewer() -> Actor:
    return Actor(username="sam", role=Role.REVIEWER)


@pytest.fixture
def viewer() -> Actor:
    return Actor(username="vic", role=Role.VIEWER)


# -- AppTest ---------------------------------------------------------------------------------------

def _forget_the_app() -> None:
    """Between AppTests: the cached store and data go, and so do the inbox watchers the app started (each
    opens the store $EXQ_DB names on every pass: once the test's variable is gone, that would be the
    working copy's data/exq.duckdb)."""
    import streamlit as st
    from exq_core.ingest.inbox import stop_watchers
    stop_watchers()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_env(demo_db, monkeypatch):
    """Point the app at a private demo database and forget cached resources between tests."""
    monkeypatch.setenv("EXQ_DB", str(demo_db))
    monkeypatch.chdir(ROOT)
    _forget_the_app()
    yield demo_db
    _forget_the_app()


@pytest.fixture
def empty_app_db(new_db, monkeypatch):
    """A new, empty (migrated) database for AppTest: the first-run state a team sees before importing."""
    db = new_db("empty")
    open_store(db).close()
    monkeypatch.setenv("EXQ_DB", str(db))
    monkeypatch.chdir(ROOT)
    _forget_the_app()
    yield db
    _forget_the_app()


# -- a real app for browser tests -------------------------------------------------------------------

@pytest.fixture
def running_app(demo_db, tmp_path):
    """The real dashboard on a private demo database; stopped by its own pid afterwards."""
    app = RunningApp(demo_db, folder=tmp_path)
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run"]}


@pytest.fixture
def signed_in_page(running_app, page):
    """A Chromium page signed in to the running app as maria (manager), on the Overview."""
    sign_in(page, running_app.url)
    return page


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
