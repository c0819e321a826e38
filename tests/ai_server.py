"""A local OpenAI-compatible chat.completions server for tests: nothing reaches the internet.

    with FakeOpenAI(reply=answer("contact_customer")) as server:
        monkeypatch.setenv(...)  # or AIConfig(**server.config())
        ...
        assert len(server.requests) == 1

`reply` is a function of the request body (a dict) returning a `Reply`; the default answers with the first
action the request allows. Every request is recorded (path, headers, body) before any delay, so a request
that the client abandons on its timeout still counts.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from pydantic import SecretStr

FAKE_MODEL = "fake-model"
FAKE_KEY = "test-key-not-secret"


@dataclass
class Reply:
    status: int = 200
    body: dict | bytes | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str | None, *, finish_reason: str = "stop", refusal: str | None = None,
               model: str = FAKE_MODEL) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


def answer_json(action: str, *, summary: str = "Model summary of the case.", rationale: str = "Model rationale.",
                confidence: float = 0.8, missing_evidence: list[str] | None = None, **extra) -> str:
    return json.dumps({"summary": summary, "suggested_action": action, "rationale": rationale,
                       "confidence": confidence,
                       "missing_evidence": ["PSP transaction id"] if missing_evidence is None else missing_evidence,
                       **extra})


def answer(action: str | None = None, **kwargs) -> Callable[[dict], Reply]:
    """Reply with a valid answer (the first allowed action unless one is given)."""
    def reply(body: dict) -> Reply:
        return Reply(body=completion(answer_json(action or allowed_actions(body)[0], **kwargs)))
    return reply


def content(text: str | None, **kwargs) -> Callable[[dict], Reply]:
    """Reply with this raw message content (malformed JSON, schema violations, …)."""
    return lambda body: Reply(body=completion(text, **kwargs))


def error(status: int, message: str = "error", headers: dict | None = None) -> Callable[[dict], Reply]:
    kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    return lambda body: Reply(status=status, headers=headers or {},
                              body={"error": {"message": message, "type": kind, "param": None, "code": None}})


def slow(seconds: float, then: Callable[[dict], Reply] | None = None) -> Callable[[dict], Reply]:
    then = then or answer()

    def reply(body: dict) -> Reply:
        r = then(body)
        r.delay = seconds
        return r
    return reply


def sequence(*replies: Callable[[dict], Reply]) -> Callable[[dict], Reply]:
    """The first request gets the first reply, and so on; the last one repeats."""
    lock, calls = threading.Lock(), [0]

    def reply(body: dict) -> Reply:
        with lock:
            i = min(calls[0], len(replies) - 1)
            calls[0] += 1
        return replies[i](body)
    return reply


def allowed_actions(body: dict) -> list[str]:
    """The action enum the request's json_schema response format carries."""
    schema = body["response_format"]["json_schema"]["schema"]
    return schema["properties"]["suggested_action"]["enum"]


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, reply: Callable[[dict], Reply] | None = None):
        self.reply = reply or answer()
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def config(self, **overrides) -> dict:
        """Arguments for exq_core.assist.AIConfig pointing at this server."""
        return {"api_key": SecretStr(FAKE_KEY), "base_url": self.base_url, "model": FAKE_MODEL, "timeout_s": 5,
                **overrides}

    def env(self, **overrides) -> dict:
        """The environment variables exq reads, pointing at this server."""
        return {"OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": self.base_url, "EXQ_AI_MODEL": FAKE_MODEL,
                "EXQ_AI_TIMEOUT_S": "5", **overrides}

    def bodies_text(self) -> str:
        return "\n".join(r["raw"] for r in self.requests)

    def __enter__(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._send(404, {"error": {"message": "not found", "type": "not_found"}}, {})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode("utf-8")
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                          "raw": raw})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if not self.path.endswith("/chat/completions"):
                        self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}, {})
                        return
                    reply = fake.reply(body)
                    if reply.delay and fake._stop.wait(reply.delay):
                        return
                    self._send(reply.status, reply.body, reply.headers)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _send(self, status: int, payload, headers: dict):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    headers = {"content-type": "application/json", **{k.lower(): v for k, v in headers.items()}}
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, str(v))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout); nothing to tell it
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a client hanging up is not a test failure
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
