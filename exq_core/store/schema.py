"""The schema and its migrations, for both engines, versioned the same way.

Each migration takes a database from version i to i + 1, in one transaction. `common` statements run on
both engines (written in the SQL they share); `duckdb` and `postgresql` hold what only one of them needs
(PostgreSQL's indexes, its trigram search, its constraints). Never edit a released migration; append.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .tallies import RECOUNT as RECOUNT_TALLIES, RECOUNT_RESOLVED


# What an order's text search looks in: its ids, e-mail, name and message. The Queue searches cases, so only
# an order that has a case is searched: an import marks it. On PostgreSQL the mark is a lower-cased copy of
# that text in orders.search_text (NULL for a routine order), trigram-indexed; DuckDB scans the columns
# themselves, as fast as a stored copy, and marks the order `searchable` (see Dialect.order_text_contains).
SEARCH_COLUMNS = ("order_id", "customer_id", "customer_email", "ship_name", "customer_message")
SEARCH_TEXT = f"lower(concat_ws(chr(31), {', '.join(SEARCH_COLUMNS)}))"


@dataclass(frozen=True)
class Migration:
    common: list[str]
    duckdb: list[str] = field(default_factory=list)
    postgresql: list[str] = field(default_factory=list)

    def statements(self, dialect_name: str) -> list[str]:
        return self.common + (self.postgresql if dialect_name == "postgresql" else self.duckdb)


MIGRATIONS: list[Migration] = [
    # 0 -> 1: the core tables.
    Migration(common=[
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE IF NOT EXISTS case_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS event_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS decision_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS suggestion_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS import_seq START 1",
        """CREATE TABLE orders (
            source VARCHAR NOT NULL, order_id VARCHAR NOT NULL,
            placed_at TIMESTAMP NOT NULL, order_total DECIMAL(18,3) NOT NULL, currency VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            customer_id VARCHAR, customer_email VARCHAR, customer_tier VARCHAR, customer_ltv DECIMAL(18,3),
            payment_status VARCHAR, amount_paid DECIMAL(18,3), amount_refunded DECIMAL(18,3),
            risk_score DOUBLE PRECISION, risk_level VARCHAR, items_ordered INTEGER, items_available INTEGER,
            ship_name VARCHAR, ship_address1 VARCHAR, ship_city VARCHAR, ship_postal_code VARCHAR,
            ship_country VARCHAR, address_verified BOOLEAN, fulfillment_status VARCHAR,
            return_requested BOOLEAN, damage_reported BOOLEAN, return_reason VARCHAR, customer_message VARCHAR,
            import_id BIGINT, imported_at TIMESTAMP)""",
        """CREATE TABLE cases (
            case_id BIGINT PRIMARY KEY DEFAULT nextval('case_seq'),
            source VARCHAR NOT NULL, order_id VARCHAR NOT NULL,
            bucket VARCHAR NOT NULL, flags VARCHAR[] NOT NULL, rules_fired VARCHAR[] NOT NULL,
            rules_version VARCHAR NOT NULL, state VARCHAR NOT NULL, version INTEGER NOT NULL,
            opened_at TIMESTAMP NOT NULL, sla_due_at TIMESTAMP NOT NULL,
            condition_cleared BOOLEAN NOT NULL DEFAULT false,
            assignee VARCHAR, claimed_at TIMESTAMP, follow_up_at TIMESTAMP,
            resolution_reason VARCHAR, resolved_at TIMESTAMP, updated_at TIMESTAMP NOT NULL,
            order_total DECIMAL(18,3) NOT NULL)""",
        """CREATE TABLE events (
            event_id BIGINT DEFAULT nextval('event_seq'), case_id BIGINT NOT NULL, "at" TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL, kind VARCHAR NOT NULL, from_state VARCHAR, to_state VARCHAR,
            detail VARCHAR)""",
        """CREATE TABLE decisions (
            decision_id BIGINT DEFAULT nextval('decision_seq'), case_id BIGINT NOT NULL,
            case_version INTEGER NOT NULL, reviewer VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL,
            suggestion_id BIGINT, suggested_action VARCHAR, suggestion_model VARCHAR, suggestion_source VARCHAR,
            action VARCHAR, verdict VARCHAR NOT NULL, override_note VARCHAR, resolution_reason VARCHAR,
            evidence VARCHAR, note VARCHAR, from_state VARCHAR NOT NULL, to_state VARCHAR NOT NULL,
            bucket VARCHAR)""",
        """CREATE TABLE suggestions (
            suggestion_id BIGINT DEFAULT nextval('suggestion_seq'), case_id BIGINT NOT NULL,
            case_version INTEGER NOT NULL, model VARCHAR NOT NULL, prompt_version VARCHAR NOT NULL,
            source VARCHAR NOT NULL, summary VARCHAR NOT NULL, action VARCHAR NOT NULL, rationale VARCHAR,
            confidence DOUBLE PRECISION, missing_evidence VARCHAR[], error VARCHAR, created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE imports (
            import_id BIGINT PRIMARY KEY, file_name VARCHAR NOT NULL, content_hash VARCHAR,
            source VARCHAR NOT NULL, format VARCHAR NOT NULL, mapping VARCHAR, status VARCHAR NOT NULL,
            rows_read BIGINT, orders_new BIGINT, orders_updated BIGINT, orders_stale BIGINT,
            routine BIGINT, cases_new BIGINT, cases_new_by_bucket JSON, cases_updated BIGINT,
            rejected BIGINT, actor VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP, message VARCHAR)""",
        """CREATE TABLE rejects (
            import_id BIGINT NOT NULL, file_name VARCHAR NOT NULL, line BIGINT, column_name VARCHAR,
            value VARCHAR, reason VARCHAR NOT NULL)""",
        """CREATE TABLE saved_views (
            owner VARCHAR NOT NULL, name VARCHAR NOT NULL, filters JSON NOT NULL,
            created_at TIMESTAMP NOT NULL, PRIMARY KEY (owner, name))""",
        """CREATE TABLE mappings (
            name VARCHAR PRIMARY KEY, spec JSON NOT NULL, updated_by VARCHAR, updated_at TIMESTAMP NOT NULL)""",
    ]),
    # 1 -> 2: record which rules file each import used; local accounts.
    Migration(common=[
        "ALTER TABLE imports ADD COLUMN IF NOT EXISTS rules_version VARCHAR",
        """CREATE TABLE IF NOT EXISTS users (
            username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL,
            disabled BOOLEAN NOT NULL DEFAULT false, created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sign_in_attempts (
            username VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, ok BOOLEAN NOT NULL)""",
    ]),
    # 2 -> 3: suggestions filed by their facts; a case's fixed share of its priority; order text for search;
    # sessions that end when an account changes; single sign-on bound to the provider's subject; the account
    # audit; sign-in throttling per account and address; imports that keep whole rejected rows.
    Migration(common=[
        "ALTER TABLE suggestions ADD COLUMN IF NOT EXISTS facts_key VARCHAR",
        "ALTER TABLE suggestions ADD COLUMN IF NOT EXISTS server VARCHAR",
        "UPDATE suggestions SET source = 'fallback' WHERE source = 'offline' AND error IS NOT NULL",
        "UPDATE suggestions SET source = 'model' WHERE source LIKE 'openai:%'",
        "ALTER TABLE cases ADD COLUMN IF NOT EXISTS static_priority DOUBLE PRECISION",
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS search_text VARCHAR",
        f"UPDATE orders SET search_text = {SEARCH_TEXT}",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS session_epoch INTEGER DEFAULT 0",
        "UPDATE users SET session_epoch = 0 WHERE session_epoch IS NULL",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS oidc_issuer VARCHAR",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS oidc_subject VARCHAR",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS email VARCHAR",
        "CREATE SEQUENCE IF NOT EXISTS account_event_seq START 1",
        """CREATE TABLE IF NOT EXISTS account_events (
            event_id BIGINT DEFAULT nextval('account_event_seq'), "at" TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL, username VARCHAR NOT NULL, action VARCHAR NOT NULL,
            from_value VARCHAR, to_value VARCHAR, detail VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS sign_in_throttle (
            key VARCHAR PRIMARY KEY, failures INTEGER NOT NULL, window_start TIMESTAMP NOT NULL,
            last_failure TIMESTAMP NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sso_invitations (
            email VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, invited_by VARCHAR NOT NULL,
            invited_at TIMESTAMP NOT NULL, used_by VARCHAR, used_at TIMESTAMP)""",
        "DROP TABLE IF EXISTS sign_in_attempts",
        """CREATE TABLE IF NOT EXISTS sessions (
            session_id VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, epoch INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL, ended_at TIMESTAMP, ended_reason VARCHAR,
            address VARCHAR, via VARCHAR NOT NULL)""",
        "ALTER TABLE imports ADD COLUMN IF NOT EXISTS conflicts BIGINT",
        "ALTER TABLE imports ADD COLUMN IF NOT EXISTS header JSON",
        "ALTER TABLE rejects ADD COLUMN IF NOT EXISTS row_values JSON",
    ], postgresql=[
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE UNIQUE INDEX IF NOT EXISTS orders_key ON orders (source, order_id)",
        "CREATE INDEX IF NOT EXISTS orders_search ON orders USING gin (search_text gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS cases_order ON cases (source, order_id)",
        "CREATE INDEX IF NOT EXISTS cases_open_priority ON cases (static_priority DESC, opened_at, case_id) "
        "WHERE state <> 'resolved'",
        "CREATE INDEX IF NOT EXISTS cases_open_due ON cases (sla_due_at) WHERE state <> 'resolved'",
        "CREATE INDEX IF NOT EXISTS cases_open_bucket_state ON cases (bucket, state) WHERE state <> 'resolved'",
        "CREATE INDEX IF NOT EXISTS cases_resolved_at ON cases (resolved_at) WHERE resolved_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS cases_opened_at ON cases (opened_at)",
        "CREATE INDEX IF NOT EXISTS events_case ON events (case_id)",
        "CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events (event_id)",
        "CREATE INDEX IF NOT EXISTS decisions_case ON decisions (case_id)",
        "CREATE INDEX IF NOT EXISTS decisions_time ON decisions (decided_at)",
        "CREATE INDEX IF NOT EXISTS suggestions_key ON suggestions (case_id, facts_key, model, prompt_version)",
        "CREATE INDEX IF NOT EXISTS imports_hash ON imports (content_hash, source)",
        "CREATE INDEX IF NOT EXISTS rejects_import ON rejects (import_id, line)",
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username) WHERE ended_at IS NULL",
        "CREATE UNIQUE INDEX IF NOT EXISTS users_oidc ON users (oidc_issuer, oidc_subject) "
        "WHERE oidc_subject IS NOT NULL",
    ]),
    # 3 -> 4 (PostgreSQL): the Queue's filters and counts over open cases read one covering index instead of
    # the table (a bucket filter with 900k open: 112 → 40 ms); it replaces the (bucket, state) index.
    Migration(common=[], postgresql=[
        "CREATE INDEX IF NOT EXISTS cases_open_filter ON cases (bucket, state, sla_due_at, opened_at) "
        "INCLUDE (follow_up_at, assignee, claimed_at) WHERE state <> 'resolved'",
        "DROP INDEX IF EXISTS cases_open_bucket_state",
    ]),
    # 4 -> 5 (DuckDB): a search reads the order's own columns, so the file keeps no lower-cased copy of them
    # (writing it was a tenth of a 1M-order import with long messages); a flag marks the orders that have a
    # case, the only ones a search looks at.
    Migration(common=[], duckdb=[
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS searchable BOOLEAN",
        "UPDATE orders SET searchable = EXISTS (SELECT 1 FROM cases c WHERE c.source = orders.source "
        "AND c.order_id = orders.order_id)",
        "ALTER TABLE orders DROP COLUMN IF EXISTS search_text",
    ]),
    # 5 -> 6: the Overview's counts over all of history kept as they change (store/tallies.py), counted once
    # here from what the database holds.
    Migration(common=[
        "CREATE TABLE IF NOT EXISTS tallies (name VARCHAR PRIMARY KEY, n BIGINT NOT NULL)",
        *RECOUNT_TALLIES,
    ], postgresql=RECOUNT_RESOLVED),
]

SCHEMA_VERSION = len(MIGRATIONS)
