"""AI assist on the demo database: the offline assistant on every bucket, and `python -m exq_core suggest`."""
from __future__ import annotations

import pytest

from exq_core import assist, cli, queries
from exq_core.assist import suggestion_for
from exq_core.models import BUCKETS, actions_for
from exq_core.rules import load_rules
from exq_core.store import open_store
from tests.ai_server import FAKE_MODEL, FakeOpenAI, answer, error, sequence, slow

RULES = load_rules()


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXQ_AI_MODEL", "EXQ_AI_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


def cases_per_bucket(store, per_bucket: int = 5) -> dict[str, list[int]]:
    """A few cases of every bucket, open ones first (a healthy demo has few open fraud cases)."""
    with store.read() as cur:
        return {b.value: [r[0] for r in cur.execute(
            "SELECT case_id FROM cases WHERE bucket = ? ORDER BY state = 'resolved', case_id LIMIT ?",
            [b.value, per_bucket]).fetchall()] for b in BUCKETS}


def test_offline_assistant_on_every_bucket(demo_store, now):
    cases = cases_per_bucket(demo_store)
    assert all(cases.values()), "the demo has cases in every bucket"
    for bucket, ids in cases.items():
        for case_id in ids:
            s = suggestion_for(demo_store, RULES, case_id, now)
            assert (s.source, s.model, s.error) == ("offline", "offline", None)
            with demo_store.read() as cur:
                case = queries.case_detail(cur, RULES, case_id, now)
            email = case["order"]["customer_email"]
            assert s.action in actions_for(bucket, case["flags"])
            assert 0 < len(s.summary) <= 400 and s.missing_evidence
            assert not email or email not in s.summary
            assert suggestion_for(demo_store, RULES, case_id, now) == s      # stored, not made again


def test_unknown_case_has_no_suggestion(demo_store, now):
    assert suggestion_for(demo_store, RULES, 10**9, now) is None


def run_cli(*argv) -> int:
    return cli.main(["suggest", *argv])


def test_suggest_precomputes_the_top_of_the_queue_in_parallel(demo_db, now, monkeypatch, capsys):
    with FakeOpenAI(slow(0.3)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        assert run_cli("--db", str(demo_db), "--limit", "9", "--workers", "3") == 0
        first = capsys.readouterr()
        assert len(server.requests) == 9
        assert 2 <= server.max_in_flight <= 3
        assert run_cli("--db", str(demo_db), "--limit", "9", "--workers", "3") == 0
        second = capsys.readouterr()
        assert len(server.requests) == 9, "stored suggestions are not asked for again"
    assert "9 new (9 model)" in first.out
    assert "9 already had a suggestion; 0 new" in second.out
    assert "@example.com" not in server.bodies_text()           # the demo's e-mail addresses stay home
    with open_store(demo_db) as store, store.read() as cur:
        rows = cur.execute("SELECT s.case_id, s.source, c.state FROM suggestions s JOIN cases c USING (case_id) "
                           "WHERE s.model = ? AND s.prompt_version = ?", [FAKE_MODEL, assist.PROMPT_VERSION]).fetchall()
    assert len({case_id for case_id, _, _ in rows}) == len(rows) == 9
    assert {(source, state != "resolved") for _, source, state in rows} == {("model", True)}


def test_suggest_reports_fallbacks_and_fails_only_when_every_request_failed(demo_db, monkeypatch, capsys):
    with FakeOpenAI(sequence(answer(), error(401))) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        assert run_cli("--db", str(demo_db), "--limit", "3", "--workers", "1", "--quiet") == 0
        out = capsys.readouterr()
        assert len(server.requests) == 3
        assert "3 new (2 fallback, 1 model)" in out.out
        assert "fell back to offline ×2: HTTP 401" in out.err
        # the fallbacks are asked again (the model answered once: a model answer is kept); all fail now
        assert run_cli("--db", str(demo_db), "--limit", "3", "--workers", "1", "--quiet") == 1
        out = capsys.readouterr()
    assert len(server.requests) == 5
    assert "1 already had a suggestion; 2 new (2 fallback)" in out.out
    assert "every model request failed" in out.err


def test_suggest_sends_the_cases_catalog(demo_db, monkeypatch, capsys):
    with FakeOpenAI() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        assert run_cli("--db", str(demo_db), "--limit", "4", "--bucket", "return_damage", "--quiet") == 0
    bodies = [r["body"] for r in server.requests]
    assert bodies and all(b["response_format"]["json_schema"]["schema"]["properties"]["suggested_action"]["enum"]
                          [:len(actions_for("return_damage")) - 2] == list(actions_for("return_damage"))[:-2]
                          for b in bodies)


def test_suggest_without_a_key_uses_the_offline_assistant(demo_db, capsys):
    assert run_cli("--db", str(demo_db), "--limit", "5", "--quiet") == 0
    out = capsys.readouterr().out
    assert "5 new (5 offline) from the offline assistant (no OPENAI_API_KEY)" in out


def test_precompute_reports_progress(demo_store, now):
    seen = []
    report = assist.precompute(demo_store, RULES, limit=3, now=now, progress=lambda done, total: seen.append(
        (done, total)))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert (report.cases, report.made, report.by_source) == (3, 3, {"offline": 3})
