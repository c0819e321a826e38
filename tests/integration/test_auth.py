"""Accounts, sign-in and roles against a real DuckDB file: every use case refuses the roles it should,
sign-in is throttled, a disabled account is out, and no plaintext password is stored anywhere."""
from __future__ import annotations

import io
import json
import os
import stat
from datetime import timedelta

import pytest

from exq_core import auth, cli, services
from exq_core.errors import NotPermitted
from exq_core.ingest import import_file
from exq_core.models import SYSTEM, Actor, DecisionRequest, Role, State
from exq_core.store import open_store, Store, utcnow
from tests.conftest import ACCOUNTS, NOW, TEST_PASSWORD

PASSWORD = "s3cret-Plaintext-42"


def _counts(store: Store) -> tuple:
    with store.read() as cur:
        return cur.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM decisions), "
                           "(SELECT count(*) FROM cases WHERE version > 0 AND state = 'resolved'), "
                           "(SELECT count(*) FROM imports), (SELECT count(*) FROM users)").fetchone()


def _case(store: Store, state: str) -> tuple[int, int]:
    with store.read() as cur:
        return cur.execute("SELECT case_id, version FROM cases WHERE state = ? ORDER BY case_id LIMIT 1",
                           [state]).fetchone()


# -- each role against each use case ------------------------------------------------------------------

def _decide(store, actor):
    case_id, version = _case(store, "new")
    request = DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW)
    outcome = services.decide(store, request, actor)
    with store.read() as cur:
        reviewer = cur.execute("SELECT reviewer FROM decisions WHERE decision_id = ?",
                               [outcome.decision_id]).fetchone()[0]
    assert reviewer == actor.username


def _claim(store, actor):
    case_id, _ = _case(store, "new")
    assert services.claim(store, case_id, actor).assignee == actor.username


def _reopen(store, actor):
    case_id, version = _case(store, "resolved")
    request = DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW,
                              note="the customer wrote again")
    services.decide(store, request, actor, utcnow() + timedelta(hours=2))


def _bulk(store, actor):
    case_id, version = _case(store, "new")
    request = DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW)
    assert services.decide_many(store, [request], actor).done == [case_id]


def _import(store, actor, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text("order_id,placed_at,order_total,risk_level\nR-1,2026-11-27T10:00:00,12.50,high\n")
    assert import_file(store, feed, actor=actor).status == "imported"


def _users(store, actor):
    auth.add_user(store, "newbie", PASSWORD, Role.REVIEWER, actor)


USE_CASES = {"decide": _decide, "claim": _claim, "reopen": _reopen, "bulk": _bulk, "users": _users}
ALLOWED = {Role.VIEWER: set(), Role.REVIEWER: {"decide", "claim"},
           Role.MANAGER: {"decide", "claim", "reopen", "bulk", "import", "users"}}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("use_case", ["decide", "claim", "reopen", "bulk", "import", "users"])
def test_each_role_against_each_use_case(demo_store, tmp_path, role, use_case):
    actor = Actor(username="someone", role=role)
    run = (lambda: _import(demo_store, actor, tmp_path)) if use_case == "import" else \
        (lambda: USE_CASES[use_case](demo_store, actor))
    before = _counts(demo_store)
    if use_case in ALLOWED[role]:
        run()
        assert _counts(demo_store) != before
    else:
        with pytest.raises(NotPermitted):
            run()
        assert _counts(demo_store) == before          # a refusal writes nothing


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
@pytest.mark.parametrize("change", [
    lambda s, a: auth.set_role(s, "maria", Role.VIEWER, a),
    lambda s, a: auth.set_disabled(s, "maria", True, a),
    lambda s, a: auth.set_password(s, "maria", PASSWORD, a),
    lambda s, a: auth.list_users(s, a),
])
def test_only_managers_manage_accounts(demo_store, role, change):
    with pytest.raises(NotPermitted):
        change(demo_store, Actor(username="someone", role=role))
    assert auth.sign_in(demo_store, "maria", TEST_PASSWORD).role is Role.MANAGER


# -- accounts ---------------------------------------------------------------------------------------

def test_demo_fixture_has_the_three_test_accounts(demo_store):
    accounts = {a.username: a.role for a in auth.list_users(demo_store, SYSTEM)}
    assert accounts == ACCOUNTS


def test_add_sign_in_and_roles(store):
    account = auth.add_user(store, " Alice ", PASSWORD, "reviewer", SYSTEM, now=NOW)
    assert (account.username, account.role, account.disabled, account.has_password) == \
        ("alice", Role.REVIEWER, False, True)
    assert auth.sign_in(store, "ALICE", PASSWORD, NOW) == Actor(username="alice", role=Role.REVIEWER)
    with pytest.raises(auth.AccountInvalid, match="already"):
        auth.add_user(store, "alice", PASSWORD, "viewer", SYSTEM)
    with pytest.raises(auth.AccountInvalid, match="Unknown role"):
        auth.add_user(store, "bob", PASSWORD, "admin", SYSTEM)
    with pytest.raises(auth.AccountNotFound):
        auth.set_role(store, "nobody", Role.VIEWER, SYSTEM)


def test_wrong_password_and_unknown_user_get_the_same_answer(store):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    for name, password in (("alice", "wrong-password"), ("mallory", PASSWORD), ("alice", "")):
        with pytest.raises(auth.SignInRefused) as err:
            auth.sign_in(store, name, password, NOW)
        assert str(err.value) == auth.WRONG_CREDENTIALS
    with store.read() as cur:
        assert cur.execute("SELECT username, ok FROM sign_in_attempts ORDER BY username").fetchall() == \
            [("alice", False), ("alice", False), ("mallory", False)]


def test_repeated_failures_are_slowed_down_with_a_growing_delay(store):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    t = NOW
    for i in range(auth.FREE_FAILURES):
        with pytest.raises(auth.SignInRefused) as err:
            auth.sign_in(store, "alice", f"guess-{i}", t)
        assert not isinstance(err.value, auth.SignInThrottled)
        t += timedelta(seconds=1)
    last_failure = t - timedelta(seconds=1)
    # Now even the right password is not checked until the delay has passed.
    with pytest.raises(auth.SignInThrottled) as err:
        auth.sign_in(store, "alice", PASSWORD, t)
    assert err.value.retry_after == last_failure + auth.BASE_DELAY - t
    # Another name is not affected.
    auth.add_user(store, "bob", PASSWORD, Role.VIEWER, SYSTEM)
    assert auth.sign_in(store, "bob", PASSWORD, t).username == "bob"
    # After the delay one more wrong guess doubles it.
    t = last_failure + auth.BASE_DELAY
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(store, "alice", "guess-6", t)
    with pytest.raises(auth.SignInThrottled) as err:
        auth.sign_in(store, "alice", PASSWORD, t + auth.BASE_DELAY)
    assert err.value.retry_after == auth.BASE_DELAY
    # Once the doubled delay is over, the right password works, and success clears the count.
    t += 2 * auth.BASE_DELAY
    assert auth.sign_in(store, "alice", PASSWORD, t).username == "alice"
    with pytest.raises(auth.SignInRefused) as err:
        auth.sign_in(store, "alice", "one-more-typo", t + timedelta(seconds=1))
    assert not isinstance(err.value, auth.SignInThrottled)


def test_failures_older_than_the_window_are_forgotten_and_delay_is_capped(store):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    with store.unit_of_work() as uow:
        for i in range(40):
            uow.execute('INSERT INTO sign_in_attempts VALUES (?, ?, false)', ["alice", NOW + timedelta(seconds=i)])
        uow.commit()
    with store.read() as cur:
        assert auth.throttle_delay(cur, "alice", NOW + timedelta(seconds=40)) <= auth.MAX_DELAY
    later = NOW + timedelta(seconds=40) + auth.FAILURE_WINDOW
    assert auth.sign_in(store, "alice", PASSWORD, later).username == "alice"


def test_disabled_account_cannot_sign_in_and_its_session_ends(store):
    auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM)
    session = auth.sign_in(store, "alice", PASSWORD, NOW)
    assert auth.session_actor(store, session) == session
    auth.set_disabled(store, "alice", True, SYSTEM)
    assert auth.session_actor(store, session) is None
    with pytest.raises(auth.SignInRefused, match="disabled"):
        auth.sign_in(store, "alice", PASSWORD, NOW)
    auth.set_disabled(store, "alice", False, SYSTEM)
    assert auth.session_actor(store, session) == session
    assert auth.session_actor(store, Actor(username="ghost", role=Role.MANAGER)) is None


def test_a_new_role_applies_to_the_running_session(store):
    auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM)
    session = auth.sign_in(store, "alice", PASSWORD, NOW)
    auth.set_role(store, "alice", Role.VIEWER, SYSTEM)
    assert auth.session_actor(store, session) == Actor(username="alice", role=Role.VIEWER)


def test_the_last_active_manager_cannot_be_demoted_or_disabled(store):
    auth.add_user(store, "boss", PASSWORD, Role.MANAGER, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_role(store, "boss", Role.REVIEWER, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_disabled(store, "boss", True, SYSTEM)
    auth.add_user(store, "deputy", PASSWORD, Role.MANAGER, SYSTEM)
    auth.set_disabled(store, "boss", True, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_role(store, "deputy", Role.VIEWER, SYSTEM)


def test_change_own_password_needs_the_current_one(store):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    me = Actor(username="alice", role=Role.VIEWER)
    with pytest.raises(auth.SignInRefused):
        auth.change_own_password(store, me, "not-my-password", "a-brand-new-one")
    auth.change_own_password(store, me, PASSWORD, "a-brand-new-one")
    assert auth.sign_in(store, "alice", "a-brand-new-one", NOW) == me
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(store, "alice", PASSWORD, NOW)


def test_no_plaintext_password_in_any_table_or_the_file(store, tmp_path):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    auth.set_password(store, "alice", PASSWORD + "-2", SYSTEM)
    auth.sign_in(store, "alice", PASSWORD + "-2", NOW)
    for guess in (PASSWORD, PASSWORD + "-3"):
        with pytest.raises(auth.SignInRefused):
            auth.sign_in(store, "alice", guess, NOW)
    with pytest.raises(auth.AccountInvalid) as err:
        auth.add_user(store, "bob", PASSWORD + "x" * 80, Role.VIEWER, SYSTEM)
    assert PASSWORD not in str(err.value)
    with store.read() as cur:
        tables = [r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        dump = "".join(str(cur.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
        (stored,) = cur.execute("SELECT password_hash FROM users").fetchone()
    assert "s3cret" not in dump
    assert stored.startswith("$2b$") and auth.verify_password(PASSWORD + "-2", stored)
    store.checkpoint()
    raw = store.path.read_bytes() + (store.path.with_suffix(".duckdb.wal").read_bytes()
                                     if store.path.with_suffix(".duckdb.wal").exists() else b"")
    assert b"s3cret" not in raw


def test_an_oidc_identity_maps_to_its_local_account_or_is_refused(store):
    auth.add_user(store, "vic@example.com", None, Role.VIEWER, SYSTEM)       # OIDC only: no local password
    auth.add_user(store, "sam", PASSWORD, Role.REVIEWER, SYSTEM)
    assert auth.sign_in_external(store, {"is_logged_in": True, "email": "Vic@Example.com"}, NOW) == \
        Actor(username="vic@example.com", role=Role.VIEWER)
    assert auth.sign_in_external(store, {"email": "sam@corp.test", "preferred_username": "sam"}, NOW).role \
        is Role.REVIEWER
    with pytest.raises(auth.SignInRefused, match="has no exq account"):
        auth.sign_in_external(store, {"email": "stranger@example.com"}, NOW)
    with pytest.raises(auth.SignInRefused, match="has no exq account"):   # unverified e-mail is not trusted
        auth.sign_in_external(store, {"email": "vic@example.com", "email_verified": False}, NOW)
    with pytest.raises(auth.SignInRefused):                               # OIDC-only has no password
        auth.sign_in(store, "vic@example.com", auth.NO_PASSWORD, NOW)
    auth.set_disabled(store, "vic@example.com", True, SYSTEM)
    with pytest.raises(auth.SignInRefused, match="disabled"):
        auth.sign_in_external(store, {"email": "vic@example.com"}, NOW)


def test_first_manager_is_created_once_with_a_private_file(store, tmp_path):
    username, password, path = auth.ensure_first_manager(store, tmp_path)
    assert username == "admin" and len(password) >= 12
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert password in path.read_text()
    assert auth.sign_in(store, "admin", password, NOW).role is Role.MANAGER
    assert auth.ensure_first_manager(store, tmp_path) is None


# -- the command line -------------------------------------------------------------------------------

def _cli(monkeypatch, capsys, *argv, stdin: str = "", tty: bool = False):
    fake = io.StringIO(stdin)
    fake.isatty = lambda: tty
    monkeypatch.setattr("sys.stdin", fake)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_commands(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "exq.duckdb")
    code, out, _ = _cli(monkeypatch, capsys, "user", "add", "Bob", "--role", "reviewer", "--password-stdin",
                        "--db", db, stdin=PASSWORD + "\n")
    assert code == 0 and "bob" in out and PASSWORD not in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "add", "boss", "--role", "manager", "--password-stdin",
                        "--db", db, stdin=PASSWORD + "\n")
    assert code == 0
    code, out, _ = _cli(monkeypatch, capsys, "user", "set-role", "bob", "viewer", "--db", db)
    assert code == 0 and "viewer" in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "disable", "bob", "--db", db)
    assert code == 0 and "disabled" in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "list", "--json", "--db", db)
    listed = {a["username"]: a for a in json.loads(out)}
    assert listed["bob"]["role"] == "viewer" and listed["bob"]["disabled"] is True
    assert "password_hash" not in out and "$2b$" not in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "enable", "bob", "--db", db)
    assert code == 0 and "active" in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "passwd", "bob", "--password-stdin", "--db", db,
                        stdin="another-password\n")
    assert code == 0
    code, out, _ = _cli(monkeypatch, capsys, "user", "list", "--db", db)
    assert "bob" in out and "boss" in out and "$2b$" not in out
    with open_store(db) as store:
        assert auth.sign_in(store, "bob", "another-password", NOW).role is Role.VIEWER
    code, _, err = _cli(monkeypatch, capsys, "user", "disable", "boss", "--db", db)
    assert code == 2 and "last active manager" in err


def test_cli_prompts_for_the_password_and_never_takes_it_from_arguments(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "exq.duckdb")
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, out, _ = _cli(monkeypatch, capsys, "user", "add", "carol", "--role", "manager", "--db", db, tty=True)
    assert code == 0 and PASSWORD not in out
    answers = iter([PASSWORD, PASSWORD + "typo"])
    code, _, err = _cli(monkeypatch, capsys, "user", "add", "dave", "--role", "viewer", "--db", db, tty=True)
    assert code == 2 and "differ" in err and PASSWORD not in err
    code, _, err = _cli(monkeypatch, capsys, "user", "add", "erin", "--role", "viewer", "--db", db, tty=False)
    assert code == 2 and "--password-stdin" in err         # no terminal: refuse instead of blocking
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["user", "add", "frank", "--role", "viewer", "--password", PASSWORD])
    with open_store(db) as store:
        assert [a.username for a in auth.list_users(store, SYSTEM)] == ["carol"]


def test_cli_first_run_creates_the_first_manager_without_asking(tmp_path, monkeypatch, capsys):
    db = tmp_path / "exq.duckdb"
    code, out, _ = _cli(monkeypatch, capsys, "user", "first-run", "--db", str(db))
    assert code == 0 and "username 'admin'" in out
    password = (tmp_path / "first-login.txt").read_text().split("password: ")[1].split()[0]
    assert f"password '{password}'" in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "first-run", "--db", str(db))
    assert code == 0 and password not in out and "1 account(s)" in out
