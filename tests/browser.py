"""The real app for browser tests: `streamlit run server.py` on a private database, and how a Playwright
page waits for it and signs in."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from exq_core.store import is_postgres_url
from tests.support import ROOT, TEST_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningApp:
    """`streamlit run server.py` on `db` (a file path or a URL), its output in `folder`/streamlit.log."""

    def __init__(self, db: Path | str, env: dict | None = None, folder: Path | None = None):
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="exq-app-")) if is_postgres_url(db) else Path(db).parent
        self.log_path = folder / "streamlit.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "server.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env={**os.environ, "EXQ_DB": str(db), **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("streamlit did not become healthy")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait as Streamlit's own e2e suite does: connected, script finished, no skeletons left."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                           timeout=timeout)


def sign_in(page, url: str, username: str = "maria", password: str = TEST_PASSWORD,
            timeout: float = 30_000) -> None:
    """Open `url` in a fresh browser session, sign in, and wait until the requested page has rendered."""
    page.goto(url)
    wait_for_app(page, timeout)
    form = page.locator(".st-key-sign_in_submit")
    form.wait_for(timeout=timeout)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    form.wait_for(state="detached", timeout=timeout)
    wait_for_app(page, timeout)
