"""`python -m exq_core`: the command line over the same use cases the dashboard calls."""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from . import queries
from .errors import ExqError, FeedInvalid
from .models import SYSTEM, Bucket
from .rules import load_rules
from .store import default_db_target, open_store, utcnow


@contextmanager
def progress_bar(desc: str, enabled: bool = True):
    """A tqdm bar on stderr driven by exq's (stage, fraction) progress callbacks."""
    from tqdm import tqdm
    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, disable=None if enabled else True, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def tick(stage: str, fraction: float) -> None:
        bar.set_postfix_str(stage)
        bar.update(max(0, round(fraction * 100) - bar.n))

    try:
        yield tick
    finally:
        bar.close()


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def cmd_init(args) -> int:
    with open_store(args.db) as store:
        print(f"{store.label}: schema version {store.schema_version()}")
    return 0


def cmd_demo(args) -> int:
    from .demo import seed_demo
    path = Path(args.db)
    if path.exists() and not args.force:
        with open_store(path) as store, store.read() as cur:
            if cur.execute("SELECT count(*) FROM orders").fetchone()[0]:
                print(f"{path} already has orders; use --force to replace it with a fresh demo.",
                      file=sys.stderr)
                return 2
    if args.force:
        if path.exists():
            # never delete a file another process (the dashboard) holds: it would keep writing to a ghost
            from .store.duck import connect
            connect(path).close()   # raises DatabaseLocked naming the holder
        for p in (path, Path(str(path) + ".wal")):
            p.unlink(missing_ok=True)
    with open_store(path) as store, progress_bar("demo", not args.quiet) as tick:
        out = seed_demo(store, n=args.orders, seed=args.seed, progress=tick)
    result = out["import"]
    print(f"{path}: {result.rows:,} demo orders, {result.routine:,} routine, {result.cases_new:,} cases "
          f"({', '.join(f'{b} {n}' for b, n in sorted(result.cases_new_by_bucket.items()))}), "
          f"{out['decisions']:,} decisions in the seeded history.")
    return 0


def print_import(result) -> None:
    if result.status == "duplicate":
        print(result.message)
        return
    for warning in result.report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    by_bucket = ", ".join(f"{b} {n}" for b, n in sorted(result.cases_new_by_bucket.items())) or "none"
    unchanged = f", {result.orders_unchanged:,} unchanged" if getattr(result, "orders_unchanged", 0) else ""
    print(f"{result.file_name}: import #{result.import_id} {result.status}: {result.rows:,} rows; orders "
          f"{result.orders_new:,} new, {result.orders_updated:,} updated, {result.orders_stale:,} older snapshots "
          f"ignored{unchanged}; {result.routine:,} routine; new cases {result.cases_new:,} ({by_bucket}); "
          f"{result.cases_updated:,} cases updated; {result.rejected:,} rejected.")
    if result.rejected:
        print(result.report.summary().replace("nothing was imported", "these rows were skipped"), file=sys.stderr)
        print(f"List or export them: python -m exq_core rejects --import {result.import_id} [--out rejects.csv]",
              file=sys.stderr)


def cmd_import(args) -> int:
    from .errors import DatabaseLocked
    from .ingest import import_file
    from .ingest.inbox import inbox_dir
    rules = load_rules(args.rules)
    status = 0
    try:
        store = open_store(args.db)
    except DatabaseLocked as err:
        inbox = inbox_dir(args.db)
        print(f"error: {err}", file=sys.stderr)
        print(f"The running dashboard imports what you drop into {inbox}/ within a minute (all-or-nothing, "
              f"reported on its Import page):\n  cp {' '.join(args.files)} {inbox}/", file=sys.stderr)
        return 2
    with store:
        for file in args.files:
            try:
                with progress_bar(Path(file).name, not args.quiet) as tick:
                    result = import_file(store, file, fmt=args.format, source=args.source,
                                         skip_invalid=args.skip_invalid, actor=SYSTEM, rules=rules,
                                         options={"encoding": args.encoding, "mapping": args.mapping},
                                         mapping=args.mapping, progress=tick)
                print_import(result)
            except FeedInvalid as err:
                print(err.report.summary(), file=sys.stderr)
                recorded = f" (recorded as import #{err.import_id}, refused)" if getattr(err, "import_id", None) else ""
                print(f"Fix the rows above, or import the valid rows with --skip-invalid.{recorded}", file=sys.stderr)
                status = 1
            except ExqError as err:
                recorded = f" (recorded as import #{err.import_id}, failed)" if getattr(err, "import_id", None) else ""
                print(f"{file}: {err}{recorded}", file=sys.stderr)
                status = 1
    return status


def cmd_stats(args) -> int:
    with open_store(args.db) as store, store.read() as cur:
        data = queries.stats(cur, utcnow())
    if args.json:
        print(json.dumps(data, default=_json_default))
        return 0
    print(f"orders {data['orders']:,} · routine {data['routine']:,} · exceptions {data['exceptions']:,} "
          f"({data['exception_rate']}%) · open {data['open']:,} · SLA breached {data['breached']:,} · "
          f"resolved today {data['resolved_today']:,}")
    states = list(next(iter(data["by_bucket"].values())).keys())
    print(f"\n{'bucket':<20}" + "".join(f"{s:>11}" for s in states))
    for bucket, counts in data["by_bucket"].items():
        print(f"{bucket:<20}" + "".join(f"{counts[s]:>11,}" for s in states))
    bands = list(next(iter(data["aging"].values())).keys())
    print(f"\n{'open, by age':<20}" + "".join(f"{b:>9}" for b in bands))
    for bucket, counts in data["aging"].items():
        print(f"{bucket:<20}" + "".join(f"{counts[b]:>9,}" for b in bands))
    return 0


EXPORTS = {
    "cases": "SELECT * EXCLUDE (flags, rules_fired), array_to_string(flags, ';') AS flags, "
             "array_to_string(rules_fired, ';') AS rules_fired FROM cases ORDER BY case_id",
    "decisions": "SELECT * FROM decisions ORDER BY decision_id",
    "events": 'SELECT * FROM events ORDER BY event_id',
    "rejects": "SELECT * FROM rejects ORDER BY import_id, line",
    "imports": "SELECT * FROM imports ORDER BY import_id",
}


def cmd_suggest(args) -> int:
    from . import assist
    from tqdm import tqdm
    config = assist.AIConfig.from_env()
    rules = load_rules(args.rules)
    with open_store(args.db) as store:
        bar = tqdm(total=0, desc="suggest", unit="case", file=sys.stderr, disable=True if args.quiet else None,
                   leave=False)

        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            report = assist.precompute(store, rules, limit=args.limit, bucket=args.bucket, workers=args.workers,
                                       config=config, progress=tick)
        finally:
            bar.close()
    where = f"{config.source} at {config.base_url or 'the OpenAI API'}" if config.enabled else \
        "the offline assistant (no OPENAI_API_KEY)"
    made = ", ".join(f"{n} {source}" for source, n in sorted(report.by_source.items())) or "none"
    print(f"{report.cases} cases at the top of the queue; {report.already} already had a suggestion; "
          f"{report.made} new ({made}) from {where}.")
    for reason, n in sorted(report.errors.items(), key=lambda item: -item[1]):
        print(f"fell back to offline ×{n}: {reason}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    out = Path(args.out or f"exq-{args.what}.csv")
    with open_store(args.db) as store, store.read() as cur:
        cur.execute(f"COPY ({EXPORTS[args.what]}) TO '{str(out).replace(chr(39), chr(39) * 2)}' (HEADER)")
        n = cur.execute(f"SELECT count(*) FROM ({EXPORTS[args.what]})").fetchone()[0]
    print(f"wrote {n:,} {args.what} to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exq_core", description="exq — the ecommerce exception queue")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=str(default_db_target()),
                        help="database: a DuckDB file or a postgresql:// URL (default: $EXQ_DB, else data/exq.duckdb)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common], help="create or migrate the database")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=[common], help="seed a synthetic shop routed through the rules")
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--force", action="store_true", help="replace an existing database")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[common], help="import feed files (all-or-nothing per file)")
    p.add_argument("files", nargs="+")
    p.add_argument("--format", default="auto", help="auto, csv, parquet, jsonl, shopify, mapped")
    p.add_argument("--mapping", help="a saved column mapping name or a mapping TOML file")
    p.add_argument("--source", help="source name the order ids are unique in (default: per format)")
    p.add_argument("--encoding", help="text encoding of CSV files: utf-8 (default), latin-1, utf-16")
    p.add_argument("--skip-invalid", action="store_true", help="import valid rows, keep the rest as rejects")
    p.add_argument("--rules", help="rules file (default: $EXQ_RULES, else the shipped defaults)")
    p.set_defaults(func=cmd_import)

    from .ingest.commands import register as register_ingest_commands
    register_ingest_commands(sub, common)  # imports, rejects, mapping

    p = sub.add_parser("stats", parents=[common], help="the Overview's numbers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("suggest", parents=[common],
                       help="precompute AI suggestions for the top of the queue (offline without OPENAI_API_KEY)")
    p.add_argument("--limit", type=int, default=50, help="how many cases from the top of the queue (default 50)")
    p.add_argument("--bucket", choices=[b.value for b in Bucket], help="only this bucket")
    p.add_argument("--workers", type=int, default=4, help="model requests in flight at once (default 4, max 16)")
    p.add_argument("--rules", help="rules file (default: $EXQ_RULES, else the shipped defaults)")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("export", parents=[common], help="write a table as CSV")
    p.add_argument("what", nargs="?", choices=sorted(EXPORTS), default="decisions")
    p.add_argument("--out")
    p.set_defaults(func=cmd_export)

    from .cli_user import add_user_parser
    add_user_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExqError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was committed by the interrupted step.", file=sys.stderr)
        return 130
