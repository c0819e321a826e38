"""AI assist on the demo database: the offline assistant on every bucket, and `python -m exq_core suggest`."""
from __future__ import annotations

import pytest

from exq_core import assist, cli, queries
from exq_core.assist import suggestion_for
from exq_core.models import BUCKETS, actions_for
from exq_core.queries import QueueFilter
from exq_core.rules import load_rules
from exq_core.store import open_store
from tests.ai_server import FAKE_MODEL, FakeOpenAI, answer, error, sequence, slow

RULES = load_rules()


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXQ_AI_MODEL", "EXQ_AI_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


def open_cases_per_bucket(store, now, per_bucket: int = 5) -> dict[str, list[int]]:
    out = {}
    with store.read() as cur:
        for bucket in BUCKETS:
            page, _ = queries.queue_page(cur, RULES, now, QueueFilter(buckets=[bucket]), limit=per_bucket)
            out[bucket.value] = [int(i) for i in page["case_id"]]
    return out


def test_offline_assistant_on_every_bucket(demo_store, now):
    cases = open_cases_per_bucket(demo_store, now)
    assert all(cases.values()), "the demo has open cases in every bucket"
    for bucket, ids in cases.items():
        for case_id in ids:
            s = suggestion_for(demo_store, RULES, case_id, now)
            assert (s.source, s.model, s.error) == ("offline", "offline", None)
            assert s.action in actions_for(bucket)
            assert 0 < len(s.summary) <= 400 and s.missing_evidence
            with demo_store.read() as cur:
                email = queries.case_detail(cur, RULES, case_id, now)["order"]["customer_email"]
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
    assert f"9 new (9 openai:{FAKE_MODEL})" in first.out
    assert "9 already had a suggestion; 0 new" in second.out
    assert "@example.com" not in server.bodies_text()           # the demo's e-mail addresses stay home
    with open_store(demo_db) as store, store.read() as cur:
        rows = cur.execute("SELECT s.case_id, s.source, c.state FROM suggestions s JOIN cases c USING (case_id) "
                           "WHERE s.model = ? AND s.prompt_version = ? AND s.case_version = c.version",
                           [FAKE_MODEL, assist.PROMPT_VERSION]).fetchall()
    assert len({case_id for case_id, _, _ in rows}) == len(rows) == 9
    assert {(source, state != "resolved") for _, source, state in rows} == {(f"openai:{FAKE_MODEL}", True)}


def test_suggest_one_bucket_and_report_fallbacks(demo_db, monkeypatch, capsys):
    with FakeOpenAI(sequence(answer(), answer(), error(401))) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        assert run_cli("--db", str(demo_db), "--limit", "4", "--bucket", "return_damage", "--workers", "1",
                       "--quiet") == 0
    out = capsys.readouterr()
    bodies = [r["body"] for r in server.requests]
    assert len(bodies) == 4
    assert all(b["response_format"]["json_schema"]["schema"]["properties"]["suggested_action"]["enum"]
               == list(actions_for("return_damage")) for b in bodies)
    assert f"4 new (2 offline, 2 openai:{FAKE_MODEL})" in out.out
    assert "fell back to offline ×2: HTTP 401" in out.err


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
