"""Stored AI suggestions, filed by the facts they are about (not by the case version a claim bumps)."""
from __future__ import annotations

SUGGESTION_COLUMNS = ("suggestion_id", "case_id", "case_version", "facts_key", "source", "model", "prompt_version",
                      "server", "summary", "action", "rationale", "confidence", "missing_evidence", "error",
                      "created_at")


def stored(cur, case_id: int, facts_key: str, model: str, prompt_version: str, server: str) -> dict | None:
    """The newest suggestion for these facts from this model, prompt version and server."""
    row = cur.execute(f"""SELECT {', '.join(SUGGESTION_COLUMNS)} FROM suggestions
                          WHERE case_id = ? AND facts_key = ? AND model = ? AND prompt_version = ?
                            AND server = ?
                          ORDER BY suggestion_id DESC LIMIT 1""",
                      [int(case_id), facts_key, model, prompt_version, server]).fetchone()
    return dict(zip(SUGGESTION_COLUMNS, row)) if row else None


def by_id(cur, suggestion_id: int) -> dict | None:
    row = cur.execute(f"SELECT {', '.join(SUGGESTION_COLUMNS)} FROM suggestions WHERE suggestion_id = ?",
                      [int(suggestion_id)]).fetchone()
    return dict(zip(SUGGESTION_COLUMNS, row)) if row else None


def insert(uow, values: dict) -> int:
    """Store one suggestion; returns its id."""
    cols = [c for c in SUGGESTION_COLUMNS if c != "suggestion_id"]
    return uow.execute(f"INSERT INTO suggestions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                       "RETURNING suggestion_id", [values.get(c) for c in cols]).fetchone()[0]
