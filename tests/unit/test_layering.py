"""The layers hold (SPEC §1): exq_core never imports streamlit; pages and UI helpers hold no SQL; every SQL
literal and identifier is quoted by the one helper in the store."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_exq_core_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.glob("exq_core/**/*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_the_command_line_starts_without_pandas():
    """pandas is imported where a frame is made: it was half of every command's start (1.05 -> 0.50 s)."""
    code = "import sys, exq_core.cli, exq_core.queries.queue, exq_core.queries.insights; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b|\.execute\(", re.S)


def test_pages_and_ui_helpers_hold_no_sql():
    offenders = []
    for path in [*ROOT.glob("views/*.py"), *ROOT.glob("ui/*.py"), ROOT / "app.py", ROOT / "server.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if ".execute(" in path.read_text():
            offenders.append(f"{path.relative_to(ROOT)}: .execute(")
    assert offenders == []


def test_one_quoting_helper():
    """No hand-made quoting of SQL literals outside store/dialect.py (`'…'.replace("'", "''")`, repr())."""
    hand_made = re.compile(r"""replace\(\s*["']'["']\s*,\s*["']''["']\s*\)|replace\(chr\(39\)""")
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.glob("exq_core/**/*.py")
                 if p.name != "dialect.py" and hand_made.search(p.read_text())]
    assert offenders == []
