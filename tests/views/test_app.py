"""app.py itself: a database held by another process reads as a sentence, not a traceback (SPEC §9)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import ROOT


@pytest.mark.duckdb_only
def test_a_database_held_by_another_process_is_said_in_a_sentence(held_db, monkeypatch):
    import streamlit as st
    path, pid = held_db
    monkeypatch.setenv("EXQ_DB", str(path))
    monkeypatch.setenv("EXQ_INBOX", "off")
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert str(path) in error and f"process {pid}" in error and "Traceback" not in error
    assert any("tries again when you reload" in c.value for c in at.caption)
    assert not at.text_input                                    # no sign-in form on a database it cannot open
    st.cache_resource.clear()
