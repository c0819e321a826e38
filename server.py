"""exq's server: the dashboard (app.py) plus what must not wait for a page to be opened.

    streamlit run server.py        (what `make run` does)

* The inbox is watched from server start: files dropped into data/inbox/ are imported within a minute
  whether or not anyone has opened the dashboard (SPEC §9).
* Sign-in cookies are set by the server, HttpOnly: the page hands a short-lived signed token to
  /api/exq/session, which answers with the cookie; /api/exq/sign-out clears it.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import asynccontextmanager

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger("exq.server")


def _same_origin(request: Request) -> bool:
    """A cookie is only set for a request the app's own page made (no cross-site form posting one)."""
    origin = request.headers.get("origin")
    if not origin:
        return request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def session_cookie(request: Request) -> Response:
    from exq_core.auth import sessions
    from ui.common import get_store
    if request.method != "POST" or not _same_origin(request):
        return Response(status_code=403)
    body = request.scope.get("exq_body", b"")
    store = get_store()
    session_id = sessions.session_from_handoff(store, body.decode("utf-8", "replace").strip())
    if session_id is None:
        return Response("the sign-in token is not valid (or older than two minutes)", status_code=400)
    response = Response(status_code=204)
    response.set_cookie(sessions.COOKIE, sessions.cookie_value(store, session_id),
                        max_age=int(sessions.MAX_AGE.total_seconds()), path="/", httponly=True, samesite="lax",
                        secure=_secure(request))
    return response


def clear_cookie(request: Request) -> Response:
    from exq_core.auth import sessions
    if request.method != "POST" or not _same_origin(request):
        return Response(status_code=403)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def _with_body(handler):
    async def endpoint(request: Request) -> Response:
        request.scope["exq_body"] = (await request.body())[:2000]
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(handler, request)
    return endpoint


def warm_up() -> None:
    """What the first visit after a start would otherwise wait for: the pages' libraries (Altair takes 0.4 s
    to import here; Streamlit's emoji table, read for the page icon, compiles a regular expression of every
    emoji) and the database pages the Overview reads. Best effort, off the server's loop."""
    try:
        import altair  # noqa: F401
        import streamlit.emojis, streamlit.material_icon_names  # noqa: F401,E401
        import ui.bulk, ui.charts, ui.review  # noqa: F401,E401
        from exq_core import queries
        from exq_core.store import utcnow
        from ui.common import get_store
        with get_store().read() as cur:
            queries.overview(cur, utcnow())
    except Exception as err:         # a held or missing database: the first page says so
        log.info("warm-up skipped: %s", err)


@asynccontextmanager
async def lifespan(app):
    os.umask(0o077)
    threading.Thread(target=warm_up, name="exq-warm-up", daemon=True).start()
    try:
        from ui.inbox import get_inbox_watcher
        get_inbox_watcher()          # its thread opens the store, and waits if another process holds it
    except Exception as err:         # the dashboard still starts; the Import page says what is wrong
        log.warning("the inbox did not start: %s", err)
    yield {}
    from exq_core.ingest.inbox import stop_watchers
    stop_watchers()


app = st.App("app.py", lifespan=lifespan, routes=[
    Route("/api/exq/session", _with_body(session_cookie), methods=["POST"]),
    Route("/api/exq/sign-out", _with_body(clear_cookie), methods=["POST"]),
])
