"""Accounts without I/O: usernames, the password policy, bcrypt hashes, and each role against the workflow."""
from datetime import datetime, timedelta

import bcrypt
import pytest

from exq_core import auth, workflow
from exq_core.errors import NotPermitted
from exq_core.models import Actor, Bucket, Case, DecisionRequest, Role, State

NOW = datetime(2026, 11, 27, 12, 0, 0)


@pytest.mark.parametrize("raw, expected", [("maria", "maria"), ("  Maria ", "maria"),
                                           ("Vic@Example.com", "vic@example.com"), ("a.b-c_d+e", "a.b-c_d+e")])
def test_usernames_are_trimmed_and_case_insensitive(raw, expected):
    assert auth.normalize_username(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "two words", "-leading", "x" * 101, "<script>", "o'neil", None])
def test_bad_usernames_are_refused(raw):
    with pytest.raises(auth.AccountInvalid):
        auth.normalize_username(raw)


@pytest.mark.parametrize("password", ["short", "       ", "ä" * 37])
def test_password_policy_refuses_short_blank_and_too_long(password):
    with pytest.raises(auth.AccountInvalid) as err:
        auth.check_password_policy(password)
    assert password.strip() == "" or password not in str(err.value)


def test_hash_is_salted_bcrypt_and_verifies_only_the_right_password():
    first, second = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert first.startswith("$2b$") and second.startswith("$2b$")
    assert first != second                          # a fresh salt each time
    assert "correct horse" not in first
    assert auth.verify_password("correct horse", first)
    assert not auth.verify_password("correct hors", first)
    assert not auth.verify_password("Correct horse", first)


def test_shipped_cost_is_slow_bcrypt():
    assert auth.passwords.DEFAULT_BCRYPT_ROUNDS >= 12
    assert auth.hash_password("correct horse", rounds=auth.passwords.DEFAULT_BCRYPT_ROUNDS).startswith("$2b$12$")


@pytest.mark.parametrize("password, stored", [
    ("", "$2b$04$" + "a" * 53), ("anything", ""), ("anything", "not-a-hash"), ("!", auth.NO_PASSWORD),
    ("x" * 100, bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4)).decode()),   # bcrypt would truncate; we refuse
], ids=["empty password", "empty hash", "not a hash", "no password set", "over 72 bytes"])
def test_verify_never_raises_and_refuses_bad_input(password, stored):
    assert auth.verify_password(password, stored) is False


def test_throttled_message_says_how_long_without_the_password():
    err = auth.SignInThrottled(timedelta(seconds=29.2), per_address=False)
    assert "30 s" in str(err) and "for this account" in str(err)
    assert "from this address" in str(auth.SignInThrottled(timedelta(seconds=5), per_address=True))


# -- each role against each workflow use case (pure: no database) -------------------------------------

def _case(state: State, **extra) -> Case:
    return Case(case_id=1, source="test", order_id="A-1", bucket=Bucket.PAYMENT_MISMATCH, rules_version="v",
                state=state, version=3, opened_at=NOW - timedelta(hours=1), sla_due_at=NOW + timedelta(hours=7),
                updated_at=NOW - timedelta(hours=1), **extra)


def _do(use_case: str, actor: Actor):
    if use_case == "claim":
        return workflow.claim(_case(State.NEW), actor, NOW)
    if use_case == "decide":
        request = DecisionRequest(case_id=1, case_version=3, to_state=State.ESCALATED, action="escalate_to_manager")
        return workflow.transition(_case(State.IN_REVIEW), request, actor, NOW)
    if use_case == "reopen":
        request = DecisionRequest(case_id=1, case_version=3, to_state=State.IN_REVIEW, note="customer wrote again")
        return workflow.transition(_case(State.RESOLVED, resolution_reason="payment_captured",
                                         resolved_at=NOW), request, actor, NOW)
    raise AssertionError(use_case)


ALLOWED = {Role.VIEWER: set(), Role.REVIEWER: {"claim", "decide"}, Role.MANAGER: {"claim", "decide", "reopen"}}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("use_case", ["claim", "decide", "reopen"])
def test_each_role_against_each_workflow_use_case(role, use_case):
    actor = Actor(username="someone", role=role)
    if use_case in ALLOWED[role]:
        result = _do(use_case, actor)
        assert result.event.actor == "someone"
        if result.decision is not None:
            assert result.decision.reviewer == "someone"   # the reviewer is the session's person
    else:
        with pytest.raises(NotPermitted, match=f"someone \\({role}\\) may not"):
            _do(use_case, actor)


@pytest.mark.parametrize("role, allowed", [(Role.VIEWER, False), (Role.REVIEWER, False), (Role.MANAGER, True)])
@pytest.mark.parametrize("permission", ["bulk", "import", "rules", "users", "reopen"])
def test_manager_only_permissions(role, allowed, permission):
    actor = Actor(username="someone", role=role)
    if allowed:
        workflow.require(actor, permission)
    else:
        with pytest.raises(NotPermitted):
            workflow.require(actor, permission)
