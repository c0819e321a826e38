from datetime import datetime

from exq_core import whatif
from exq_core.rules import load_rules, parse_rules


def test_what_if_is_a_pure_comparison_and_round_trips(demo_store):
    rules = load_rules()
    proposed = rules.model_copy(deep=True)
    proposed.rules[0].risk_score_at_least = 0.99
    with demo_store.read() as cur:
        before = cur.execute("SELECT count(*), sum(version) FROM cases").fetchone()
        same = whatif.compare_routing(cur, rules, rules)
        diff = whatif.compare_routing(cur, rules, proposed)
        after = cur.execute("SELECT count(*), sum(version) FROM cases").fetchone()
    assert before == after, "a what-if writes nothing"
    assert all(row["change"] == 0 for row in same["buckets"]) and same["moves"] == []
    fraud = next(r for r in diff["buckets"] if r["bucket"] == "fraud_risk")
    assert fraud["proposed"] <= fraud["current"]
    assert sum(r["change"] for r in diff["buckets"]) == 0, "every order is somewhere"
    assert parse_rules(whatif.to_toml(proposed)).rules[0].risk_score_at_least == 0.99


def test_queue_top_follows_the_proposed_weights(demo_store):
    rules = load_rules()
    proposed = rules.model_copy(deep=True)
    for b in proposed.buckets:
        proposed.buckets[b].weight = 0
    proposed.buckets["return_damage"].weight = 500
    with demo_store.read() as cur:
        top = whatif.queue_top(cur, proposed, datetime(2026, 11, 27, 12), limit=3)
        has_returns = cur.execute("SELECT count(*) FROM cases WHERE bucket = 'return_damage' "
                                  "AND state <> 'resolved'").fetchone()[0]
    if has_returns:
        assert top[0]["bucket"] == "return_damage"
