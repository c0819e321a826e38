"""A private PostgreSQL cluster for the tests: a temporary data directory, a free port on 127.0.0.1, trust
authentication for local connections only, stopped with `pg_ctl stop` by the test session that started it.

    python -m tests.pg_cluster available      # exit 0 when PostgreSQL's server binaries are installed

PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user (created by Debian's
package) and its commands run through `runuser`. `EXQ_TEST_PG_URL=postgresql://user@host:port/db` uses an
existing server instead (the user must be allowed to create databases).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def server_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian: /usr/lib/postgresql/<v>/bin)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                            reverse=True):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Tests trade durability for speed; the benchmarks run the server durable, as a team would (PostgreSQL's
# defaults: every commit flushed, full-page writes).
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PrivateCluster:
    def __init__(self, bin_dir: Path | None = None, *, durable: bool = False):
        self.bin = bin_dir or server_bin()
        self.settings = {"max_connections": "300", "shared_buffers": "256MB",
                         **({} if durable else TEST_SETTINGS)}
        if self.bin is None:
            raise RuntimeError("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
        self.as_root = os.geteuid() == 0
        self.owner = "postgres" if self.as_root else None
        self.base = Path(tempfile.mkdtemp(prefix="exq-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd=self.base)

    def start(self) -> "PrivateCluster":
        if self.as_root:
            shutil.chown(self.base, self.owner, self.owner)
            os.chmod(self.base, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = " ".join(f"-c {name}={value}" for name, value in {
            "listen_addresses": "127.0.0.1", "port": self.port, "unix_socket_directories": self.base,
            **self.settings}.items())
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"),
                  "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.base / "server.log").read_text()[-chars:]
        except OSError:
            return ""


class Databases:
    """CREATE DATABASE … [TEMPLATE …] and DROP DATABASE on a server, for one test each."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self._n = 0
        self.prefix = f"exq_t{os.getpid()}_"

    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def url(self, name: str) -> str:
        head, _, _ = self.admin_url.rpartition("/")
        return f"{head}/{name}"

    def create(self, template: str | None = None, name: str | None = None) -> str:
        self._n += 1
        name = name or f"{self.prefix}{self._n}"
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    if argv[:1] == ["available"]:
        if os.environ.get("EXQ_TEST_PG_URL") or server_bin() is not None:
            return 0
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
