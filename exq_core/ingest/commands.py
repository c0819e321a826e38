"""Command-line commands about imports: `imports`, `rejects`, `mapping`. Registered by exq_core.cli."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ..exports import write_csv
from ..models import cli_actor
from ..queries.imports import count_rejects, list_imports, rejected_rows, rejects_frame
from ..store import open_store
from . import mapping as mappings
from .suggest import suggest_mapping


def cmd_imports(args) -> int:
    with open_store(args.db) as store, store.read() as cur:
        rows = list_imports(cur, limit=args.limit)
    if not rows:
        print("no imports yet")
        return 0
    print(f"{'#':>5}  {'when (UTC)':<16}  {'status':<9} {'rows':>9} {'new':>9} {'cases':>7} {'rejected':>8}  "
          f"{'by':<10} file")
    for r in rows:
        print(f"{r['import_id']:>5}  {r['started_at']:%Y-%m-%d %H:%M}  {r['status']:<9} {r['rows_read'] or 0:>9,} "
              f"{r['orders_new'] or 0:>9,} {r['cases_new'] or 0:>7,} {r['rejected'] or 0:>8,}  {r['actor']:<10} "
              f"{r['file_name']}" + (f" (mapping {r['mapping']})" if r["mapping"] else ""))
        if args.verbose and r["message"]:
            print("       " + r["message"].replace("\n", "\n       "))
    return 0


def cmd_rejects(args) -> int:
    with open_store(args.db) as store, store.read() as cur:
        if args.out:
            if args.import_id is None:
                print("error: --out needs --import N: the rejected rows of one import, as that file wrote them",
                      file=sys.stderr)
                return 2
            columns, rows = rejected_rows(cur, args.import_id)
            with open(args.out, "w", newline="", encoding="utf-8") as fh:
                n = write_csv(fh, columns, rows)
            print(f"wrote {n:,} rejected row(s) to {args.out}: fix them and import the file again "
                  "(the exq_line and exq_errors columns are ignored)")
            return 0
        total = count_rejects(cur, args.import_id)
        frame = rejects_frame(cur, args.import_id, limit=args.limit)
    if not total:
        print("no rejects" + (f" for import #{args.import_id}" if args.import_id else ""))
        return 0
    for row in frame.itertuples(index=False):
        value = "" if row.value is None else repr(row.value if len(row.value) <= 60 else row.value[:57] + "…")
        print(f"import #{row.import_id} {row.file_name}:{row.line} column {row.column_name} {value}: {row.reason}")
    if total > len(frame):
        print(f"… and {total - len(frame):,} more (export them with --import N --out rejects.csv)")
    return 0


def cmd_mapping(args) -> int:
    if args.action != "list" and not args.target:
        what = "a .toml file" if args.action == "save" else "a data file" if args.action == "suggest" else "a name"
        print(f"error: mapping {args.action} needs {what}", file=sys.stderr)
        return 2
    with open_store(args.db) as store:
        if args.action == "list":
            saved = mappings.list_mappings(store)
            if not saved:
                print("no saved column mappings; save one from the Import page or: mapping save FILE.toml")
            for m in saved:
                spec = m["spec"]
                print(f"{m['name']:<24} {len(spec.columns):>3} columns  source {spec.source_name:<16} "
                      f"saved by {m['updated_by']} at {m['updated_at']:%Y-%m-%d %H:%M}")
        elif args.action == "show":
            print(mappings.load_mapping(store, args.target).to_toml(), end="")
        elif args.action == "save":
            spec = mappings.load_toml(args.target)
            if args.name:
                spec = spec.model_copy(update={"name": args.name})
            mappings.save_mapping(store, mappings.parse_spec(spec.model_dump(), args.target), cli_actor())
            print(f"saved column mapping '{spec.name}'; import with: python -m exq_core import FILE --mapping "
                  f"'{spec.name}'")
        elif args.action == "delete":
            if not mappings.delete_mapping(store, args.target, cli_actor()):
                print(f"no saved column mapping named '{args.target}'", file=sys.stderr)
                return 1
            print(f"deleted column mapping '{args.target}'")
        elif args.action == "suggest":
            headers, samples = mappings.file_columns(store, Path(args.target), args.encoding or "utf-8")
            suggestion = suggest_mapping(headers, samples)
            name = args.name or re.sub(r"[^A-Za-z0-9 _.\-]", "-", Path(args.target).stem)[:60] or "mapping"
            unmatched = [h for h in headers if h not in suggestion.columns and h not in suggestion.lines.values()]
            try:
                print(suggestion.spec(name).to_toml(), end="")
            except Exception as err:  # a suggestion that misses a required field: show what was found
                print(f"# incomplete: {err}".replace("\n", "\n# "))
                for header, field in suggestion.columns.items():
                    print(f'# "{header}" = "{field}"')
            if suggestion.lines:
                print("# invoice lines: " + ", ".join(f"{role} = {col!r}" for role, col in suggestion.lines.items())
                      + " (summed per order)")
            if unmatched:
                print(f"# not matched (ignored): {', '.join(unmatched)}")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("imports", parents=[common], help="list recent imports (refused and failed ones too)")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("-v", "--verbose", action="store_true", help="show each import's report / notes")
    p.set_defaults(func=cmd_imports)

    p = sub.add_parser("rejects", parents=[common], help="list or export the rows skipped by --skip-invalid")
    p.add_argument("--import", dest="import_id", type=int, help="only this import (default: all)")
    p.add_argument("--out", help="write that import's rejected rows, as the file wrote them, to this CSV file")
    p.add_argument("--limit", type=int, default=200, help="how many to list (default 200)")
    p.set_defaults(func=cmd_rejects)

    p = sub.add_parser("mapping", parents=[common],
                       help="column mappings for other layouts: list, show NAME, save FILE.toml, delete NAME, "
                            "suggest FILE")
    p.add_argument("action", choices=["list", "show", "save", "delete", "suggest"])
    p.add_argument("target", nargs="?", help="a mapping name, a .toml file (save) or a data file (suggest)")
    p.add_argument("--name", help="name to save / suggest under")
    p.add_argument("--encoding", help="text encoding of the file to suggest from")
    p.set_defaults(func=cmd_mapping)
