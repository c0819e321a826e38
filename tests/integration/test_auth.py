"""Accounts, sign-in and roles against a real DuckDB file: every use case refuses the roles it should,
sign-in is throttled, a disabled account is out, and no plaintext password is stored anywhere."""
from __future__ import annotations

import io
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from exq_core import auth, cli, services
from exq_core.auth import sessions, throttle
from exq_core.errors import NotPermitted
from exq_core.ingest import import_file
from exq_core.models import SYSTEM, Actor, DecisionRequest, Role, State
from exq_core.store import open_store, Store, utcnow
from tests.accounts import ensure_accounts
from tests.support import ACCOUNTS, NOW, TEST_PASSWORD

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
    ensure_accounts(demo_store, actor)
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
    ensure_accounts(demo_store, Actor(username="someone", role=role))
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
    assert auth.sign_in(store, "ALICE", PASSWORD, now=NOW) == Actor(username="alice", role=Role.REVIEWER)
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
            auth.sign_in(store, name, password, now=NOW)
        assert str(err.value) == auth.WRONG_CREDENTIALS


# -- throttling -------------------------------------------------------------------------------------

def test_an_account_is_slowed_down_but_never_for_long(store):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    t = NOW
    for i in range(throttle.ACCOUNT_FREE):
        with pytest.raises(auth.SignInRefused) as err:
            auth.sign_in(store, "alice", f"guess-{i}", address=f"10.0.0.{i}", now=t)
        assert not isinstance(err.value, auth.SignInThrottled)
        t += timedelta(seconds=1)
    last_failure = t - timedelta(seconds=1)
    # now even the right password is not checked until the delay has passed — from any address
    with pytest.raises(auth.SignInThrottled, match="for this account") as err:
        auth.sign_in(store, "alice", PASSWORD, address="192.168.1.7", now=t)
    assert err.value.retry_after == last_failure + throttle.ACCOUNT_BASE_DELAY - t
    # another name is not affected
    auth.add_user(store, "bob", PASSWORD, Role.VIEWER, SYSTEM)
    assert auth.sign_in(store, "bob", PASSWORD, address="10.0.0.1", now=t).username == "bob"
    # a long attack only ever costs the owner a short wait
    for _ in range(12):
        t += throttle.ACCOUNT_MAX_DELAY
        with pytest.raises(auth.SignInRefused):
            auth.sign_in(store, "alice", "attack", address="203.0.113.9", now=t)
    with pytest.raises(auth.SignInThrottled) as err:
        auth.sign_in(store, "alice", PASSWORD, address="192.168.1.7", now=t + timedelta(seconds=1))
    assert err.value.retry_after <= throttle.ACCOUNT_MAX_DELAY
    owner_at = t + throttle.ACCOUNT_MAX_DELAY
    assert auth.sign_in(store, "alice", PASSWORD, address="192.168.1.7", now=owner_at).username == "alice"
    # success clears the account's count
    with pytest.raises(auth.SignInRefused) as err:
        auth.sign_in(store, "alice", "one-more-typo", address="192.168.1.7", now=owner_at + timedelta(seconds=1))
    assert not isinstance(err.value, auth.SignInThrottled)


def test_an_address_is_refused_before_any_password_is_checked(store, monkeypatch):
    checked = []
    import exq_core.auth.sessions as sessions_module
    real = sessions_module.verify_password
    monkeypatch.setattr(sessions_module, "verify_password", lambda p, h: checked.append(1) or real(p, h))
    monkeypatch.setattr(sessions_module, "burn_time", lambda p: checked.append(1))
    t = NOW
    for i in range(throttle.ADDRESS_FREE):
        with pytest.raises(auth.SignInRefused):
            auth.sign_in(store, f"user{i}", "guess", address="198.51.100.4", now=t)
    assert len(checked) == throttle.ADDRESS_FREE
    with pytest.raises(auth.SignInThrottled, match="from this address"):
        auth.sign_in(store, "sam", TEST_PASSWORD, address="198.51.100.4", now=t)
    assert len(checked) == throttle.ADDRESS_FREE                 # no bcrypt for a refused try
    assert auth.sign_in(store, "sam", TEST_PASSWORD, address="198.51.100.5", now=t).username == "sam"
    # the window passes: the address may try again, and old rows are pruned
    later = t + throttle.WINDOW + timedelta(seconds=1)
    assert auth.sign_in(store, "sam", TEST_PASSWORD, address="198.51.100.4", now=later).username == "sam"
    with store.read() as cur:
        assert cur.scalar("SELECT count(*) FROM sign_in_throttle WHERE last_failure < ?",
                          [later - throttle.WINDOW]) == 0


def test_parallel_tries_all_count(store):
    """Ten tries at once, five allowed: at most five reach the password check."""
    from concurrent.futures import ThreadPoolExecutor
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    results = []

    def attempt(i):
        try:
            auth.sign_in(store, "alice", f"guess-{i}", address=f"10.1.0.{i}", now=NOW)
            return "ok"
        except auth.SignInThrottled:
            return "throttled"
        except auth.SignInRefused:
            return "checked"
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(10)))
    assert results.count("checked") == throttle.ACCOUNT_FREE and results.count("throttled") == 10 - throttle.ACCOUNT_FREE


# -- sessions -----------------------------------------------------------------------------------------

def test_a_session_survives_until_signed_out_or_idle(store):
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    sid = sessions.start(store, alice, via="password", address="10.0.0.1", now=NOW)
    cookie = sessions.cookie_value(store, sid)
    assert sessions.session_from_cookie(store, cookie) == sid
    assert sessions.session_from_cookie(store, cookie[:-2] + "xx") is None            # the signature holds
    assert sessions.resume(store, sid, now=NOW + timedelta(hours=11)) == alice          # and is touched
    assert sessions.resume(store, sid, now=NOW + timedelta(hours=22)) == alice          # 11 h since last use
    assert sessions.resume(store, sid, now=NOW + timedelta(hours=35)) is None          # idle > 12 h
    sid = sessions.start(store, alice, via="password", now=NOW)
    sessions.end(store, sid)
    assert sessions.resume(store, sid, now=NOW) is None


def test_the_signed_out_person_is_told_why(store):
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    idle, out, changed = (sessions.start(store, alice, via="password", now=NOW) for _ in range(3))
    assert sessions.resume(store, idle, now=NOW + timedelta(hours=13)) is None
    assert sessions.why_ended(store, idle) == "You were signed out after 12 hours without activity."
    sessions.end(store, out)
    assert sessions.why_ended(store, out) == "You signed out (here or in another tab)."
    auth.set_role(store, "alice", Role.VIEWER, SYSTEM)
    assert "password or role of this account changed" in sessions.why_ended(store, changed)
    auth.set_disabled(store, "alice", True, SYSTEM)
    assert sessions.why_ended(store, changed) == "You were signed out: the account 'alice' is disabled."
    assert sessions.why_ended(store, "no-such-session").startswith("Your session ended")


@pytest.mark.parametrize("change", [
    lambda s: auth.set_password(s, "alice", "a-new-password-1", SYSTEM),
    lambda s: auth.set_role(s, "alice", Role.VIEWER, SYSTEM),
    lambda s: auth.set_disabled(s, "alice", True, SYSTEM),
])
def test_an_account_change_ends_every_session_of_the_person(store, change):
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    tabs = [sessions.start(store, alice, via="password", now=NOW) for _ in range(3)]
    change(store)
    assert [sessions.resume(store, sid, now=NOW) for sid in tabs] == [None, None, None]


def test_changing_your_own_password_keeps_this_session_and_ends_the_others(store):
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    here, there = (sessions.start(store, alice, via="password", now=NOW) for _ in range(2))
    with pytest.raises(auth.SignInRefused):
        auth.change_own_password(store, alice, "not-my-password", "a-brand-new-one", keep_session=here)
    auth.change_own_password(store, alice, PASSWORD, "a-brand-new-one", keep_session=here)
    assert sessions.resume(store, here, now=NOW) == alice and sessions.resume(store, there, now=NOW) is None
    assert auth.sign_in(store, "alice", "a-brand-new-one", now=NOW) == alice
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(store, "alice", PASSWORD, now=NOW)


def test_disabled_account_cannot_sign_in_and_its_session_ends(store):
    auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM)
    session = auth.sign_in(store, "alice", PASSWORD, now=NOW)
    assert auth.session_actor(store, session) == session
    auth.set_disabled(store, "alice", True, SYSTEM)
    assert auth.session_actor(store, session) is None
    with pytest.raises(auth.SignInRefused, match="disabled"):
        auth.sign_in(store, "alice", PASSWORD, now=NOW)
    auth.set_disabled(store, "alice", False, SYSTEM)
    assert auth.session_actor(store, session) == session
    assert auth.session_actor(store, Actor(username="ghost", role=Role.MANAGER)) is None


def test_the_last_active_manager_cannot_be_demoted_or_disabled(store):
    with pytest.raises(auth.LastManager):
        auth.set_role(store, "maria", Role.REVIEWER, SYSTEM)         # the store's one manager
    auth.add_user(store, "boss", PASSWORD, Role.MANAGER, SYSTEM)
    auth.set_role(store, "maria", Role.REVIEWER, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_role(store, "boss", Role.REVIEWER, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_disabled(store, "boss", True, SYSTEM)
    auth.add_user(store, "deputy", PASSWORD, Role.MANAGER, SYSTEM)
    auth.set_disabled(store, "boss", True, SYSTEM)
    with pytest.raises(auth.LastManager):
        auth.set_role(store, "deputy", Role.VIEWER, SYSTEM)


def test_every_account_change_is_audited_with_who_when_and_from_to(store, manager):
    auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, manager, now=NOW)
    auth.set_role(store, "alice", Role.VIEWER, manager, now=NOW + timedelta(minutes=1))
    auth.set_disabled(store, "alice", True, manager, now=NOW + timedelta(minutes=2))
    auth.set_disabled(store, "alice", False, manager, now=NOW + timedelta(minutes=3))
    auth.set_password(store, "alice", "reset-password-9", manager, now=NOW + timedelta(minutes=4))
    auth.invite(store, "New.Person@Example.com", Role.REVIEWER, manager, now=NOW + timedelta(minutes=5))
    events = [(e["actor"], e["username"], e["action"], e["from_value"], e["to_value"])
              for e in reversed(auth.account_events(store, manager))]
    assert events[-6:] == [("maria", "alice", "added", None, "reviewer"),
                           ("maria", "alice", "role changed", "reviewer", "viewer"),
                           ("maria", "alice", "disabled", "active", "disabled"),
                           ("maria", "alice", "enabled", "disabled", "active"),
                           ("maria", "alice", "password reset", None, "new password"),
                           ("maria", "new.person@example.com", "invited", None, "reviewer")]
    assert "reset-password-9" not in str(auth.account_events(store, manager))
    with pytest.raises(NotPermitted):
        auth.account_events(store, Actor(username="sam", role=Role.REVIEWER))


def test_no_plaintext_password_in_any_table_or_the_file(store, tmp_path):
    auth.add_user(store, "alice", PASSWORD, Role.VIEWER, SYSTEM)
    auth.set_password(store, "alice", PASSWORD + "-2", SYSTEM)
    auth.sign_in(store, "alice", PASSWORD + "-2", now=NOW)
    for guess in (PASSWORD, PASSWORD + "-3"):
        with pytest.raises(auth.SignInRefused):
            auth.sign_in(store, "alice", guess, now=NOW)
    with pytest.raises(auth.AccountInvalid) as err:
        auth.add_user(store, "bob", PASSWORD + "x" * 80, Role.VIEWER, SYSTEM)
    assert PASSWORD not in str(err.value)
    with store.read() as cur:
        tables = [r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = current_schema()").fetchall()]
        dump = "".join(str(cur.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
        (stored,) = cur.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()
    assert "s3cret" not in dump
    assert stored.startswith("$2b$") and auth.verify_password(PASSWORD + "-2", stored)
    if not store.is_postgres:                # and not in the bytes of the file either
        store.checkpoint()
        path = Path(store.target)
        wal = path.with_name(path.name + ".wal")
        raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert b"s3cret" not in raw


# -- single sign-on -----------------------------------------------------------------------------------

ISSUER = "https://idp.example.test"


def identity(sub, email, verified=True, **extra):
    return {"iss": ISSUER, "sub": sub, "email": email, "email_verified": verified, **extra}


def test_sso_binds_by_subject_and_never_matches_a_password_account_by_name(store, manager):
    # the provider calls someone "admin"/"maria": nothing follows from a name
    with pytest.raises(auth.SignInRefused, match="no exq account"):
        auth.sign_in_external(store, identity("u-1", "maria@example.com", preferred_username="maria"), domains=set())
    with pytest.raises(auth.SignInRefused, match="no exq account"):
        auth.sign_in_external(store, identity("u-2", "x@example.com", preferred_username="admin"), domains=set())
    # an invitation lets one verified address in, bound to its subject from then on
    auth.invite(store, "Vic.New@Example.com", Role.REVIEWER, manager)
    first = auth.sign_in_external(store, identity("u-3", "vic.new@example.com"), domains=set())
    assert first == Actor(username="vic.new@example.com", role=Role.REVIEWER)
    # the same subject again, whatever e-mail it now shows
    assert auth.sign_in_external(store, identity("u-3", "changed@elsewhere.test"), domains=set()) == first
    # the invitation is used up: another subject claiming that address gets nothing
    with pytest.raises(auth.SignInRefused):
        auth.sign_in_external(store, identity("u-4", "vic.new@example.com"), domains=set())
    with store.read() as cur:
        assert cur.execute("SELECT oidc_issuer, oidc_subject FROM users WHERE username = ?",
                           [first.username]).fetchone() == (ISSUER, "u-3")


def test_an_unverified_email_is_never_trusted(store, manager):
    auth.invite(store, "eve@example.com", Role.MANAGER, manager)
    for verified in (False, None, "false"):
        with pytest.raises(auth.SignInRefused, match="not.*verified|verified"):
            auth.sign_in_external(store, identity("u-9", "eve@example.com", verified=verified), domains=set())


def test_an_allow_listed_domain_gets_viewers_and_a_disabled_sso_account_is_out(store):
    actor = auth.sign_in_external(store, identity("d-1", "someone@corp.example"), domains={"corp.example"})
    assert actor.role is Role.VIEWER
    with pytest.raises(auth.SignInRefused):
        auth.sign_in_external(store, identity("d-2", "someone@evil.example"), domains={"corp.example"})
    auth.set_disabled(store, actor.username, True, SYSTEM)
    with pytest.raises(auth.SignInRefused, match="disabled"):
        auth.sign_in_external(store, identity("d-1", "someone@corp.example"), domains={"corp.example"})


def test_first_manager_is_created_once_with_a_private_file(tmp_path, new_db):
    with open_store(new_db("new")) as store:
        username, password, path = auth.ensure_first_manager(store, tmp_path)
        assert username == "admin" and len(password) >= 12
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert password in path.read_text()
        assert auth.sign_in(store, "admin", password, now=NOW).role is Role.MANAGER
        assert auth.ensure_first_manager(store, tmp_path) is None


# -- the command line -------------------------------------------------------------------------------

def _cli(monkeypatch, capsys, *argv, stdin: str = "", tty: bool = False):
    fake = io.StringIO(stdin)
    fake.isatty = lambda: tty
    monkeypatch.setattr("sys.stdin", fake)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_commands(new_db, monkeypatch, capsys):
    db = str(new_db())
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
        assert auth.sign_in(store, "bob", "another-password", now=NOW).role is Role.VIEWER
    code, _, err = _cli(monkeypatch, capsys, "user", "disable", "boss", "--db", db)
    assert code == 2 and "last active manager" in err


def test_cli_prompts_for_the_password_and_never_takes_it_from_arguments(new_db, monkeypatch, capsys):
    db = str(new_db())
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


def test_cli_first_run_creates_the_first_manager_without_asking(tmp_path, new_db, monkeypatch, capsys):
    db = new_db()                   # its companion folder (first-login.txt) is tmp_path on both backends
    code, out, _ = _cli(monkeypatch, capsys, "user", "first-run", "--db", str(db))
    assert code == 0 and "username 'admin'" in out
    password = (tmp_path / "first-login.txt").read_text().split("password: ")[1].split()[0]
    assert f"password '{password}'" in out
    code, out, _ = _cli(monkeypatch, capsys, "user", "first-run", "--db", str(db))
    assert code == 0 and password not in out and "1 account(s)" in out


def test_cli_user_invite_lets_that_verified_address_in_once_with_the_role(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "exq.duckdb")
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    code, out, _ = _cli(monkeypatch, capsys, "user", "invite", "New.Reviewer@Example.com", "--role", "reviewer",
                        "--db", db)
    assert code == 0 and "invited new.reviewer@example.com as reviewer" in out
    code, _, err = _cli(monkeypatch, capsys, "user", "invite", "not-an-address", "--role", "viewer", "--db", db)
    assert code == 2 and "not an e-mail address" in err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["user", "invite", "x@example.com", "--role", "owner"])
    with open_store(db) as store:
        [invitation] = auth.invitations(store, SYSTEM)
        assert (invitation["email"], invitation["role"], invitation["invited_by"]) == \
            ("new.reviewer@example.com", "reviewer", "cli:ops")
        events = auth.account_events(store, SYSTEM)
        assert [(e["actor"], e["username"], e["action"], e["to_value"]) for e in events] == \
            [("cli:ops", "new.reviewer@example.com", "invited", "reviewer")]
        actor = auth.sign_in_external(store, identity("cli-1", "new.reviewer@example.com"), domains=set())
        assert actor == Actor(username="new.reviewer@example.com", role=Role.REVIEWER)
        with pytest.raises(auth.SignInRefused):          # used up: another subject with that address
            auth.sign_in_external(store, identity("cli-2", "new.reviewer@example.com"), domains=set())


def test_a_short_idle_limit_never_signs_out_a_person_at_work(store, monkeypatch):
    """The session is touched well within the idle limit, however short it is set (it used to be touched
    every 5 minutes only, so a limit under 5 minutes signed out people in the middle of their work)."""
    monkeypatch.setenv("EXQ_SESSION_IDLE_HOURS", "0.01")                # 36 seconds
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    sid = sessions.start(store, alice, via="password", now=NOW)
    for seconds in range(20, 200, 20):                                  # a click every 20 s for 3 minutes
        assert sessions.resume(store, sid, now=NOW + timedelta(seconds=seconds)) == alice, seconds
    assert sessions.resume(store, sid, now=NOW + timedelta(seconds=180 + 37)) is None
    assert sessions.why_ended(store, sid) == "You were signed out after 36 seconds without activity."
    monkeypatch.setenv("EXQ_SESSION_IDLE_HOURS", "0")                   # a floor of a few seconds, never zero
    assert sessions.idle_limit() == timedelta(seconds=3.6)


def test_a_resumed_session_knows_how_it_began(store):
    """A reload resumes a session from its cookie; it must know a single sign-on one (no password to change,
    and signing out leaves the identity provider's sign-in too)."""
    alice = auth.add_user(store, "alice", PASSWORD, Role.REVIEWER, SYSTEM).actor()
    assert sessions.started_via(store, sessions.start(store, alice, via="oidc", now=NOW)) == "oidc"
    assert sessions.started_via(store, sessions.start(store, alice, via="password", now=NOW)) == "password"
    assert sessions.started_via(store, "no-such-session") is None
