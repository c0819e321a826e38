"""The documentation stays true: every `$ python -m exq_core …` example in docs/ runs as written (in order,
on a scratch database), every command and option the README and docs/ name exists, and the README's layout
list matches the tree."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from exq_core.cli import build_parser
from tests.support import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"


def console_lines(path: Path) -> list[str]:
    """The `$ …` lines of the ```console blocks of a page, in order."""
    lines, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```console"
            continue
        if inside and line.startswith("$ "):
            lines.append(line[2:])
    return lines


@pytest.mark.slow          # one Python process per example: 25 s in all
@pytest.mark.duckdb_only
@pytest.mark.parametrize("page", [p for p in DOCS if console_lines(p)], ids=lambda p: p.name)
def test_every_console_example_runs_as_written(page, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXQ_", "OPENAI_"))}
    ran = 0
    for line in console_lines(page):
        line = line.replace("/tmp/exq-docs", str(tmp_path))
        expected = int(m.group(1)) if (m := re.search(r"#\s*exits (\d+)", line)) else 0
        command = shlex.split(line, comments=True)
        if command[0] == "export":
            name, _, value = command[1].partition("=")
            env[name] = value
            continue
        assert command[:3] == ["python", "-m", "exq_core"], f"{page.name}: only exq commands are run: {line}"
        proc = subprocess.run([sys.executable, *command[1:], "--quiet"] if command[3] == "import" else
                              [sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == expected, f"{page.name}: {line}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}"
        assert "Traceback" not in proc.stderr
        ran += 1
    assert ran


def _commands(text: str) -> list[list[str]]:
    found = []
    for m in re.finditer(r"python -m exq_core ([a-z][a-z-]*)((?: [a-z][a-z-]*)?)", text):
        found.append([m.group(1)] + ([m.group(2).strip()] if m.group(2).strip() else []))
    return found


def test_every_command_the_docs_name_exists():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for path in [README, *DOCS]:
        for cmd in _commands(path.read_text()):
            assert cmd[0] in sub.choices, f"{path.name}: no command {cmd[0]!r}"
            if cmd[0] == "user" and len(cmd) > 1:
                users = next(a for a in sub.choices["user"]._actions if a.dest == "user_command")
                assert cmd[1] in users.choices, f"{path.name}: no 'user {cmd[1]}'"


def test_every_env_variable_the_docs_name_is_read_by_the_code():
    code = "\n".join(p.read_text() for p in [*ROOT.glob("exq_core/**/*.py"), *ROOT.glob("ui/*.py"),
                                             ROOT / "app.py", ROOT / "server.py", *ROOT.glob("tests/*.py")])
    for path in [README, *DOCS]:
        for name in set(re.findall(r"\bEXQ_[A-Z_]+\b", path.read_text())):
            assert name in code, f"{path.name} names {name}, which nothing reads"


def test_the_readme_is_short_and_its_layout_matches_the_tree():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    layout = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    top = re.search(r"```\n(.*?)\n```", layout, re.S).group(1).split()
    assert sorted(p.rstrip("/") for p in top) == sorted(
        p for p in ["app.py", "server.py", "views", "ui", "exq_core", "tests", "bench", "docs", "data", ".streamlit"])
    for name in top:
        assert (ROOT / name.rstrip("/")).exists() or name == "data/", name
    named = set(re.findall(r"`([a-z_]+)`", layout.split("exq_core/` —", 1)[1].split("* `tests/`")[0]))
    packages = {p.name for p in (ROOT / "exq_core").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in (ROOT / "exq_core").glob("*.py") if p.stem not in ("__init__", "__main__")}
    listed_packages = set(re.findall(r"`([a-z_]+)/`", layout))
    assert modules <= named | listed_packages, modules - named
    assert packages <= listed_packages, packages - listed_packages
    assert (named - {"streamlit"}) <= modules | packages, named - modules - packages
    for doc in re.findall(r"\(docs/([a-z-]+\.md)\)", text):
        assert (ROOT / "docs" / doc).exists(), doc
